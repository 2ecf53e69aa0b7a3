"""Disruption variants (``tests/corpus/disruption.py``): the blank release with one disruptive cell or one
disruptive module-level statement scores no more than the blank release, test cell by test cell.

Each variant is graded by ``cs7150 autograde --notebooks`` (``autograde.autograde`` with ``notebooks_too``), in
one run per assignment beside the blank release, with a short per-cell timeout: the executor's record and the
feedback filters' proof are checked as on any run. Fast subset (``disruption.FAST``) in ``make test``; every
variant of both assignments with ``-m slow`` (``make attack``), which also writes the variants' table into
``docs/attack-table.md``.
"""
from __future__ import annotations

import dataclasses

import pytest

from autograder import config
from autograder.sandbox import isolation
from corpus import CORPORA, update_table
from corpus import disruption as d

TABLE = config.REPO_ROOT / "docs" / "attack-table.md"
FAST = [v for name in CORPORA for v in d.variants(name) if v.fast]


def _limits():
    """The run's limits: the jail where there is one; elsewhere the kernels run unconfined (these variants are this
    project's own code), which changes nothing of what a variant must score."""
    return d.LIMITS if isolation.supported() else dataclasses.replace(d.LIMITS, unconfined=True)


def _problems(run) -> list[str]:
    blank = run.results.get(d.BLANK)
    if blank is None:
        return ["the blank release was not graded"]
    problems = [f"the blank release's notebook was not graded: {part.problem}" for part in blank.parts
                if part.name.endswith(".ipynb") and part.problem]
    for variant in run.variants:
        result = run.results.get(variant.name)
        if result is None:
            problems.append(f"{variant.name}: no result")
            continue
        problems += [f"{variant.name}: {line}" for line in d.excess(blank, result)]
    return problems


# ---- the generator -------------------------------------------------------------------------------

def test_every_variant_holds_exactly_one_disruption_where_it_says(blank_release1, tmp_path):
    """A variant differs from the blank release by one cell (at its position) or one statement (in its file)."""
    import json

    [(nb_name, blank)] = blank_release1.notebooks.items()
    blank_folder = d.write_blank(blank_release1, "blank", tmp_path)
    for variant in d.variants("assignment1"):
        folder = d.write_variant(variant, tmp_path, blank_release1)
        changed = json.loads((folder / nb_name).read_text(encoding="utf-8"))
        files = {p.relative_to(folder).as_posix() for p in folder.rglob("*.py")}
        assert files == {p.relative_to(blank_folder).as_posix() for p in blank_folder.rglob("*.py")}
        differing = [rel for rel in sorted(files)
                     if (folder / rel).read_text(encoding="utf-8") != (blank_folder / rel).read_text(encoding="utf-8")]
        if variant.kind == "notebook":
            at = d.insertion_index(blank, variant.position)
            assert changed["cells"][at]["source"] == variant.code and not differing
            assert changed["cells"][:at] + changed["cells"][at + 1:] == blank["cells"]
        else:
            assert changed == blank and differing == [d.student_file("assignment1", variant.position)]
            assert (folder / differing[0]).read_text(encoding="utf-8").endswith(variant.code)


def test_positions_are_after_setup_in_the_middle_and_before_the_last_test(blank_release1):
    nb = blank_release1.notebooks["conv_pool.ipynb"]
    grade_ids = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in nb["cells"]]
    assert grade_ids[d.insertion_index(nb, "after_setup") - 1] == "setup"
    assert grade_ids[d.insertion_index(nb, "before_last_test")] == "test_fc_to_conv"
    assert grade_ids[d.insertion_index(nb, "middle")] == "test_counting"
    with pytest.raises(ValueError, match="position must be one of"):
        d.insertion_index(nb, "nowhere")
    with pytest.raises(ValueError, match="grade_id 'setup'"):
        d.insertion_index({"cells": []}, "middle")


# ---- graded --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fast_run(tmp_path_factory, blank_release1):
    [name] = {v.assignment for v in FAST}
    return d.grade_variants(name, FAST, tmp_path_factory.mktemp("disruption"), limits=_limits(),
                            blank=blank_release1 if name == "assignment1" else None)


@pytest.mark.slow
def test_fast_variants_score_no_more_than_the_blank_release(fast_run):
    assert not _problems(fast_run)


@pytest.mark.slow
def test_a_test_cell_after_the_kernel_died_fails_saying_so(fast_run):
    """Where the kernel died, the feedback says which test cells did not run and why."""
    died = fast_run.results["notebook_exit_after_setup"]
    [notebook] = [part for part in died.parts if part.name.endswith(".ipynb")]
    assert notebook.cases and all("not run: the kernel died at cell" in case.summary for case in notebook.cases)


@pytest.mark.slow
def test_a_hang_is_reported_as_a_time_out_not_as_changed_test_cells(fast_run):
    hung = fast_run.results["notebook_hang_before_last_test"]
    [notebook] = [part for part in hung.parts if part.name.endswith(".ipynb")]
    assert notebook.problem is None, notebook.problem
    assert notebook.cases and all("did not stop when interrupted" in case.summary
                                  for case in notebook.cases if "not run" in case.summary), notebook.cases


def _slow_selected(config_) -> bool:
    expression = config_.getoption("markexpr") or ""
    return "slow" in expression and "not slow" not in expression


@pytest.mark.slow
def test_every_variant_of_every_assignment_and_its_table(request, tmp_path):
    """Every variant of both assignments; writes the variants' table into docs/attack-table.md."""
    if not _slow_selected(request.config):
        pytest.skip("every disruption variant runs with -m slow (make attack)")
    runs = [d.grade_variants(name, d.variants(name), tmp_path / name, limits=_limits()) for name in CORPORA]
    update_table(TABLE, "disruption", d.disruption_table(runs, "pytest -m slow tests/autograder/test_disruption.py"))
    assert not [p for run in runs for p in _problems(run)], "\n".join(p for run in runs for p in _problems(run))
