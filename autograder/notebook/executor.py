"""nbgrader's Execute, with every test cell run in the grader's process: the student's kernel only answers calls.

Its specification: docs/grader.md, `autograder/notebook/executor.py`.
"""
from __future__ import annotations

import ast
import base64
import builtins
import contextlib
import copy
import io
import json
import os
import pickle
import re
import secrets
import sys
import traceback
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, Execute
from traitlets import Integer, List, Unicode

from autograder import config
from autograder.notebook import kernel_bridge
from autograder.notebook.evidence import FAILED, GRADING_PROOF_ENV, NOT_RUN, PASSED, RECORD
from autograder.notebook.wire import LAYERS, KernelError, StudentModel, decode, student_exception

HELPER_IDS = re.compile(r"^(setup|.*_helpers)$")  # locked cells the grader runs before a notebook's test cells
MAX_REPLY_CHARS = 64 * 2**20  # one answer of the kernel, as text
HIDDEN_FAILURE = "a hidden test failed (hidden tests show no details)"
BRIDGE = kernel_bridge.source({name: tuple(arguments) for name, arguments in LAYERS.items()})
HIDDEN_ENAME = "HiddenTestFailure"  # one name for every hidden failure: which exception it was says nothing either


def free_names(source: str) -> set[str]:
    """Names a cell reads that it never binds (anywhere in it), builtins left out."""
    tree = ast.parse(source)
    read, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return read - bound - set(dir(builtins))


def imported_modules(source: str) -> set[str]:
    """The modules a cell imports (``import a.b`` and ``from a.b import c`` give ``a.b``)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def hidden_line_numbers(source: str, begin: str, end: str) -> set[int]:
    """1-based numbers of the lines inside a cell's hidden-test regions (delimiters matched as nbgrader does)."""
    numbers, hidden = set(), False
    for number, line in enumerate(source.splitlines(), 1):
        if begin in line:
            hidden = True
        elif end in line:
            hidden = False
        elif hidden:
            numbers.add(number)
    return numbers


def strip_magics(source: str) -> str:
    """A cell's source without IPython's line magics and shell escapes (the grader runs plain Python)."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def student_modules() -> set[str]:
    """Module names of every assignment's student files (``cs7150.conv``, ...)."""
    modules = set()
    for path in sorted(config.ASSIGNMENTS_DIR.glob("*.json")):
        for rel in json.loads(path.read_text(encoding="utf-8")).get("student_files", []):
            modules.add(rel[:-len(".py")].replace("/", "."))
    return modules


def helper_namespace(sources: list[tuple[str, str]]) -> tuple[dict, set[str]]:
    """Run the helper cells' ``(grade_id, source)`` here; return their namespace and the package names left out.

    A name bound to a function, class or module of a student file (the
    reference's, in this process) is left out of the namespace and reported,
    so that no test cell can grade the reference instead of the student.
    """
    namespace = {"__name__": "__cs7150_checks__", "__builtins__": builtins}
    with contextlib.redirect_stdout(io.StringIO()):
        import matplotlib
        matplotlib.use("Agg")
        for grade_id, source in sources:
            exec(compile(strip_magics(source), f"<helper cell {grade_id}>", "exec"), namespace)
        import matplotlib.pyplot as plt
        plt.close("all")
    modules = student_modules()
    package = {name for name, value in namespace.items()
               if (getattr(value, "__name__", None) if isinstance(value, type(sys)) else getattr(value, "__module__", None))
               in modules}
    for name in package:
        del namespace[name]
    return namespace, package


class KernelFunction:
    """A function of the student's notebook, called in their kernel; only plain data comes back."""

    def __init__(self, bridge: "Bridge", key: str, name: str):
        self._bridge, self._key, self.__name__ = bridge, key, name

    def __call__(self, *args, **kwargs):
        payload = base64.b64encode(pickle.dumps((args, kwargs), protocol=4)).decode("ascii")
        status, *rest = self._bridge.ask(f"_cs7150_call({self._key!r}, {self.__name__!r}, {payload!r})")
        if status == "value":
            result = decode(rest[0])
            if isinstance(result, StudentModel):  # a model the grader cannot rebuild fails where it is returned
                result._refuse()
            return result
        raise student_exception(*rest)

    def __repr__(self) -> str:
        return f"<the notebook's function {self.__name__}>"


class Bridge:
    """Asks the student's kernel (through the executor's client) and reads its answers as literals only."""

    def __init__(self, executor: "ExecuteApart"):
        self.executor = executor
        self.ready = False

    def ask(self, code: str):
        executor = self.executor
        if not executor.run_sync_alive():
            raise KernelError("the notebook's kernel is not running any more (it died or was stopped)")
        try:
            reply = executor.run_interactive(("" if self.ready else BRIDGE) + f"\n_cs7150_answer = {code}",
                                             user_expressions={"answer": "_cs7150_answer"})
        except TimeoutError:
            executor.interrupt()
            raise KernelError(f"the notebook's kernel did not answer within {executor.call_timeout} s") from None
        self.ready = True
        content = reply.get("content", {})
        answer = content.get("user_expressions", {}).get("answer", {})
        text = answer.get("data", {}).get("text/plain") if isinstance(answer, dict) else None
        if content.get("status") != "ok" or not isinstance(text, str) or len(text) > MAX_REPLY_CHARS:
            raise KernelError("the notebook's kernel did not answer (its bridge to the grader was broken)")
        try:
            return ast.literal_eval(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise KernelError("the notebook's kernel answered something the grader cannot read") from None


class _HiddenAware(io.StringIO):
    """stdout of a test cell: what it prints once a hidden line ran is dropped."""

    def __init__(self, state: dict):
        super().__init__()
        self.state = state

    def write(self, text: str) -> int:
        return len(text) if self.state["hidden_ran"] else super().write(text)


def run_test_cell(grade_id: str, source: str, namespace: dict, hidden: set[int]) -> list[NotebookNode]:
    """Run a test cell here in ``namespace``; return its outputs (stdout, then an error if it failed).

    Output printed after a hidden line ran is dropped; an error raised once a
    hidden line ran shows its class and ``HIDDEN_FAILURE`` only.
    """
    filename = f"<test cell {grade_id}>"
    state = {"hidden_ran": False}

    def trace(frame, event, arg):
        if frame.f_code.co_filename != filename:
            return None
        if event == "line" and frame.f_lineno in hidden:
            state["hidden_ran"] = True
        return trace

    stdout, error = _HiddenAware(state), None
    try:
        code = compile(source, filename, "exec")
        with contextlib.redirect_stdout(stdout):
            sys.settrace(trace)
            try:
                exec(code, namespace)
            finally:
                sys.settrace(None)
    except Exception as raised:  # the test's verdict: every exception fails the cell
        error = raised
    outputs = []
    if stdout.getvalue():
        outputs.append(NotebookNode(output_type="stream", name="stdout", text=stdout.getvalue()))
    if error is not None:
        ename = type(error).__name__
        if state["hidden_ran"]:
            ename, evalue, lines = HIDDEN_ENAME, HIDDEN_FAILURE, [f"{HIDDEN_ENAME}: {HIDDEN_FAILURE}"]
        else:
            evalue = str(error)
            frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith("<")]
            lines = [f"{f.filename}, line {f.lineno}: {f.line}" for f in frames] + [f"{ename}: {evalue}"]
        outputs.append(NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=lines))
    return outputs


def _instructor_error(grade_id: str, message: str) -> list[NotebookNode]:
    text = f"test cell {grade_id}: {message}"
    return [NotebookNode(output_type="error", ename="GraderConfigurationError", evalue=text, traceback=[text])]


def _not_run(why: str) -> list[NotebookNode]:
    """The outputs of a test cell that did not run to completion here: a failure saying why."""
    text = f"{NOT_RUN}: {why}"
    return [NotebookNode(output_type="error", ename="TestNotRun", evalue=text, traceback=[text])]


_proof: list[str] = []  # the job's proof, once taken out of the environment (one nbgrader process, many notebooks)


def take_proof() -> str:
    """The proof the grader put in this process's environment (``GRADING_PROOF_ENV``), removed from it so that no kernel
    started from here inherits it; "" where there is none (plain nbgrader)."""
    if not _proof:
        _proof.append(os.environ.pop(GRADING_PROOF_ENV, ""))
    return _proof[0]


def verdict(outputs) -> str:
    """``PASSED`` for a test cell's outputs with no error, else ``FAILED`` (nbgrader's own rule, on what ran here)."""
    return FAILED if any(output.get("output_type") == "error" for output in outputs) else PASSED


class ExecuteApart(Execute):
    """nbgrader's ``Execute`` with the autograded test cells run in the grader's process (see the module), and a
    record of every test cell's verdict in the notebook's metadata (``RECORD``): a test cell that did not run to
    completion here (the kernel died before it, the grader could not run it) fails, saying why."""

    call_timeout = Integer(120, help="Seconds the kernel may take to answer one call of a test cell").tag(config=True)
    startup_timeout = Integer(180, help="Seconds a new kernel may take to answer (nbclient's 60 s is short on a "
                              "loaded grading machine; a kernel that dies is seen at once)").tag(config=True)
    in_kernel = List(Unicode(), help="Assignments whose test cells run in the student's kernel as stock nbgrader "
                     "runs them (an explicit, logged opt-out; every other assignment's run apart)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources=None, km=None):
        """Run the notebook's cells in the kernel, then its test cells here (nbconvert's loop, plus that step)."""
        from nbclient import NotebookClient

        proof = take_proof()
        self._hide_tests_on_disk(nb, resources)
        self._read_gradebook(nb, resources["nbgrader"])
        nb.metadata.pop(RECORD, None)
        if resources["nbgrader"]["assignment"] in self.in_kernel:
            return self._preprocess_in_kernel(nb, resources, km, proof)
        try:
            self._base, self._package = helper_namespace(self._helpers)
        except Exception as error:  # an instructor's helper cell that does not run here
            self._base, self._package = None, f"{type(error).__name__}: {error}"
        self._bridge, self._snapshots, self._pending, self._models = Bridge(self), {}, [], {}
        self._interrupted = None
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        with contextlib.ExitStack() as kernel:
            try:
                kernel.enter_context(self.setup_kernel())
            except Exception as error:  # noqa: BLE001 - no kernel (nbclient has cleaned up): no cell ran, none passes
                stopped = (f"the notebook's kernel could not be started ({type(error).__name__}: {error}), so no cell "
                           "ran; a failure of the grading machine, not of the notebook: it can be graded again")
                self.log.warning("%s", stopped)
            else:
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                stopped, end = self._run_cells(resources, len(self.nb.cells))
                if stopped is not None and self._pending:
                    # The test cells before the cell that ended the kernel are graded in a fresh kernel that ran the
                    # notebook again up to that cell (no hidden input has been sent yet); those after it do not run.
                    self._bridge, self._snapshots, self._pending, self._models = Bridge(self), {}, [], {}
                    if not self._restart():
                        stopped = f"{stopped}, and no new kernel started to grade the cells before it"
                    elif self._run_cells(resources, end)[0] is not None:
                        stopped = f"{stopped}, and again when the cells before it ran in a new kernel"
                        self._pending = []
                self._run_tests()
        verdicts = {self._grade_id(cell): verdict(cell.outputs) for cell in self._pending}
        for cell in self.nb.cells:
            grade_id = self._grade_id(cell)
            if cell.cell_type == "code" and grade_id in self._tests and grade_id not in verdicts:
                cell.outputs = _not_run(stopped or "the cell was not reached")
                verdicts[grade_id] = f"{NOT_RUN}: {stopped or 'the cell was not reached'}"
        self._record(verdicts, "apart", proof)
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_cells(self, resources, end: int) -> tuple[str | None, int]:
        """Run the notebook's first ``end`` cells (test cells: their snapshots); return why it stopped early (None:
        it did not) and the index of the cell it stopped at."""
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        for index, cell in enumerate(self.nb.cells[:end]):
            try:
                self.preprocess_cell(cell, resources, index)
            except DeadKernelError:  # the student's kernel died: the test cells after it do not run
                why = f"the kernel died at cell {index + 1}"
            except CellTimeoutError:
                why = f"cell {index + 1} ran past the {self.timeout} s limit and did not stop when interrupted"
            except Exception as error:  # noqa: BLE001 - nbclient's own failure on a cell: the rest do not run
                why = f"cell {index + 1} could not be run ({type(error).__name__})"
            else:
                continue
            self.log.warning("%s; the cells after it were not run", why)
            return why, index
        return None, end

    async def _async_handle_timeout(self, timeout: int, cell=None):
        """nbclient's: a cell past the time limit is interrupted (its error is the cell's output, and the notebook
        goes on); one that does not stop when interrupted ends the kernel's run (CellTimeoutError)."""
        from nbclient.exceptions import CellTimeoutError

        if cell is not None and getattr(self, "_interrupted", None) is cell:
            raise CellTimeoutError.error_from_timeout_and_cell("did not stop when interrupted", timeout, cell)
        self._interrupted = cell
        return await super()._async_handle_timeout(timeout, cell)

    def _restart(self) -> bool:
        """A fresh kernel in place of the one that ended (False where none became ready: the kernel manager and
        client stay in place, so that nbclient's own clean-up still ends whatever started)."""
        from nbclient.util import run_sync

        try:
            run_sync(self._async_restart)()
            self.wait_for_reply(self.kc.kernel_info())
            return True
        except Exception:  # noqa: BLE001 - no second kernel: the tests before the end are not graded
            self.log.warning("the kernel could not be started again", exc_info=True)
            return False

    async def _async_restart(self) -> None:
        from nbclient.util import ensure_async

        await ensure_async(self.kc.stop_channels())
        await ensure_async(self.km.restart_kernel(now=True))
        self.kc = self.km.client()
        await ensure_async(self.kc.start_channels())
        await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        self.kc.allow_stdin = False

    def _preprocess_in_kernel(self, nb: NotebookNode, resources, km, proof: str):
        """Stock nbgrader execution (``in_kernel``), logged; a test cell counts as run only if this run ran it."""
        self.log.warning("assignment %s: its test cells run in the student's kernel (ExecuteApart.in_kernel): "
                         "code the student adds can change their verdicts", resources["nbgrader"]["assignment"])
        tests = [cell for cell in nb.cells if cell.cell_type == "code" and self._grade_id(cell) in self._tests]
        for cell in tests:
            cell.outputs, cell.execution_count = [], None
        nb, resources = super().preprocess(nb, resources, km)
        verdicts = {}
        for cell in tests:
            if cell.execution_count is None:
                cell.outputs = _not_run("the cell was not reached")
                verdicts[self._grade_id(cell)] = f"{NOT_RUN}: the cell was not reached"
            else:
                verdicts[self._grade_id(cell)] = verdict(cell.outputs)
        self.nb = nb
        self._record(verdicts, "in-kernel", proof)
        return nb, resources

    def _record(self, verdicts: dict, executor: str, proof: str) -> None:
        """Write what ran, and how, into the notebook's metadata (``RECORD``)."""
        self.nb.metadata[RECORD] = {"executor": executor, "proof": proof, "tests": verdicts}

    def _read_gradebook(self, nb: NotebookNode, info: dict) -> None:
        """The test cells' and the helper cells' sources, as the instructor wrote them (from the gradebook)."""
        from nbgrader.api import Gradebook

        with Gradebook(info["db_url"]) as gradebook:
            notebook = gradebook.find_notebook(info["notebook"], info["assignment"])
            solutions = {cell.name for cell in notebook.solution_cells}
            graded = {cell.name for cell in notebook.grade_cells}
            self._tests = {cell.name: cell.source for cell in notebook.source_cells
                           if cell.cell_type == "code" and cell.name in graded and cell.name not in solutions}
            helpers = [(cell.name, cell.source) for cell in notebook.source_cells
                       if cell.cell_type == "code" and cell.locked and HELPER_IDS.match(cell.name)
                       and cell.name not in self._tests]
        order = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        self._helpers = sorted(helpers, key=lambda item: order.index(item[0]) if item[0] in order else len(order))

    # -- the kernel side ------------------------------------------------------------------------------
    def _grade_id(self, cell) -> str | None:
        return cell.metadata.get("nbgrader", {}).get("grade_id")

    def preprocess_cell(self, cell, resources, index):
        grade_id = self._grade_id(cell)
        if cell.cell_type != "code" or grade_id not in getattr(self, "_tests", ()):
            return super().preprocess_cell(cell, resources, index)
        cell.outputs, cell.execution_count = [], None
        key = f"{grade_id}-{secrets.token_hex(4)}"
        try:
            names = sorted(free_names(self._tests[grade_id]) - set(self._base or ()))
            self._snapshots[grade_id] = (key, self._bridge.ask(f"_cs7150_snapshot({key!r}, {names!r})"))
        except (KernelError, SyntaxError) as error:
            self._snapshots[grade_id] = (key, error)
        except Exception as error:  # the kernel went away mid-answer, or anything else: this test fails
            self._snapshots[grade_id] = (key, KernelError(f"the notebook's kernel did not answer "
                                                          f"({type(error).__name__})"))
        self._pending.append(cell)
        return cell, resources

    async def _alive(self) -> bool:
        from nbclient.util import ensure_async
        return await ensure_async(self.km.is_alive())

    async def _interactive(self, code: str, user_expressions: dict):
        # silent: IPython runs no pre/post_run_cell hooks for a call (autoreload's look at every loaded module
        # made a round trip 15 ms instead of 4 ms), counts no execution and keeps no history.
        from nbclient.util import ensure_async
        return await ensure_async(self.kc.execute_interactive(
            code, silent=True, store_history=False, allow_stdin=False, user_expressions=user_expressions,
            timeout=self.call_timeout, output_hook=lambda message: None))

    async def _interrupt(self) -> None:
        from nbclient.util import ensure_async
        await ensure_async(self.km.interrupt_kernel())

    def run_sync_alive(self) -> bool:
        from nbclient.util import run_sync
        return run_sync(self._alive)()

    def run_interactive(self, code: str, user_expressions: dict):
        from nbclient.util import run_sync
        return run_sync(self._interactive)(code, user_expressions)

    def interrupt(self) -> None:
        from nbclient.util import run_sync
        with contextlib.suppress(Exception):
            run_sync(self._interrupt)()

    def _hide_tests_on_disk(self, nb: NotebookNode, resources) -> None:
        """Rewrite the notebook nbgrader left in the kernel's folder without its hidden tests."""
        import nbformat

        path = Path(resources.get("metadata", {}).get("path") or ".") / f"{resources.get('unique_key', '')}.ipynb"
        if not path.is_file():
            return
        clean = copy.deepcopy(nb)
        clear = ClearHiddenTests(config=self.config, enforce_metadata=False)
        for cell in clean.cells:
            cell.source = "\n".join(line for number, line in enumerate(cell.source.splitlines(), 1)
                                    if number not in hidden_line_numbers(cell.source, clear.begin_test_delimeter,
                                                                         clear.end_test_delimeter)
                                    and clear.begin_test_delimeter not in line and clear.end_test_delimeter not in line)
        path.write_text(nbformat.writes(clean), encoding="utf-8")

    # -- the grader side ------------------------------------------------------------------------------
    def _run_tests(self) -> None:
        """Every test cell here: first all of them without their hidden lines (what they show), then the
        cells with hidden tests in full (their verdict), so nothing shown depends on a hidden input."""
        clear = ClearHiddenTests(config=self.config, enforce_metadata=False)
        base, package = self._base, self._package
        full = []
        for cell in self._pending:
            grade_id = self._grade_id(cell)
            source = self._tests[grade_id]
            try:
                namespace = self._namespace(grade_id, base, package)
                if not isinstance(namespace, dict):
                    cell.outputs = namespace
                    continue
                hidden = hidden_line_numbers(source, clear.begin_test_delimeter, clear.end_test_delimeter)
                visible = "\n".join("" if number in hidden or clear.begin_test_delimeter in line
                                     or clear.end_test_delimeter in line else line
                                     for number, line in enumerate(source.splitlines(), 1))
                cell.outputs = run_test_cell(grade_id, visible, namespace, set())
            except Exception as error:  # the grader's own failure to run it: the test fails, saying so
                cell.outputs = _not_run(f"the grader could not run this test ({type(error).__name__})")
                continue
            if hidden and verdict(cell.outputs) == PASSED:
                full.append((cell, grade_id, source, hidden))
        for cell, grade_id, source, hidden in full:
            try:
                namespace = self._namespace(grade_id, base, package)
                outputs = (run_test_cell(grade_id, source, namespace, hidden) if isinstance(namespace, dict)
                           else namespace)
            except Exception:  # noqa: BLE001 - whatever it was, the hidden tests did not pass
                outputs = _not_run("the grader could not run the hidden tests")
            if verdict(outputs) == FAILED:
                cell.outputs.append(NotebookNode(output_type="error", ename=HIDDEN_ENAME, evalue=HIDDEN_FAILURE,
                                                 traceback=[f"{HIDDEN_ENAME}: {HIDDEN_FAILURE}"]))

    def _model(self, key: str, index: int):
        """The encoded description of the model snapshot ``key`` kept at ``index`` (asked once, then remembered)."""
        models = self._models
        if (key, index) not in models:
            try:
                status, *rest = self._bridge.ask(f"_cs7150_fetch({key!r}, {int(index)})")
            except KernelError as error:
                status, rest = "raise", [str(error)]
            models[key, index] = (rest[0] if status == "value" else
                                  ("\x00cs7150:object", f"a model the kernel did not send ({rest[-1]})", "module"))
        return models[key, index]

    def _namespace(self, grade_id: str, base: dict | None, package) -> dict | list:
        """A test cell's globals (the helpers' and the student's names), or the outputs of why it cannot run."""
        source = self._tests[grade_id]
        key, snapshot = self._snapshots[grade_id]
        if base is None:
            return _instructor_error(grade_id, f"the helper cells do not run in the grader: {package}")
        names = free_names(source)
        graded_package = sorted((names & package) | {m for m in imported_modules(source) if m in student_modules()})
        if graded_package:
            return _instructor_error(grade_id, f"it tests {', '.join(graded_package)}, package code that "
                                     "cs7150 autograde grades; notebook test cells grade notebook code only")
        if isinstance(snapshot, Exception):
            return [NotebookNode(output_type="error", ename=type(snapshot).__name__, evalue=str(snapshot),
                                 traceback=[str(snapshot)])]
        if not isinstance(snapshot, dict):
            return _not_run("the kernel's snapshot of the test's names could not be read")
        namespace = dict(base)
        for name, found in snapshot.items():
            if name in base:
                continue
            try:
                namespace[name] = (KernelFunction(self._bridge, key, name) if found[0] == "function"
                                   else decode(found[1], fetch=lambda index, key=key: self._model(key, index)))
            except Exception:  # noqa: BLE001 - an unreadable value: the name stays undefined (NameError in the test)
                continue
        return namespace
