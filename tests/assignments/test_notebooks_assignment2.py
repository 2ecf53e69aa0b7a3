"""Assignment 2 (LeNet-5 on MNIST): the source notebook in grading and student mode, its nbgrader metadata, points and release.

The generic checks run for every notebook in ``tests/assignments/test_notebooks.py``: nbgrader's metadata rules, the points
adding up to the header's total, a clean run in grading mode (no error, no stderr, no value at the end of a grade
cell), ``nbgrader generate_assignment`` and the student release. Here, what is
particular to this notebook: every autograded test cell passes its tests with the reference solutions in both modes, and the cells print what
the assignment promises (the lecture's table with 1,256,080 parameters, one results table with the baselines
and every variant, conv1 filters that left their random start (as Q4's reference answer says), a timing table that
compares like with like (the step with the step, conv2 with conv2) with spreads and whose GPU row says "no GPU"
without one, the parts of the student's conv2, the figures), and that the batch-norm graph exercise checks out.

The notebook runs once per session: ``execute`` is memoized, so this file and ``tests/assignments/test_notebooks.py`` share one run.
"""
from __future__ import annotations

import re

import pytest
import torch

from nbtools import COURSE, MODES, cell_name, error_text, execute, is_autograded_test, is_grade, nbgrader_meta, outputs, read

ASSIGNMENT = "assignment2"
NOTEBOOK = COURSE / "source" / ASSIGNMENT / "lenet5.ipynb"
TOTAL_POINTS = 76  # its grade cells: 56 autograded, 20 written (the 47 package points of sections 4a, 4b and 6 come from the package grader)
MODELS_IN_TABLE = ("chance", "linear", "lenet5", "lenet5-avgpool", "lenet5-norelu", "lenet5-k3", "lenet5-nopad",
                   "lenet5-bn")
MIN_FIGURES = 8  # digits, training curves, results bars, filters, feature maps, confusion matrix, mistakes, templates


def stdout_of(cell) -> str:
    return "".join(o.text for o in outputs(cell, "stream", "stdout"))


def cell_with_id(nb, grade_id):
    """The cell whose nbgrader grade_id is ``grade_id``."""
    return next(cell for cell in nb.cells if nbgrader_meta(cell).get("grade_id") == grade_id)


def test_total_points():
    nb = read(NOTEBOOK)
    points = sum(nbgrader_meta(cell)["points"] for cell in nb.cells if is_grade(cell))
    assert points == TOTAL_POINTS, f"grade cells are worth {points} points, expected {TOTAL_POINTS}"


@pytest.fixture(scope="module", params=MODES)
def executed(request, kernel_env):
    """The source notebook run top to bottom in grading mode, then in student mode: the notebook with its outputs."""
    return execute(NOTEBOOK, mode=request.param)


@pytest.mark.slow
def test_every_autograded_test_cell_passes(executed):
    nb = executed
    tests = [(index, cell) for index, cell in enumerate(nb.cells) if is_autograded_test(cell)]
    assert len(tests) >= 10, f"only {len(tests)} autograded test cells"
    failed = [f"{cell_name(i, c)}: {error_text(outputs(c, 'error')[0])}" for i, c in tests if outputs(c, "error")]
    assert not failed, "\n".join(failed)
    silent = [cell_name(i, c) for i, c in tests if not stdout_of(c).strip()]
    assert not silent, f"test cells that print nothing (students see no confirmation): {silent}"


@pytest.mark.slow
def test_prints_the_lecture_table_the_results_and_the_timings(executed):
    nb = executed
    summary = stdout_of(cell_with_id(nb, "test_lenet5"))
    for text in ("Conv (C_out=20, K=5, P=2, S=1)", "50 x 7 x 7", "Linear (2450 -> 500)", "1,256,080",
                 "4,900,000", "6,522,000"):  # conv2's and the network's multiply-adds, as Q3's reference answer quotes
        assert text in summary, f"summarize's table lacks {text!r}:\n{summary}"

    results = stdout_of(cell_with_id(nb, "results_table"))
    rows = {line.split()[0] for line in results.splitlines() if line.strip()}
    missing = [name for name in MODELS_IN_TABLE if name not in rows]
    assert not missing, f"the results table lacks {missing}:\n{results}"
    order = [line.split()[0] for line in results.splitlines() if line.split() and line.split()[0] in MODELS_IN_TABLE]
    assert order[:2] == ["chance", "linear"], f"baselines first, got {order}"
    table = results.split("difference from LeNet-5")[0]  # the table, without the lines of differences under it
    spreads = [line for line in table.splitlines() if line.split() and line.split()[0] in MODELS_IN_TABLE]
    assert len(spreads) == len(MODELS_IN_TABLE), f"one row per model expected:\n{results}"
    assert all(len(re.findall(r"\d+\.\d\d \+- \d+\.\d\d%", line)) == 1 for line in spreads), \
        f"every row needs its held-out mean +- standard deviation over the seeds:\n{results}"
    assert all(len(line.split("%")[-1].split()) >= 3 for line in spreads), f"fewer than three seeds per row:\n{results}"

    timings = stdout_of(cell_with_id(nb, "timing"))
    assert "NumPy twin" in timings and "PyTorch" in timings, timings
    like_with_like = [line.split()[0] for line in timings.splitlines() if re.search(r"\bCPU\s+(step|conv2)\b", line)]
    assert like_with_like == ["NumPy", "PyTorch", "your", "PyTorch"], \
        f"the whole step and conv2 alone, each yours against PyTorch's on the CPU:\n{timings}"
    assert len(re.findall(r"\d+\.\d to \d+\.\d", timings)) >= 4, f"every CPU row needs its spread:\n{timings}"
    parts = stdout_of(cell_with_id(nb, "conv2_parts"))
    for part in ("im2col", "w @ cols", "dout @ cols.T", "col2im", "the rest"):
        assert part in parts, f"the parts of conv2 lack {part!r}:\n{parts}"
    gpu_row = [line for line in timings.splitlines() if line.startswith("PyTorch") and "CPU" not in line]
    assert len(gpu_row) == 1, f"expected one GPU row:\n{timings}"
    if not torch.cuda.is_available():
        assert "no GPU" in gpu_row[0], f"without a GPU the GPU row must say so: {gpu_row[0]!r}"


@pytest.mark.slow
def test_batchnorm_graph_pass_agrees_with_pytorch_and_the_simplified_pass(executed):
    graph = stdout_of(cell_with_id(executed, "check_batchnorm_graph"))
    assert "checks passed" in graph, graph
    simplified = stdout_of(cell_with_id(executed, "check_batchnorm_backward"))
    assert "your graph pass's" in simplified and "graph" in simplified.splitlines()[-1], simplified


@pytest.mark.slow
def test_draws_the_figures(executed):
    nb = executed
    figures = sum("image/png" in o.get("data", {}) for cell in nb.cells for o in cell.get("outputs", []))
    assert figures >= MIN_FIGURES, f"{figures} figures, expected at least {MIN_FIGURES}"


SMALL_START = re.compile(r"^conv1 filters vs their initialisation: median correlation (-?\d+\.\d\d)$", re.M)
DEFAULT_START = re.compile(r"^section 2's LeNet-5 \(PyTorch's initial scale\): median correlation (-?\d+\.\d\d)$", re.M)


@pytest.mark.slow
def test_small_start_filters_leave_their_initialisation(executed):
    """Q4's reference answer: section 2's conv1 stays above 0.95 of its start, the small-start one ends below 0.5."""
    printed = "".join(stdout_of(cell) for cell in executed.cells)
    small, default = SMALL_START.findall(printed), DEFAULT_START.findall(printed)
    assert len(small) == 1 and len(default) == 1, f"expected one line of each, found {small} and {default}"
    assert float(small[0]) < 0.5, f"the small-start filters still correlate {small[0]} with their start"
    assert float(default[0]) > 0.95, f"section 2's filters correlate {default[0]} with their start (Q4 says above 0.95)"


ANSWER_NUMBER = re.compile(r"\b(chance|linear|lenet5(?:-\w+)?)\s+(\d+\.\d\d) \+- (\d+\.\d\d)%")
TABLE_ROW = re.compile(r"^(\S+) .* (\d+\.\d\d) \+- (\d+\.\d\d)%", re.M)


@pytest.mark.slow
def test_reference_answers_quote_the_student_budget_table(executed):
    """Q1's and Q2's reference numbers are the student-budget table's: means within 0.3 points, spreads within 0.3
    (other thread counts sum in another order, so the last digits may differ from the reference run's)."""
    if not any("(your budget)" in stdout_of(cell) for cell in executed.cells):
        pytest.skip("the reference answers quote the student budget's run")
    table = {name: (float(mean), float(std)) for name, mean, std in TABLE_ROW.findall(stdout_of(cell_with_id(executed, "results_table")))}
    quoted = [match for grade_id in ("q1_baselines", "q2_variants")
              for match in ANSWER_NUMBER.findall(cell_with_id(executed, grade_id).source)]
    assert {name for name, *_ in quoted} >= set(MODELS_IN_TABLE), f"Q2's answer must quote every row: {quoted}"
    far = [(name, mean, std, table[name]) for name, mean, std in quoted
           if abs(float(mean) - table[name][0]) > 0.3 or abs(float(std) - table[name][1]) > 0.3]
    assert not far, f"reference answers quote numbers this run does not reproduce (answer, then run): {far}"
