"""Start a command confined: ``python -I -S jail.py SPEC_JSON COMMAND...`` (Linux, run as root).

Its specification: docs/grader.md, `autograder/sandbox/jail.py`.
"""
import ctypes
import fcntl
import json
import os
import resource
import socket
import struct
import sys

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWNET = 0x00020000, 0x08000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
PR_SET_NO_NEW_PRIVS = 38
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype, flags, data=None):
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _check(libc.mount(encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)),
           f"mount {source or ''} on {target}")


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _bind(source, root, writable, noexec=False):
    """Bind ``source`` at the same path under ``root``; read-only unless ``writable``; with ``noexec`` (a
    writable folder) nothing written there can be executed."""
    target = root + source
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    if not writable:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID)
    elif noexec:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC)


def _build_root(spec):
    root = spec["mount_point"]
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing below propagates back to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
    no_programs = bool(spec.get("noexec"))  # then nothing it writes can be executed either (a copied program)
    os.makedirs(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | (MS_NOEXEC if no_programs else 0),
           f"size={spec['tmp_mb']}m,mode=1777")
    os.makedirs(root + "/proc")  # a new proc mount in which other users' processes are invisible
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible")
    binds = [(path, False, False) for path in spec["read_only"]]
    binds += [(path, True, no_programs) for path in spec["writable"]]
    binds += [(device, True, False) for device in DEVICES if os.path.exists(device)]
    for path, writable, noexec in sorted(binds, key=lambda bind: bind[0].count("/")):
        _bind(path, root, writable, noexec)
    for link, target in spec["links"].items():  # after the binds, so that no bind goes through a link
        os.symlink(target, root + link)
    for folder in spec.get("noexec", []):  # program folders: nothing in them can be started
        if os.path.isdir(root + folder) and not os.path.islink(root + folder):
            _mount(root + folder, root + folder, None, MS_BIND)
            _mount(None, root + folder, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC)
    for rel, text in spec.get("files", {}).items():  # files handed over (a kernel's connection file)
        with open(root + rel, "w") as file:
            file.write(text)
        os.chown(root + rel, spec["uid"], spec["uid"])
    _check(libc.chroot(root.encode()), "chroot")


def _drop_privileges(spec):
    uid, processes = spec["uid"], spec["processes"]
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
    os.setgroups(spec.get("groups", []))
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() == 0 or os.getegid() == 0:
        raise OSError("the jail could not drop root")


def _hand_over(spec, command):
    """Copy the file after the ``"handoff"`` flag of ``command`` (a kernel's connection file, readable by root
    only) for the uid, and point the command at the copy: into the jail's /tmp (with namespaces), or into
    ``"handoff_dir"`` (a folder of the uid's own) without them."""
    flag = spec.get("handoff")
    if not flag or flag not in command[:-1]:
        return command
    index = command.index(flag) + 1
    with open(command[index]) as file:
        text = file.read()
    name = "handoff-" + os.path.basename(command[index])
    if spec.get("namespaces", True):
        spec.setdefault("files", {})["/tmp/" + name] = text
        return command[:index] + ["/tmp/" + name] + command[index + 1:]
    target = os.path.join(spec["handoff_dir"], name)
    if os.path.lexists(target):  # a restarted kernel's, or anything the uid put there: never written through
        os.unlink(target)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.chown(target, spec["uid"], spec["uid"])
    return command[:index] + [target] + command[index + 1:]


def _share(folder, gid):
    """Let group ``gid`` (the uid's own) read ``folder`` and what is in it, no link followed; it stays root's."""
    for path in [folder] + [os.path.join(root, name) for root, dirs, files in os.walk(folder) for name in dirs + files]:
        info = os.lstat(path)
        if os.path.islink(path):
            continue
        os.chown(path, -1, gid, follow_symlinks=False)
        os.chmod(path, (info.st_mode & 0o7777 & ~0o020) | (0o050 if os.path.isdir(path) else 0o040))


def main(argv):
    os.umask(0o022)  # what the jail builds is the uid's to enter (the starter may have a stricter umask)
    spec, command = json.loads(argv[1]), argv[2:]
    cwd = spec.get("cwd") or os.getcwd()
    if spec.get("stdin"):
        descriptor = os.open(spec["stdin"], os.O_RDONLY | os.O_NOFOLLOW)
        os.dup2(descriptor, 0)
        os.close(descriptor)
    if spec.get("namespaces", True):
        network = CLONE_NEWNET if spec.get("network") in ("none", "loopback") else 0
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | network), "unshare")
        if spec.get("network") == "loopback":
            _loopback_up()
    if spec.get("uid") is not None:
        if spec.get("share_cwd"):
            _share(cwd, spec["uid"])
        command = _hand_over(spec, command)
        if spec.get("namespaces", True):
            _build_root(spec)
        os.chdir(cwd)
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _drop_privileges(spec)
        os.umask(0o077)  # what it writes, anywhere, is its own: no other uid reads it
    os.execve(command[0], command, {**os.environ, **spec.get("env", {})})


if __name__ == "__main__":
    try:
        main(sys.argv)
    except Exception as error:  # never run the command unconfined
        print(f"jail: {error}", file=sys.stderr)
        sys.exit(FAILED)
