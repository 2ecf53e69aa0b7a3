"""The hostile corpus: submissions that each do ONE bad thing, and the outcome the grader must give them.

Where ``coursetools.samples`` holds honest mistakes, this package holds
attacks and breakage: runaway code, lies about results, snooping, forbidden
shortcuts, notebook tampering and broken packaging. Each ``Attack`` names its
group, the bad thing in one line, the score the submission must get (the
honest rest of its work; usually 0 for the attacked function) and words its
feedback must contain. Its ``build`` writes the submission from the reference
by small text edits (as the samples do), filling in what a strong attacker
would know about the grading machine (``Context``: the repository's path, the
submissions and output folders, another student's id...).

``run_corpus`` grades a list of attacks together with honest students in one
``autograde`` run, grades the honest students again alone, and returns what
happened; ``attack_table`` turns that into ``docs/attack-table.md``.
``tests/autograder/test_attacks.py`` asserts every outcome. The corpus of an assignment
lives in ``tests/corpus/<assignment>.py`` (``ATTACKS``).

``PYTHONPATH=tests python -m corpus [--fast] [--table FILE]`` runs every corpus. ``docs/attack-table.md`` holds
several generated sections (this corpus, the disruption variants of ``corpus.disruption``, the route
matrix of ``tests/autograder/test_routes.py``); ``update_table`` rewrites one of them and keeps the others.
"""
from __future__ import annotations

import importlib
import json
import re
import shutil
import string
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from autograder import autograde, config
from autograder.notebook import nbgrade
from autograder.output import report
from autograder import results
from autograder.results import StudentResult
from autograder.release import markers
from coursetools.samples import Body, Edit, Sample, samples_for, write_sample

ASSIGNMENT = "assignment1"  # the assignment whose package functions are graded, and attacked
CORPORA = ("assignment1", "assignment2")  # the assignments with a corpus (assignment 2's: notebook attacks)
# per assignment: the student file that holds the honest student's private line, and the sample graded beside it
HONEST = {"assignment1": ("cs7150/pool.py", "bias_missing"), "assignment2": ("cs7150/dense.py", "relu_gradient_at_zero")}
HONEST_MARKER = "# honest work of a student graded in the same run: no one else may see this line"
ATTACK_MARKER = "cs7150-attack-marker"  # every file an attack writes outside its sandbox holds or is named this
SECRET_NAME, SECRET_VALUE = "CS7150_GRADER_TOKEN", "secret-token-that-must-never-reach-student-code"
# Short limits keep the corpus quick: a time-out costs 3 s, a runaway 12 s; honest work needs ~2 s.
LIMITS = autograde.Limits(wall_s=12, case_s=3)


@dataclass(frozen=True)
class Context:
    """What an attack may know about the grading machine (a strong attacker knows all of it)."""

    repo_root: Path
    submissions: Path
    out: Path
    canary: Path  # a folder outside the run; nothing in it may change
    repo_canary: Path  # a file inside the repository tree (an ignored path); it may not change
    port: int  # a TCP port on the grader's loopback interface that listens for connections
    honest_id: str  # a student graded in the same run
    assignment: str = ASSIGNMENT  # the assignment graded

    def substitute(self, code: str) -> str:
        """``code`` with ``$REPO``, ``$SUBMISSIONS``, ``$OUT``, ``$CANARY``, ``$REPO_CANARY``, ``$PORT``,
        ``$HONEST`` and ``$MARKER`` filled in."""
        return string.Template(code).safe_substitute(
            REPO=self.repo_root, SUBMISSIONS=self.submissions, OUT=self.out, CANARY=self.canary,
            REPO_CANARY=self.repo_canary, PORT=self.port, HONEST=self.honest_id, MARKER=ATTACK_MARKER)


@dataclass(frozen=True)
class Attack:
    """One hostile or broken submission and the outcome the grader must give it."""

    name: str  # also the student id
    group: str  # runaway, lies, snooping, shortcuts, packaging, notebooks
    what: str  # the bad thing, one line
    expected: float | None  # total score; None: no result (the submission is skipped)
    build: Callable[[Context, Path], None]  # writes the submission into the submissions folder
    function: str | None = None  # the function (or notebook) attacked, for the feedback summary
    feedback: tuple[str, ...] = ()  # texts its feedback must contain
    fast: bool = False  # in the CI subset
    notebooks: bool = False  # graded with --notebooks: ``expected`` is then the package score, and
    lost: float | str | None = None  # the notebook's points lost against the honest student's ("all": every one)


@dataclass
class CorpusRun:
    """What grading a corpus did: results by student id, honest students graded alone, timings."""

    context: Context
    attacks: list[Attack]
    honest: list[str]
    results: dict
    alone: dict
    log: list[str]  # what the grader logged (skipped entries, an unconfined run)
    seconds: float
    alone_seconds: float
    connections: list = field(default_factory=list)  # peers ("address port") that reached the listening port


# ---- building submissions ------------------------------------------------------------------------

def region_body(function: str, repo_root: Path = config.REPO_ROOT) -> str:
    """The reference code of ``function``'s solution region, dedented."""
    assignment = config.load(ASSIGNMENT, repo_root=repo_root)
    for rel in assignment.student_files:
        text = (repo_root / rel).read_text(encoding="utf-8")
        for region in markers.find_regions(text, rel):
            if region.function == function:
                return textwrap.dedent("".join(text.splitlines(keepends=True)[region.begin:region.end - 1]))
    raise KeyError(function)


def edited(name: str, *edits, appended: dict | None = None, layout: str = "folder") -> Callable:
    """A build writing the reference with ``edits`` (``Edit``/``Body`` with ``$NAME`` placeholders) applied
    and ``appended`` module-level code ({student file: text}) added at the end of files."""
    def build(ctx: Context, dest: Path) -> None:
        concrete = []
        for edit in edits:
            if isinstance(edit, Body):
                concrete.append(Body(edit.function, ctx.substitute(edit.code)))
            else:
                concrete.append(Edit(edit.function, ctx.substitute(edit.old), ctx.substitute(edit.new), edit.count))
        path = write_sample(Sample(name, None, tuple(concrete), layout=layout), assignment(ctx.assignment), dest)
        for rel, text in (appended or {}).items():
            with open(path / rel, "a", encoding="utf-8") as file:
                file.write("\n" + ctx.substitute(text))
    return build


def before_honest(function: str, code: str) -> Body:
    """A body that runs ``code`` and then the reference solution of ``function``."""
    return Body(function, textwrap.dedent(code).strip("\n") + "\n" + region_body(function))


def from_sample(sample_name: str) -> Callable:
    """A build writing an existing synthetic student (``coursetools.samples``) under the attack's name."""
    def build(ctx: Context, dest: Path) -> None:
        sample = next(s for s in samples_for(ctx.assignment) if s.name == sample_name)
        write_sample(sample, assignment(ctx.assignment), dest)
    return build


def with_file_text(name: str, rel: str, change: Callable[[str], str]) -> Callable:
    """A build writing the reference with the whole text of student file ``rel`` changed by ``change``."""
    def build(ctx: Context, dest: Path) -> None:
        write_sample(Sample(name, None), assignment(ctx.assignment), dest)
        path = dest / name / rel
        path.write_text(ctx.substitute(change(path.read_text(encoding="utf-8"))), encoding="utf-8")
    return build


def assignment(name: str = ASSIGNMENT) -> config.Assignment:
    """The configuration of assignment ``name``."""
    return config.load(name)


def notebook_attack(name: str, change: Callable, what: str, lost, feedback=(), fast: bool = False,
                    assignment_name: str = ASSIGNMENT) -> Attack:
    """A notebook attack: the reference package and the instructor's notebooks changed by ``change(nb, ctx)``
    (it returns the notebook as a dict, or raw bytes); ``lost``: the notebook points it must lose against the
    honest student's notebook ("all": every one). Its package scores full marks, extra credit included."""
    def build(ctx, dest):
        folder = write_sample(Sample(name, None), assignment(ctx.assignment), dest)
        for nb_name in nbgrade.notebook_names(ctx.assignment):
            source = json.loads((config.COURSE_ROOT / "source" / ctx.assignment / nb_name).read_text(encoding="utf-8"))
            changed = change(source, ctx)
            (folder / nb_name).write_bytes(changed if isinstance(changed, bytes) else json.dumps(changed).encode())
    [notebook] = nbgrade.notebook_names(assignment_name)
    package = assignment(assignment_name)
    return Attack(name, "notebooks", what, package.max_score + package.extra_max, build, notebook, tuple(feedback),
                  fast, notebooks=True, lost=lost)


def attacks_for(name: str) -> list[Attack]:
    """The corpus of an assignment (``tests/corpus/<name>.py`` defines ``ATTACKS``)."""
    return list(importlib.import_module(f"corpus.{name}").ATTACKS)


# ---- running -------------------------------------------------------------------------------------

LISTENER = """
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    connection, peer = server.accept()
    print(peer[0], peer[1], flush=True)
    connection.close()
"""


class Listener:
    """A TCP server on the grader's loopback interface that records every connection made to it.

    It is a process of its own, so that the grader stays single-threaded (its
    children get their limits between fork and exec)."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-I", "-c", LISTENER], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())

    def close(self) -> list[str]:
        """Stop listening; return the peers that connected ("address port")."""
        self.process.kill()
        peers = self.process.stdout.read().splitlines()
        self.process.wait()
        return peers


def write_corpus(attacks, honest: dict[str, Callable], ctx: Context) -> None:
    """Write the honest students and the attacks into ``ctx.submissions``."""
    ctx.submissions.mkdir(parents=True, exist_ok=True)
    for build in [*honest.values(), *(attack.build for attack in attacks)]:
        build(ctx, ctx.submissions)


def honest_students(honest_id: str, notebooks_too: bool, name: str = ASSIGNMENT) -> dict[str, Callable]:
    """Honest students graded beside the attacks: the reference with a private line (and the instructor's
    notebooks, when they are graded too), and a sample's mistake (``HONEST``)."""
    private, mistake = HONEST[name]

    def honest(ctx: Context, dest: Path) -> None:
        folder = write_sample(Sample(honest_id, None), assignment(ctx.assignment), dest)
        marked = folder / private
        marked.write_text(marked.read_text(encoding="utf-8") + "\n" + HONEST_MARKER + "\n", encoding="utf-8")
        for notebook in nbgrade.notebook_names(ctx.assignment) if notebooks_too else ():
            shutil.copy(config.COURSE_ROOT / "source" / ctx.assignment / notebook, folder / notebook)
    return {honest_id: honest, mistake: from_sample(mistake)}


def expected_score(attack: Attack, run: CorpusRun) -> float | None:
    """The total an attack must get (every point it earns, extra credit included): ``expected``, plus for a notebook attack the honest notebook's score
    less what it must lose."""
    if not attack.notebooks:
        return attack.expected
    notebook = next(p.score for p in run.results[run.context.honest_id].parts if p.name == attack.function)
    return attack.expected + (0 if attack.lost == "all" else notebook - attack.lost)


def run_corpus(attacks, root: Path, limits: autograde.Limits, jobs: int = 2, notebooks_too: bool = False,
               alone: bool = True, repo_canary: Path | None = None, name: str = ASSIGNMENT) -> CorpusRun:
    """Grade ``attacks`` (of assignment ``name``) with the honest students in one run under ``root``, then
    (``alone``) the honest students again by themselves.

    The grader's environment should hold ``SECRET_NAME`` during the run (the
    caller puts it there and checks that it reaches no output); a
    ``Listener`` on the loopback interface records any connection.
    """
    listener = Listener()
    ctx = Context(config.REPO_ROOT, root / "submissions", root / "out", root / "canary",
                  repo_canary or root / "repo-canary.txt", listener.port, "honest_student", name)
    honest = honest_students(ctx.honest_id, notebooks_too, name)
    write_corpus(attacks, honest, ctx)
    messages = []
    start = time.monotonic()
    try:
        results = autograde.autograde(autograde.ClassRun(name, ctx.submissions, ctx.out, jobs=jobs, limits=limits,
                                      progress=False, notebooks_too=notebooks_too, log=messages.append))
    finally:
        peers = listener.close()
    seconds, alone_results, alone_seconds = time.monotonic() - start, [], 0.0
    if alone:
        for build in honest.values():
            build(ctx, root / "alone" / "submissions")
        start = time.monotonic()
        alone_results = autograde.autograde(autograde.ClassRun(name, root / "alone" / "submissions", root / "alone" / "out",
                                            jobs=jobs, limits=limits, progress=False, notebooks_too=notebooks_too))
        alone_seconds = time.monotonic() - start
    return CorpusRun(ctx, list(attacks), list(honest), {r.student_id: r for r in results},
                     {r.student_id: r for r in alone_results}, messages, seconds, alone_seconds, peers)


# ---- the table -----------------------------------------------------------------------------------

def feedback_summary(result: StudentResult, function: str | None, honest: StudentResult | None = None,
                     limit: int = 200) -> str:
    """One line: why the attacked function or notebook (or the submission) lost points, else the first note.

    Failures the ``honest`` student shares (the same case, the same summary) are left out.
    """
    shared = {(p.name, c.name, c.summary) for p in honest.parts for c in p.cases if not c.passed} if honest else set()
    texts = [] if function else list(result.notes)
    for part in result.parts:
        if function is None or part.name == function:
            texts += [part.problem] if part.problem else []
            texts += [f"{case.name}: {case.summary}" for case in part.cases
                      if not case.passed and (part.name, case.name, case.summary) not in shared]
    texts += [] if function is None else result.notes
    text = " ".join(next((t for t in texts if t), "all passed").split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _expected_text(attack: Attack) -> str:
    if attack.expected is None:
        return "skipped"
    if not attack.notebooks:
        return str(results.number(attack.expected))
    return f"{results.number(attack.expected)} + notebook " + ("0" if attack.lost == "all" else f"- {attack.lost}")


def attack_table(runs: list[CorpusRun], command: str) -> str:
    """Markdown: each attack and what the grader did with it, from the runs' actual results."""
    lines = ["# Attack table", "",
             f"Generated by `{command}` from the grader's actual results; do not edit by hand. Scores are every "
             "point earned, extra credit included, out of the package's (100 in assignment 1: 88 plus 12 extra "
             "credit; 47 in assignment 2), plus the notebook's points in the "
             "runs graded with `--notebooks` (the honest student's notebook score is the reference for what a "
             "tampered notebook must get). (CI) marks the "
             "cases of the fast subset in `tests/autograder/test_attacks.py`; the others run with `-m slow`.", ""]
    for run in runs:
        kind = "with --notebooks" if any(a.notebooks for a in run.attacks) else "package only"
        lines += [f"## {run.context.assignment}: {len(run.attacks)} attacks, {kind}", "",
                  f"{len(run.attacks)} hostile or broken submissions and {len(run.honest)} honest ones graded in one "
                  f"run in {run.seconds:.0f} s" + (f"; the honest ones alone in {run.alone_seconds:.0f} s." if run.alone
                                                   else "."), ""]
        for student in run.honest:
            alone = run.alone.get(student)
            lines.append(f"- honest `{student}`: {results.number(run.results[student].earned)} in the run"
                         + (f", {results.number(alone.earned)} graded alone" if alone else ""))
        lines += ["", "| case | group | the bad thing | expected | score | seconds | feedback (summary) |",
                  "|---|---|---|---|---|---|---|"]
        for attack in run.attacks:
            result = run.results.get(attack.name)
            cells = [attack.name + (" (CI)" if attack.fast else ""), attack.group, attack.what, _expected_text(attack),
                     "skipped" if result is None else str(results.number(result.earned)),
                     "" if result is None else f"{result.execution_time:.1f}",
                     "not graded" if result is None else feedback_summary(result, attack.function,
                                                                          run.results.get(run.context.honest_id))]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def update_table(path: Path, section: str, text: str) -> None:
    """Put ``text`` in the generated file ``path`` (``docs/attack-table.md``) as its ``section`` (a word): the
    section's previous text is replaced, the other sections are kept in their order, a new one goes last. A file
    without sections (written before there were several) is replaced."""
    begin, end = f"<!-- generated section: {section} -->", f"<!-- end of section: {section} -->"
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", section):
        raise ValueError(f"a section is a lower-case word, got {section!r}")
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{begin}\n{text.strip()}\n{end}"
    if begin in old and end in old:
        new = old.split(begin, 1)[0] + block + old.split(end, 1)[1]
    elif "<!-- generated section: " in old:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    else:
        new = block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
