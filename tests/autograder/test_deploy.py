"""deploy/: the grading image's definition, the Kubernetes Indexed Job and the Slurm job array, run as far as
this machine allows: the engines' own commands as local processes (the shards, then the merge), compared with
one unsharded run; the Dockerfile checked for structure (no container daemon here); the YAML parsed."""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from autograder import autograde
from autograder.cli import autograde as autograde_cli
from autograder.sandbox import isolation
from coursetools.samples import write_samples

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
CLASS = ("reference", "blank", "bias_missing", "flipped_kernel")
LIMITS = autograde.Limits(wall_s=10, case_s=4)


def _yaml(name: str) -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / name).read_text())


def _container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


def _env(container: dict) -> dict:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def _shim(folder: Path, body: str) -> dict:
    """An environment whose PATH starts with ``folder/cs7150``, a shell script running ``body``."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "cs7150"
    shim.write_text(f"#!/bin/sh\n{body}\n")
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """Four sample students, graded once unsharded, and a `cs7150` on PATH that is this checkout's."""
    root = tmp_path_factory.mktemp("deploy")
    subs = root / "submissions"
    write_samples("assignment1", subs, only=CLASS)
    autograde.autograde(autograde.ClassRun("assignment1", subs, root / "whole", jobs=2, limits=LIMITS, progress=False,
                        log=lambda m: None))
    env = _shim(root / "bin", f'exec {shlex.quote(sys.executable)} -m coursetools "$@"')
    return {"root": root, "subs": subs, "whole": root / "whole", "env": env}


def _wait(processes):
    for process in processes:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stdout + stderr


# Kubernetes

def _pod_command(container: dict, course, graded: Path) -> list[str]:
    """The container's command, with the volumes' mount paths replaced by local folders."""
    assert container["command"] == ["/bin/sh", "-c"] and len(container["args"]) == 1
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    script = container["args"][0]
    if "submissions" in mounts:
        script = script.replace(mounts["submissions"], str(course["subs"]))
    return ["/bin/sh", "-c", script.replace(mounts["graded"], str(graded))]


@pytest.mark.skipif(not isolation.supported(), reason="the pods grade with --require-jail: Linux, root, namespaces")
def test_indexed_job_pods_then_the_merge_job_as_local_processes_equal_one_run(course):
    job, merge = _yaml("grade-job.yaml"), _yaml("merge-job.yaml")
    container = _container(job)
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == int(_env(container)["SHARDS"])  # the manifest keeps them equal
    graded, shards = course["root"] / "k8s", 2  # the same manifest with completions: 2
    pods = [subprocess.Popen(_pod_command(container, course, graded), cwd=course["root"], text=True,
                             env={**course["env"], **_env(container), "SHARDS": str(shards), "HOME": str(course["root"]),
                                  "JOB_COMPLETION_INDEX": str(index)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for index in range(shards)]
    _wait(pods)
    assert sorted(p.name for p in graded.iterdir()) == ["shard-1", "shard-2"]
    assert json.loads((graded / "shard-2" / "shard.json").read_text())["shard"] == "2/2"
    _wait([subprocess.Popen(_pod_command(_container(merge), course, graded), env=course["env"], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)])
    assert (graded / "merged" / "grades.csv").read_bytes() == (course["whole"] / "grades.csv").read_bytes()


@pytest.mark.parametrize("status, expected", [(0, 0), (3, 0), (1, 1), (2, 1), (125, 1)])
def test_pod_and_array_task_succeed_on_status_3_only_besides_0(tmp_path, status, expected):
    """3 is "graded, some submissions had problems": that shard is done; anything else (2: a usage error)
    fails it."""
    env = _shim(tmp_path / "bin", f'echo "$@" > {tmp_path}/argv; exit {status}')
    container = _container(_yaml("grade-job.yaml"))
    pod = subprocess.run(["/bin/sh", "-c", container["args"][0]], capture_output=True, text=True,
                         env={**env, **_env(container), "JOB_COMPLETION_INDEX": "7"})
    assert pod.returncode == expected, pod.stderr
    argv = (tmp_path / "argv").read_text().split()
    assert argv[argv.index("--shard") + 1] == "8/8" and argv[argv.index("--out") + 1] == "/graded/shard-8"
    task = subprocess.run(["bash", str(DEPLOY / "slurm" / "grade-array.sbatch")], capture_output=True, text=True,
                          env={**env, "SUBMISSIONS": "/s", "GRADED": "/g", "SLURM_ARRAY_TASK_ID": "3",
                               "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": "4"})
    assert task.returncode == expected, task.stderr
    argv = (tmp_path / "argv").read_text().split()
    assert argv[argv.index("--shard") + 1] == "4/4" and argv[argv.index("--out") + 1] == "/g/shard-4"


def test_the_engines_options_parse_and_a_mistyped_one_fails_the_shard(tmp_path):
    """The options the pod and the array task pass are the grader's own (checked by its parser, which fails
    with a usage error, 2, on anything else), and that status fails the pod and the task."""
    parser = argparse.ArgumentParser(exit_on_error=False)
    autograde_cli.configure(parser)
    for script in (_container(_yaml("grade-job.yaml"))["args"][0], (DEPLOY / "slurm" / "grade-array.sbatch").read_text()):
        command = re.search(r"autograde (.*?)\|\|", script, re.S).group(1)
        options = re.findall(r"(?<!\S)--[a-z-]+", command)
        assert "--no-progress" in options and "--shard" in options
        for option in options:
            assert any(option in action.option_strings for action in parser._actions), option
    real = f'exec {shlex.quote(sys.executable)} -m coursetools "$@"'
    env = _shim(tmp_path / "bin", real.replace('"$@"', '"$@" --no-progess'))
    container = _container(_yaml("grade-job.yaml"))
    pod = subprocess.run(["/bin/sh", "-c", container["args"][0]], capture_output=True, text=True,
                         env={**env, **_env(container), "JOB_COMPLETION_INDEX": "0"})
    assert pod.returncode != 0 and "unrecognized arguments: --no-progess" in pod.stderr  # cs7150 said 2


def test_grading_pods_have_what_the_jail_needs_and_no_network():
    job = _yaml("grade-job.yaml")
    pod = job["spec"]["template"]["spec"]
    security = _container(job)["securityContext"]
    assert {"SYS_ADMIN", "NET_ADMIN", "SYS_CHROOT", "SETUID", "SETGID"} <= set(security["capabilities"]["add"])
    assert security["capabilities"]["drop"] == ["ALL"] and security["runAsUser"] == 0
    assert security["seccompProfile"]["type"] == security["appArmorProfile"]["type"] == "Unconfined"
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in _container(job)["volumeMounts"]}
    assert set(mounts) == set(volumes) and mounts["submissions"]["readOnly"] is True
    policy = _yaml("network-policy.yaml")
    assert policy["spec"]["podSelector"]["matchLabels"] == job["spec"]["template"]["metadata"]["labels"]
    assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"] and "egress" not in policy["spec"]
    merge = _container(_yaml("merge-job.yaml"))
    assert merge["securityContext"]["capabilities"] == {"drop": ["ALL"]}


# Slurm

def test_slurm_array_tasks_then_the_merge_as_local_processes_equal_one_run(course):
    graded = course["root"] / "slurm"
    env = {**course["env"], "ASSIGNMENT": "assignment1", "SUBMISSIONS": str(course["subs"]), "GRADED": str(graded),
           "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "2", "SLURM_CPUS_PER_TASK": "1"}
    _wait([subprocess.Popen(["bash", str(DEPLOY / "slurm" / "grade-array.sbatch")], cwd=course["root"], text=True,
                            env={**env, "SLURM_ARRAY_TASK_ID": str(task)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for task in (1, 2)])
    _wait([subprocess.Popen(["bash", str(DEPLOY / "slurm" / "merge.sbatch")], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)])
    assert (graded / "merged" / "grades.csv").read_bytes() == (course["whole"] / "grades.csv").read_bytes()


def test_submit_script_makes_the_merge_wait_for_the_whole_array(tmp_path):
    log = tmp_path / "sbatch.log"
    fake = tmp_path / "bin" / "sbatch"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\necho 4242\n')
    fake.chmod(0o755)
    done = subprocess.run(["bash", str(DEPLOY / "slurm" / "submit.sh"), "6"], capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    array, merge = log.read_text().splitlines()
    assert "--array=1-6" in array and array.endswith("grade-array.sbatch")
    assert "--dependency=afterok:4242" in merge and merge.endswith("merge.sbatch")


# the image

def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            logical.append(current)
            current = ""
    assert not current, "a continuation line ends the file"
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def test_dockerfile_builds_the_grader_from_this_tree():
    steps = _instructions(DEPLOY / "Dockerfile")
    names = [name for name, _ in steps]
    assert set(names) <= {"FROM", "ARG", "ENV", "WORKDIR", "COPY", "RUN", "USER", "ENTRYPOINT", "CMD", "LABEL"}
    assert names[0] == "FROM" and names.count("FROM") == 1
    base = steps[0][1]
    assert re.fullmatch(r"[\w./-]+:[\w.-]+", base) and not base.endswith(":latest"), base  # a pinned tag
    copied = []
    for name, args in steps:
        if name == "COPY":
            assert not args.startswith("--from"), args
            *sources, _ = args.split()
            copied += sources
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= set(copied), "every package the project installs is in the image"
    assert {"requirements.txt", "pyproject.toml", project["project"]["readme"], "assignments", "data"} <= set(copied)
    runs = " ".join(args for name, args in steps if name == "RUN")
    assert "pip install -r requirements.txt" in runs and "pip install --no-deps -e ." in runs
    install = next(i for i, (name, args) in enumerate(steps) if name == "RUN" and "-e ." in args)
    assert all(i < install for i, (name, args) in enumerate(steps) if name == "COPY")  # installs what it copied
    entrypoint = json.loads(next(args for name, args in steps if name == "ENTRYPOINT"))
    assert entrypoint == list(project["project"]["scripts"])  # exec form: the cs7150 command
    assert ("USER", "root") in steps  # the jail drops each submission to a throwaway uid itself
    assert not any(name == "RUN" and re.search(r"\b(curl|wget)\b", args) for name, args in steps)


def test_dockerignore_keeps_local_environments_and_generated_folders_out():
    ignored = {line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"**/.venv", ".git", "runs", "data/mnist-full"} <= ignored
    generated = [line.strip("/") for line in (REPO / ".gitignore").read_text().splitlines()
                 if line.startswith("/assignments/")]
    assert set(generated) <= ignored


def _env_values(steps) -> dict:
    values = {}
    for name, args in steps:
        if name == "ENV":
            values.update(item.split("=", 1) for item in shlex.split(args))
    return values


def test_dockerfile_keeps_the_graders_environment_and_the_instructor_tree_from_throwaway_uids():
    """The grader's environment is a virtual environment under a folder only root can enter, and so is the
    instructor tree; the chmod is of those folders alone (NumPy's files, hard-linked into the sandbox
    Python, keep their modes) and comes after everything is installed; the base Python stays readable."""
    steps = _instructions(DEPLOY / "Dockerfile")
    env = _env_values(steps)
    venv = env["VIRTUAL_ENV"]
    assert env["PATH"].startswith(f"{venv}/bin:"), "pip, python and cs7150 are the environment's"
    runs = [(i, args) for i, (name, args) in enumerate(steps) if name == "RUN"]
    created = next(i for i, args in runs if f"python -m venv {venv}" in args)
    assert all(i > created or args.index(f"python -m venv {venv}") < args.index("pip install")
               for i, args in runs if "pip install" in args), "every pip install goes into the environment"
    chmods = [(i, re.findall(r"\bchmod\s+([^&;|]+)", args)) for i, args in runs if "chmod" in args]
    assert len(chmods) == 1 and len(chmods[0][1]) == 1, chmods
    index, (command,) = chmods[0]
    mode, *folders = command.split()
    assert mode in ("0700", "700", "0750", "750") and not any(f.startswith("-") for f in folders), command
    workdir = next(args for name, args in steps if name == "WORKDIR")
    assert workdir in folders, "the instructor tree is root's alone"
    above = [f for f in folders if Path(venv).is_relative_to(f) and f != venv]
    assert above and all(len(Path(f).parts) > 2 for f in above), \
        "a folder above the environment (not the environment itself, which the jail binds at its path)"
    assert not any(Path(f).is_relative_to(venv) or Path("/usr/local").is_relative_to(f) for f in folders)
    assert all(i < index for i, (name, args) in enumerate(steps) if name == "COPY" or "pip install" in args)


def _no_root() -> str | None:
    return None if os.geteuid() == 0 else "trying a throwaway uid's access needs root"


@pytest.fixture
def image_layout():
    """The image's layout in a folder every user can enter: ``grader/`` (0700) holding the environment with
    torch and numpy (files 0644), and ``python/`` (the sandbox Python) holding a hard link to numpy's file."""
    import tempfile
    root = Path(tempfile.mkdtemp(prefix="cs7150-layout-", dir="/tmp"))
    try:
        root.chmod(0o755)
        site = root / "grader" / "venv" / "lib" / "site-packages"
        for package in ("torch", "numpy"):
            (site / package).mkdir(parents=True)
            (site / package / "__init__.py").write_text("")
            (site / package / "__init__.py").chmod(0o644)
        (root / "python" / "numpy").mkdir(parents=True)
        os.link(site / "numpy" / "__init__.py", root / "python" / "numpy" / "__init__.py")
        (root / "grader").chmod(0o700)
        yield root, site
    finally:
        import shutil
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(_no_root() is not None, reason=str(_no_root()))
def test_a_throwaway_uid_reads_the_sandbox_numpy_but_not_the_torch_of_a_private_environment(image_layout):
    root, site = image_layout
    uid = isolation.new_uid()
    assert not isolation.readable_by(uid, site / "torch" / "__init__.py")
    assert isolation.readable_by(uid, root / "python" / "numpy" / "__init__.py")  # the same inode, another path
    (root / "grader").chmod(0o755)  # the base image's modes: everyone can read it
    assert isolation.readable_by(uid, site / "torch" / "__init__.py")
    (site / "torch" / "__init__.py").chmod(0o640)  # readable by its group (root's): a throwaway uid has none
    assert not isolation.readable_by(uid, site / "torch" / "__init__.py")


@pytest.mark.skipif(_no_root() is not None, reason=str(_no_root()))
def test_the_uid_mode_warning_names_what_a_throwaway_uid_can_read_and_nothing_else(image_layout, monkeypatch):
    root, site = image_layout
    public = root / "public-site" / "torch" / "__init__.py"  # e.g. a PyTorch in the base installation
    public.parent.mkdir(parents=True)
    public.write_text("")
    tree = root / "course"
    (tree / "cs7150").mkdir(parents=True)
    (tree / "cs7150" / "conv.py").write_text("")
    monkeypatch.setattr(isolation, "probe", lambda: isolation.Mode("uid", "namespaces are not allowed here"))
    installations = [site / "torch" / "__init__.py", public]
    monkeypatch.setattr(autograde.interpreter, "pytorch_installations", lambda: installations)
    (root / "submissions").mkdir()
    folders = [("the submissions", root / "submissions"), ("the output folder", root / "not-yet-written")]
    log = []
    autograde.confinement_mode(autograde.Limits(), False, tree, log.append, folders)
    warned = [line for line in log if "can be read by a throwaway uid" in line]
    assert len(warned) == 3 and str(tree / "cs7150" / "conv.py") in warned[0] and str(public) in warned[1]
    assert warned[2].startswith(f"the submissions ({root / 'submissions'})")
    tree.chmod(0o700)
    (root / "submissions").chmod(0o711)  # reachable, not listable
    log.clear()
    autograde.confinement_mode(autograde.Limits(), False, tree, log.append, folders)
    assert [line for line in log if "can be read by a throwaway uid" in line] == [warned[1]]


@pytest.mark.skipif(not isolation.supported(), reason="needs the jail (Linux, root, namespaces)")
def test_in_the_jail_a_notebook_kernel_still_reaches_an_environment_below_a_private_folder(image_layout):
    """The jail binds each folder it shows at its own path on a root of its own, so the private folder above
    the grader's environment is not in the way there (notebook kernels run with the grader's Python)."""
    import subprocess
    import sys
    root, site = image_layout
    (root / "jail").mkdir()
    confinement = isolation.Confinement(isolation.new_uid(), root / "jail", read_only=[str(site)], cwd="/")
    read = f"print(len(open({str(site / 'torch' / '__init__.py')!r}).read()))"
    run = subprocess.run(confinement.command([sys.executable, "-I", "-S", "-c", read]), capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "0", run.stderr
    assert not isolation.readable_by(isolation.new_uid(), site / "torch" / "__init__.py")  # outside the jail
