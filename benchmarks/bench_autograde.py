"""Autograder throughput: seconds per submission and submissions per minute with --jobs 1 and --jobs 2.

Writes ``--copies`` copies of the reference sample and the mistake samples
named by ``--mistakes`` (from ``coursetools/samples``) into a temporary
folder, then grades them all with ``autograder.autograde.autograde`` once
per ``--jobs`` value, in turns, ``--repeats`` times, after one untimed
warm-up run of a single submission (the median wall time of each is kept:
whole runs, setup included, as an instructor sees them). The
expected scores are checked, so a fast but wrong grader does not count.

Targets: <= 20 s per submission with --jobs 1, and --jobs 2 grading at
least 1.6x the submissions per minute of --jobs 1.

With ``--notebooks`` every reference copy also hands in the assignment's
notebooks with their answers (an honest student), no mistake sample is
added, and the whole class is graded as ``cs7150 autograde --notebooks``
grades it (package and notebooks, every kernel fresh and jailed per student
where the machine allows); every student must get full marks. Target: <= 4 s
per submission with --jobs 2 on 2 cores. Where that time goes, phase by
phase: ``benchmarks/notebook_phases.py``.

    python benchmarks/bench_autograde.py
    python benchmarks/bench_autograde.py --copies 4 --jobs 1 2 4 --json autograde.json
    python benchmarks/bench_autograde.py --notebooks --copies 4 --jobs 2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's autograder and cs7150

ASSIGNMENT = "assignment1"
MISTAKES = ("bias_missing", "flipped_kernel", "dx_assigned", "blank")  # quick to grade: no time-outs
PER_SUBMISSION_TARGET = 20.0  # seconds per submission with --jobs 1
SCALING_TARGET = 1.6  # submissions per minute with --jobs 2 / with --jobs 1
NOTEBOOK_TARGET = 4.0  # seconds per submission, package and notebooks, with --jobs 2


def write_submissions(dest: Path, copies: int, mistakes=MISTAKES, notebooks: bool = False) -> dict:
    """Write ``copies`` reference submissions and the named mistake samples into ``dest``.

    Args:
        dest: an empty folder.
        copies: int >= 0, copies of the reference sample (``reference_00``, ...).
        mistakes: names of samples of ``coursetools/samples/assignment1.py``.
        notebooks: also put the assignment's source notebooks (the answers) in every reference copy.
    Returns:
        dict, student id -> expected score (None: full marks, package and notebooks).
    Raises:
        ValueError: a negative ``copies`` or an unknown sample name.
    """
    from autograder import config
    from autograder.notebook.nbgrade import notebook_names
    from coursetools.samples import samples_for, write_sample

    samples = {sample.name: sample for sample in samples_for(ASSIGNMENT)}
    unknown = sorted(set(mistakes) - set(samples))
    if copies < 0 or unknown:
        raise ValueError(f"need copies >= 0 and sample names from {sorted(samples)}; got copies={copies}, "
                         f"unknown {unknown}")
    assignment = config.load(ASSIGNMENT)
    chosen = [dataclasses.replace(samples["reference"], name=f"reference_{i:02d}") for i in range(copies)]
    chosen += [samples[name] for name in mistakes]
    names = notebook_names(ASSIGNMENT) if notebooks else []
    for sample in chosen:
        folder = write_sample(sample, assignment, dest)
        for name in names if sample.name.startswith("reference_") else []:
            shutil.copy(config.COURSE_ROOT / "source" / ASSIGNMENT / name, folder / name)
    return {sample.name: None if names and sample.name.startswith("reference_") else sample.expected
            for sample in chosen}


def _scores_ok(results, expected: dict) -> bool:
    """Every student graded, each with its expected score (None: full marks)."""
    got = {result.student_id: result for result in results}
    return set(got) == set(expected) and all(
        got[key].score == (got[key].max_score if score is None else score) for key, score in expected.items())


def bench_autograde(copies: int = 16, mistakes=MISTAKES, jobs=(1, 2), repeats: int = 1,
                    notebooks: bool = False) -> dict:
    """Grade the same submissions with each ``jobs`` value and time the whole runs.

    Args:
        copies: int >= 0, copies of the reference sample.
        mistakes: names of mistake samples graded with them.
        jobs: ints >= 1, the ``--jobs`` values compared (the first is the baseline).
        repeats: int >= 1, runs per ``jobs`` value, in turns (the median is kept).
        notebooks: grade the notebooks too (honest reference copies with the
            source notebooks; see the module docstring); then ``targets``
            holds ``notebooks`` (seconds per submission with --jobs 2).
    Returns:
        dict with ``submissions`` (count), ``runs`` (one dict per jobs value:
        ``jobs``, ``seconds`` (median wall time of a whole run), ``raw_seconds``,
        ``seconds_per_submission``, ``per_minute``, ``speedup`` (per_minute over
        the first run's), ``child_seconds`` (mean time of one submission's
        sandboxed child) and ``scores_ok``), ``targets`` (``per_submission``
        and ``scaling``: dicts with ``value``, ``bound``, ``met``).
    Raises:
        ValueError: bad ``copies``, ``jobs`` or ``repeats``, or no submissions.
    """
    from autograder import autograde

    if repeats < 1 or not jobs or min(jobs) < 1:
        raise ValueError(f"need repeats >= 1 and jobs values >= 1, got repeats={repeats}, jobs={list(jobs)}")
    with tempfile.TemporaryDirectory(prefix="cs7150-bench-autograde-") as tmp:
        folder = Path(tmp)
        expected = write_submissions(folder / "submissions", copies, mistakes, notebooks)
        if not expected:
            raise ValueError("no submissions to grade: give copies >= 1 or some mistakes")
        autograde.autograde(autograde.ClassRun(ASSIGNMENT, folder / "submissions", folder / "warm-up", jobs=1, student=min(expected),
                            progress=False, log=lambda message: None))  # imports and caches, untimed
        raw = {n: [] for n in jobs}
        child = {n: [] for n in jobs}
        scores_ok = {n: True for n in jobs}
        for _ in range(repeats):
            for n in jobs:  # in turns, so a load spike slows every jobs value alike
                start = time.perf_counter()
                results = autograde.autograde(autograde.ClassRun(ASSIGNMENT, folder / "submissions", folder / f"out-{n}", jobs=n,
                                              progress=False, log=lambda message: None, notebooks_too=notebooks))
                raw[n].append(time.perf_counter() - start)
                child[n].append(statistics.mean(r.execution_time for r in results))
                scores_ok[n] &= _scores_ok(results, expected)
    count = len(expected)
    runs = []
    for n in jobs:
        seconds = statistics.median(raw[n])
        runs.append({"jobs": n, "seconds": seconds, "raw_seconds": raw[n], "seconds_per_submission": seconds / count,
                     "per_minute": 60 * count / seconds, "child_seconds": statistics.median(child[n]),
                     "scores_ok": scores_ok[n]})
    for run in runs:
        run["speedup"] = run["per_minute"] / runs[0]["per_minute"]
    first = runs[0]
    if notebooks:
        with_two = next((run for run in runs if run["jobs"] == 2), None)
        targets = {} if with_two is None else {"notebooks": {
            "value": with_two["seconds_per_submission"], "bound": f"<= {NOTEBOOK_TARGET:g} s",
            "met": with_two["seconds_per_submission"] <= NOTEBOOK_TARGET}}
        return {"assignment": ASSIGNMENT, "submissions": len(expected), "copies": copies, "mistakes": list(mistakes),
                "notebooks": True, "repeats": repeats, "runs": runs, "targets": targets}
    targets = {"per_submission": {"value": first["seconds_per_submission"], "bound": f"<= {PER_SUBMISSION_TARGET:g} s",
                                  "met": first["seconds_per_submission"] <= PER_SUBMISSION_TARGET}}
    second = next((run for run in runs if run["jobs"] == 2), None)
    if first["jobs"] == 1 and second is not None:
        targets["scaling"] = {"value": second["speedup"], "bound": f">= {SCALING_TARGET:g}x",
                              "met": second["speedup"] >= SCALING_TARGET}
    return {"assignment": ASSIGNMENT, "submissions": count, "copies": copies, "mistakes": list(mistakes),
            "repeats": repeats, "runs": runs, "targets": targets}


def format_runs(result: dict) -> str:
    """The runs of ``bench_autograde`` as an aligned table."""
    from cs7150.tables import format_table

    rows = [[run["jobs"], f"{run['seconds']:.2f}", f"{run['seconds_per_submission']:.2f}", f"{run['per_minute']:.1f}",
             f"{run['speedup']:.2f}x", f"{run['child_seconds']:.2f}", "yes" if run["scores_ok"] else "NO"]
            for run in result["runs"]]
    return format_table(["jobs", "run s", "s / submission", "submissions / min", "speedup", "child s", "scores ok"],
                        rows, "rrrrrrl")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=16, help="copies of the reference sample (default %(default)s)")
    parser.add_argument("--mistakes", nargs="*", default=list(MISTAKES),
                        help="mistake samples graded with them (default: %(default)s)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values compared (default 1 2)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per --jobs value, median kept (default 1)")
    parser.add_argument("--notebooks", action="store_true",
                        help="grade the notebooks too: honest reference copies only (--mistakes is ignored)")
    parser.add_argument("--json", type=Path, help="also write the measurements to this JSON file")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    mistakes = [] if args.notebooks else args.mistakes
    print(f"autograde {ASSIGNMENT}{' --notebooks' if args.notebooks else ''}: {args.copies} reference copies + "
          f"{len(mistakes)} mistake samples, --jobs {' / '.join(map(str, args.jobs))}, {os.cpu_count()} CPUs")
    result = bench_autograde(args.copies, mistakes, args.jobs, args.repeats, notebooks=args.notebooks)
    print(format_runs(result))
    for name, target in result["targets"].items():
        print(f"{name}: {target['value']:.2f} (needs {target['bound']}) -> {'MET' if target['met'] else 'NOT MET'}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
