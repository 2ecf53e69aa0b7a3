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


def _readable_with_group(path, gid) -> bool:
    """Whether a throwaway uid whose one supplementary group is ``gid`` (a notebook kernel's) can list ``path``."""
    pid = os.fork()
    if pid == 0:  # only system calls between fork and _exit
        status = 1
        try:
            os.setgroups([gid])
            uid = isolation.new_uid()
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.listdir(path)
            status = 0
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def _private_venv(tmp_path):
    above = tmp_path / "private"
    venv = above / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    os.chmod(above, 0o700)
    os.chmod(venv, 0o700)
    return above, venv


def _state(paths) -> list:
    """Owner, group, mode and access ACL of each path."""
    def acl(path):
        try:
            return os.getxattr(path, "system.posix_acl_access")
        except OSError:
            return None
    return [(p.stat().st_uid, p.stat().st_gid, stat.S_IMODE(p.stat().st_mode), acl(p)) for p in paths]


def test_a_private_python_is_opened_to_one_group_and_closed_again(tmp_path):
    """Gradescope's run_autograder makes the venv root's alone: kernels get a group that may read it (and enter
    the private folders above it); nothing else changes, and everything is as before afterwards."""
    above, venv = _private_venv(tmp_path)
    before = _state([above, venv])
    with isolation.python_access([str(venv)]) as gid:
        assert gid is not None and _readable_with_group(venv, gid)
        assert not _readable_with_group(above, gid)  # entered, not listed
        assert not isolation.readable_by(isolation.new_uid(), venv)  # a uid without that group still cannot
        assert not _readable_with_group(venv, isolation.new_uid())  # nor one with another group
    assert _state([above, venv]) == before


def test_graders_at_the_same_time_keep_each_others_access(tmp_path):
    """Two graders on one machine (two shards, two courses) open the same private Python to their own groups: the
    one that ends first takes nothing from the other's kernels, and the last leaves everything as it was."""
    above, venv = _private_venv(tmp_path)
    before = _state([above, venv])
    first, second = isolation.python_access([str(venv)]), isolation.python_access([str(venv)])
    first_gid = first.__enter__()
    try:
        second_gid = second.__enter__()
        try:
            assert first_gid != second_gid
            assert _readable_with_group(venv, first_gid) and _readable_with_group(venv, second_gid)
        finally:
            first.__exit__(None, None, None)
        assert _readable_with_group(venv, second_gid)  # the second grader's kernels still start
        assert not _readable_with_group(venv, first_gid)
    finally:
        second.__exit__(None, None, None)
    assert not _readable_with_group(venv, second_gid)
    assert _state([above, venv]) == before


def test_a_kernel_in_the_uid_mode_restarts_whatever_else_takes_free_ports(monkeypatch):
    """In the uid mode nbgrader and the kernel share the machine's network. A port chosen free before the kernel
    binds it, and reused when the kernel is restarted (the notebook's kernel ended), can be taken meanwhile by any
    other process (here this one takes every TCP port the kernel had); the restarted kernel must still start and
    answer."""
    import socket
    import tempfile
    from pathlib import Path

    from jupyter_client.manager import KernelManager
    from traitlets.config.loader import KVArgParseConfigLoader

    from autograder.classrun import Limits
    from autograder.notebook import nbgrade

    with tempfile.TemporaryDirectory(prefix="cs7150-kernel-test-") as tmp, \
            isolation.python_access() as group:
        work, course = Path(tmp) / "work", Path(tmp) / "course"
        os.chmod(tmp, 0o711)
        (work / "kernels").mkdir(parents=True, mode=0o711)
        folder = course / "autograded" / "s" / "a"  # the notebook's folder, which the kernel reads
        folder.mkdir(parents=True)
        for path in (course, course / "autograded", course / "autograded" / "s"):
            path.chmod(0o711)
        uid, env, options = nbgrade._kernel_jail(course, "s", "a", work, Limits(),
                                                isolation.Mode("uid"), group)
        monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
        monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(course / "runtime"))
        manager = KernelManager(kernel_name=nbgrade.KERNEL_NAME, config=KVArgParseConfigLoader(options).load_config())
        taken = []
        try:
            manager.start_kernel(cwd=str(folder))
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=120)
            client.stop_channels()
            manager.provisioner.process.kill()
            manager.provisioner.process.wait()
            info = manager.get_connection_info()
            if info["transport"] == "tcp":
                for port in (info[f"{name}_port"] for name in ("shell", "iopub", "stdin", "control", "hb")):
                    taken.append(socket.socket())
                    taken[-1].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    taken[-1].bind((info["ip"], port))
                    taken[-1].listen()
            manager.restart_kernel(now=True)
            client = manager.client()
            client.start_channels()
            client.wait_for_ready(timeout=120)  # raises "Kernel died before replying to kernel_info" if it did
            client.stop_channels()
        finally:
            for sock in taken:
                sock.close()
            manager.shutdown_kernel(now=True)
            isolation.kill_user(uid)
            isolation.remove_user_files(uid)
