"""The grader under attack: every hostile or broken submission of ``tests/corpus`` graded correctly.

Fast subset (CI, module-scoped): one ``autograde`` run of the corpus's fast
package attacks beside two honest students, the honest students again alone,
one small run with ``--notebooks`` (three notebook attacks), and four attacks
graded without the jail (the fallback where the grader is not root). The
corpus's outcomes are those of the jail: where it is not available the first
two are skipped. The full corpus runs only when slow tests are asked for
(``pytest -m slow tests/autograder/test_attacks.py``, ``make attack``) and writes
``docs/attack-table.md``.

For every case: the score it must get and the words its feedback must
contain; for every run: the honest students score as when graded alone, no
case overran its time, nothing outside the run's output folder changed (a
canary folder, a canary file inside the repository, the repository tree,
/tmp, the home folder), no reference or hidden-test line, no other student's
work and no grader secret reaches a student's output, no connection reached
the grader's loopback, no process of the run is left, and the gradebook
agrees with every results.json.
"""
import csv
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder import autograde, config
from autograder.release import build
from autograder.sandbox import isolation
from corpus import (ASSIGNMENT, ATTACK_MARKER, CORPORA, HONEST_MARKER, LIMITS, SECRET_NAME, SECRET_VALUE,
                               attack_table, attacks_for, expected_score, run_corpus,
                               update_table)

ATTACKS = attacks_for(ASSIGNMENT)
FAST = [a for a in ATTACKS if a.fast and not a.notebooks]
FAST_NOTEBOOKS = [a for a in ATTACKS if a.fast and a.notebooks]
REPO = config.REPO_ROOT
REPO_CANARY = REPO / ".pytest_cache" / "cs7150-attacks" / "canary.txt"  # an ignored path inside the tree
MARKER_SOURCES = ("tests/corpus/", "tests/autograder/test_attacks.py")  # they name the attack marker themselves
SKIPPED_DIRS = {".venv", ".git", "__pycache__", ".pytest_cache", ".hypothesis", "node_modules"}
TABLE = REPO / "docs" / "attack-table.md"
NO_JAIL = ("the corpus's outcomes are those of the jail (Linux, the grader running as root); without it "
           "student code can read what the grading user can: see docs/security.md")


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime) of every file under ``root`` (the repository's caches left out)."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            path = Path(folder) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            found[path.relative_to(root).as_posix()] = (info.st_size, info.st_mtime_ns)
    return found


def _marked(root: Path, names) -> list[str]:
    """Those of ``names`` (relative to ``root``) whose name or content holds the attack marker."""
    marked = []
    for name in names:
        path = root / name
        try:
            if ATTACK_MARKER in name or "PWNED" in name or ATTACK_MARKER.encode() in path.read_bytes()[:1 << 20]:
                marked.append(name)
        except OSError:
            pass
    return marked


class Watch:
    """What must not change during a run, recorded before it; ``check()`` after it."""

    def __init__(self, root: Path):
        self.canary = root / "canary"
        self.canary.mkdir(parents=True)
        (self.canary / "victim.txt").write_text("canary\n")
        REPO_CANARY.parent.mkdir(parents=True, exist_ok=True)
        REPO_CANARY.write_text("canary in the repository\n")
        self.before = {"canary": _tree(self.canary), "repo": _tree(REPO), "tmp": set(os.listdir("/tmp")),
                       "home": set(os.listdir(Path.home()))}
        self.uids: list[int] = []

    def check(self) -> list[str]:
        problems = []
        if _tree(self.canary) != self.before["canary"] or (self.canary / "victim.txt").read_text() != "canary\n":
            problems.append("the canary folder changed")
        if REPO_CANARY.read_text() != "canary in the repository\n":
            problems.append("the canary file in the repository changed")
        after = _tree(REPO)
        changed = [p for p in after if self.before["repo"].get(p) != after[p]  # others edit the tree too:
                   and not p.startswith(MARKER_SOURCES)]
        problems += [f"{p} in the repository was written by an attack" for p in _marked(REPO, changed)]
        for where, root in (("tmp", Path("/tmp")), ("home", Path.home())):
            new = set(os.listdir(root)) - self.before[where]
            problems += [f"{root / p} was created by an attack" for p in _marked(root, new)]
        left = [p for uid in self.uids for p in isolation.user_processes(uid)]
        problems += [f"process {p.pid} of a confined run is still running" for p in left]
        return problems


@pytest.fixture(scope="module")
def environment():
    """The grader's environment holds a secret; confined uids handed out are recorded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_NAME, SECRET_VALUE)
        uids = []
        new_uid = isolation.new_uid

        def recording():
            uids.append(new_uid())
            return uids[-1]

        patch.setattr(isolation, "new_uid", recording)
        yield uids
    shutil.rmtree(REPO_CANARY.parent, ignore_errors=True)


def _graded(attacks, root: Path, uids: list, notebooks_too: bool, alone: bool, name: str = ASSIGNMENT):
    watch = Watch(root)
    run = run_corpus(attacks, root, LIMITS, jobs=2, notebooks_too=notebooks_too, alone=alone,
                     repo_canary=REPO_CANARY, name=name)
    watch.uids = list(uids)
    return run, watch.check()


@pytest.fixture(scope="module")
def package_run(tmp_path_factory, environment):
    if not isolation.supported():
        pytest.skip(NO_JAIL)
    return _graded(FAST, tmp_path_factory.mktemp("attacks"), environment, notebooks_too=False, alone=True)


@pytest.fixture(scope="module")
def notebook_run(tmp_path_factory, environment):
    if not isolation.supported():
        pytest.skip(NO_JAIL)
    if not (config.COURSE_ROOT / "source" / ASSIGNMENT).is_dir():
        pytest.skip("no assignment-1 notebooks")
    return _graded(FAST_NOTEBOOKS, tmp_path_factory.mktemp("attacks-nb"), environment, notebooks_too=True,
                   alone=False)


# ---- what every case and every run must satisfy --------------------------------------------------

def case_problems(run, attack) -> list[str]:
    """Why ``attack`` was not graded as it must be (empty when it was)."""
    result = run.results.get(attack.name)
    if result is None:  # a refused submission: the log says why
        if attack.expected is not None:
            return [f"{attack.name}: no result"]
        return [f"{attack.name}: the log lacks {words!r}" for words in attack.feedback
                if not any(words in line for line in run.log)]
    feedback = (run.context.out / "students" / attack.name / "feedback.txt").read_text(encoding="utf-8")
    problems = [f"{attack.name}: feedback lacks {words!r}" for words in attack.feedback if words not in feedback]
    expected = expected_score(attack, run)
    if result.earned != expected:
        problems.append(f"{attack.name}: score {result.earned}, expected {expected}\n{feedback}")
    return problems


def _visible(out: Path, student: str) -> str:
    """Everything the grader wrote for ``student`` (results.json, feedback, notebooks' feedback pages)."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted((out / "students" / student).rglob("*")) if path.is_file())


def _own_lines(run, student: str) -> set[str]:
    """Stripped lines of the student's own submitted files (notebooks: their cells' sources)."""
    folder, lines = run.context.submissions / student, set()
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".ipynb":
            try:
                text = "\n".join("".join(cell.get("source", "")) for cell in json.loads(text).get("cells", []))
            except ValueError:
                pass
        lines |= {line.strip() for line in text.splitlines()}
    return lines


def _grading(result) -> list:
    """What a result says, part by part and case by case (not how long it took, not the pages rendered)."""
    return [(p.name, p.score, p.problem, [(c.name, c.score, c.summary) for c in p.cases]) for p in result.parts]


def run_problems(run) -> list[str]:
    """Why the run as a whole was not graded as it must be (empty when it was)."""
    out, problems = run.context.out, []
    for student in run.honest:
        if run.alone and _grading(run.alone[student]) != _grading(run.results[student]):
            problems.append(f"honest {student}: graded {run.results[student].earned} in the run, "
                            f"{run.alone[student].earned} alone")
    expected = {"grades.csv"} | {f"students/{s}/{name}" for s in run.results for name in
                                 ("results.json", "feedback.txt", "feedback.html")}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    written -= {p for p in written if p.count("/") == 3 and p.split("/")[2] == "feedback" and p.endswith(".html")}
    if written != expected:
        problems.append(f"the output folder holds {sorted(written ^ expected)} unexpectedly")
    with open(out / "grades.csv", newline="", encoding="utf-8") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    if set(rows) != set(run.results):
        problems.append(f"grades.csv rows {sorted(rows)} differ from the results {sorted(run.results)}")
    for student, result in run.results.items():
        data = json.loads((out / "students" / student / "results.json").read_text(encoding="utf-8"))
        extra = float(rows[student].get("extra_credit") or 0)
        if not (float(rows[student]["total"]) == result.score and float(rows[student]["total"]) + extra
                == result.earned == data["score"] == sum(test["score"] for test in data["tests"])):
            problems.append(f"{student}: grades.csv, results.json and the result disagree")
    secret = build.secret_lines(REPO, config.COURSE_ROOT, run.context.assignment)  # solutions, hidden tests, configuration
    secret -= {line.strip() for path in (REPO / "autograder").rglob("*.py")  # the grader's code is no answer
               for line in path.read_text(encoding="utf-8").splitlines()}
    for student in run.results:
        text = _visible(out, student)
        if SECRET_VALUE in text:
            problems.append(f"{student}: the grader's secret reached its output")
        if student != run.context.honest_id and HONEST_MARKER in text:
            problems.append(f"{student}: another student's work reached its output")
        if student not in run.honest:
            leaked = sorted(line for line in secret - _own_lines(run, student) if line in text)
            problems += [f"{student}: reference or hidden line in its output: {line!r}" for line in leaked[:3]]
    if run.connections:
        problems.append(f"connections reached the grader's loopback from {run.connections}")
    problems += [f"the grader logged: {line}" for line in run.log if "unconfined" in line]
    return problems


# ---- the fast subset -----------------------------------------------------------------------------

@pytest.mark.parametrize("attack", FAST, ids=[a.name for a in FAST])
def test_each_attack_is_graded_as_it_must_be(package_run, attack):
    run, _ = package_run
    assert not case_problems(run, attack)


def test_honest_students_outputs_and_surroundings_are_untouched(package_run):
    run, watch_problems = package_run
    assert not run_problems(run) + watch_problems


@pytest.mark.parametrize("attack", FAST_NOTEBOOKS, ids=[a.name for a in FAST_NOTEBOOKS])
def test_each_notebook_attack_is_graded_as_it_must_be(notebook_run, attack):
    run, _ = notebook_run
    assert not case_problems(run, attack)


def test_notebook_run_leaks_nothing_and_changes_nothing_outside(notebook_run):
    run, watch_problems = notebook_run
    assert not run_problems(run) + watch_problems


# ---- the whole corpus (slow) ---------------------------------------------------------------------

def corpus_runs(name: str, root: Path, uids: list) -> tuple[list, list[str]]:
    """The runs of assignment ``name``'s corpus (its package attacks, then its notebook attacks, each beside the
    honest students and those again alone) and every problem found in them."""
    runs, problems = [], []
    for notebooks_too in (False, True):
        attacks = [a for a in attacks_for(name) if a.notebooks == notebooks_too]
        if not attacks:
            continue
        run, watch_problems = _graded(attacks, root / str(notebooks_too), uids, notebooks_too, alone=True, name=name)
        runs.append(run)
        problems += watch_problems + run_problems(run) + [p for a in attacks for p in case_problems(run, a)]
    return runs, problems


def _slow_selected(config_) -> bool:
    expression = config_.getoption("markexpr") or ""
    return "slow" in expression and "not slow" not in expression


@pytest.mark.slow
def test_whole_corpus_and_its_table(request, tmp_path, environment):
    """Every attack of every corpus, package then notebooks, each run checked in full; writes docs/attack-table.md."""
    if not _slow_selected(request.config):
        pytest.skip("the whole corpus runs with -m slow (make attack)")
    if not isolation.supported():
        pytest.skip(NO_JAIL)
    runs, problems = [], []
    for name in CORPORA:
        run_list, found = corpus_runs(name, tmp_path / name, environment)
        runs += run_list
        problems += found
    update_table(TABLE, "corpus", attack_table(runs, "pytest -m slow tests/autograder/test_attacks.py"))
    assert not problems, "\n".join(problems)


def test_unconfined_fallback_neither_hangs_nor_follows_links(tmp_path, environment):
    """Without the jail (not root, not Linux) a FIFO or links in the results folder still cannot hang
    the grader or borrow another student's outputs, and an exit only costs its own case."""
    names = {"quitter": 92, "symlinked_outputs": 96, "fifo_status": 0}
    attacks = [a for a in ATTACKS if a.name in names]
    run = run_corpus(attacks, tmp_path, autograde.Limits(wall_s=LIMITS.wall_s, case_s=LIMITS.case_s, confine=False),
                     alone=False)
    assert {a.name: run.results[a.name].earned for a in attacks} == names
    assert "replaced results/status.jsonl" in (run.context.out / "students" / "fifo_status" / "feedback.txt").read_text()


# ---- without namespaces (a container without CAP_SYS_ADMIN) -------------------------------------

NO_SYS_ADMIN = ["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin"]  # Docker's default, for root
UID_MODE = {"late_rewriter": 100, "session_escape": 100, "forged_files": 96, "edit_outside": 96,
            "read_other_student": 96, "read_other_cases": 96, "torch_hidden_import": 73}
UID_MODE_RUN = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, str(Path.cwd() / "tests"))  # the corpus lives in tests/ (run from the repository's root)
from autograder.sandbox import isolation
from corpus import LIMITS, attacks_for, run_corpus
root, names = Path(sys.argv[1]), sys.argv[2].split(",")
uids, new_uid = [], isolation.new_uid
isolation.new_uid = lambda: uids.append(new_uid()) or uids[-1]
run = run_corpus([a for a in attacks_for("assignment1") if a.name in names], root, LIMITS, alone=False)
time.sleep(3)  # a daemon that survived would rewrite the results meanwhile
files = {k: json.loads((root / "out" / "students" / k / "results.json").read_text())["score"] for k in run.results}
feedback = {k: (root / "out" / "students" / k / "feedback.txt").read_text() for k in run.results}
print(json.dumps({"mode": isolation.probe().kind, "log": run.log, "files": files, "uids": uids,
                  "scores": {k: v.earned for k, v in run.results.items()}, "feedback": feedback}))
"""


def _no_sys_admin() -> str | None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        return "dropping CAP_SYS_ADMIN needs root and setpriv (util-linux)"
    return None


@pytest.mark.skipif(_no_sys_admin() is not None, reason=str(_no_sys_admin()))
def test_without_namespaces_student_code_runs_as_a_throwaway_uid_and_dies_with_its_grade(tmp_path):
    """Without CAP_SYS_ADMIN the grader says why, and still runs each submission as a uid of its own: a
    double-forked daemon is killed before the results are read (they stay as graded), nothing outside
    its folders can be written, other students' work and cases not yet graded cannot be read, torch is not
    installed for it."""
    import subprocess
    import sys
    (tmp_path / "canary").mkdir()
    (tmp_path / "canary" / "victim.txt").write_text("canary\n")
    run = subprocess.run([*NO_SYS_ADMIN, sys.executable, "-c", UID_MODE_RUN, str(tmp_path), ",".join(UID_MODE)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.splitlines()[-1])
    assert outcome["mode"] == "uid"
    assert any("throwaway uid" in line and "unshare: Operation not permitted" in line for line in outcome["log"])
    expected = {**UID_MODE, "honest_student": 100, "bias_missing": 85}
    assert outcome["scores"] == expected and outcome["files"] == expected
    assert "found no input of a case not yet graded" in outcome["feedback"]["read_other_cases"]
    assert "tried to open" in outcome["feedback"]["read_other_student"]  # bias_missing's unpacked zip: out of reach
    assert (tmp_path / "canary" / "victim.txt").read_text() == "canary\n"
    assert outcome["uids"] and not [p for uid in outcome["uids"] for p in isolation.user_processes(uid)]
