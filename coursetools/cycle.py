"""The instructor's cycle on the synthetic students, end to end: what ``cs7150 demo`` runs.

release -> hand out (the samples stand in for the class) -> collect ->
autograde -> grade table -> where the feedback is. Everything is written
under one output folder, so the demo leaves the repository untouched.
"""
from __future__ import annotations

import time
from pathlib import Path

from autograder import autograde, config
from coursetools import samples
from autograder.output import report
from autograder.release import build

SLOW_SAMPLES = ("hang_and_memory", "runaway")  # they sit out the time limits: shown by the tests, not the demo


def first_problem(result) -> str:
    """One line: the first part that lost points and why (its problem, the diagnosed mistake, or
    its first failing case's summary)."""
    for part in result.parts:
        if part.score < part.max_score:
            case = next((case for case in part.cases if not case.passed), None)
            diagnosed = [d for d in (case.details if case else []) if d.startswith("likely mistake: ")]
            why = part.problem or (diagnosed[0] if diagnosed else case.summary if case else "")
            return f"{part.name}: {why}"
    return "all parts passed"


def run_cycle(assignment: str, out: Path, jobs: int | None = None, notebooks_too: bool = False) -> list:
    """Release ``assignment`` into ``out/release``, grade its samples into ``out/grades``, print the table.

    Returns the list of ``StudentResult`` (one per sample, in student-id order).
    """
    out = Path(out)
    started = time.perf_counter()
    released = build.release(assignment, out / "release")
    print(f"1. released the student version: {released}")
    submitted = out / "submissions"
    written = [sample for sample in samples.samples_for(assignment) if sample.name not in SLOW_SAMPLES]
    for sample in written:
        samples.write_sample(sample, config.load(assignment), submitted, config.REPO_ROOT)
    print(f"2. collected {len(written)} synthetic submissions: {submitted}")
    grades_dir = out / "grades"
    results = autograde.autograde(autograde.ClassRun(assignment, submitted, grades_dir, jobs=jobs, progress=True,
                                  notebooks_too=notebooks_too, log=lambda message: print(f"   {message}"),
                                  limits=autograde.Limits(unconfined=True)))  # the course's own samples: no attack
    expected = {sample.name: sample.expected for sample in written}
    print(f"3. graded in {time.perf_counter() - started:.1f} s:\n")
    width = max(len(result.student_id) for result in results)
    print(f"   {'student':<{width}}  score  extra credit  expected in all  what the feedback says first")
    for result in results:
        said = first_problem(result)
        want = expected.get(result.student_id)
        want = "" if want is None or notebooks_too else f"{want:g}"
        extra = f"+{result.extra:g}/{result.extra_max:g}" if result.extra_max else "-"
        print(f"   {result.student_id:<{width}}  {result.score:>5g}/{result.max_score:g}  {extra:>12}  {want:>15}  {said[:90]}")
    print(f"\n4. grades.csv: {grades_dir / 'grades.csv'}")
    folder = report.student_folder(grades_dir, "<student>")
    print(f"   feedback per student: {folder / 'feedback.html'} (and results.json for Gradescope)")
    return results
