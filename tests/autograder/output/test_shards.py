"""Sharded grading (``--shard K/N``) and ``cs7150 merge-grades``: shards as local processes, merged, compared
with one unsharded run of the same class, bit for bit in grades.csv; every refusal of the merge."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import autograde
from autograder.output import report, shards
from coursetools.samples import write_samples
from coursetools import cli

LIMITS = autograde.Limits(wall_s=10, case_s=4)
CLASS = ("reference", "blank", "bias_missing", "stride_ignored", "flipped_kernel", "partial_files", "forger", "quitter")
COUNT = 3
REPO = Path(__file__).resolve().parents[3]


def _cs7150(*argv, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "coursetools", *argv], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """One unsharded run, and the three shards run at once as separate `cs7150 autograde` processes."""
    root = tmp_path_factory.mktemp("shards")
    subs = root / "submissions"
    write_samples("assignment1", subs, only=CLASS)
    (subs / "README.txt").write_text("not a submission")
    whole = root / "whole"
    autograde.autograde(autograde.ClassRun("assignment1", subs, whole, jobs=2, limits=LIMITS, progress=False, log=lambda m: None))
    limits = ["--time-limit", str(LIMITS.wall_s), "--case-time-limit", str(LIMITS.case_s), "--jobs", "1", "--no-progress"]
    outputs = [root / f"shard{k}" for k in range(1, COUNT + 1)]
    running = [_cs7150("autograde", "assignment1", "--submissions", str(subs), "--out", str(out),
                       "--shard", f"{k}/{COUNT}", *limits) for k, out in enumerate(outputs, 1)]
    for process in running:
        stdout, stderr = process.communicate(timeout=600)
        assert process.returncode in (0, 2), stdout + stderr  # 2: some submissions had problems (forger, quitter)
    return {"root": root, "subs": subs, "whole": whole, "outputs": outputs}


def _merge(outputs, out):
    return cli.main(["merge-grades", *map(str, outputs), "--out", str(out)])


def _files(folder: Path) -> dict:
    """Every file under ``folder`` but results.json's clock field: relative path -> its content."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if path.name == "results.json":
                data = json.loads(text)
                data.pop("execution_time")
                text = json.dumps(data)
            files[path.relative_to(folder).as_posix()] = text
    return files


# the split

@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "3", "2/8/1", "-1/2", " /2", "1.5/3", ""])
def test_bad_shard_is_a_value_error_naming_it(text):
    with pytest.raises(ValueError, match=r"--shard must be K/N with whole numbers 1 <= K <= N .*got " + repr(text)):
        shards.Shard.parse(text)


def test_shards_are_disjoint_cover_the_class_and_do_not_depend_on_the_process():
    ids = [f"student{i:03d}" for i in range(300)]
    for count in (1, 2, 7):
        parts = [[s for s in ids if shards.Shard(k, count).holds(s)] for k in range(1, count + 1)]
        assert sorted(sum(parts, [])) == ids
        assert min(map(len, parts)) > 0.6 * len(ids) / count  # no shard far from its share
    code = "from autograder.output import shards; print([shards.shard_of(f'student{i:03d}', 7) for i in range(300)])"
    other = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "123"},
                           capture_output=True, text=True, check=True).stdout
    assert json.loads(other) == [shards.shard_of(s, 7) for s in ids]


def test_each_shard_grades_only_its_students_and_records_the_class(graded):
    seen = []
    for k, out in enumerate(graded["outputs"], 1):
        record = json.loads((out / shards.RECORD).read_text())
        assert record["shard"] == f"{k}/{COUNT}" and record["assignment"] == "assignment1"
        assert record["class"] == sorted(CLASS)
        assert record["students"] == sorted(s for s in CLASS if shards.shard_of(s, COUNT) == k)
        assert sorted(p.name for p in (out / report.STUDENTS).iterdir()) == record["students"]
        seen += record["students"]
    assert sorted(seen) == sorted(CLASS)


# the merge

def test_merged_shards_equal_one_unsharded_run_bit_for_bit(graded):
    merged = graded["root"] / "merged"
    assert _merge(graded["outputs"], merged) == 0
    assert (merged / "grades.csv").read_bytes() == (graded["whole"] / "grades.csv").read_bytes()
    assert _files(merged / report.STUDENTS) == _files(graded["whole"] / report.STUDENTS)
    record = json.loads((merged / shards.RECORD).read_text())
    assert record["shard"] == "1/1" and record["students"] == sorted(CLASS) and len(record["merged_from"]) == COUNT
    assert _merge(reversed(graded["outputs"]), merged) == 0  # an earlier merge is replaced, in any order
    assert (merged / "grades.csv").read_bytes() == (graded["whole"] / "grades.csv").read_bytes()
    assert [p.name for p in merged.parent.iterdir() if p.name.startswith(".merged")] == []


def _refused(graded, outputs, out, capsys) -> str:
    capsys.readouterr()
    assert _merge(outputs, out) == 1
    assert not out.exists() or not (out / "grades.csv").exists()
    assert [p.name for p in out.parent.iterdir() if ".merging-" in p.name] == []
    return capsys.readouterr().err


def test_missing_shard_is_refused_naming_its_students(graded, capsys):
    error = _refused(graded, graded["outputs"][1:], graded["root"] / "m1", capsys)
    absent = sorted(s for s in CLASS if shards.shard_of(s, COUNT) == 1)
    assert f"{len(absent)} student(s) of the class are in no output given: {', '.join(absent)}" in error
    assert f"(shard 1/{COUNT} is missing" in error and "nothing written" in error


def test_shard_given_twice_is_refused_as_overlapping(graded, capsys):
    first, second = graded["outputs"][0], graded["root"] / "shard1-copy"
    shutil.copytree(first, second, dirs_exist_ok=True)
    error = _refused(graded, [first, second, *graded["outputs"][1:]], graded["root"] / "m2", capsys)
    assert f"shard 1/{COUNT} is given 2 times" in error
    assert "graded in more than one output" in error


def test_shards_of_another_class_or_a_folder_that_is_no_shard_are_refused(graded, capsys, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(graded["outputs"][0], other)
    record = json.loads((other / shards.RECORD).read_text())
    record["class"] = record["class"] + ["late_student"]
    (other / shards.RECORD).write_text(json.dumps(record))
    error = _refused(graded, [other, *graded["outputs"][1:]], tmp_path / "m3", capsys)
    assert "the shards are not of the same class" in error
    error = _refused(graded, [graded["whole"], *graded["outputs"]], tmp_path / "m4", capsys)
    assert f"{graded['whole']}: no shard.json" in error


def test_record_that_disagrees_with_its_files_is_refused(graded, capsys, tmp_path):
    edited = tmp_path / "edited"
    shutil.copytree(graded["outputs"][0], edited)
    student = json.loads((edited / shards.RECORD).read_text())["students"][0]
    shutil.rmtree(report.student_folder(edited, student))
    lines = (edited / "grades.csv").read_text().splitlines(keepends=True)
    (edited / "grades.csv").write_text(lines[0] + "".join(l for l in lines[1:] if not l.startswith(student + ",")))
    error = _refused(graded, [edited, *graded["outputs"][1:]], tmp_path / "m5", capsys)
    assert f"grades.csv has no row for {student}" in error and f"no folder students/<id>/ for {student}" in error


def test_destination_inside_a_shard_or_not_empty_is_refused(graded, capsys, tmp_path):
    error = _refused(graded, graded["outputs"], graded["outputs"][0] / "merged", capsys)
    assert "must be outside the shards' outputs" in error
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    error = _refused(graded, graded["outputs"], busy, capsys)
    assert "is not empty and not an earlier merge's output" in error and (busy / "notes.txt").exists()


def test_empty_shard_writes_its_header_and_record(graded, tmp_path):
    count = 16
    empty = next(k for k in range(1, count + 1) if all(shards.shard_of(s, count) != k for s in CLASS))
    out = tmp_path / "empty"
    results = autograde.autograde(autograde.ClassRun("assignment1", graded["subs"], out, jobs=1, limits=LIMITS, progress=False,
                                  log=lambda m: None, shard=shards.Shard(empty, count)))
    assert results == []
    assert (out / "grades.csv").read_text() == (graded["whole"] / "grades.csv").read_text().splitlines(True)[0]
    assert json.loads((out / shards.RECORD).read_text())["students"] == []


# the command line

@pytest.mark.parametrize("argv, message", [
    (["--shard", "4/3"], "--shard must be K/N with whole numbers 1 <= K <= N (for example 2/8"),
    (["--shard", "x"], "--shard must be K/N"),
])
def test_bad_shard_on_the_command_line_is_a_clear_error(graded, capsys, argv, message):
    code = cli.main(["autograde", "assignment1", "--submissions", str(graded["subs"]),
                     "--out", str(graded["root"] / "never"), *argv])
    assert code == 1 and message in capsys.readouterr().err
    assert not (graded["root"] / "never").exists()


def test_student_outside_the_shard_is_a_clear_error(graded, capsys):
    other = 1 + shards.shard_of("reference", COUNT) % COUNT
    code = cli.main(["autograde", "assignment1", "--submissions", str(graded["subs"]), "--student", "reference",
                     "--shard", f"{other}/{COUNT}", "--out", str(graded["root"] / "never")])
    assert code == 1
    assert f"'reference' is in shard {shards.shard_of('reference', COUNT)}/{COUNT}, not {other}/{COUNT}" \
        in capsys.readouterr().err
