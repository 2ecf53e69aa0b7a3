"""``autograder.notebook.warm_nbgrader``: nbgrader forked from a warm process, watched and ended like any job."""
import json
import os
import sys
import textwrap

import psutil
import pytest

from autograder.notebook import warm_nbgrader
from autograder.sandbox import processes


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm")
    with warm_nbgrader.WarmNbgrader(processes.environment(folder / "home"), folder / "server.log") as server:
        yield server


def nbgrader_job(warm, tmp_path, key, args, wall_s=60.0, memory_mb=4096):
    def spawner(job, env, stdout, stderr):
        return warm.spawn(args, job.cwd, env, stdout, stderr, job.memory_mb, job.file_mb, job.allow_processes,
                          network=False)

    return processes.Job(key=key, command=["nbgrader", *args], cwd=tmp_path, log_dir=tmp_path / key,
                         wall_s=wall_s, memory_mb=memory_mb, file_mb=16, allow_processes=True,
                         env={"CS7150_MARK": key}, spawner=spawner)


def run(jobs):
    done = []
    processes.run_jobs(jobs, 2, done.append)
    return done


def test_a_forked_command_gets_its_arguments_folder_files_and_status(warm, tmp_path):
    ok = nbgrader_job(warm, tmp_path, "version", ["--version"])
    wrong = nbgrader_job(warm, tmp_path, "unknown", ["autograde"])  # no assignment named: nbgrader exits 1
    run([ok, wrong])
    assert ok.returncode == 0 and ok.start_error is None
    assert "nbgrader version" in (tmp_path / "version" / "stdout.txt").read_text()
    assert wrong.returncode not in (0, None)
    assert "An assignment id must be specified" in (tmp_path / "unknown" / "stderr.txt").read_text()
    assert ok.process.pid != wrong.process.pid and warm.alive()


def notebook(path, source):
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "execution_count": None, "metadata": {},
                                           "outputs": [], "source": source}],
                                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_a_forked_command_has_its_own_session_limits_and_environment(warm, tmp_path):
    """A notebook run by the forked nbgrader writes what its kernel sees: the job's environment, folder and
    limits reach the kernel it starts, a child of the job's process."""
    probe = notebook(tmp_path / "probe.ipynb", textwrap.dedent(f"""\
        import json, os, resource
        json.dump({{"mark": os.environ.get("CS7150_MARK"), "cwd": os.getcwd(), "parent": os.getppid(),
                   "memory": resource.getrlimit(resource.RLIMIT_AS)[0],
                   "files": resource.getrlimit(resource.RLIMIT_FSIZE)[0]}}, open({str(tmp_path / "seen.json")!r}, "w"))
    """))
    job = nbgrader_job(warm, tmp_path, "probe", ["validate", str(probe)], memory_mb=3000)
    run([job])
    assert job.returncode == 0, (tmp_path / "probe" / "stderr.txt").read_text()
    assert "Success" in (tmp_path / "probe" / "stdout.txt").read_text()  # nbgrader's own output, in the job's file
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"mark": "probe", "cwd": str(tmp_path), "parent": job.process.pid,
                    "memory": 3000 << 20, "files": 16 << 20}


def test_a_forked_command_past_its_wall_time_is_ended_with_its_kernel(warm, tmp_path):
    slow = notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    job = nbgrader_job(warm, tmp_path, "slow", ["validate", str(slow)], wall_s=8.0)
    run([job])
    assert job.killed and job.returncode is not None
    left = [p for p in psutil.process_iter(["environ"]) if (p.info["environ"] or {}).get("CS7150_MARK") == "slow"]
    assert not left, f"left running: {left}"
    assert warm.alive()


def test_without_the_server_spawning_is_an_error(tmp_path):
    server = warm_nbgrader.WarmNbgrader(processes.environment(tmp_path / "home"), tmp_path / "server.log")
    server.close()
    with pytest.raises(RuntimeError, match="not running"):
        server.spawn(["--version"], tmp_path, dict(os.environ), tmp_path / "o", tmp_path / "e", 1024, 16, True, False)
    job = processes.Job(key="x", command=[sys.executable], cwd=tmp_path, log_dir=tmp_path / "x", wall_s=5,
                        memory_mb=1024, file_mb=16,
                        spawner=lambda job, env, out, err: server.spawn(["--version"], job.cwd, env, out, err,
                                                                        1024, 16, True, False))
    done = run([job])
    assert done == [job] and "not running" in job.start_error
