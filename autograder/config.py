"""Per-assignment grading configuration, hidden from students.

Its specification: docs/grader.md, `autograder/config.py`.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from pathlib import Path

from autograder.kinds import KINDS, KindError

AUTOGRADER_DIR = Path(__file__).resolve().parent
REPO_ROOT = AUTOGRADER_DIR.parent
PACKAGE_NAME = "cs7150"
ASSIGNMENTS_DIR = AUTOGRADER_DIR / "assignments"
COURSE_ROOT = REPO_ROOT / "assignments"

PARAM_NAMES = ("conv_param", "pool_param", "bn_param")
DTYPES = ("float64", "float32")


class ConfigError(ValueError):
    """The assignment configuration is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Case:
    """One graded call: its inputs' shapes and parameters, and its points."""

    name: str
    points: float
    spec: dict  # the case's JSON object: shapes ("x", "w"), "conv_param"/"pool_param"/"bn_param", "dtype", "ties"

    @property
    def dtype(self) -> str:
        return self.spec.get("dtype", "float64")

    @property
    def params(self) -> dict:
        """The parameter dict the function takes (conv_param, pool_param or bn_param); {} for one that takes none."""
        return next((self.spec[name] for name in PARAM_NAMES if name in self.spec), {})

    @property
    def params_name(self) -> str | None:
        """Which parameter dict the function takes: 'conv_param', 'pool_param', 'bn_param', or None."""
        return next((name for name in PARAM_NAMES if name in self.spec), None)


@dataclass(frozen=True)
class Part:
    """One graded function with its cases."""

    function: str
    kind: str
    file: str  # repo-relative student file that defines the function
    cases: tuple[Case, ...]
    cache: tuple[str, ...] | None = None
    extra_credit: bool = False  # its points are earned on top of the assignment's maximum

    @property
    def max_score(self) -> float:
        return sum(case.points for case in self.cases)

    @property
    def is_backward(self) -> bool:
        return self.kind.endswith("_backward")

    @property
    def forward(self) -> str:
        """Name of the forward function whose cache a backward part consumes."""
        return self.function.replace("backward", "forward")

    @property
    def is_naive(self) -> bool:
        return self.function.endswith("_naive")

    @property
    def outputs(self) -> tuple[str, ...]:
        return KINDS[self.kind].outputs


@dataclass(frozen=True)
class Assignment:
    """An assignment's release and grading configuration."""

    name: str
    title: str
    student_files: tuple[str, ...]
    data: tuple[str, ...] = ()
    sections: dict = field(default_factory=dict)  # function -> (notebook, section)
    parts: tuple[Part, ...] = ()
    builds_on: dict = field(default_factory=dict)  # earlier assignment -> tuple of its student files used here
    helpers: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    visibility: dict = field(default_factory=dict)  # part name -> Gradescope visibility of its test (else visible)

    @property
    def brought_files(self) -> tuple[str, ...]:
        """The student files that come from earlier assignments (``builds_on``), in order."""
        return tuple(rel for files in self.builds_on.values() for rel in files)

    @property
    def own_files(self) -> tuple[str, ...]:
        """The student files this assignment teaches (stubbed in its release)."""
        return tuple(rel for rel in self.student_files if rel not in self.brought_files)

    @property
    def max_score(self) -> float:
        """The required parts' points: the maximum every page states ("of 88")."""
        return sum(part.max_score for part in self.parts if not part.extra_credit)

    @property
    def extra_max(self) -> float:
        """The extra-credit parts' points, earned on top of ``max_score``."""
        return sum(part.max_score for part in self.parts if part.extra_credit)


VISIBILITIES = ("visible", "after_due_date", "after_published", "hidden")  # Gradescope's, for a test


def config_path(name: str, config_dir: Path = ASSIGNMENTS_DIR) -> Path:
    return Path(config_dir) / f"{name}.json"


def available(config_dir: Path = ASSIGNMENTS_DIR) -> list[str]:
    """Names of the configured assignments."""
    return sorted(path.stem for path in Path(config_dir).glob("*.json"))


def _defined_functions(path: Path) -> set[str]:
    """Top-level function names of a Python file, and ``Class.method`` for the methods of its top-level classes."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    functions = (ast.FunctionDef, ast.AsyncFunctionDef)
    return ({node.name for node in tree.body if isinstance(node, functions)}
            | {f"{node.name}.{method.name}" for node in tree.body if isinstance(node, ast.ClassDef)
               for method in node.body if isinstance(method, functions)})


def _case(part_name: str, kind: str, index: int, raw) -> Case:
    where = f"{part_name} case {index}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object, got {raw!r}")
    required, optional = KINDS[kind].required, KINDS[kind].optional
    allowed = required | optional | {"points", "dtype", "name"}
    missing, unknown = required - raw.keys(), raw.keys() - allowed
    if missing or unknown:
        raise ConfigError(f"{where}: missing keys {sorted(missing)}, unknown keys {sorted(unknown)}")
    points = raw.get("points")
    if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
        raise ConfigError(f"{where}: 'points' must be a positive number, got {points!r}")
    if raw.get("dtype", "float64") not in DTYPES:
        raise ConfigError(f"{where}: 'dtype' must be one of {DTYPES}, got {raw['dtype']!r}")
    for key in ("x", "w"):
        shape = raw.get(key)
        if key in required and not (isinstance(shape, list) and shape and all(isinstance(n, int) and n > 0 for n in shape)):
            raise ConfigError(f"{where}: {key!r} must be a shape (a list of positive ints), got {shape!r}")
    try:
        KINDS[kind].check(raw, where)
    except KindError as error:
        raise ConfigError(str(error)) from None
    name = raw.get("name") or f"case {index + 1}"
    return Case(name=name, points=points, spec=dict(raw))


def load(name: str, config_dir: Path = ASSIGNMENTS_DIR, repo_root: Path = REPO_ROOT) -> Assignment:
    """Read and check ``<config_dir>/<name>.json`` against the instructor tree at ``repo_root``.

    Raises ConfigError naming the problem (unknown kind, missing key, a
    function no student file defines, a student file that does not exist).
    """
    path = config_path(name, config_dir)
    if not path.is_file():
        raise ConfigError(f"no configuration for assignment {name!r}: {path} does not exist "
                          f"(configured: {', '.join(available(config_dir)) or 'none'})")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: invalid JSON: {error}") from None
    unknown = raw.keys() - {"title", "student_files", "data", "sections", "parts", "builds_on", "helpers", "requirements",
                            "visibility"}
    if unknown:
        raise ConfigError(f"{path}: unknown keys {sorted(unknown)}")

    student_files = tuple(raw.get("student_files", ()))
    defined = {}
    for rel in student_files:
        file_path = Path(repo_root) / rel
        if not rel.startswith(PACKAGE_NAME + "/") or not rel.endswith(".py") or not file_path.is_file():
            raise ConfigError(f"{path}: student file {rel!r} is not a .py file of the {PACKAGE_NAME}/ package")
        for function in _defined_functions(file_path):
            defined[function] = rel

    builds_on = {}
    for earlier, files in raw.get("builds_on", {}).items():
        if not (isinstance(files, list) and all(isinstance(rel, str) for rel in files)):
            raise ConfigError(f"{path}: builds_on[{earlier!r}] must be a list of student files, got {files!r}")
        outside = [rel for rel in files if rel not in student_files]
        if outside:
            raise ConfigError(f"{path}: builds_on[{earlier!r}] lists {outside}, which are not in student_files "
                              "(a file the assignment builds on is handed in again)")
        earlier_path = config_path(earlier, config_dir)
        earlier_files = json.loads(earlier_path.read_text(encoding="utf-8")).get("student_files", []) if earlier_path.is_file() else None
        if earlier_files is None or earlier == name:
            raise ConfigError(f"{path}: builds_on names {earlier!r}, which is not another configured assignment")
        if set(files) - set(earlier_files):
            raise ConfigError(f"{path}: builds_on[{earlier!r}] lists {sorted(set(files) - set(earlier_files))}, "
                              f"which are not student files of {earlier}")
        builds_on[earlier] = tuple(files)

    helpers = tuple(raw.get("helpers", ()))
    for rel in helpers:
        if not rel.startswith(PACKAGE_NAME + "/") or not rel.endswith(".py") or not (Path(repo_root) / rel).is_file():
            raise ConfigError(f"{path}: helper {rel!r} is not a .py file of the {PACKAGE_NAME}/ package")
        if rel in student_files:
            raise ConfigError(f"{path}: {rel!r} is both a helper and a student file")
    requirements = tuple(raw.get("requirements", ()))
    if not all(isinstance(package, str) and package for package in requirements):
        raise ConfigError(f"{path}: requirements must be a list of package names, got {requirements!r}")

    sections = {}
    for function, where in raw.get("sections", {}).items():
        if not (isinstance(where, list) and len(where) == 2 and all(isinstance(s, str) for s in where)):
            raise ConfigError(f"{path}: sections[{function!r}] must be [notebook, section], got {where!r}")
        sections[function] = tuple(where)

    parts = []
    for raw_part in raw.get("parts", ()):
        function, kind = raw_part.get("function"), raw_part.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{path}: part {function!r} has kind {kind!r}; known kinds: {sorted(KINDS)}")
        if function not in defined:
            raise ConfigError(f"{path}: part {function!r} is not defined at the top level of any student file {list(student_files)}")
        cases = tuple(_case(function, kind, i, c) for i, c in enumerate(raw_part.get("cases", ())))
        if not cases:
            raise ConfigError(f"{path}: part {function!r} has no cases")
        cache = raw_part.get("cache")
        unknown = raw_part.keys() - {"function", "kind", "cases", "cache", "extra_credit"}
        if unknown:
            raise ConfigError(f"{path}: part {function!r} has unknown keys {sorted(unknown)}")
        extra_credit = raw_part.get("extra_credit", False)
        if not isinstance(extra_credit, bool):
            raise ConfigError(f"{path}: part {function!r}: 'extra_credit' must be true or false, got {extra_credit!r}")
        part = Part(function, kind, defined[function], cases, tuple(cache) if cache else None, extra_credit)
        if part.is_backward and part.forward not in defined:
            raise ConfigError(f"{path}: backward part {function!r} needs {part.forward!r} in a student file")
        parts.append(part)
    if len({part.function for part in parts}) != len(parts):
        raise ConfigError(f"{path}: a function is listed in two parts")
    visibility = raw.get("visibility", {})
    for test, shown in visibility.items() if isinstance(visibility, dict) else [(None, visibility)]:
        if shown not in VISIBILITIES or not (test in defined or str(test).endswith(".ipynb")):
            raise ConfigError(f"{path}: visibility maps a part (a function, or a notebook's file name) to one of "
                              f"{', '.join(VISIBILITIES)}; got {test!r}: {shown!r}")
    return Assignment(
        name=name,
        title=raw.get("title", name),
        student_files=student_files,
        data=tuple(raw.get("data", ())),
        sections=sections,
        parts=tuple(parts),
        builds_on=builds_on,
        helpers=helpers,
        requirements=requirements,
        visibility=dict(visibility),
    )


def all_sections(current: str, config_dir: Path = ASSIGNMENTS_DIR) -> dict:
    """function -> (notebook, section) over every assignment, ``current`` taking precedence."""
    merged: dict = {}
    for name in [n for n in available(config_dir) if n != current] + [current]:
        path = config_path(name, config_dir)
        if path.is_file():
            for function, where in json.loads(path.read_text(encoding="utf-8")).get("sections", {}).items():
                merged[function] = tuple(where)
    return merged
