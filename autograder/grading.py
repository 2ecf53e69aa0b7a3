"""Score one submission from what its run left behind; only the grader decides.

Inputs: the prepared cases (inputs and reference outputs, computed by the
grader), the run's ``status.jsonl`` and ``<case id>.npz`` files, the static
checks and the list of missing files. The arrays are read with
``allow_pickle=False`` and must be plain float arrays of the reference's shape
and dtype, finite, and within tolerance; a status line claiming success earns
nothing by itself.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder import diagnoses, static_checks
from autograder.cases import PreparedCase
from autograder.compare import relative_error, tolerance, worst_element
from autograder.config import Part

MAX_STATUS_BYTES = 1 << 20


@dataclass
class CaseResult:
    name: str
    score: float
    max_score: float
    summary: str  # "passed" or what went wrong, one line
    details: list[str] = field(default_factory=list)  # inputs, worst element, diagnosis

    @property
    def passed(self) -> bool:
        return self.score == self.max_score


@dataclass
class PartResult:
    name: str  # the function, or a notebook part's name
    file: str
    score: float
    max_score: float
    cases: list[CaseResult] = field(default_factory=list)
    problem: str | None = None  # a reason the whole part scores 0


def read_status(results: Path) -> dict[str, dict]:
    """Case id -> the last status record written for it (malformed lines skipped)."""
    path = results / "status.jsonl"
    if not path.is_file():
        return {}
    with open(path, "rb") as file:
        text = file.read(MAX_STATUS_BYTES).decode("utf-8", errors="replace")
    records = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            records[record["id"]] = record
    return records


def _check_archive(path: Path) -> str | None:
    """Why the ``.npz`` at ``path`` is not a plain archive of stored float arrays, or None.

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
    if not path.is_file():
        return None, "no outputs were saved"
    if path.stat().st_size > max_bytes:
        return None, f"the outputs are larger than {max_bytes} bytes"
    try:
        problem = _check_archive(path)
        if problem:
            return None, f"the saved outputs are not plain float arrays ({problem})"
        with np.load(path, allow_pickle=False) as npz:
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


def _exception_summary(record: dict) -> str:
    kind, message, where = record.get("type", "Exception"), record.get("message", ""), record.get("where")
    if kind == "NotImplementedError":
        return f"not implemented yet (NotImplementedError: {message})"
    if kind == "ForwardFailed":
        forward = record.get("forward_error", {})
        return f"{message}: {forward.get('type')}: {forward.get('message')}"
    if kind == "SystemExit":
        return f"called sys.exit({message})"
    return f"raised {kind}: {message}" + (f" (at {where})" if where else "")


def grade_case(pc: PreparedCase, record: dict | None, results: Path, run_note: str, max_bytes: int) -> CaseResult:
    """Score one case from its status record and saved arrays."""
    points = pc.case.points

    def failed(summary, details=()):
        return CaseResult(pc.case.name, 0, points, summary, [f"inputs: {pc.describe()}", *details])

    if record is None:
        return failed(f"did not run: {run_note}")
    status = record.get("status")
    if status == "timeout":
        return failed("timed out (the per-case time limit)")
    if status == "exception":
        return failed(_exception_summary(record))
    if status != "ok":
        return failed(str(record.get("message", f"no usable result (status {status!r})")))
    arrays, problem = read_outputs(results, pc.id, pc.part.outputs, max_bytes)
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
    return failed(problems[0], details)


def runtime_violations(part: Part, records: list[dict]) -> list[str]:
    """Modules a part's calls imported that it must not use (torch; the fast path if naive)."""
    found = set()
    for record in records:
        for module in record.get("call_modules", []):
            if module.startswith("torch") or (part.is_naive and module.split(".")[-1].endswith("_fast")):
                found.add(module)
    return sorted(found)


def grade_part(part: Part, prepared: list[PreparedCase], records: dict, results: Path, *, source: str | None,
               run_note: str, max_bytes: int) -> PartResult:
    """Score one function: 0 with a reason for a missing file or a forbidden use, else case by case."""
    result = PartResult(part.function, part.file, 0, part.max_score)
    if source is None:
        result.problem = f"{part.file} was not found in the submission"
        result.cases = [CaseResult(pc.case.name, 0, pc.case.points, "not graded: file missing") for pc in prepared]
        return result
    result.cases = [grade_case(pc, records.get(pc.id), results, run_note, max_bytes) for pc in prepared]
    uses = static_checks.violations(source, part.function, part.is_naive)
    imported = runtime_violations(part, [records[pc.id] for pc in prepared if pc.id in records])
    torch = [u.describe() for u in uses if u.what == "torch"] + [f"imported {m}" for m in imported if m.startswith("torch")]
    fast = [u.describe() for u in uses if u.what == "fast"] + [f"imported {m}" for m in imported if not m.startswith("torch")]
    layer = part.kind.rsplit("_", 1)[0].replace("_", " ")  # "conv", "max pool"
    label = f"{part.function}: naive {layer}" if part.is_naive else part.function
    if torch:
        result.problem = f"{label} used PyTorch ({'; '.join(torch)}); the layers must be written with NumPy only"
    elif fast:
        result.problem = f"{label} called the fast path ({'; '.join(fast)}); a naive function must use its own loops"
    if result.problem is None:
        result.score = sum(case.score for case in result.cases)
    return result
