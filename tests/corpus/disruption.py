"""Disruption variants: the blank release with ONE disruptive cell, or ONE disruptive module-level statement.

A grade that fails open gives points when something does not run: nbgrader scores a test cell with no error
output full marks, so a kernel that dies, hangs, restarts or loses its state before a test cell would earn that
cell. These variants are generated, not written one by one: for each assignment's notebook, the blank release
(what ``cs7150 release`` gives students: the notebooks of ``nbgrader generate_assignment`` and the stubbed
package) with one cell of ``NOTEBOOK_DISRUPTIONS`` inserted at each of ``POSITIONS``; for the package, the blank
stub package with one statement of ``PACKAGE_DISRUPTIONS`` at the end of a student file (``PACKAGE_POSITIONS``),
its notebooks blank. Every variant must score no more than the blank release itself, test cell by test cell
and package case by package case (``excess``).

``grade_variants`` grades the blank release and a list of variants in ONE ``autograde`` run with
``--notebooks``, so that the executor's record and the feedback filters' proof are checked as on any grading
run; ``short_timeout_repo`` gives that run a course configuration with a short per-cell timeout, so that a hang
costs seconds. ``tests/autograder/test_disruption.py`` asserts every outcome (a fast subset in ``make test``, all of it
with ``-m slow``), and ``disruption_table`` writes what happened into ``docs/attack-table.md``.
"""
from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder import autograde, config
from autograder.notebook import nbgrade
from autograder.output import report
from autograder import results
from autograder.results import StudentResult
from autograder.release import build
from coursetools.samples import Sample, write_sample

BLANK = "blank_release"  # the student id of the blank release graded beside the variants
CELL_TIMEOUT_S = 20  # the per-cell timeout of a disruption run's course configuration (the course's own: 120 s)
# notebook_s bounds a submission's nbgrader job whatever a hang that ignores the interrupt does to it.
LIMITS = autograde.Limits(wall_s=12, case_s=3, notebook_s=240)

# name -> (what it does, the cell's source)
NOTEBOOK_DISRUPTIONS = {
    "exit": ("the kernel ends its process (os._exit(0))", "import os\nos._exit(0)\n"),
    "kill": ("the kernel kills itself (SIGKILL)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
    "system_exit": ("raises SystemExit", "raise SystemExit(0)\n"),
    "hang": ("hangs past the cell timeout, ignoring the interrupt",
             "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.5)\n"),
    "hang_interruptible": ("hangs past the cell timeout (interrupted)", "while True:\n    pass\n"),
    "clear_outputs": ("clears its outputs, and empties every notebook file on disk it can find",
                      "import glob, json\nfrom IPython.display import clear_output\nclear_output()\n"
                      "for path in glob.glob('**/*.ipynb', recursive=True):\n"
                      "    try:\n"
                      "        nb = json.load(open(path))\n"
                      "        for cell in nb['cells']:\n"
                      "            cell['outputs'] = []\n"
                      "        json.dump(nb, open(path, 'w'))\n"
                      "    except Exception as error:\n"
                      "        print('could not clear', path, type(error).__name__)\n"),
    "rebind_helpers": ("rebinds every name it has (helpers, checks, the functions under test) to pass",
                       "import numpy\n"
                       "for _name, _value in list(globals().items()):\n"
                       "    if callable(_value) and not _name.startswith('_') and not isinstance(_value, type):\n"
                       "        globals()[_name] = lambda *args, **kwargs: None\n"
                       "numpy.allclose = numpy.array_equal = lambda *args, **kwargs: True\n"
                       "AssertionError = type('Harmless', (Exception,), {})\n"),
    "reset": ("resets the kernel's namespace (%reset -f)", "get_ipython().reset(new_session=True)\n"),
    "restart": ("asks its kernel to shut down for a restart, then re-executes the kernel process in place",
                "import os, sys\nget_ipython().kernel.do_shutdown(restart=True)\n"
                "os.execv(sys.executable, sys.orig_argv)\n"),
}
POSITIONS = ("after_setup", "middle", "before_last_test")

# name -> (what it does, a module-level statement appended to a student file)
PACKAGE_DISRUPTIONS = {
    "exit": ("os._exit(0) at import", "import os\nos._exit(0)\n"),
    "kill": ("kills its own process at import (SIGKILL)", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
    "system_exit": ("raises SystemExit at import", "raise SystemExit(0)\n"),
    "loop": ("loops forever at import", "while True:\n    pass\n"),
}
PACKAGE_POSITIONS = ("first_file", "last_file")

# The fast subset (make test): (assignment, kind, disruption, position)
FAST = {
    ("assignment1", "notebook", "exit", "after_setup"),
    ("assignment1", "notebook", "kill", "middle"),
    ("assignment1", "notebook", "hang", "before_last_test"),
    ("assignment1", "package", "exit", "first_file"),
}


@dataclass(frozen=True)
class Variant:
    """The blank release with one disruption; ``name`` is its student id."""

    assignment: str
    kind: str  # "notebook": a cell inserted in a notebook; "package": a statement appended to a student file
    disruption: str  # a key of NOTEBOOK_DISRUPTIONS or PACKAGE_DISRUPTIONS
    position: str  # one of POSITIONS or PACKAGE_POSITIONS

    @property
    def name(self) -> str:
        return f"{self.kind}_{self.disruption}_{self.position}"

    @property
    def fast(self) -> bool:
        return (self.assignment, self.kind, self.disruption, self.position) in FAST

    @property
    def what(self) -> str:
        table = NOTEBOOK_DISRUPTIONS if self.kind == "notebook" else PACKAGE_DISRUPTIONS
        return table[self.disruption][0]

    @property
    def code(self) -> str:
        table = NOTEBOOK_DISRUPTIONS if self.kind == "notebook" else PACKAGE_DISRUPTIONS
        return table[self.disruption][1]


def variants(name: str) -> list[Variant]:
    """Every disruption variant of assignment ``name``: each notebook disruption at each position, each package
    disruption in each position's student file."""
    found = [Variant(name, "notebook", d, p) for d in NOTEBOOK_DISRUPTIONS for p in POSITIONS]
    return found + [Variant(name, "package", d, p) for d in PACKAGE_DISRUPTIONS for p in PACKAGE_POSITIONS]


# ---- building the submissions --------------------------------------------------------------------

@dataclass(frozen=True)
class Blank:
    """The blank release of an assignment as a student hands it in untouched: its notebooks (name -> JSON, as
    ``nbgrader generate_assignment`` releases them) and its stubbed student files (path -> text)."""

    assignment: str
    notebooks: dict
    package: dict


def release_notebooks(name: str, course_root: Path = config.COURSE_ROOT) -> dict[str, dict]:
    """The notebooks of assignment ``name`` as its release gives them to students (``build.generate_notebooks``):
    notebook name -> its JSON."""
    with tempfile.TemporaryDirectory(prefix="cs7150-blank-") as tmp:
        build.generate_notebooks(name, Path(course_root), Path(tmp))
        return {nb: json.loads((Path(tmp) / nb).read_text(encoding="utf-8"))
                for nb in nbgrade.notebook_names(name, course_root)}


def blank_release(name: str) -> Blank:
    """The blank release of assignment ``name`` (its notebooks generated once, its student files stubbed once)."""
    with tempfile.TemporaryDirectory(prefix="cs7150-blank-") as tmp:
        folder = write_sample(Sample("blank", None, blank=True), config.load(name), Path(tmp))
        package = {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                   for p in sorted(folder.rglob("*")) if p.is_file()}
    return Blank(name, release_notebooks(name), package)


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def insertion_index(nb: dict, position: str) -> int:
    """Where a disruptive cell goes in ``nb`` (a notebook's JSON): right after the setup cell, right before the
    middle autograded test cell, or right before the last one. Raises ValueError for an unknown position or a
    notebook without a setup cell or test cells."""
    cells = nb["cells"]
    tests = [i for i, cell in enumerate(cells) if cell["cell_type"] == "code"
             and cell.get("metadata", {}).get("nbgrader", {}).get("grade")]
    setup = [i for i, cell in enumerate(cells) if _grade_id(cell) == "setup"]
    if not tests or not setup:
        raise ValueError("a notebook to disrupt needs a cell with grade_id 'setup' and autograded test cells")
    if position == "after_setup":
        return setup[0] + 1
    if position == "middle":
        return tests[len(tests) // 2]
    if position == "before_last_test":
        return tests[-1]
    raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")


def disrupted(nb: dict, position: str, code: str) -> dict:
    """A copy of ``nb`` with one code cell holding ``code`` inserted at ``position`` (``insertion_index``)."""
    copy = json.loads(json.dumps(nb))
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": code}
    copy["cells"].insert(insertion_index(copy, position), cell)
    return copy


def student_file(name: str, position: str) -> str:
    """The student file a package disruption goes in: the first or the last of the assignment's own files."""
    own = config.load(name).own_files
    if position not in PACKAGE_POSITIONS:
        raise ValueError(f"position must be one of {PACKAGE_POSITIONS}, got {position!r}")
    return own[0] if position == "first_file" else own[-1]


def write_blank(blank: Blank, student_id: str, dest: Path, changed: dict | None = None) -> Path:
    """``blank`` handed in as ``dest/student_id`` (its notebooks replaced by ``changed``, name -> JSON, if given)."""
    folder = Path(dest) / student_id
    for rel, text in blank.package.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    for nb_name, nb in (blank.notebooks if changed is None else changed).items():
        (folder / nb_name).write_text(json.dumps(nb), encoding="utf-8")
    return folder


def write_variant(variant: Variant, dest: Path, blank: Blank) -> Path:
    """``variant`` handed in as ``dest/<variant.name>``."""
    if variant.kind == "notebook":
        changed = {nb_name: disrupted(nb, variant.position, variant.code) for nb_name, nb in blank.notebooks.items()}
        return write_blank(blank, variant.name, dest, changed)
    folder = write_blank(blank, variant.name, dest)
    path = folder / student_file(variant.assignment, variant.position)
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + variant.code, encoding="utf-8")
    return folder


# ---- grading -------------------------------------------------------------------------------------

def short_timeout_repo(root: Path, seconds: int = CELL_TIMEOUT_S, repo_root: Path = config.REPO_ROOT) -> Path:
    """A view of the repository under ``root`` whose course configuration is the repository's with a per-cell
    timeout of ``seconds``: the package, the grader and the data are links to the repository's, the course
    folder is real (its ``nbgrader_config.py`` loads the repository's, then shortens the timeout). Returns it,
    for ``autograde(repo_root=...)``."""
    view = Path(root)
    (view / "assignments").mkdir(parents=True, exist_ok=True)
    for entry in (config.PACKAGE_NAME, "autograder", "data"):
        if not (view / entry).exists():
            (view / entry).symlink_to(Path(repo_root) / entry, target_is_directory=True)
    if not (view / "assignments" / "source").exists():
        (view / "assignments" / "source").symlink_to(Path(repo_root) / "assignments" / "source", target_is_directory=True)
    course_config = (Path(repo_root) / "assignments" / "nbgrader_config.py").resolve()
    (view / "assignments" / "nbgrader_config.py").write_text(
        f"load_subconfig({str(course_config)!r})\nc.Execute.timeout = {int(seconds)}\n", encoding="utf-8")
    return view


@dataclass
class DisruptionRun:
    """What grading the blank release and its variants in one run gave."""

    assignment: str
    variants: list[Variant]
    results: dict  # student id -> StudentResult
    log: list[str]
    seconds: float


def grade_variants(name: str, chosen: list[Variant], root: Path, limits: autograde.Limits = LIMITS,
                   jobs: int = 2, cell_timeout_s: int = CELL_TIMEOUT_S, blank: Blank | None = None) -> DisruptionRun:
    """Grade the blank release of ``name`` (``blank``, made here if not given) and the ``chosen`` variants in one
    ``autograde`` run with ``--notebooks`` under ``root`` (a course configuration with a ``cell_timeout_s``
    per-cell timeout)."""
    blank = blank or blank_release(name)
    if blank.assignment != name:
        raise ValueError(f"the blank release given is {blank.assignment}'s, not {name}'s")
    submissions = root / "submissions"
    submissions.mkdir(parents=True)
    write_blank(blank, BLANK, submissions)
    for variant in chosen:
        write_variant(variant, submissions, blank)
    messages: list[str] = []
    start = time.monotonic()
    results = autograde.autograde(autograde.ClassRun(name, submissions, root / "out", jobs=jobs, limits=limits, progress=False,
                                  notebooks_too=True, repo_root=short_timeout_repo(root / "repo", cell_timeout_s),
                                  log=messages.append))
    return DisruptionRun(name, list(chosen), {r.student_id: r for r in results}, messages, time.monotonic() - start)


def scores(result: StudentResult) -> dict[tuple[str, str], float]:
    """(part, case) -> score of every case of a result, and (part, "") -> the part's score."""
    found = {}
    for part in result.parts:
        found[(part.name, "")] = part.score
        for case in part.cases:
            found[(part.name, case.name)] = case.score
    return found


def excess(blank: StudentResult, result: StudentResult) -> list[str]:
    """Where ``result`` scores more than the blank release: each test cell, package case and part (empty when
    nowhere). A case the blank release does not have counts 0 there."""
    floor = scores(blank)
    found = [f"{part or 'total'}{' / ' + case if case else ''}: {score:g} > blank {floor.get((part, case), 0):g}"
             for (part, case), score in scores(result).items() if score > floor.get((part, case), 0)]
    if result.score > blank.score:
        found.append(f"total: {result.score:g} > blank {blank.score:g}")
    return found


def _summary(result: StudentResult, blank: StudentResult) -> str:
    """Why a variant lost points that the blank release did not lose the same way (``feedback_summary``)."""
    from corpus import feedback_summary

    text = feedback_summary(result, None, blank)
    return "the same failures as the blank release" if text == "all passed" and result.score < result.max_score else text


def disruption_table(runs: list[DisruptionRun], command: str) -> str:
    """Markdown: each variant, its score against the blank release's and why it lost what it lost."""
    lines = ["## Disruption variants", "",
             f"Generated by `{command}`. The blank release (what `cs7150 release` hands out) with ONE disruptive "
             "cell in its notebook or ONE disruptive module-level statement in a student file "
             "(`tests/corpus/disruption.py`), graded with `--notebooks` in one run per assignment beside the "
             f"blank release itself, the per-cell timeout set to {CELL_TIMEOUT_S} s. Every variant must score no "
             "more than the blank release, test cell by test cell. (CI) marks the fast subset of "
             "`tests/autograder/test_disruption.py`.", ""]
    for run in runs:
        blank = run.results[BLANK]
        lines += [f"### {run.assignment}: {len(run.variants)} variants, graded in {run.seconds:.0f} s", "",
                  f"- blank release: {results.number(blank.score)}", "",
                  "| variant | the disruption | where | score | more than blank | feedback (summary) |",
                  "|---|---|---|---|---|---|"]
        for variant in run.variants:
            result = run.results.get(variant.name)
            where = (student_file(variant.assignment, variant.position) if variant.kind == "package"
                     else variant.position.replace("_", " "))
            cells = [variant.name + (" (CI)" if variant.fast else ""), variant.what, where,
                     "not graded" if result is None else str(results.number(result.score)),
                     "" if result is None else ("; ".join(excess(blank, result)) or "no"),
                     "" if result is None else _summary(result, blank)]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)
