"""The route matrix: the same honest, blank and hostile submissions graded on every route the README documents
give the same scores, and no page or results file on any route holds a hidden-test line.

Submissions of assignment 1: ``honest`` (the reference package and the instructor's notebook), ``blank`` (the
blank release: the stubbed package and the released notebook) and ``hostile`` (the blank release whose notebook
installs, right after its setup cell, an input transformer that drops every assert, an exception handler that
swallows every error and pass-all helpers, and ends its kernel before the last test cell: under stock nbgrader
every test cell would have no error and full marks).

Routes: ``cs7150 autograde`` with the project installed (this .venv) and with the checkout only on
``PYTHONPATH`` (a virtual environment with the dependencies and not the project), each with and without
``--notebooks``; the Gradescope zip unpacked in its real layout (``$ROOT/source``, its venv at ``$ROOT/venv``
where ``setup.sh`` puts it, built here without the network as the PYTHONPATH route's), run by its
``run_autograder`` without ``GRADESCOPE_PYTHON``, as root and without CAP_SYS_ADMIN, with and without
notebooks; plain ``nbgrader autograde`` and ``generate_feedback`` on a course root whose ``nbgrader_config.py``
loads this repository's (notebook test cells only); ``--shard 1/2`` and ``2/2`` merged by ``cs7150
merge-grades``. On every route the honest student gets every point of what it grades and the others none, test
cell by test cell, so that the routes agree. The whole matrix runs with ``-m slow`` (``make attack``) and writes its table
into ``docs/attack-table.md``; ``make test`` runs the PYTHONPATH route with ``--notebooks``.
"""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from autograder import config, gradescope
from autograder.release import build
from autograder.sandbox import isolation
from corpus import update_table
from corpus.disruption import disrupted, write_blank
from coursetools.samples import Sample, write_sample

REPO = config.REPO_ROOT
ASSIGNMENT = "assignment1"
NOTEBOOK = "conv_pool.ipynb"
STUDENTS = ("blank", "honest", "hostile")
TABLE = REPO / "docs" / "attack-table.md"
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.DOTALL)
CELL = "::"  # between a notebook and a test cell's grade_id in a test's key
CASE_LINE = re.compile(r"^\[(?:pass|FAIL)\] (\w+): ([\d.]+)/([\d.]+)", re.MULTILINE)
NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"]  # Docker's default, for root
HOSTILE_CELL = r'''
from IPython import get_ipython
get_ipython().input_transformers_cleanup.append(lambda lines: [l for l in lines if "assert" not in l])
get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)
for _name, _value in list(globals().items()):
    if callable(_value) and not _name.startswith("_") and not isinstance(_value, type):
        globals()[_name] = lambda *args, **kwargs: None
'''


@dataclass
class Graded:
    """What one route gave: student -> {test: score} (a package part by its results.json name, a notebook's test
    cell as "<notebook>::<grade_id>"), each test's maximum, and the text of every page and results file it wrote."""

    scores: dict = field(default_factory=dict)
    maxima: dict = field(default_factory=dict)  # test -> its maximum
    texts: dict = field(default_factory=dict)  # path -> text
    seconds: float = 0.0
    log: str = ""


MATRIX: dict[str, tuple[Graded | None, str]] = {}  # route -> (what it gave, its outcome), for the table


# ---- the submissions and the environments -----------------------------------------------------------------

@pytest.fixture(scope="module")
def submissions(tmp_path_factory, blank_release1) -> Path:
    blank = blank_release1
    root = tmp_path_factory.mktemp("route-submissions")
    write_blank(blank, "blank", root)
    nb = disrupted(disrupted(blank.notebooks[NOTEBOOK], "before_last_test", "import os\nos._exit(0)\n"),
                   "after_setup", HOSTILE_CELL)
    write_blank(blank, "hostile", root, {NOTEBOOK: nb})
    honest = write_sample(Sample("honest", None), config.load(ASSIGNMENT), root)
    shutil.copy(config.COURSE_ROOT / "source" / ASSIGNMENT / NOTEBOOK, honest / NOTEBOOK)
    return root


@pytest.fixture(scope="module")
def hidden(blank_release1) -> set[str]:
    """The lines between BEGIN HIDDEN TESTS and END HIDDEN TESTS in the source notebooks that a student does not
    see elsewhere (in the released notebook), long enough to be telling (12 characters or more)."""
    visible = {line.strip() for nb in blank_release1.notebooks.values() for cell in nb["cells"]
               for line in "".join(cell["source"]).splitlines()}
    found = set()
    for path in (config.COURSE_ROOT / "source" / ASSIGNMENT).glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for region in HIDDEN.findall("".join(cell["source"])):
                found |= {line.strip() for line in region.splitlines()}
    return {line for line in found - visible if len(line) >= 12}


def leaks(texts: dict[str, str], hidden: set[str]) -> list[str]:
    """"file: line" for each hidden-test line found in a text, as written, HTML-escaped or JSON-escaped."""
    found = []
    for path, text in texts.items():
        for line in sorted(hidden):
            if any(form in text for form in (line, html.escape(line), json.dumps(line)[1:-1])):
                found.append(f"{path}: {line}")
    return found


def test_a_hidden_line_is_found_as_written_html_escaped_or_json_escaped(hidden):
    assert len(hidden) >= 10  # assignment 1's hidden tests, less what the release shows
    line = max(hidden, key=len)
    for text in (line, html.escape(line), json.dumps({"output": line})):
        assert leaks({"page": f"before\n{text}\nafter"}, hidden) == [f"page: {line}"]
    assert not leaks({"page": "\n".join(line[:-1] for line in hidden)}, hidden)


def _pth_venv(folder: Path) -> Path:
    """A virtual environment at ``folder`` with this .venv's packages (a .pth file naming its site-packages, and
    their commands, such as ``alembic`` that nbgrader runs) and not the project: ``import autograder`` works
    there only from a checkout on PYTHONPATH, and it has no ``cs7150`` command."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "cs7150-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    ours = Path(sys.executable).parent
    for script in sorted(ours.iterdir()):
        if script.name == "cs7150" or (folder / "bin" / script.name).exists() or not script.is_file():
            continue
        with open(script, "rb") as file:
            shebang = file.readline()
        if shebang.startswith(b"#!") and b"python" in shebang:  # a console script of a dependency
            text = script.read_bytes()
            (folder / "bin" / script.name).write_bytes(b"#!" + str(python).encode() + b"\n" + text.split(b"\n", 1)[1])
            (folder / "bin" / script.name).chmod(0o755)
    return python


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NBGRADER_EXECUTION", "JUPYTER_PATH",
                                                             "GRADESCOPE_PYTHON", "VIRTUAL_ENV")}
    return {**env, **extra}


@pytest.fixture(scope="module")
def dependencies_only(tmp_path_factory) -> Path:
    """The python of a virtual environment that has the dependencies and not the project."""
    python = _pth_venv(tmp_path_factory.mktemp("deps-venv") / "venv")
    where = tmp_path_factory.mktemp("elsewhere")
    probe = "import importlib.util as u; print(bool(u.find_spec('autograder')), bool(u.find_spec('nbgrader')))"
    assert subprocess.run([str(python), "-c", probe], cwd=where, env=_clean_env(), capture_output=True,
                          text=True).stdout.split() == ["False", "True"]
    return python


# ---- reading what a route wrote ----------------------------------------------------------------------------

EXTRA_CREDIT = re.compile(r" \(extra credit, up to ([0-9.]+)\)$")


def _from_results(results: dict, maxima: dict) -> dict[str, float]:
    """{test: score} from a results.json: its parts, and a notebook part's test cells from its output; each test's
    maximum goes into ``maxima``."""
    scores = {}
    for test in results["tests"]:
        extra = EXTRA_CREDIT.search(test["name"])  # earned on top of the maximum: its max_score is 0 there
        name = test["name"][:extra.start()] if extra else test["name"]
        scores[name], maxima[name] = test["score"], float(extra.group(1)) if extra else test["max_score"]
        part = test["name"].split(" (")[0]
        if part.endswith(".ipynb"):
            for name, score, most in CASE_LINE.findall(test["output"]):
                scores[f"{part}{CELL}{name}"], maxima[f"{part}{CELL}{name}"] = float(score), float(most)
    return scores


def _texts(folder: Path) -> dict[str, str]:
    return {str(p): p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix in (".json", ".txt", ".html", ".csv")}


def _from_out(out: Path) -> Graded:
    graded = Graded(texts=_texts(out))
    for folder in sorted((out / "students").iterdir()):
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        graded.scores[folder.name] = _from_results(results, graded.maxima)
    return graded


def _run(argv, cwd: Path, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# ---- the routes --------------------------------------------------------------------------------------------

def _cs7150(python: Path | None, subs: Path, out: Path, notebooks: bool, env: dict, extra=()) -> Graded:
    """``cs7150 autograde`` (the installed command where ``python`` is None, else ``python -m coursetools``)."""
    command = [Path(sys.executable).with_name("cs7150")] if python is None else [python, "-m", "coursetools"]
    start = time.monotonic()
    run = _run([*command, "autograde", ASSIGNMENT, "--submissions", subs, "--out", out, "--jobs", "2", "--no-progress",
                *(["--notebooks"] if notebooks else []), *extra], cwd=out.parent, env=env)
    assert run.returncode in (0, 3), run.stdout[-3000:] + run.stderr[-3000:]  # 3: graded, some with problems
    graded = _from_out(out)
    graded.seconds, graded.log = time.monotonic() - start, run.stdout + run.stderr
    return graded


def route_installed(subs, tmp, deps, notebooks: bool) -> Graded:
    return _cs7150(None, subs, tmp / "out", notebooks, _clean_env())


def route_pythonpath(subs, tmp, deps, notebooks: bool) -> Graded:
    return _cs7150(deps, subs, tmp / "out", notebooks, _clean_env(PYTHONPATH=str(REPO)))


def route_shards(subs, tmp, deps, notebooks: bool) -> Graded:
    start = time.monotonic()
    outs = [tmp / f"shard{k}" for k in (1, 2)]
    for k, out in enumerate(outs, 1):
        _cs7150(None, subs, out, notebooks, _clean_env(), extra=["--shard", f"{k}/2"])
    merged = _run([Path(sys.executable).with_name("cs7150"), "merge-grades", *outs, "--out", tmp / "merged"],
                  cwd=tmp, env=_clean_env())
    assert merged.returncode == 0, merged.stdout + merged.stderr
    graded = _from_out(tmp / "merged")
    graded.texts.update({k: v for out in outs for k, v in _texts(out).items()})
    graded.seconds = time.monotonic() - start
    return graded


def _gradescope(subs, tmp, notebooks: bool, drop_sys_admin: bool) -> Graded:
    """The zip unpacked as Gradescope does (``$ROOT/source``), its venv at ``$ROOT/venv``, one submission at a
    time in ``$ROOT/submission``, run by ``run_autograder`` as root (or without CAP_SYS_ADMIN)."""
    root = tmp / "autograder"
    gradescope.build(ASSIGNMENT, tmp / "autograder.zip", notebooks_too=notebooks)
    with zipfile.ZipFile(tmp / "autograder.zip") as archive:
        archive.extractall(root / "source")
    for script in ("run_autograder", "setup.sh"):
        (root / "source" / script).chmod(0o755)
    _pth_venv(root / "venv")
    graded, start = Graded(), time.monotonic()
    for student in STUDENTS:
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.rmtree(root / "results", ignore_errors=True)
        shutil.copytree(subs / student, root / "submission")
        (root / "results").mkdir()
        prefix = NO_SYS_ADMIN if drop_sys_admin else []
        run = _run([*prefix, "bash", root / "source" / "run_autograder"], cwd=root,
                   env=_clean_env(GRADESCOPE_ROOT=str(root)))
        graded.log += (f"--- {student}: exit {run.returncode}\n{run.stdout[:2000]}\n...\n{run.stdout[-4000:]}"
                       f"{run.stderr[-4000:]}\n")  # how it confines is said first, the feedback comes last
        results = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
        graded.scores[student] = _from_results(results, graded.maxima)
        graded.texts[f"{student}/results.json"] = json.dumps(results)
    graded.seconds = time.monotonic() - start
    return graded


def route_gradescope_root(subs, tmp, deps, notebooks: bool) -> Graded:
    return _gradescope(subs, tmp, notebooks, drop_sys_admin=False)


def route_gradescope_no_sys_admin(subs, tmp, deps, notebooks: bool) -> Graded:
    return _gradescope(subs, tmp, notebooks, drop_sys_admin=True)


def route_nbgrader(subs, tmp, deps, notebooks: bool) -> Graded:
    """Plain ``nbgrader autograde`` and ``generate_feedback`` on a course root whose ``nbgrader_config.py`` loads
    this repository's, each student's folder in ``submitted/`` as a student hands in the release (the stubbed
    package under the student's files, and the data)."""
    course = tmp / "course"
    shutil.copytree(config.COURSE_ROOT / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    (course / "nbgrader_config.py").write_text(f"load_subconfig({str(config.COURSE_ROOT / 'nbgrader_config.py')!r})\n")
    env = _clean_env(PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))

    def nbgrader(*args):
        run = _run([sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.root={course}"], cwd=course, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        return run

    start = time.monotonic()
    nbgrader("generate_assignment", ASSIGNMENT, "--force")
    sections = config.all_sections(ASSIGNMENT)
    for student in STUDENTS:
        folder = course / "submitted" / student / ASSIGNMENT
        build.stub_package(REPO / config.PACKAGE_NAME, folder / config.PACKAGE_NAME, build.stub_message(sections))
        shutil.copytree(subs / student, folder, dirs_exist_ok=True)
        for data in config.load(ASSIGNMENT).data:
            shutil.copytree(REPO / data, folder / data)
    nbgrader("autograde", ASSIGNMENT, "--force")
    nbgrader("generate_feedback", ASSIGNMENT, "--force")
    from nbgrader.api import Gradebook

    graded = Graded()
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in STUDENTS:
            notebook = gradebook.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, student)
            code = [g for g in notebook.grades if g.cell.cell_type == "code"]
            graded.scores[student] = {f"{NOTEBOOK}{CELL}{g.name}": float(g.auto_score or 0) for g in code}
            graded.maxima.update({f"{NOTEBOOK}{CELL}{g.name}": float(g.max_score) for g in code})
    graded.texts = _texts(course / "feedback")
    graded.seconds = time.monotonic() - start
    return graded


ROUTES = {  # route -> (runner, with --notebooks)
    "installed": (route_installed, False),
    "installed --notebooks": (route_installed, True),
    "PYTHONPATH": (route_pythonpath, False),
    "PYTHONPATH --notebooks": (route_pythonpath, True),
    "gradescope zip, root": (route_gradescope_root, False),
    "gradescope zip --notebooks, root": (route_gradescope_root, True),
    "gradescope zip, no CAP_SYS_ADMIN": (route_gradescope_no_sys_admin, False),
    "gradescope zip --notebooks, no CAP_SYS_ADMIN": (route_gradescope_no_sys_admin, True),
    "plain nbgrader autograde": (route_nbgrader, True),
    "shards 1/2 + 2/2, merged, --notebooks": (route_shards, True),
}
QUICK = {"PYTHONPATH --notebooks"}  # in make test
FALLBACK = "throwaway uid"  # what the grader logs when student code runs without the jail's namespaces
# Grader bugs of issue 19 (class 6), named precisely; the fix removes the entry. route -> (when, as a condition
# pytest evaluates in this module when the test runs, reason).


def _kinds(route: str) -> set[str]:
    """What a route grades: "package" (its parts), "notebook" (the notebook's part), "cells" (its test cells)."""
    if route == "plain nbgrader autograde":
        return {"cells"}
    return {"package", "notebook", "cells"} if ROUTES[route][1] else {"package"}


def _kind(test: str) -> str:
    return "cells" if CELL in test else "notebook" if test.startswith(NOTEBOOK) else "package"


def score_problems(route: str, graded: Graded) -> list[str]:
    """Why a route's scores are not what every route must give: the honest student every point of what the route
    grades, the blank and the hostile submission none, the same tests for the three."""
    problems, honest = [], graded.scores.get("honest", {})
    kinds = {_kind(test) for test in honest}
    if kinds != _kinds(route):
        problems.append(f"honest: graded {sorted(kinds)}, expected {sorted(_kinds(route))}")
    short = {test: f"{score:g}/{graded.maxima[test]:g}" for test, score in honest.items()
             if score != graded.maxima[test] or not score}
    if short:
        problems.append(f"honest: not every point: {short}")
    assignment = config.load(ASSIGNMENT)
    if "package" in kinds and sum(s for t, s in honest.items() if _kind(t) == "package") != (
            assignment.max_score + assignment.extra_max):
        problems.append("honest: the package parts do not add up to the assignment's package points")
    for student in ("blank", "hostile"):
        scores = graded.scores.get(student, {})
        if set(scores) != set(honest):
            problems.append(f"{student}: graded {sorted(set(scores) ^ set(honest))} unlike the honest student")
        given = {test: score for test, score in scores.items() if score}
        if given:
            problems.append(f"{student}: points for {given}")
    return problems


def confinement_problems(route: str, log: str) -> list[str]:
    """Why what a route logged about confining student code is wrong: without CAP_SYS_ADMIN it must say it runs
    student code as a throwaway uid and why (unshare refused); as root where this machine has the jail, it must
    not fall back (plain nbgrader confines nothing and says nothing)."""
    if route == "plain nbgrader autograde":
        return []
    if "no CAP_SYS_ADMIN" in route:
        if FALLBACK not in log or "unshare: Operation not permitted" not in log:
            return ["without CAP_SYS_ADMIN the log does not say that student code runs as a throwaway uid because "
                    "unshare was refused"]
        return []
    if isolation.supported() and (FALLBACK in log or "unconfined" in log):
        reason = next(line for line in log.splitlines() if FALLBACK in line or "unconfined" in line)
        return [f"as root, where this machine has the jail, the grader fell back: {reason[:300]}"]
    return []


def _slow_selected(config_) -> bool:
    expression = config_.getoption("markexpr") or ""
    return "slow" in expression and "not slow" not in expression


def _params() -> list:
    params = []
    for route in ROUTES:
        marks = [pytest.mark.slow]
        params.append(pytest.param(route, marks=marks, id=route.replace(" ", "_")))
    return params


@pytest.mark.parametrize("route", _params())
def test_every_route_gives_the_same_scores_and_no_hidden_line(route, request, submissions, dependencies_only,
                                                              hidden, tmp_path):
    """The honest student gets every point of what the route grades and the others none, test cell by test cell
    (so every route gives the same scores), and nothing a route wrote holds a hidden-test line."""
    if route not in QUICK and not _slow_selected(request.config):
        pytest.skip("the route matrix runs with -m slow (make attack); make test runs its quick case")
    if route.startswith("gradescope") and os.geteuid() != 0:
        pytest.skip("Gradescope runs the zip as root")
    if "no CAP_SYS_ADMIN" in route and not shutil.which("setpriv"):
        pytest.skip("dropping CAP_SYS_ADMIN needs setpriv (util-linux)")
    MATRIX[route] = (None, "did not finish")
    graded = ROUTES[route][0](submissions, tmp_path, dependencies_only, ROUTES[route][1])
    problems = score_problems(route, graded) + confinement_problems(route, graded.log)
    problems += [f"hidden-test line in {leak}" for leak in leaks(graded.texts, hidden)]
    MATRIX[route] = (graded, "; ".join(problems)[:300] or "same scores, no hidden line")
    assert not problems, "\n".join(problems) + "\n" + graded.log[-4000:]


@pytest.mark.slow
def test_the_matrix_goes_into_the_attack_table(request):
    """Written after every route ran (make attack)."""
    if not _slow_selected(request.config):
        pytest.skip("the route matrix runs with -m slow (make attack)")
    update_table(TABLE, "routes", route_table())
    assert len(MATRIX) == len(ROUTES)


def route_table() -> str:
    lines = ["## Route matrix", "",
             "Generated by `pytest -m slow tests/autograder/test_routes.py`: the same three submissions of assignment 1 "
             "(`honest`: the reference; `blank`: the blank release; `hostile`: the blank release whose notebook "
             "drops every assert, swallows every error, rebinds its helpers and ends its kernel before the last "
             "test cell) graded on each route the README documents. Scores are totals of what the route grades "
             "(package and notebook; plain nbgrader: the notebook's autograded test cells). A route passes when "
             "the honest student gets every point of what it grades and the others none, test cell by test cell, "
             "and no page or results file holds a hidden-test line.", "",
             "| route | honest | blank | hostile | seconds | outcome |", "|---|---|---|---|---|---|"]
    for route in ROUTES:
        graded, outcome = MATRIX.get(route, (None, "not run"))
        totals = ["" if graded is None or s not in graded.scores else
                  f"{sum(v for k, v in graded.scores[s].items() if (CELL in k) == (route == 'plain nbgrader autograde')):g}"
                  for s in ("honest", "blank", "hostile")]
        cells = [route, *totals, "" if graded is None else f"{graded.seconds:.0f}", outcome]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
