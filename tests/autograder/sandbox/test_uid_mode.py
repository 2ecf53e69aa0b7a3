"""The uid mode (no namespaces: a container without CAP_SYS_ADMIN): nothing of one submission's run survives it or
can be read by another's. A confined job runs as a throwaway uid on the shared file system; when it ends, every
file it left in any world-writable folder and every System V IPC object it owns is gone, and what it wrote was
private to it while it ran."""
import os
import shutil
import stat
import subprocess

import pytest

from autograder.sandbox import isolation, processes

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ipcmk") or not os.path.isdir("/run/lock"),
                                reason="needs root (a throwaway uid), util-linux's ipcmk and /run/lock")

# What a student's code does as the throwaway uid: files in world-writable folders other than /tmp, an IPC object
# of each kind, and a file whose mode shows the umask it runs with.
LEAVE_BEHIND = r"""
echo left > /run/lock/cs7150-left-$1
mkdir /var/tmp/cs7150-left-$1 && echo left > /var/tmp/cs7150-left-$1/inside
echo left > /dev/shm/cs7150-left-$1
ipcmk -M 4096 >/dev/null && ipcmk -Q >/dev/null && ipcmk -S 1 >/dev/null
echo private > /tmp/cs7150-mode-$1 && stat -c %a /tmp/cs7150-mode-$1
echo done
"""


def _run_as_throwaway(tmp_path, key: str) -> tuple[processes.Job, int]:
    uid = isolation.new_uid()
    confinement = isolation.Confinement(uid, tmp_path / "jail", cwd="/", namespaces=False)
    job = processes.Job(key=key, command=confinement.command(["/bin/sh", "-c", LEAVE_BEHIND, "sh", key]),
                        cwd=tmp_path, log_dir=tmp_path / key, wall_s=30, memory_mb=512, file_mb=16, uid=uid)
    processes.run_jobs([job], 1, lambda done: None)
    return job, uid


def test_nothing_a_throwaway_uid_made_survives_its_job(tmp_path):
    key = f"u{os.getpid()}"
    job, uid = _run_as_throwaway(tmp_path, key)
    printed = (tmp_path / key / "stdout.txt").read_text()
    assert printed.split() == ["600", "done"], (printed, job.stderr_tail())  # umask 077: no other uid reads it
    for path in (f"/run/lock/cs7150-left-{key}", f"/var/tmp/cs7150-left-{key}", f"/dev/shm/cs7150-left-{key}",
                 f"/tmp/cs7150-mode-{key}"):
        assert not os.path.lexists(path), path
    assert isolation.user_ipc(uid) == []
    assert str(uid) not in subprocess.run(["ipcs", "-c"], capture_output=True, text=True).stdout


def test_what_a_job_printed_is_private_to_the_grader(tmp_path):
    key = f"p{os.getpid()}"
    _run_as_throwaway(tmp_path, key)
    for name in ("stdout.txt", "stderr.txt"):
        assert stat.S_IMODE((tmp_path / key / name).stat().st_mode) == 0o600


def test_every_world_writable_folder_is_found():
    found = isolation.shared_folders()
    assert {"/tmp", "/run/lock"} <= set(found) and all(os.stat(f).st_mode & 0o002 for f in found)


def test_a_private_python_is_opened_to_one_group_and_closed_again(tmp_path):
    """Gradescope's run_autograder makes the venv root's alone: kernels get a group that may read it (and enter
    the private folders above it); nothing else changes, and everything is as before afterwards."""
    above = tmp_path / "private"
    venv = above / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    os.chmod(above, 0o700)
    os.chmod(venv, 0o700)
    before = [(p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in (above, venv)]
    with isolation.python_access([str(venv)]) as gid:
        assert gid is not None and venv.stat().st_gid == gid and stat.S_IMODE(venv.stat().st_mode) == 0o750
        assert stat.S_IMODE(above.stat().st_mode) == 0o710  # entered, not listed
        assert not isolation.readable_by(isolation.new_uid(), venv)  # a uid without that group still cannot
    assert [(p.stat().st_gid, stat.S_IMODE(p.stat().st_mode)) for p in (above, venv)] == before
