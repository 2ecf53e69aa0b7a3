"""The package autograder end to end on synthetic students, plus its safety rules.

One autograde run over every sample (module-scoped: each child process costs
about a second) feeds most tests; the unit tests below it need no child.
"""
import argparse
import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import autograde, config, submissions
from autograder.cli import autograde as autograde_cli
from autograder.package import static_checks
from autograder.sandbox import processes
from coursetools.samples import samples_for, write_sample, write_samples

LIMITS = autograde.Limits(wall_s=14, case_s=4, unconfined=True)  # hang_and_memory waits out 8 s of time-outs
SAMPLES = {sample.name: sample for sample in samples_for("assignment1")}

# The fields Gradescope documents for results.json (top level and per test).
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                  "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
                   "tags", "visibility", "extra_data"}


def _evil_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("cs7150/conv.py", "x = 1\n")
        zf.writestr("../../escaped.py", "print('outside')\n")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("autograde")
    subs, out = root / "submissions", root / "out"
    write_samples("assignment1", subs)
    _evil_zip(subs / "evil.zip")
    shutil.copytree(subs / "reference", subs / "bad id!")  # an unsafe student id: skipped
    (subs / "README.txt").write_text("not a submission")
    log = []
    results = autograde.autograde(autograde.ClassRun("assignment1", subs, out, jobs=2, limits=LIMITS, progress=False, log=log.append))
    return {"subs": subs, "out": out, "results": {r.student_id: r for r in results}, "log": log, "root": root}


def _feedback(graded, student: str) -> str:
    return (graded["out"] / "students" / student / "feedback.txt").read_text()


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_scores_exactly_as_expected(graded, name):
    result, sample = graded["results"][name], SAMPLES[name]
    extra = result.extra_max if sample.extra_credit is None else sample.extra_credit  # 12 unless the sample says
    assert (result.score, result.extra) == (sample.expected - extra, extra), _feedback(graded, name)
    assert (result.max_score, result.extra_max) == (88, 12)


@pytest.mark.parametrize("name", sorted(n for n, s in SAMPLES.items() if s.diagnoses))
def test_each_mistake_is_diagnosed_in_the_feedback(graded, name):
    for function, diagnosis in SAMPLES[name].diagnoses.items():
        part = next(p for p in graded["results"][name].parts if p.name == function)
        text = "\n".join([part.problem or ""] + [d for c in part.cases for d in [c.summary, *c.details]])
        assert diagnosis in text, text
        assert diagnosis in _feedback(graded, name)


def test_every_fast_conv_is_graded_on_a_batch_of_several_of_the_reference_chunks(monkeypatch):
    """A chunked loop's mistakes (``dw =`` for ``dw +=``, the sample ``dw_first_chunk``) show only when a case
    spans several of the chunks the reference goes through the batch in (``conv_fast._batch_chunks``)."""
    from autograder.package import cases
    from cs7150 import conv_fast
    chunks, batch_chunks = [], conv_fast._batch_chunks
    monkeypatch.setattr(conv_fast, "_batch_chunks", lambda N, size, *least: chunks.append(
        len(batch_chunks(N, size, *least))) or batch_chunks(N, size, *least))
    assignment = config.load("assignment1")
    for part in assignment.parts:
        if part.kind.startswith("conv") and part.function.endswith("_fast"):
            spans = []
            for index, case in enumerate(part.cases):
                chunks.clear()
                cases.reference_outputs(part, case, cases.make_inputs(assignment.name, part, index))
                spans.append(min(chunks))
            assert max(spans) >= 3, (part.function, spans)


def test_first_failure_shows_inputs_worst_element_and_both_values(graded):
    text = _feedback(graded, "bias_missing")
    assert "inputs: x (2, 3, 7, 7), w (4, 3, 3, 3), b (4,), conv_param {'stride': 1, 'pad': 1}, float64" in text
    assert "worst element out[" in text and "yours " in text and "expected " in text


def test_blank_release_scores_zero_and_says_not_implemented(graded):
    result = graded["results"]["blank"]
    assert result.score == 0 and all(p.score == 0 for p in result.parts)
    assert "not implemented yet (NotImplementedError: conv_forward_naive: implement this in cs7150/conv.py (conv_pool.ipynb, section 3))" \
        in _feedback(graded, "blank")


def test_forged_results_patched_numpy_and_sys_exit_earn_nothing(graded):
    parts = {p.name: p for p in graded["results"]["forger"].parts}
    assert parts["conv_forward_naive"].score == 0 and parts["conv_backward_naive"].score == 0
    assert "called sys.exit(0)" in _feedback(graded, "forger")
    forged = json.loads((graded["out"] / "students" / "forger" / "results.json").read_text())
    assert forged["score"] == 70


def test_os_exit_timeout_and_wall_limit_stop_only_that_submission(graded):
    assert "exit status 0" in _feedback(graded, "quitter")
    assert "timed out" in _feedback(graded, "hang_and_memory")
    assert "MemoryError" in _feedback(graded, "hang_and_memory")
    assert f"stopped at the {LIMITS.wall_s:g} s time limit" in _feedback(graded, "runaway")


def test_naive_conv_calling_torch_scores_zero_for_that_function_only(graded):
    parts = {p.name: p for p in graded["results"]["naive_torch"].parts}
    assert parts["conv_forward_naive"].score == 0
    assert "naive conv used PyTorch (import torch (line" in parts["conv_forward_naive"].problem
    assert parts["conv_backward_naive"].score == parts["conv_backward_naive"].max_score


def test_missing_and_extra_files_and_unsafe_entries(graded):
    assert "cs7150/conv_fast.py was not found in the submission" in _feedback(graded, "partial_files")
    assert graded["results"]["evil"].score == 0
    assert "evil.zip could not be opened safely" in _feedback(graded, "evil")
    assert not (graded["root"] / "escaped.py").exists()
    assert "bad id!" not in graded["results"]
    assert any("'bad id!': unsafe student id" in line for line in graded["log"])
    assert any("README.txt: not a folder or a .zip" in line for line in graded["log"])


def test_results_json_follows_gradescope_fields(graded):
    for student in graded["results"]:
        data = json.loads((graded["out"] / "students" / student / "results.json").read_text())
        assert set(data) <= GRADESCOPE_TOP
        assert isinstance(data["score"], (int, float)) and isinstance(data["execution_time"], int)
        assert isinstance(data["output"], str) and data["tests"]
        for test in data["tests"]:
            assert set(test) <= GRADESCOPE_TEST
            assert test["status"] in ("passed", "failed") and test["visibility"] == "visible"
            extra = test["name"].endswith(")") and "(extra credit, up to " in test["name"]
            up_to = float(test["name"].rsplit("up to ", 1)[1].rstrip(")")) if extra else test["max_score"]
            assert 0 <= test["score"] <= up_to and (test["max_score"] == 0) == extra  # extra credit: max 0
            assert test["status"] == ("passed" if test["score"] == up_to else "failed")
        assert sum(test["score"] for test in data["tests"]) == data["score"] == graded["results"][student].earned
        assert sum(test["max_score"] for test in data["tests"]) == data["extra_data"]["max_score"] == 88


def test_grades_csv_has_every_part_total_and_max(graded):
    with open(graded["out"] / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert set(rows) == set(graded["results"])
    for student, result in graded["results"].items():
        assert float(rows[student]["total"]) == result.score and rows[student]["max"] == "88"
        assert float(rows[student]["extra_credit"]) == result.extra
        assert sum(float(rows[student][p.name]) for p in result.parts) == result.earned


def test_every_page_states_the_total_one_way_with_the_notebook_and_written_points_pending(graded):
    """Package only (no --notebooks): 88 of 88 autograded and the extension's 12 extra-credit points as such, and
    the header's 24 notebook and 12 written points named as not graded yet, never as 0 of them."""
    statement = ("88 of 88 autograded + 12 of 12 extra credit; 24 notebook points not graded in this run; 12 written "
                 "points to be graded (total 124)")
    folder = graded["out"] / "students" / "reference"
    assert f"Score: {statement}\n" in (folder / "feedback.txt").read_text()
    assert f"Score: <b>{statement}</b>" in (folder / "feedback.html").read_text()
    results = json.loads((folder / "results.json").read_text())
    assert results["output"].splitlines()[0].endswith(f": {statement}") and results["score"] == 100
    assert (results["extra_data"]["written_pending"], results["extra_data"]["total"]) == (12, 124)
    assert (results["extra_data"]["extra_credit"], results["extra_data"]["extra_credit_max"]) == (12, 12)
    extra = [t for t in results["tests"] if t["name"].startswith("conv1d_forward_fast")]
    assert [(t["name"], t["score"], t["max_score"]) for t in extra] == [
        ("conv1d_forward_fast (cs7150/conv_fast.py) (extra credit, up to 3)", 3, 0)]
    text = (folder / "feedback.txt").read_text()
    assert "conv1d_forward_fast (cs7150/conv_fast.py): 3 / 3 extra credit\n" in text
    assert "<h2>conv1d_forward_fast: 3 / 3 extra credit</h2>" in (folder / "feedback.html").read_text()


def test_student_regrade_updates_one_row_in_place_and_is_idempotent(graded):
    out, grades = graded["out"], graded["out"] / "grades.csv"
    before = grades.read_text()
    files = {name: (out / "students" / "reference" / name).read_text() for name in ("feedback.txt", "feedback.html")}
    results_before = json.loads((out / "students" / "reference" / "results.json").read_text())
    grades.write_text(before.replace("\nreference,15,15,", "\nreference,0,0,"))
    autograde.autograde(autograde.ClassRun("assignment1", graded["subs"], out, student="reference", limits=LIMITS, progress=False))
    assert grades.read_text() == before
    assert {name: (out / "students" / "reference" / name).read_text() for name in files} == files
    results_after = json.loads((out / "students" / "reference" / "results.json").read_text())
    results_before.pop("execution_time"), results_after.pop("execution_time")
    assert results_after == results_before


@pytest.mark.parametrize("class_notebooks, regrade_notebooks", [(True, False), (False, True)])
def test_a_regrade_with_other_columns_than_the_class_file_is_refused(tmp_path, capsys, class_notebooks,
                                                                      regrade_notebooks):
    """The class graded with --notebooks and one student regraded without (or the other way round) would leave
    that student's total counting other parts than everyone else's: refused, nothing graded or written."""
    subs, out, assignment = tmp_path / "subs", tmp_path / "out", config.load("assignment1")
    write_sample(SAMPLES["reference"], assignment, subs)
    columns = autograde.grade_columns(assignment, ["conv_pool.ipynb"] if class_notebooks else [])
    out.mkdir()
    (out / "grades.csv").write_text(",".join(columns) + "\n")  # the header the class's run wrote
    before = (out / "grades.csv").read_bytes()
    parser = argparse.ArgumentParser()
    autograde_cli.configure(parser)
    args = parser.parse_args(["assignment1", "--submissions", str(subs), "--out", str(out), "--student", "reference",
                              "--unconfined", "--no-progress"] + (["--notebooks"] if regrade_notebooks else []))
    assert autograde_cli.run(args) == 1
    err = capsys.readouterr().err
    assert "conv_pool.ipynb" in err and "regrade with the options of the class's run (--notebooks or not)" in err
    assert (out / "grades.csv").read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["grades.csv"]


def test_unknown_student_is_an_error(graded):
    with pytest.raises(FileNotFoundError, match="no submission for student 'nobody'"):
        autograde.autograde(autograde.ClassRun("assignment1", graded["subs"], graded["root"] / "other", student="nobody", progress=False))


def test_cli_full_rerun_writes_identical_files(tmp_path, capsys):
    subs = tmp_path / "subs"
    assignment = config.load("assignment1")
    for name in ("reference", "bias_missing"):
        write_sample(SAMPLES[name], assignment, subs)
    parser = argparse.ArgumentParser()
    autograde_cli.configure(parser)
    args = parser.parse_args(["assignment1", "--submissions", str(subs), "--out", str(tmp_path / "out"),
                              "--jobs", "1", "--no-progress", "--unconfined"])
    outputs = []
    for _ in range(2):
        assert autograde_cli.run(args) == 0
        outputs.append({p.relative_to(tmp_path / "out").as_posix(): p.read_text()
                        for p in sorted((tmp_path / "out").rglob("*")) if p.is_file() and p.name != "results.json"})
    assert outputs[0] == outputs[1] and len(outputs[0]) == 5
    assert "reference: 88 / 88 + 12 extra credit" in capsys.readouterr().out


def test_a_grader_failure_for_one_submission_is_its_own_and_the_exit_status_says_so(tmp_path, monkeypatch, capsys):
    """A submission the grader fails on (here: grading one of its parts raises) scores 0 for that part with
    the reason; the other student is graded in full; grades.csv is written; the CLI exits 2."""
    from autograder.package import grading
    subs, assignment = tmp_path / "subs", config.load("assignment1")
    for name in ("reference", "blank"):
        write_sample(SAMPLES[name], assignment, subs)
    shutil.copytree(subs / "reference", subs / "unlucky")
    grade_part = grading.grade_part

    def failing(part, prepared, records, results, **kwargs):
        if "unlucky" in str(results) and part.function == "avg_pool_forward_naive":
            raise RecursionError("maximum recursion depth exceeded")
        return grade_part(part, prepared, records, results, **kwargs)

    monkeypatch.setattr(grading, "grade_part", failing)
    parser = argparse.ArgumentParser()
    autograde_cli.configure(parser)
    args = parser.parse_args(["assignment1", "--submissions", str(subs), "--out", str(tmp_path / "out"), "--no-progress",
                              "--time-limit", "10", "--case-time-limit", "4", "--unconfined"])
    assert autograde_cli.run(args) == autograde_cli.PROBLEMS
    captured = capsys.readouterr()
    assert "reference: 88 / 88 + 12 extra credit" in captured.out and "unlucky: 84 / 88 + 12 extra credit" in captured.out
    assert "unlucky: grading avg_pool_forward_naive: RecursionError" in captured.err
    feedback = (tmp_path / "out" / "students" / "unlucky" / "feedback.txt").read_text()
    assert "not graded: grading avg_pool_forward_naive: RecursionError" in feedback
    with open(tmp_path / "out" / "grades.csv", newline="") as file:
        assert {row["student_id"]: row["total"] for row in csv.DictReader(file)} == {
            "blank": "0", "reference": "88", "unlucky": "84"}


def test_ids_that_would_share_a_folder_are_refused_and_class_names_cannot_collide(tmp_path):
    subs = tmp_path / "subs"
    for name in ("Twin", "twin", "solo", "solo.", "nul", "grades.csv", "students"):
        (subs / name / "cs7150").mkdir(parents=True)
    found, skipped = submissions.discover(subs, "assignment1", tmp_path / "x")
    assert [s.student_id for s in found] == ["grades.csv", "students"]
    refused = {note.entry: note.why for note in skipped if note.refused}
    assert set(refused) == {"Twin", "twin", "solo", "solo.", "nul"}
    assert "share one output folder" in refused["Twin"] and "device name" in refused["nul"]
    from autograder.output import report
    assert report.student_folder(tmp_path, "grades.csv") == tmp_path / "students" / "grades.csv"


def test_a_file_pythons_parser_fails_on_cannot_be_checked():
    deep = "def conv_forward_naive(x):\n    return x\n\nDEPTH = " + "1 + " * 200_000 + "1\n"
    with pytest.raises(static_checks.Unparsable, match="RecursionError"):
        static_checks.violations(deep, "conv_forward_naive", naive=True)


# ---- units: zips, static checks ------------------------------------------------------------------

def _zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("entries, words", [
    ([("../up.py", "x", 0o644)], "outside"),
    (([("/abs.py", "x", 0o644)]), "outside"),
    ([("link", "/etc/passwd", stat.S_IFLNK | 0o777)], "symbolic link"),
    ([(f"f{i}.py", "", 0o644) for i in range(30)], "entries"),
    ([("big.bin", "0" * 5000, 0o644)], "bytes"),
])
def test_safe_extract_refuses_unsafe_archives(tmp_path, entries, words):
    archive = _zip(tmp_path / "a.zip", entries)
    with pytest.raises(submissions.UnsafeArchive, match=words):
        submissions.safe_extract(archive, tmp_path / "out", max_entries=20, max_bytes=4096)
    assert not (tmp_path / "up.py").exists()


def test_wrapped_zip_and_nbgrader_layout_are_found(tmp_path):
    subs = tmp_path / "subs"
    (subs / "s1" / "assignment1" / "cs7150").mkdir(parents=True)
    (subs / "s1" / "assignment1" / "cs7150" / "conv.py").write_text("# s1\n")
    _zip(subs / "s2.zip", [("wrapper/cs7150/conv.py", "# s2\n", 0o644), ("wrapper/inner.zip", "PK", 0o644)])
    found, skipped = submissions.discover(subs, "assignment1", tmp_path / "x")
    assert [s.student_id for s in found] == ["s1", "s2"] and not skipped
    assert [s.student_file("cs7150/conv.py").read_text() for s in found] == ["# s1\n", "# s2\n"]


@pytest.mark.parametrize("layout", ["the assignment folder", "the package folder", "a package file",
                                    "a folder deep inside", "a FIFO"])
def test_what_is_graded_is_a_private_copy_of_regular_files(tmp_path, layout):
    """A link where the submission should be (to the instructor's checkout, a classmate's files, the sources),
    at any depth, is never followed: the private copy holds only the student's regular files."""
    solved = tmp_path / "instructor" / "assignment1"
    (solved / "cs7150" / "inner").mkdir(parents=True)
    (solved / "cs7150" / "conv.py").write_text("# the reference\n")
    (solved / "cs7150" / "inner" / "x.py").write_text("# the reference\n")
    student = tmp_path / "subs" / "mallory"
    student.mkdir(parents=True)
    if layout == "the assignment folder":
        (student / "assignment1").symlink_to(solved)
    elif layout == "the package folder":
        (student / "cs7150").symlink_to(solved / "cs7150")
    elif layout == "a package file":
        (student / "cs7150").mkdir()
        (student / "cs7150" / "conv.py").symlink_to(solved / "cs7150" / "conv.py")
    elif layout == "a folder deep inside":
        (student / "cs7150").mkdir()
        (student / "cs7150" / "inner").symlink_to(solved / "cs7150" / "inner")
    else:
        (student / "cs7150").mkdir()
        os.mkfifo(student / "cs7150" / "conv.py")
    (submission,), _ = submissions.discover(tmp_path / "subs", "assignment1", tmp_path / "x")
    copied = [p for p in (tmp_path / "x").rglob("*")]
    assert not any(p.is_symlink() for p in copied) and submission.root.is_relative_to(tmp_path / "x")
    assert not any("reference" in p.read_text() for p in copied if p.is_file())
    assert submission.student_file("cs7150/conv.py") is None and submission.student_file("cs7150/inner/x.py") is None
    assert "symbolic link or special file" in " ".join(submission.notes)


def test_a_private_copy_keeps_to_the_limits_of_a_zip(tmp_path):
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "a.bin").write_bytes(b"0" * 5000)
    with pytest.raises(submissions.UnsafeArchive, match="bytes"):
        submissions.private_copy(tmp_path / "big", tmp_path / "copy", max_bytes=4096)
    assert submissions.private_copy(tmp_path / "big", tmp_path / "copy3", max_file_bytes=4096) == [
        "a.bin (larger than 0 MiB)"] and not (tmp_path / "copy3" / "a.bin").exists()
    for i in range(30):
        (tmp_path / "many" / f"d{i}").mkdir(parents=True)
    with pytest.raises(submissions.UnsafeArchive, match="entries"):
        submissions.private_copy(tmp_path / "many", tmp_path / "copy2", max_entries=20)


def test_forged_output_archives_are_refused_before_loading(tmp_path):
    import io

    import numpy as np

    from autograder.package.grading import read_outputs
    np.savez(tmp_path / "good.npz", out=np.ones((2, 3)))
    np.savez_compressed(tmp_path / "compressed.npz", out=np.ones((2, 3)))
    np.savez(tmp_path / "ints.npz", out=np.arange(3))
    header = io.BytesIO()  # claims 8 TB of float64 but stores 64 bytes
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as archive:
        archive.writestr("out.npy", header.getvalue() + bytes(64))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert read_outputs(tmp_path, "good", ["out"], 1 << 20)[0]["out"].shape == (2, 3)
    for name, words in [("compressed", "compressed"), ("ints", "not a float array"), ("huge", "not a float array"),
                        ("junk", "could not be read"), ("absent", "no outputs")]:
        arrays, problem = read_outputs(tmp_path, name, ["out"], 1 << 20)
        assert arrays is None and words in problem


def test_static_checks_follow_aliases_helpers_and_dynamic_imports():
    source = '''
import torch as T
from cs7150.conv_fast import conv_forward_fast
F = T.nn.functional


def _helper(x):
    return F.conv2d(x)


def conv_forward_naive(x):
    """Mentions torch.nn in a docstring only."""
    return _helper(x)


def conv_backward_naive(x):
    return conv_forward_fast(x)


def max_pool_forward_naive(x):
    return __import__("torch")


def avg_pool_forward_naive(x):
    return x.mean()
'''
    uses = static_checks.forbidden_uses(source)
    assert [u.what for u in uses["conv_forward_naive"]] == ["torch"]
    assert [(u.what, u.name) for u in uses["conv_backward_naive"]] == [("fast", "conv_forward_fast")]
    assert [u.what for u in uses["max_pool_forward_naive"]] == ["torch"]
    assert uses["avg_pool_forward_naive"] == []
    assert static_checks.violations(source, "conv_backward_naive", naive=False) == []


def test_reference_package_passes_the_static_checks():
    for rel in config.load("assignment1").student_files:
        assert not any(static_checks.forbidden_uses((config.REPO_ROOT / rel).read_text()).values()), rel


def test_child_runs_under_the_limits_in_a_scrubbed_environment(tmp_path, monkeypatch):
    """The preexec limits apply (a child cannot raise them back) and no parent variable leaks through."""
    monkeypatch.setenv("SECRET_TOKEN", "do-not-pass")
    probe = ("import os, resource; print(resource.getrlimit(resource.RLIMIT_AS)[1], "
             "resource.getrlimit(resource.RLIMIT_FSIZE)[1], os.environ.get('SECRET_TOKEN'))")
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True,
                            preexec_fn=processes.limit_resources(1024, 8, allow_processes=False),
                            env=processes.environment(tmp_path / "home"))
    assert result.stdout.split() == [str(1024 << 20), str(8 << 20), "None"]



def test_the_runner_reads_each_functions_inputs_only_when_its_turn_comes(tmp_path, monkeypatch):
    """A phase's plan holds each graded function's calls and inputs after the previous function's; the runner
    reads exactly one function's frames at a time (nothing read ahead), so a worker forked for a function holds
    no input of a function graded after it; the functions that are not the child's are read past."""
    import io
    import os

    import numpy as np

    from autograder.package import cases, runs
    from autograder.sandbox import runner as child
    prepared = cases.prepare(config.load("assignment1"))
    plans = runs.write_plans(prepared, tmp_path)
    assert {stat.S_IMODE(path.stat().st_mode) for path in plans.values()} == {0o600}
    naive = [pc for pc in prepared if pc.part.is_naive]
    data = plans[True].read_bytes()
    wanted = {pc.id for pc in naive if pc.part.function != naive[0].part.function}  # a restart after the first
    order = list(dict.fromkeys(pc.part.function for pc in naive))
    monkeypatch.setattr(child, "_plan", child._open_plan(str(plans[True])))
    try:
        seen = []
        for function_calls, function_inputs in child._functions(np, wanted):
            function = function_calls[0]["function"]
            own = {pc.id: pc for pc in naive if pc.part.function == function}
            assert [c["id"] for c in function_calls] == list(own) and set(own) <= wanted
            assert set(function_inputs.files) == {f"{i}__{name}" for i, pc in own.items() for name in pc.inputs}
            assert all(np.array_equal(function_inputs[f"{i}__{name}"], array)
                       for i, pc in own.items() for name, array in pc.inputs.items())
            read = os.lseek(child._plan, 0, os.SEEK_CUR)  # all the plan holds after this is still unread
            later = {pc.id for pc in naive if order.index(pc.part.function) > order.index(function)}
            assert not any(case_id.encode() in data[:read] for case_id in later)
            seen.append(function)
        assert seen == order[1:]
        assert os.read(child._plan, 1) == b""
    finally:
        os.close(child._plan)
    others = np.load(io.BytesIO(cases.inputs_by_function(prepared)[prepared[-1].part.function]))
    assert all(f"{prepared[-1].id}__{name}" in others.files for name in prepared[-1].inputs)
    assert not any(pc.id.encode() in plans[False].read_bytes() for pc in naive)

# ---- notebooks through nbgrader (slow: each notebook run takes ~25 s) ----------------------------

@pytest.mark.slow
@pytest.mark.skipif(not (config.COURSE_ROOT / "source" / "assignment1").is_dir(), reason="no assignment-1 notebooks")
def test_notebooks_are_graded_by_nbgrader_and_merged(tmp_path):
    from autograder.notebook import nbgrade as notebooks
    from autograder.release import build as release
    names = notebooks.notebook_names("assignment1")
    subs = tmp_path / "subs"
    reference = write_sample(SAMPLES["reference"], config.load("assignment1"), subs)
    for name in names:
        shutil.copy(config.COURSE_ROOT / "source" / "assignment1" / name, reference / name)
    release.release("assignment1", subs / "blank")
    results = autograde.autograde(autograde.ClassRun("assignment1", subs, tmp_path / "out", jobs=2, limits=LIMITS, progress=False,
                                  notebooks_too=True))
    by_id = {r.student_id: r for r in results}
    for name in names:
        graded = {r.student_id: next(p for p in r.parts if p.name == name) for r in results}
        assert graded["reference"].score == graded["reference"].max_score > 0
        assert graded["blank"].score == 0 and "NotImplementedError" in _feedback({"out": tmp_path / "out"}, "blank")
    assert by_id["reference"].score == by_id["reference"].max_score
    with open(tmp_path / "out" / "grades.csv", newline="") as file:
        header = next(csv.reader(file))
    assert header[-3 - len(names):] == [*names, "total", "max", "extra_credit"]


def test_a_wrong_map_is_pictured_in_the_feedback_page_and_survives_the_sanitiser(graded):
    """The first failing case of a conv or pool part carries a small PNG (expected, yours, difference) in the page."""
    page = (graded["out"] / "students" / "flipped_kernel" / "feedback.html").read_text()
    images = page.count('<img src="data:image/png;base64,')
    assert images == 1, f"expected one picture (the first failing case of conv_forward_naive), found {images}"
    png = page.split('<img src="data:image/png;base64,')[1].split('"')[0]
    assert len(png) < 16_000, f"the picture is {len(png)} base64 characters; a few KB expected"
    result = graded["results"]["flipped_kernel"]
    pictured = [(part.name, case.name) for part in result.parts for case in part.cases if case.picture]
    assert pictured == [("conv_forward_naive", result.parts[0].cases[0].name)], pictured
    reference = (graded["out"] / "students" / "reference" / "feedback.html").read_text()
    assert "<img" not in reference, "a submission that passes gets no pictures"
