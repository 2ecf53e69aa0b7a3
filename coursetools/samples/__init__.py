"""Synthetic submissions, generated from the reference so that they stay in sync with it.

A sample starts from the instructor's student files (full marks) or from the
stubbed release (``blank``) and applies edits inside named solution regions:
``Edit(function, old, new)`` replaces the text ``old`` by ``new`` exactly
``count`` times within that function's region (a clear error if the reference
changed so that ``old`` no longer appears), ``Body(function, code)`` replaces
the whole region. Each sample states its expected score and the diagnosis its
feedback must contain; ``tests/autograder/test_autograde.py`` checks both.

``python -m coursetools.samples assignment1 DIR`` writes the samples of an
assignment into ``DIR`` (one folder or zip per synthetic student).
"""
from __future__ import annotations

import importlib
import shutil
import tempfile
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import config
from autograder.release import build, markers


class SampleError(RuntimeError):
    """A sample's edit no longer applies to the reference."""


@dataclass(frozen=True)
class Edit:
    function: str
    old: str
    new: str
    count: int = 1


@dataclass(frozen=True)
class Body:
    function: str
    code: str  # the new body, dedented; indented to the region here


@dataclass(frozen=True)
class Sample:
    name: str
    expected: float | None  # points earned, extra credit included; None: the submission is skipped (unsafe id)
    edits: tuple = ()
    blank: bool = False  # start from the stubbed release instead of the reference
    layout: str = "folder"  # "folder", "zip" (one wrapping folder inside), "nbgrader" (<id>/<assignment>/...)
    omit: tuple[str, ...] = ()  # student files left out
    extra: dict = field(default_factory=dict)  # extra files: relative path -> text
    diagnoses: dict = field(default_factory=dict)  # function -> text its feedback must contain
    extra_credit: float | None = None  # extra-credit points expected; None: every extra-credit point of the assignment


def _region(source: str, filename: str, function: str) -> markers.Region | None:
    for region in markers.find_regions(source, filename):
        if region.function == function:
            return region
    return None


def apply_edits(files: dict[str, str], edits) -> dict[str, str]:
    """Apply ``Edit``/``Body`` edits to {relative path: source}; raise SampleError if one does not apply."""
    files = dict(files)
    for edit in edits:
        located = [(rel, r) for rel, text in files.items() if (r := _region(text, rel, edit.function))]
        if len(located) != 1:
            raise SampleError(f"no single solution region for {edit.function} in {sorted(files)}")
        rel, region = located[0]
        lines = files[rel].splitlines(keepends=True)
        inside = "".join(lines[region.begin:region.end - 1])
        if isinstance(edit, Body):
            inside = textwrap.indent(textwrap.dedent(edit.code).strip("\n") + "\n", region.indent)
        else:
            found = inside.count(edit.old)
            if found != edit.count:
                raise SampleError(f"{edit.function} ({rel}): expected {edit.count} occurrence(s) of {edit.old!r} in "
                                  f"its solution region, found {found}; update the sample to the reference")
            inside = inside.replace(edit.old, edit.new)
        files[rel] = "".join(lines[:region.begin]) + inside + "".join(lines[region.end - 1:])
    return files


def _student_sources(assignment: config.Assignment, repo_root: Path, blank: bool) -> dict[str, str]:
    package = repo_root / config.PACKAGE_NAME
    if not blank:
        return {rel: (repo_root / rel).read_text(encoding="utf-8") for rel in assignment.student_files}
    with tempfile.TemporaryDirectory() as tmp:
        stubbed = Path(tmp) / config.PACKAGE_NAME
        build.stub_package(package, stubbed, build.stub_message(config.all_sections(assignment.name)))
        return {rel: (Path(tmp) / rel).read_text(encoding="utf-8") for rel in assignment.student_files}


def write_sample(sample: Sample, assignment: config.Assignment, dest: Path, repo_root: Path = config.REPO_ROOT) -> Path:
    """Write one sample submission under ``dest``; return the folder or zip written."""
    files = apply_edits(_student_sources(assignment, repo_root, sample.blank), sample.edits)
    files = {rel: text for rel, text in files.items() if rel not in sample.omit}
    files.update(sample.extra)
    if sample.layout == "nbgrader":
        root = dest / sample.name / assignment.name
    elif sample.layout == "zip":
        root = dest / f".{sample.name}-zip" / "my-submission"
    else:
        root = dest / sample.name
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    if sample.layout != "zip":
        return dest / sample.name
    archive = dest / f"{sample.name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(root.parent).as_posix())
    shutil.rmtree(root.parent)
    return archive


def samples_for(name: str) -> list[Sample]:
    """The samples of an assignment (``coursetools/samples/<name>.py`` defines ``SAMPLES``)."""
    return list(importlib.import_module(f"coursetools.samples.{name}").SAMPLES)


def write_samples(name: str, dest: Path, repo_root: Path = config.REPO_ROOT, only=None) -> list[Sample]:
    """Write every sample of assignment ``name`` (or those named in ``only``) into ``dest``; return them."""
    assignment = config.load(name, repo_root=repo_root)
    dest.mkdir(parents=True, exist_ok=True)
    samples = [sample for sample in samples_for(name) if only is None or sample.name in only]
    for sample in samples:
        write_sample(sample, assignment, dest, repo_root)
    return samples
