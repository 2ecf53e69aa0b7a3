"""Where one submission's notebook grading spends its time, phase by phase.

Grades one honest assignment-1 submission (the reference package and the
source notebook with its answers) through ``autograder.notebook.nbgrade.grade``,
as ``cs7150 autograde --notebooks`` does (jailed kernel where the machine
allows), with every process the grader starts timed, and reads nbclient's
per-cell timestamps from nbgrader's executed notebook. Apart, it times the
pieces every such process pays: a bare interpreter, importing nbgrader's
apps, starting a jailed interpreter, importing ipykernel.

    python benchmarks/notebook_phases.py [--repeats 3] [--json phases.json]

Phases (medians over the repeats, seconds):

- ``course``: the class's base course (``nbgrader generate_assignment``, once
  per class) and the student's copy of it;
- ``autograde``: the ``nbgrader autograde`` process, split into ``before the
  first cell`` (interpreter, nbgrader's imports, the gradebook, the kernel's
  start in the jail), ``cells`` (the first kernel cell's start to the last
  one's reply; ``cells busy``: their own times added up) and ``after the last
  cell`` (the test cells, run apart in nbgrader's process with their calls
  into the kernel (``autograder.notebook.executor``), the kernel's shutdown,
  writing, the gradebook);
- ``feedback``: the ``nbgrader generate_feedback`` process;
- ``parts``: reading the scores from the gradebook in the grader's process.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's autograder and cs7150

ASSIGNMENT = "assignment1"


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def process_costs() -> dict:
    """Seconds of the pieces each grading process pays: interpreter, nbgrader's imports, jail, ipykernel."""
    from autograder.sandbox import isolation

    python = sys.executable
    costs = {"interpreter": _seconds([python, "-c", "pass"]),
             "import nbgrader apps": _seconds([python, "-c", "import nbgrader.apps"]),
             "import ipykernel": _seconds([python, "-c", "import ipykernel.kernelapp"])}
    if isolation.supported():
        with tempfile.TemporaryDirectory(prefix="cs7150-phases-jail-") as tmp:
            Path(tmp).chmod(0o755)
            jailed = isolation.Confinement(isolation.new_uid(), Path(tmp), cwd="/").command([python, "-I", "-S",
                                                                                              "-c", "pass"])
            costs["jailed interpreter"] = _seconds(jailed)
    return costs


def _cell_times(notebook: Path) -> dict:
    """From nbclient's timestamps in an executed notebook: first start, last reply, and the slowest cells."""
    def stamp(text):
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    cells = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf-8"))["cells"]):
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id") or f"cell {index}"
            cells.append((stamp(timing["iopub.execute_input"]), stamp(timing["shell.execute_reply"]), grade_id))
    if not cells:
        return {}
    every = [[grade_id, end - start] for start, end, grade_id in cells]
    return {"first_start": cells[0][0], "last_reply": cells[-1][1], "count": len(cells),
            "busy": sum(end - start for start, end, _ in cells), "every": every,
            "slowest": sorted(every, key=lambda cell: -cell[1])[:5]}


def one_submission(work: Path) -> dict:
    """Grade one honest submission's notebooks with every phase timed."""
    from autograder import autograde, config, submissions
    from autograder.notebook import nbgrade
    from autograder.release import build
    from autograder.sandbox import processes
    from coursetools.samples import samples_for, write_sample

    assignment = config.load(ASSIGNMENT)
    subs = work / "submissions"
    reference = next(s for s in samples_for(ASSIGNMENT) if s.name == "reference")
    folder = write_sample(reference, assignment, subs)
    names = nbgrade.notebook_names(ASSIGNMENT)
    for name in names:
        shutil.copy(config.COURSE_ROOT / "source" / ASSIGNMENT / name, folder / name)
    template = work / "template"
    build.stub_package(config.REPO_ROOT / config.PACKAGE_NAME, template / config.PACKAGE_NAME,
                         build.stub_message(config.all_sections(ASSIGNMENT)))
    found, _ = submissions.discover(subs, ASSIGNMENT, work / "extracted")

    phases, jobs = {}, []
    real_run_jobs, real_base, real_parts = processes.run_jobs, nbgrade.base_course, nbgrade._parts

    def timed_run_jobs(todo, parallel, ended, **kwargs):
        def recorded(job):
            jobs.append((next(arg for arg in job.command if arg in ("autograde", "generate_feedback")), job))
            return ended(job)
        return real_run_jobs(todo, parallel, recorded, **kwargs)

    def timed(name, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    patches = [(processes, "run_jobs", timed_run_jobs), (nbgrade, "base_course", timed("base course", real_base)),
               (nbgrade, "_parts", timed("parts", real_parts))]
    with contextlib.ExitStack() as stack:
        for module, attribute, value in patches:
            stack.callback(setattr, module, attribute, getattr(module, attribute))
            setattr(module, attribute, value)
        start = time.perf_counter()
        run = autograde.ClassRun(ASSIGNMENT, subs, work / "out", jobs=1, progress=False)
        graded = nbgrade.grade(run, assignment, found, template, work, names)
        phases["whole"] = time.perf_counter() - start
    parts, notes, _ = graded[found[0].student_id]
    assert all(p.score == p.max_score > 0 for p in parts), (parts, notes)
    for kind, job in jobs:
        phases[kind] = job.elapsed
    course = work / "nbgrader" / found[0].student_id
    autograde_job = next(job for kind, job in jobs if kind == "autograde")
    cells = _cell_times(course / "autograded" / found[0].student_id / ASSIGNMENT / names[0])
    started = autograde_job.started + time.time() - time.monotonic()  # its start on the cells' (wall) clock
    phases["before the first cell"] = cells["first_start"] - started
    phases["cells"] = cells["last_reply"] - cells["first_start"]
    phases["cells busy"] = cells["busy"]
    phases["after the last cell"] = started + autograde_job.elapsed - cells["last_reply"]
    phases["student course and the rest"] = phases["whole"] - sum(
        phases.get(k, 0.0) for k in ("base course", "autograde", "generate_feedback", "parts"))
    return {"phases": phases, "slowest_cells": cells["slowest"], "cell_count": cells["count"], "cells": cells["every"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="submissions graded one after another (median kept)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args(argv)
    from cs7150.tables import format_table

    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="cs7150-phases-") as tmp:
            runs.append(one_submission(Path(tmp)))
    keys = list(dict.fromkeys(k for run in runs for k in run["phases"]))
    phases = {k: statistics.median(run["phases"][k] for run in runs if k in run["phases"]) for k in keys}
    costs = process_costs()
    print(format_table(["phase", "seconds"], [[k, f"{v:.2f}"] for k, v in phases.items()], "lr"))
    print("\nslowest cells (last run):")
    print(format_table(["cell", "seconds"], [[c, f"{s:.2f}"] for c, s in runs[-1]["slowest_cells"]], "lr"))
    print("\nwhat each process pays:")
    print(format_table(["piece", "seconds"], [[k, f"{v:.2f}"] for k, v in costs.items()], "lr"))
    if args.json:
        args.json.write_text(json.dumps({"phases": phases, "runs": runs, "process_costs": costs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
