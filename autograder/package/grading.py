"""Score one submission from what its run left behind; only the grader decides.

Inputs: the prepared cases (inputs and reference outputs, computed by the
grader), the run's ``status.jsonl`` and ``<case id>.npz`` files, the static
checks and the list of missing files. The arrays are read with
``allow_pickle=False`` and must be plain float arrays of the reference's shape
and dtype, finite, and within tolerance; a status line claiming success earns
nothing by itself. The student's code can write in its results folder, so
every file there is opened without following links and only if it is a
regular file (a FIFO would block, a link could point at another student's
outputs).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from autograder.package import diagnoses, static_checks
from autograder.package.cases import PreparedCase
from autograder.package.compare import relative_error, tolerance, worst_element
from autograder.config import Part
from autograder.results import CaseResult, PartResult
from autograder.sandbox import protocol
from autograder.sandbox.protocol import open_regular

MAX_STATUS_BYTES = 1 << 20


def read_status(results: Path) -> dict[str, dict]:
    """Case id -> the last status record written for it (malformed lines skipped)."""
    file = open_regular(results / protocol.STATUS_FILE)
    if file is None:
        return {}
    with file:
        return protocol.parse_records(file.read(MAX_STATUS_BYTES).decode("utf-8", errors="replace"))


def _check_archive(path) -> str | None:
    """Why the ``.npz`` at ``path`` (or in an open file) is not a plain archive of stored float arrays, or None.

    Each member's ``.npy`` header is read first so that a forged header (a
    huge shape, a compressed bomb) never makes the grader allocate memory.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED:
                return f"{info.filename} is compressed"
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in readers:
                    return f"{info.filename} has .npy format version {version}"
                shape, _, dtype = readers[version](member)
            if dtype.kind != "f" or np.prod(shape, dtype=np.float64) * dtype.itemsize > info.file_size:
                return f"{info.filename} is not a float array of the size stored"
    return None


def read_outputs(results: Path, case_id: str, names, max_bytes: int) -> tuple[dict | None, str | None]:
    """The arrays a case saved, loaded without pickles, or (None, why not)."""
    path = results / f"{case_id}.npz"
    file = open_regular(path)
    if file is None:
        return None, "no outputs were saved" if not os.path.lexists(path) else "the outputs are not a regular file"
    with file:
        size = os.fstat(file.fileno()).st_size
        if size == 0:  # the grader creates the file empty for a confined run
            return None, "no outputs were saved"
        if size > max_bytes:
            return None, f"the outputs are larger than {max_bytes} bytes"
        try:
            problem = _check_archive(file)
            if problem:
                return None, f"the saved outputs are not plain float arrays ({problem})"
            file.seek(0)
            with np.load(file, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in names if name in npz.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
            return None, f"the saved outputs could not be read ({type(error).__name__})"
    missing = [name for name in names if name not in arrays]
    if missing:
        return None, f"outputs {missing} are missing"
    return arrays, None


def _format_index(name: str, index) -> str:
    return f"{name}[{', '.join(str(i) for i in index)}]"


def _check_output(name: str, array: np.ndarray, reference: np.ndarray) -> str | None:
    """Why ``array`` does not match ``reference``, or None when it does."""
    if array.shape != reference.shape:
        return f"{name}: wrong output size: expected shape {reference.shape}, got {array.shape}"
    if array.dtype != reference.dtype:
        return f"{name}: dtype {array.dtype}, expected {reference.dtype} (the dtype of the inputs)"
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        return f"{name}: contains {array[index]} at {_format_index(name, index)}"
    error, limit = relative_error(array, reference), tolerance(reference)
    if error > limit:
        index, yours, expected = worst_element(array, reference)
        return (f"{name}: values differ (relative error {error:.2e}, tolerance {limit:.0e}); "
                f"worst element {_format_index(name, index)}: yours {yours:.6g}, expected {expected:.6g}")
    return None


SIGNALS = {6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 7: "SIGBUS", 8: "SIGFPE", 15: "SIGTERM"}
NETWORK_ERRORS = {"gaierror", "ConnectionRefusedError", "ConnectionResetError", "TimeoutError"}


def _exception_summary(record: dict, limits) -> str:
    kind, message, where = record.get("type", "Exception"), record.get("message", ""), record.get("where")
    raised = f"{kind}: {message}" + (f" (at {where})" if where else "")
    errno, filename = record.get("errno"), record.get("filename")
    if kind == "NotImplementedError":
        return f"not implemented yet (NotImplementedError: {message})"
    if kind == "ForwardFailed":
        forward = record.get("forward_error", {})
        return f"{message}: {forward.get('type')}: {forward.get('message')}"
    if kind == "ModuleNotFoundError" and str(record.get("missing_module")).endswith("_fast"):
        return (f"tried to import the fast path ({record['missing_module']}), which is not there while naive "
                f"functions are graded: a naive function must use its own loops ({raised})")
    if kind == "ModuleNotFoundError" and record.get("missing_module"):
        return (f"tried to import {record['missing_module']}, which graded code cannot reach: package grading runs "
                f"with the standard library and NumPy only ({raised})")
    if kind == "SystemExit":
        return f"called sys.exit({message})"
    if kind == "MemoryError":
        return f"ran out of memory: exceeded the {limits.memory_mb} MiB memory limit ({raised})"
    if errno == 27:  # EFBIG
        return f"wrote more than the {limits.file_mb} MiB file-size limit ({raised})"
    if (kind == "BlockingIOError" and errno == 11) or "can't start new thread" in message:
        return f"tried to start more processes or threads than a submission may ({raised})"
    if errno == 101 or kind in NETWORK_ERRORS:
        return f"tried to use the network, which graded code cannot reach ({raised})"
    if errno in (2, 13, 30) and filename and record.get("outside"):
        return f"tried to open {filename}, outside what graded code may see or change ({raised})"
    prefix = " while importing its module" if record.get("phase") == "import" else ""
    return f"raised {kind}{prefix}: {message}" + (f" (at {where})" if where else "")


def _ended_summary(record: dict) -> str:
    """Why a case's process ended during it, from the grader's or the runner's record."""
    if record.get("reason"):
        return f"did not finish: {record['reason']}"
    if record.get("signal") is not None:
        name = SIGNALS.get(record["signal"], f"signal {record['signal']}")
        return (f"the process was killed by {name} during this case (a crash, running out of memory, or a kill); "
                "the grader went on in a new process")
    return (f"the process ended during this case with exit status {record.get('exit_status')} "
            "(os._exit, or sys.exit in a thread); the grader went on in a new process")


def map_picture(pc: PreparedCase, arrays: dict) -> str | None:
    """For the first wrong output that is a 4-D map (N, C, H, W) in the reference and in the student's arrays: a
    small PNG (data URI) of the expected map, the student's and their difference (``cs7150.plots``); else None."""
    for name in pc.part.outputs:
        reference, array = pc.reference[name], arrays[name]
        if reference.ndim == 4 and array.ndim == 4 and _check_output(name, array, reference):
            from cs7150.plots import plot_map_difference, png_data_uri  # matplotlib, only for a failing map

            return png_data_uri(plot_map_difference(reference, array, name))
    return None


def grade_case(pc: PreparedCase, record: dict | None, results: Path, run_note: str, limits,
               picture: bool = False) -> CaseResult:
    """Score one case from its status record and saved arrays (``limits``: the run's, for the numbers in messages
    and the largest output file read; ``picture``: attach ``map_picture`` when the outputs are wrong)."""
    points = pc.case.points

    def failed(summary, details=()):
        return CaseResult(pc.case.name, 0, points, summary, [f"inputs: {pc.describe()}", *details])

    if record is None or record.get("status") == protocol.STARTED:
        return failed(f"did not run: {run_note}")
    status = record.get("status")
    if status == protocol.TIMEOUT:
        during = " while importing its module" if record.get("phase") == "import" else ""
        return failed(f"timed out after {limits.case_s:g} s{during} (the per-case time limit)")
    if status == protocol.EXCEPTION:
        return failed(_exception_summary(record, limits))
    if status == protocol.ENDED:
        return failed(_ended_summary(record))
    if status == protocol.SKIPPED:
        return failed(f"not run: the process grading this function died {record.get('workers')} times")
    if status != protocol.OK:
        return failed(str(record.get("message", f"no usable result (status {status!r})")))
    arrays, problem = read_outputs(results, pc.id, pc.part.outputs, limits.file_mb << 20)
    if arrays is None:
        return failed(problem)
    problems = [p for p in (_check_output(n, arrays[n], pc.reference[n]) for n in pc.part.outputs) if p]
    if not problems:
        return CaseResult(pc.case.name, points, points, "passed")
    details = problems[1:]
    diagnosis = diagnoses.diagnose(pc, arrays)
    if diagnosis:
        details.append(f"likely mistake: {diagnosis}")
    if "forward_error" in record:
        forward = record["forward_error"]
        details.append(f"graded with the cache built from the inputs because {pc.part.forward} raised "
                       f"{forward.get('type')}: {forward.get('message')}")
    result = failed(problems[0], details)
    if picture:
        result.picture = map_picture(pc, arrays)
    return result


def runtime_violations(part: Part, records: list[dict]) -> list[tuple[str, str]]:
    """(``"torch"`` or ``"fast"``, what) for what a part's runs imported that it must not use: torch (when its
    file was imported, or in its calls), and for a naive part the fast path (in its calls)."""
    found = set()
    for record in records:
        found |= {("torch", f"importing {part.file} loaded {m}") for m in record.get("import_modules", []) if m == "torch"}
        for module in record.get("call_modules", []):
            if module.startswith("torch"):
                found.add(("torch", f"imported {module}"))
            elif part.is_naive and module.split(".")[-1].endswith("_fast"):
                found.add(("fast", f"imported {module}"))
    return sorted(found)


def grade_part(part: Part, prepared: list[PreparedCase], records: dict, results: Path, *, source: str | None,
               run_note: str, limits, missing: str = "was not found in the submission") -> PartResult:
    """Score one function: 0 with a reason for a missing file (``missing``: why) or a forbidden use, else case
    by case."""
    result = PartResult(part.function, part.file, 0, part.max_score, extra_credit=part.extra_credit)
    if source is None:
        result.problem = f"{part.file} {missing}"
        result.cases = [CaseResult(pc.case.name, 0, pc.case.points, "not graded: file missing") for pc in prepared]
        return result
    for pc in prepared:  # a picture for the first failing case only: the feedback details that one
        first_failure = all(case.passed for case in result.cases)
        result.cases.append(grade_case(pc, records.get(pc.id), results, run_note, limits, first_failure))
    try:
        uses = static_checks.violations(source, part.function, part.is_naive)
    except static_checks.Unparsable as error:
        result.problem = f"{part.file} could not be checked: {error}"
        return result
    imported = runtime_violations(part, [records[pc.id] for pc in prepared if pc.id in records])
    torch = [u.describe() for u in uses if u.what == "torch"] + [text for what, text in imported if what == "torch"]
    fast = [u.describe() for u in uses if u.what == "fast"] + [text for what, text in imported if what == "fast"]
    layer = part.kind.rsplit("_", 1)[0].replace("_", " ")  # "conv", "max pool"
    label = f"{part.function}: naive {layer}" if part.is_naive else part.function
    if torch:
        result.problem = f"{label} used PyTorch ({'; '.join(torch)}); the layers must be written with NumPy only"
    elif fast:
        result.problem = f"{label} called the fast path ({'; '.join(fast)}); a naive function must use its own loops"
    if result.problem is None:
        result.score = sum(case.score for case in result.cases)
    return result
