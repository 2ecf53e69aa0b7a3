"""One warm nbgrader for a class run: it imports once, then forks a fresh process per nbgrader command.

Its specification: docs/grader.md, `autograder/notebook/warm_nbgrader.py`.
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

SERVER = Path(__file__).resolve()
READY = "ready"


# -- the server (run by its path) -------------------------------------------------------------------------
def _warm_imports() -> None:
    """What every nbgrader command of a class run imports (nbgrader's apps and converters, the course's
    grading modules, and what the test cells' helpers import in nbgrader's process)."""
    import nbgrader_main

    nbgrader_main.block_unused_imports()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import nbclient  # noqa: F401
    import nbconvert.exporters.html
    import nbgrader.apps.autogradeapp  # noqa: F401
    import nbgrader.apps.generatefeedbackapp  # noqa: F401
    import nbgrader.apps.nbgraderapp  # noqa: F401
    import torch  # noqa: F401
    import torch.nn.functional  # noqa: F401

    import autograder.notebook.feedback  # noqa: F401
    import autograder.notebook.executor  # noqa: F401
    import autograder.sandbox.processes  # noqa: F401

    # nbconvert's first page loads pygments' lexers, the markdown renderer and the templates' filters: 0.56 s,
    # then 0.07 s for each fresh exporter after it (measured on the 2-core development machine).
    import nbformat

    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"),
                                           nbformat.v4.new_markdown_cell("*warm*")])
    nbconvert.exporters.html.HTMLExporter(template_name="classic").from_notebook_node(page)


def _become(request: dict, channels: tuple[int, ...]) -> None:
    """In the forked child: take the job's session, limits, files, folder, environment and network, then run
    nbgrader's command line with its arguments; never returns."""
    code = 1
    try:
        os.setsid()
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGPIPE, signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_DFL)
        for fd in channels:
            os.close(fd)
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        for source, target in ((null, 0), (out, 1), (err, 2)):  # opened in this order: none is a later target
            if source != target:
                os.dup2(source, target)
            os.set_inheritable(target, True)  # os.open's descriptors close on exec: the kernel needs these
        for fd in {null, out, err} - {0, 1, 2}:
            os.close(fd)
        # sys.stdin/stdout/stderr (and what modules bound to them, as nbgrader's Validator.stream) keep their
        # objects, now over the job's files; the server never wrote to them, so they hold nothing of its own.
        from autograder.sandbox.processes import limit_resources

        limit_resources(request["memory_mb"], request["file_mb"], request["allow_processes"])()
        if request["network"]:
            import jail

            jail._check(jail.libc.unshare(jail.CLONE_NEWNET), "unshare")
            jail._loopback_up()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["nbgrader", *request["argv"]]
        from nbgrader.apps.nbgraderapp import main

        try:
            main()
            code = 0
        except SystemExit as ended:
            code = ended.code if isinstance(ended.code, int) else (0 if ended.code is None else 1)
    except BaseException:  # noqa: BLE001 - whatever it was goes to the job's stderr, and the status says so
        import traceback

        traceback.print_exc()
    finally:
        for stream in {id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}.values():
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


def serve() -> int:
    """Read requests on stdin, fork a child for each, report each child's pid and, later, its exit status."""
    if str(SERVER.parents[2]) not in sys.path:  # the grader on PYTHONPATH (not inherited) rather than installed
        sys.path.append(str(SERVER.parents[2]))
    _warm_imports()
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    requests, replies = sys.stdin.fileno(), sys.stdout.fileno()

    def reply(message: dict) -> None:
        os.write(replies, (json.dumps(message) + "\n").encode())

    reply({READY: os.getpid()})
    pending, live = b"", set()
    while True:
        try:
            readable, _, _ = select.select([requests, wake_read], [], [])
        except InterruptedError:
            readable = [wake_read]
        if wake_read in readable:
            os.read(wake_read, 4096)
        while live:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            live.discard(pid)
            reply({"exited": pid, "status": status})
        if requests in readable:
            data = os.read(requests, 65536)
            if not data:
                return 0  # the grader is gone; children it started are its to end
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                try:
                    pid = os.fork()
                except OSError as error:
                    reply({"error": f"fork failed: {error}"})
                    continue
                if pid == 0:
                    _become(request, (requests, replies, wake_read, wake_write))
                live.add(pid)
                reply({"pid": pid})


# -- the grader's side -------------------------------------------------------------------------------------
class Forked:
    """A child of the server, as ``autograder.sandbox.processes`` sees a ``subprocess.Popen``."""

    def __init__(self, server: "WarmNbgrader", pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.server.pump(block=False)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            if not self.server.pump(block=True, timeout=0.05) and not self.server.alive():
                self.returncode = -signal.SIGKILL  # the server died: its children's statuses are lost
        return self.returncode


class WarmNbgrader:
    """The server process of this module, started with ``env`` (the grader's scrubbed environment)."""

    def __init__(self, env: dict, log: Path):
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "ab")
        self.process = subprocess.Popen([sys.executable, str(SERVER)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log, env=env, cwd="/",
                                        start_new_session=True)
        self._buffer, self._children = b"", {}
        message = self._read(block=True, timeout=None)
        if message is None or READY not in message:
            self.close()
            raise RuntimeError(f"the warm nbgrader did not start (see {log})")

    def alive(self) -> bool:
        return self.process.poll() is None

    def _read(self, block: bool, timeout: float | None) -> dict | None:
        """One message from the server, or None (none yet, or the server is gone)."""
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], timeout if block else 0)
            if not ready:
                return None
            data = os.read(fd, 65536)
            if not data:
                return None
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _handle(self, message: dict) -> None:
        child = self._children.pop(message["exited"], None)
        if child is not None:
            status = message["status"]
            child.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)

    def pump(self, block: bool, timeout: float | None = None) -> bool:
        """Read the server's exit reports that have arrived (with ``block``, wait up to ``timeout`` for one)."""
        got = False
        while True:
            message = self._read(block and not got, timeout)
            if message is None:
                return got
            if "exited" in message:
                self._handle(message)
                got = True

    def spawn(self, command: list[str], cwd: Path, env: dict, stdout: Path, stderr: Path, memory_mb: int,
              file_mb: int, allow_processes: bool, network: bool) -> Forked:
        """A forked nbgrader running ``command`` (nbgrader's arguments, without the program)."""
        if not self.alive():
            raise RuntimeError("the warm nbgrader is not running")
        request = {"argv": list(command), "cwd": str(cwd), "env": env, "stdout": str(stdout), "stderr": str(stderr),
                   "memory_mb": memory_mb, "file_mb": file_mb, "allow_processes": allow_processes,
                   "network": network}
        self.process.stdin.write((json.dumps(request) + "\n").encode())
        self.process.stdin.flush()
        while True:
            message = self._read(block=True, timeout=60)
            if message is None:
                raise RuntimeError("the warm nbgrader did not answer")
            if "exited" in message:
                self._handle(message)
            elif "error" in message:
                raise RuntimeError(message["error"])
            else:
                child = Forked(self, message["pid"])
                self._children[child.pid] = child
                return child

    def close(self) -> None:
        """End the server (its children are ended by the jobs that own them)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._log.close()

    def __enter__(self) -> "WarmNbgrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    sys.exit(serve())
