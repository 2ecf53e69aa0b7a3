"""Confining the processes that run student code, and ending everything they started.

Its specification: docs/grader.md, `autograder/sandbox/isolation.py`.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

JAIL = Path(__file__).resolve().with_name("jail.py")
SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
PROGRAM_FOLDERS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/usr/libexec")
UID_RANGE = (1 << 20, 1 << 30)  # far above any account's uid
_probed: "Mode | None" = None


def python_folders() -> list[str]:
    """The folders the interpreter, numpy and torch load from (no folder inside another)."""
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
               str(Path(sys.executable).resolve().parent.parent)}
    for module in ("numpy", "torch"):
        spec = importlib.util.find_spec(module)
        if spec and spec.origin:
            folders.add(str(Path(spec.origin).resolve().parent.parent))
    resolved = sorted({str(Path(folder).resolve()) for folder in folders} | folders)
    return [f for f in resolved if not any(f != other and Path(f).is_relative_to(other) for other in resolved)]


def system_folders() -> list[str]:
    return [folder for folder in SYSTEM_FOLDERS if os.path.isdir(folder) and not os.path.islink(folder)]


def system_links() -> dict[str, str]:
    """Top-level system links (``/lib64 -> usr/lib64`` on merged-/usr systems) and their targets."""
    return {link: os.readlink(link) for link in SYSTEM_FOLDERS if os.path.islink(link)}


def new_uid() -> int:
    """A random uid that no account and no running process uses."""
    while True:
        uid = UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0])
        try:
            pwd.getpwuid(uid)
        except KeyError:
            if not user_processes(uid):
                return uid


@dataclass
class Confinement:
    """What a confined process sees and may do; ``command()`` wraps a command in the jail."""

    uid: int
    mount_point: Path  # an empty folder the new root is mounted on (in the job's own mount namespace)
    read_only: list[str] = field(default_factory=list)  # extra files and folders visible read-only
    given: list[str] = field(default_factory=list)  # folders visible read-write and given to the uid
    shared: list[str] = field(default_factory=list)  # folders visible read-write; their owners set by the grader
    cwd: str | None = None
    processes: int = 64  # RLIMIT_NPROC of the uid (threads count)
    tmp_mb: int = 64  # size of the private /tmp
    network: str | None = "none"  # "none": no interface; "loopback": only lo; None: the starter's network
    env: dict = field(default_factory=dict)  # environment variables set inside the jail
    handoff: str | None = None  # a flag of the command whose file is copied into the jail (see jail.py)
    namespaces: bool = True  # False: no new root, network or IPC namespace; only the uid and the limits
    python: bool = True  # show the grader's Python installation (False: the command brings its own in read_only,
    # and the system's program folders are mounted noexec: no other program can be started)
    stdin: str | None = None  # a file opened as root as the command's standard input (the uid cannot open it)
    groups: list[int] = field(default_factory=list)  # supplementary groups (a kernel's: ``python_access``)
    share_cwd: bool = False  # make the command's folder readable by the uid's group first (a notebook's folder)
    handoff_dir: str | None = None  # without namespaces: a folder of the uid's where a handed-over file goes

    def spec(self) -> dict:
        return {
            "uid": self.uid, "mount_point": str(self.mount_point), "cwd": self.cwd, "processes": self.processes,
            "tmp_mb": self.tmp_mb, "network": self.network, "links": system_links(),
            "env": self.env, "handoff": self.handoff, "namespaces": self.namespaces, "stdin": self.stdin,
            "groups": list(self.groups), "share_cwd": self.share_cwd, "handoff_dir": self.handoff_dir,
            "read_only": sorted(set(system_folders() + (python_folders() if self.python else [])
                                    + [str(p) for p in self.read_only])),
            "noexec": [] if self.python else [f for f in PROGRAM_FOLDERS if os.path.isdir(f) and not os.path.islink(f)],
            "writable": sorted({str(p) for p in self.given + self.shared}),
        }

    def command(self, command: list[str]) -> list[str]:
        return jail_command(self.spec(), command)

    def give(self) -> None:
        """Make the given folders (and everything in them) the uid's, and the folders themselves private to it
        (without namespaces other jobs' uids share the file system)."""
        for folder in self.given:
            os.makedirs(folder, exist_ok=True)
            for root, dirs, files in os.walk(folder):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, self.uid, self.uid, follow_symlinks=False)
            os.chmod(folder, 0o700)


def jail_command(spec: dict, command: list[str]) -> list[str]:
    return [sys.executable, "-I", "-S", str(JAIL), json.dumps(spec), *command]


def network_only(command: list[str]) -> list[str]:
    """``command`` in a new network namespace with only the loopback interface (it keeps its uid and view)."""
    return jail_command({"network": "loopback"}, command)


@dataclass(frozen=True)
class Mode:
    """How student code can be confined here: ``"namespaces"`` (the whole jail), ``"uid"`` (a throwaway uid
    and the limits, no namespaces) or None (not at all), and why it is not the whole jail."""

    kind: str | None
    reason: str = ""


def probe() -> Mode:
    """How processes can be confined here (probed once): the whole jail, else a uid of their own, else nothing;
    the reason names what failed (not root, not Linux, or the jail's own message, e.g. ``unshare: Operation
    not permitted``)."""
    global _probed
    if _probed is None:
        if not sys.platform.startswith("linux"):
            _probed = Mode(None, f"the jail needs Linux; this is {sys.platform}")
        elif os.geteuid() != 0:
            _probed = Mode(None, f"the grader runs as uid {os.geteuid()}, not root, so it cannot give student code "
                                 "a uid of its own")
        else:
            failed = _probe_jail(namespaces=True)
            if not failed:
                _probed = Mode("namespaces")
            elif not _probe_jail(namespaces=False):
                _probed = Mode("uid", f"namespaces are not allowed here ({failed}; a container without "
                                      "CAP_SYS_ADMIN?): student code runs as a throwaway uid with the limits, "
                                      "without the jail's own root and network namespace")
            else:
                _probed = Mode(None, f"the jail failed here ({failed})")
    return _probed


def _probe_jail(namespaces: bool) -> str:
    """Why a trivial command failed in the jail (empty when it ran)."""
    with tempfile.TemporaryDirectory(prefix="cs7150-jail-probe-") as tmp:
        os.chmod(tmp, 0o755)
        confinement = Confinement(new_uid(), Path(tmp), cwd="/", namespaces=namespaces)  # not the caller's folder
        # The grader's Python may lie in a private folder (Gradescope's root-only venv: student code gets its own
        # installation, autograder.sandbox.interpreter, and kernels a group, python_access), so the probe tests the
        # jail itself with a system program; the grader's Python only where there is none.
        command = ["/bin/sh", "-c", "exit 0"] if os.path.exists("/bin/sh") else [sys.executable, "-I", "-S", "-c", "pass"]
        probe = subprocess.run(confinement.command(command), capture_output=True, timeout=60)
        if probe.returncode == 0:
            return ""
        return probe.stderr.decode(errors="replace").strip().removeprefix("jail: ")[-300:] or \
            f"exit status {probe.returncode}"


def supported() -> bool:
    """Whether the whole jail (namespaces) works here."""
    return probe().kind == "namespaces"


def user_processes(uid: int) -> list[psutil.Process]:
    """The running processes whose real uid is ``uid``."""
    found = []
    for process in psutil.process_iter(["uids"]):
        uids = process.info["uids"]
        if uids is not None and uids.real == uid:
            found.append(process)
    return found


def kill_user(uid: int, rounds: int = 10) -> None:
    """SIGKILL every process of ``uid``: ``kill(-1)`` sent as that uid, which no fork can outrun."""
    for _ in range(rounds):
        if not user_processes(uid):
            return
        pid = os.fork()
        if pid == 0:  # only system calls between fork and _exit
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        psutil.wait_procs(user_processes(uid), timeout=1)


def readable_by(uid: int, path) -> bool:
    """Whether a process of ``uid`` (its gid the same, no supplementary groups: a throwaway uid's
    credentials) can open ``path`` for reading, found by trying it in a forked child that takes those
    credentials, so that every mode, owner, ACL and folder above it counts. Needs root."""
    path = os.fsencode(path)
    pid = os.fork()
    if pid == 0:  # only system calls between fork and _exit
        status = 1
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.close(os.open(path, os.O_RDONLY))
            status = 0
        finally:
            os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(wait_status) == 0


SKIPPED_TREES = ("/proc", "/sys")
_shared_folders: list[str] = []


def shared_folders() -> list[str]:
    """Every folder that any uid may reach and write in (world-writable, found once per process by walking the
    file system below folders others may enter, ``/proc`` and ``/sys`` left out): where a throwaway uid without
    a mount namespace can leave files."""
    if not _shared_folders:
        found, stack = [], ["/"]
        while stack:
            folder = stack.pop()
            try:
                mode = os.stat(folder, follow_symlinks=False).st_mode
                if not mode & 0o001:  # others cannot enter it: nothing below is theirs to write
                    continue
                if mode & 0o002:
                    found.append(folder)
                with os.scandir(folder) as listing:
                    children = [entry.path for entry in listing if entry.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            stack += [path for path in children if path not in SKIPPED_TREES]
        _shared_folders.extend(sorted(found) or ["/tmp"])
    return _shared_folders


def python_access(folders=None):
    """A context that lets a group of its own read the Python installation's folders that a throwaway uid
    cannot (a root-only venv, as Gradescope's run_autograder makes it), and enter (not list) the private folders
    above them: it yields that gid (None where every folder is readable already), for a notebook kernel's
    ``Confinement.groups``; package runs, with no groups, still cannot reach it. Needs root.

    Each folder gets an access-ACL entry for that group alone, and loses it on exit, so graders that run at the
    same time on one machine (each with its own group) neither take access from each other nor leave one
    another's group behind: the folders' owners, groups and modes stay as they were. Where the file system
    has no ACLs, the folder's group and mode are changed instead and restored on exit (graders must then not
    overlap)."""
    return _PythonAccess(python_folders() if folders is None else folders)


ACL_XATTR = "system.posix_acl_access"  # the kernel's binary form: a version, then (tag, perm, id) entries
ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
ACL_NO_ID = 0xFFFFFFFF


def _acl(path: str) -> list[tuple[int, int, int]]:
    """The access ACL of ``path`` as (tag, perm, id) entries (its mode's three, where it has none)."""
    try:
        data = os.getxattr(path, ACL_XATTR, follow_symlinks=False)
    except OSError as error:
        if error.errno != errno.ENODATA:
            raise
        mode = os.stat(path, follow_symlinks=False).st_mode
        return [(ACL_USER_OBJ, mode >> 6 & 7, ACL_NO_ID), (ACL_GROUP_OBJ, mode >> 3 & 7, ACL_NO_ID),
                (ACL_OTHER, mode & 7, ACL_NO_ID)]
    return [struct.unpack_from("<HHI", data, offset) for offset in range(4, len(data), 8)]


def _set_acl(path: str, entries) -> None:
    """Write ``entries`` (no mask: it is recomputed) as the access ACL of ``path``; without named entries, the
    mode alone (the ACL is removed)."""
    entries = sorted(((tag, perm, ident) for tag, perm, ident in entries if tag != ACL_MASK),
                     key=lambda entry: (entry[0], entry[2]))
    if not any(tag in (ACL_USER, ACL_GROUP) for tag, _, _ in entries):
        try:
            os.removexattr(path, ACL_XATTR, follow_symlinks=False)
        except OSError as error:
            if error.errno != errno.ENODATA:
                raise
        perms = {tag: perm for tag, perm, _ in entries}
        special = os.stat(path, follow_symlinks=False).st_mode & 0o7000
        os.chmod(path, special | perms[ACL_USER_OBJ] << 6 | perms[ACL_GROUP_OBJ] << 3 | perms[ACL_OTHER])
        return
    mask = 0
    for tag, perm, _ in entries:
        if tag in (ACL_USER, ACL_GROUP_OBJ, ACL_GROUP):
            mask |= perm
    entries.insert(next(i for i, entry in enumerate(entries) if entry[0] > ACL_MASK), (ACL_MASK, mask, ACL_NO_ID))
    data = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)
    os.setxattr(path, ACL_XATTR, data, follow_symlinks=False)


@contextlib.contextmanager
def _locked(path: str):
    """An exclusive lock on ``path`` (flock), held by the graders that change its ACL one after another."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


class _PythonAccess:
    def __init__(self, folders):
        self.folders, self.changed, self.granted, self.gid = list(folders), [], [], None

    def __enter__(self):
        private = [f for f in self.folders if os.geteuid() == 0 and not readable_by(new_uid(), f)]
        if private:
            self.gid = new_uid()  # a number no group, account or process uses
            grants = {}  # path -> the group bits it needs: read and enter the folder, enter the folders above it
            for folder in private:
                grants[folder] = 0o050
                for above in Path(folder).parents:
                    if not os.stat(above).st_mode & 0o001:
                        grants.setdefault(str(above), 0o010)
            for path, bits in sorted(grants.items()):
                try:
                    with _locked(path):
                        _set_acl(path, [*_acl(path), (ACL_GROUP, bits >> 3, self.gid)])
                    self.granted.append(path)
                    continue
                except OSError as error:
                    if error.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP):
                        raise
                info = os.stat(path)  # no ACLs here: the folder's own group and mode
                self.changed.append((path, info.st_gid, info.st_mode & 0o7777))
                os.chown(path, -1, self.gid)
                os.chmod(path, (info.st_mode & 0o7777 & ~0o070) | bits)
        return self.gid

    def __exit__(self, *exc):
        for path in self.granted:
            with _locked(path):
                _set_acl(path, [(tag, perm, ident) for tag, perm, ident in _acl(path)
                                if (tag, ident) != (ACL_GROUP, self.gid)])
        for folder, gid, mode in self.changed:
            os.chown(folder, -1, gid)
            os.chmod(folder, mode)


def remove_user_files(uid: int, folders=None) -> None:
    """Remove what ``uid`` left in every world-writable folder (``shared_folders``: entries it owns; the others
    it cannot create) and the System V IPC objects it owns or created (shared memory, message queues,
    semaphores): nothing of one submission's run is left for the next."""
    remove_user_ipc(uid)
    for folder in shared_folders() if folders is None else folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


IPC_TABLES = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}  # /proc/sysvipc/<table> -> libc's remover
IPC_RMID = 0


def user_ipc(uid: int) -> list[tuple[str, int]]:
    """(table, id) of the System V IPC objects that ``uid`` owns or created (``/proc/sysvipc``)."""
    found = []
    for table in IPC_TABLES:
        try:
            header, *rows = Path("/proc/sysvipc", table).read_text().splitlines()
        except OSError:
            continue
        columns = header.split()
        for row in rows:
            values = dict(zip(columns, row.split()))
            if str(uid) in (values.get("uid"), values.get("cuid")):
                found.append((table, int(row.split()[1])))
    return found


def remove_user_ipc(uid: int) -> None:
    """Remove every System V IPC object ``uid`` owns or created (as root)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for table, ident in user_ipc(uid):
        remover = getattr(libc, IPC_TABLES[table])
        remover(ident, 0, IPC_RMID) if table == "sem" else remover(ident, IPC_RMID, None)


def memory_bytes(processes: list[psutil.Process]) -> int:
    """Memory of ``processes`` together: each one's proportional share of its pages (PSS; where the system
    has no PSS, resident memory), so pages that forked processes share are counted once."""
    total = 0
    for process in processes:
        try:
            info = process.memory_full_info()
        except psutil.Error:
            continue
        total += getattr(info, "pss", info.rss)
    return total


def folder_bytes(folders, max_entries: int = 20000) -> int:
    """Bytes allocated under ``folders`` (a huge number once more than ``max_entries`` entries were seen)."""
    total, seen, stack = 0, 0, [str(f) for f in folders]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > max_entries:
                return 1 << 62
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                pass
    return total
