"""Grading a class in parts (``--shard K/N``) and merging the parts' outputs into one.

Its specification: docs/grader.md, `autograder/output/shards.py`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from autograder.output import report
from cs7150.atomic import atomic_write

RECORD = "shard.json"
SHOWN = 10  # ids named in a message before "and N more"


class MergeError(ValueError):
    """The outputs given to ``merge`` do not make one class: every reason, one per line."""


def shard_of(student_id: str, count: int) -> int:
    """The shard (1..``count``) that holds ``student_id``; depends only on the id and ``count``."""
    digest = hashlib.sha256(student_id.encode("utf-8")).digest()
    return 1 + int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` (1-based) of a class."""

    index: int
    count: int

    def __post_init__(self):
        if not (isinstance(self.index, int) and isinstance(self.count, int) and 1 <= self.index <= self.count):
            raise ValueError(f"a shard is K/N with whole numbers 1 <= K <= N, got {self.index!r}/{self.count!r}")

    @classmethod
    def parse(cls, text: str) -> "Shard":
        """``Shard(2, 8)`` from ``"2/8"``.

        Raises:
            ValueError: ``text`` is not ``K/N`` with whole numbers ``1 <= K <= N`` (naming it, with an example).
        """
        index, slash, count = str(text).strip().partition("/")
        if not (slash and index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
            raise ValueError(f"--shard must be K/N with whole numbers 1 <= K <= N (for example 2/8: the second "
                             f"of eight parts), got {text!r}")
        return cls(int(index), int(count))

    def holds(self, student_id: str) -> bool:
        return shard_of(student_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def write_record(out: Path, assignment: str, shard: Shard, class_ids, students, columns) -> None:
    """Write ``<out>/shard.json`` (see the module docstring), atomically."""
    record = {"assignment": assignment, "shard": str(shard), "class": sorted(class_ids),
              "students": sorted(students), "columns": list(columns)}
    report.write_atomic(Path(out) / RECORD, json.dumps(record, indent=1) + "\n")


def _some(ids) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    return ", ".join(ids[:SHOWN]) + more


@dataclass
class _Part:
    """One shard's output as read back: its folder, record, shard, grades.csv header and rows by id."""

    folder: Path
    record: dict
    shard: Shard
    header: str
    rows: dict  # student id -> its grades.csv line, as written


def _read_part(folder: Path, problems: list) -> _Part | None:
    """Read one output folder, or None with the reasons added to ``problems``."""
    folder = Path(folder)
    path = folder / RECORD
    if not path.is_file():
        problems.append(f"{folder}: no {RECORD}; it is not the output of `cs7150 autograde ... --shard K/N`")
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        absent = [key for key in ("assignment", "shard", "class", "students", "columns") if key not in record]
        if absent:
            raise KeyError(", ".join(absent))
        shard = Shard.parse(record["shard"])
    except (ValueError, KeyError, TypeError) as error:
        problems.append(f"{path}: not a shard record ({type(error).__name__}: {error})")
        return None
    grades = folder / "grades.csv"
    if not grades.is_file():
        problems.append(f"{folder}: no grades.csv")
        return None
    lines = grades.read_text(encoding="utf-8").splitlines(keepends=True)
    header, rows = (lines[0] if lines else ""), {}
    for line in lines[1:]:
        student_id = next(csv.reader([line]))[0]
        if student_id in rows:
            problems.append(f"{grades}: two rows for {student_id}")
        rows[student_id] = line
    return _Part(folder, record, shard, header, rows)


def _check_part(part: _Part, problems: list) -> None:
    """The part's record against its own files: rows, folders and shard of each student."""
    listed, rows = set(part.record["students"]), set(part.rows)
    where = f"{part.folder} (shard {part.shard})"
    if rows - listed:
        problems.append(f"{where}: grades.csv has rows for students its {RECORD} does not list: {_some(rows - listed)}")
    if listed - rows:
        problems.append(f"{where}: grades.csv has no row for {_some(listed - rows)}")
    elsewhere = [s for s in listed if shard_of(s, part.shard.count) != part.shard.index]
    if elsewhere:
        problems.append(f"{where}: holds students of other shards: {_some(elsewhere)}")
    no_folder = [s for s in listed if not report.student_folder(part.folder, s).is_dir()]
    if no_folder:
        problems.append(f"{where}: no folder {report.STUDENTS}/<id>/ for {_some(no_folder)}")


def _check_class(parts: list[_Part], problems: list) -> None:
    """The parts against each other: one assignment, header and class; shards 1..N once; each student once."""
    first = parts[0]
    for key, what in (("assignment", "assignment"), ("class", "class (the ids in the submissions folder)")):
        values = {json.dumps(p.record[key]) for p in parts}
        if len(values) > 1:
            problems.append(f"the shards are not of the same {what}: " + "; ".join(
                f"{p.folder}: {p.record[key] if key == 'assignment' else str(len(p.record[key])) + ' students'}"
                for p in parts))
    if len({p.header for p in parts}) > 1:
        problems.append("the shards' grades.csv have different columns: " + "; ".join(
            f"{p.folder}: {p.header.strip()}" for p in parts))
    counts = {p.shard.count for p in parts}
    if len(counts) > 1:
        problems.append("the shards split the class in different numbers of parts: " + ", ".join(
            f"{p.folder}: {p.shard}" for p in parts))
        return
    count = first.shard.count
    by_index: dict[int, list[_Part]] = {}
    for part in parts:
        by_index.setdefault(part.shard.index, []).append(part)
    for index, same in sorted(by_index.items()):
        if len(same) > 1:
            problems.append(f"shard {index}/{count} is given {len(same)} times: "
                            + ", ".join(str(p.folder) for p in same))
    missing_shards = [index for index in range(1, count + 1) if index not in by_index]
    graded: dict[str, list[_Part]] = {}
    for part in parts:
        for student_id in part.record["students"]:
            graded.setdefault(student_id, []).append(part)
    overlapping = {s: ps for s, ps in graded.items() if len(ps) > 1}
    if overlapping:
        problems.append(f"{len(overlapping)} student(s) graded in more than one output: " + "; ".join(
            f"{s} in {', '.join(str(p.folder) for p in ps)}" for s, ps in sorted(overlapping.items())[:SHOWN]))
    missing = set(first.record["class"]) - set(graded)
    if missing or missing_shards:
        shards_text = ", ".join(f"{index}/{count}" for index in missing_shards)
        problems.append(f"{len(missing)} student(s) of the class are in no output given"
                        + (f": {_some(missing)}" if missing else "")
                        + (f" (shard {shards_text} is missing; grade it with --shard and merge again)"
                           if missing_shards else ""))
    strangers = set(graded) - set(first.record["class"])
    if strangers:
        problems.append(f"student(s) graded but not in the class: {_some(strangers)}")


def _check_destination(out: Path, sources: list[Path], problems: list) -> None:
    out = out.resolve()
    for source in sources:
        source = source.resolve()
        if out == source or out.is_relative_to(source) or source.is_relative_to(out):
            problems.append(f"--out {out} must be outside the shards' outputs ({source})")
    if out.exists() and not out.is_dir():
        problems.append(f"--out {out} exists and is not a folder")
    elif out.is_dir() and any(out.iterdir()) and not _is_merge(out):
        problems.append(f"--out {out} is not empty and not an earlier merge's output; give a new folder")


def _is_merge(folder: Path) -> bool:
    try:
        return "merged_from" in json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def merge(outputs, out: Path) -> list[str]:
    """Merge the shards' output folders ``outputs`` into ``out``; returns the students' ids.

    ``out`` must not exist, be empty, or be an earlier merge's output (then
    replaced whole).

    Raises:
        MergeError: the outputs do not make one whole class, each student once
            (every reason, one per line), or ``out`` is not a safe destination.
    """
    outputs, out = [Path(o) for o in outputs], Path(out)
    problems: list[str] = []
    if not outputs:
        raise MergeError("no shard outputs given")
    parts = [part for part in (_read_part(folder, problems) for folder in outputs) if part is not None]
    for part in parts:
        _check_part(part, problems)
    if parts:
        _check_class(parts, problems)
    _check_destination(out, outputs, problems)
    if problems:
        raise MergeError("\n".join(problems))
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=out.parent))
    try:
        rows = {student_id: line for part in parts for student_id, line in part.rows.items()}
        with atomic_write(building / "grades.csv", "w") as file:
            file.write(parts[0].header + "".join(rows[s] for s in sorted(rows)))
        for part in parts:
            for student_id in part.record["students"]:
                shutil.copytree(report.student_folder(part.folder, student_id),
                                report.student_folder(building, student_id), symlinks=True)
        record = {"assignment": parts[0].record["assignment"], "shard": "1/1", "class": parts[0].record["class"],
                  "students": sorted(rows), "columns": parts[0].record["columns"],
                  "merged_from": [f"{p.folder} (shard {p.shard})" for p in sorted(parts, key=lambda p: p.shard.index)]}
        report.write_atomic(building / RECORD, json.dumps(record, indent=1) + "\n")
        _replace(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return sorted(rows)


def _replace(building: Path, out: Path) -> None:
    """Rename ``building`` to ``out``; an earlier ``out`` (empty, or a merge) is moved aside first, then removed."""
    if not out.exists():
        os.rename(building, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    os.rename(out, old / out.name)
    os.rename(building, out)
    shutil.rmtree(old, ignore_errors=True)
