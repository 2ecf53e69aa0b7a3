"""Build a student release of an assignment from the instructor tree, as its manifest lists.

Its specification: docs/grader.md, `autograder/release/build.py`.
"""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from autograder import config
from autograder.notebook import nbgrader_course
from autograder.output import points
from autograder.release import markers, student_readme

IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".DS_Store"}
IGNORED = shutil.ignore_patterns(*IGNORED_NAMES, "*.pyc", "*.egg-info")


MANIFEST = "release.json"  # what cs7150.handin reads; also marks the folder as a release of its assignment


class ReleaseError(RuntimeError):
    """The release could not be built; nothing was changed at the destination."""


def stub_message(sections: dict, rel: str | None = None):
    """Return ``message(function, file=rel) -> str`` for the stubs of a student file.

    ``sections`` maps a function (or a class, for its methods) to ``(notebook, section)``;
    ``file`` is the repo-relative file the code goes in.
    """

    def message(function: str, file: str | None = rel) -> str:
        where = sections.get(function, sections.get(function.split(".")[0]))
        place = f"implement this in {file}" if file else "implement this"
        if where is None:
            return f"{function}: {place} (see its docstring)"
        notebook, section = where
        return f"{function}: {place} ({notebook}, section {section})"

    return message


def stub_file(source: Path, dest: Path, rel: str, sections: dict) -> list[markers.Region]:
    """Write ``source`` to ``dest`` with every solution region stubbed; return the regions replaced."""
    text, regions = markers.stub_source(source.read_text(encoding="utf-8"), str(source), stub_message(sections, rel))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return regions


def stub_package(source: Path, dest: Path, message) -> list[tuple[str, markers.Region]]:
    """Copy the whole package ``source`` to ``dest`` with every solution region stubbed (the grader's template).

    ``message`` is a ``stub_message``; each stub names its file. Returns
    ``(relative file, region)`` for every region replaced. Raises MarkerError
    for a malformed region, ReleaseError for marker text in a non-Python file.
    """
    shutil.copytree(source, dest, ignore=IGNORED)
    stubbed = []
    for path in sorted(dest.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(dest.parent).as_posix()
        if path.suffix != ".py":
            if any(text.encode() in path.read_bytes() for text in nbgrader_course.DELIMITERS):
                raise ReleaseError(f"{rel}: solution markers in a non-Python file cannot be stubbed")
            continue
        new_source, regions = markers.stub_source(path.read_text(encoding="utf-8"), str(source.parent / rel),
                                                  lambda function, rel=rel: message(function, rel))
        if regions:
            path.write_text(new_source, encoding="utf-8")
            stubbed.extend((rel, region) for region in regions)
    return stubbed


def copy_helper(source: Path, dest: Path, rel: str) -> None:
    """Copy a helper file as it is; ReleaseError if it holds a solution region."""
    text = source.read_text(encoding="utf-8")
    regions = markers.find_regions(text, str(source))
    if regions:
        names = ", ".join(region.function for region in regions)
        raise ReleaseError(f"{rel} is listed as a helper but holds solution regions ({names}): a file with "
                           "solution regions ships only as a student file of its assignment")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)


def _guarded(node, parents) -> bool:
    """Whether an import sits in a ``try`` that handles ImportError or ModuleNotFoundError."""
    for parent in parents:
        if isinstance(parent, ast.Try) and node not in parent.handlers:
            for handler in parent.handlers:
                caught = handler.type
                names = [n.id for n in (caught.elts if isinstance(caught, ast.Tuple) else [caught]) if isinstance(n, ast.Name)]
                if {"ImportError", "ModuleNotFoundError"} & set(names):
                    return True
    return False


def imported_modules(source: str, filename: str) -> set[str]:
    """Every module ``source`` imports (``"cs7150.conv"``, ``"numpy"``), imports guarded by ImportError left out.

    ``from cs7150 import x`` counts as ``cs7150.x`` (a module of the package, or a name that needs ``__init__``).
    """
    tree = ast.parse(source, filename=filename)
    found, stack = set(), [(tree, [])]
    while stack:
        node, parents = stack.pop()
        for child in ast.iter_child_nodes(node):
            stack.append((child, [*parents, node]))
        if isinstance(node, ast.Import) and not _guarded(node, parents):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and not _guarded(node, parents):
            if node.module == config.PACKAGE_NAME:
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return found


def package_imports(source: str, filename: str, package: str = config.PACKAGE_NAME) -> set[str]:
    """The modules of ``package`` that ``source`` imports (see ``imported_modules``)."""
    return {module for module in imported_modules(source, filename) if module.split(".")[0] == package}


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_by(requirements) -> set[str]:
    """The distributions that installing ``requirements`` brings, as this environment has them (normalized names).

    Follows each distribution's own requirements (environment markers kept, extras left out).
    """
    found, stack = set(), [_distribution(name) for name in requirements]
    while stack:
        name = stack.pop()
        if name in found:
            continue
        found.add(name)
        try:
            needs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        stack += [_distribution(re.split(r"[\s;<>=!~\[(]", need, maxsplit=1)[0]) for need in needs if "extra ==" not in need]
    return found


def missing_requirements(sources: dict[str, str], requirements) -> list[str]:
    """``"file imports module (distribution) ..."`` for each third-party import the release's requirements do not install."""
    providers = metadata.packages_distributions()
    installed = installed_by(requirements)
    problems = []
    for rel, code in sources.items():
        for top in sorted({module.split(".")[0] for module in imported_modules(code, rel)}):
            if top in sys.stdlib_module_names or top in (config.PACKAGE_NAME, "__future__"):
                continue
            distributions = providers.get(top, [])
            if not any(_distribution(d) in installed for d in distributions):
                what = distributions[0] if distributions else "no installed distribution"
                problems.append(f"{rel} imports {top} ({what}), which the release's requirements do not install")
    return problems


def notebook_code(path: Path) -> str:
    """The code cells of a notebook as one Python source (IPython's ``%`` and ``!`` lines left out)."""
    lines = []
    for source, kind, _ in _notebook_cells(path):
        if kind == "code":
            lines += [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines) + "\n"


def missing_imports(sources: dict[str, str], present: set[str], repo_root: Path) -> list[str]:
    """``"file imports module"`` for each package module imported by ``sources`` (file -> code) but not in ``present``.

    ``present`` holds repo-relative paths (``cs7150/conv.py``); a name that is
    not a module file of the instructor's package (an attribute of
    ``__init__``) needs only ``cs7150/__init__.py``.
    """
    problems = []
    for rel, code in sources.items():
        for module in sorted(package_imports(code, rel)):
            path = module.replace(".", "/") + ".py"
            needed = path if (Path(repo_root) / path).is_file() else f"{module.split('.')[0]}/__init__.py"
            if needed not in present:
                problems.append(f"{rel} imports {module}, which the release does not ship ({needed})")
    return problems


def generate_notebooks(name: str, course_root: Path, dest: Path, gradebook: Path | None = None) -> list[str]:
    """Run ``nbgrader generate_assignment`` on a temporary course copy; copy its output to ``dest``.

    With ``gradebook`` (an nbgrader SQLite gradebook, the course's ``gradebook.db``) nbgrader records the
    assignment, its notebooks and their graded cells there, as its own ``generate_assignment`` in the course
    does, so ``nbgrader autograde``, formgrader and the exchange find it; nothing else of the course is touched
    (its ``release/`` folder is written by ``release``, whole). Without, no gradebook is written.

    Returns the released files (relative paths). Does nothing when the course
    has no ``source/<name>/`` folder.
    """
    if not (course_root / "source" / name).is_dir():
        return []
    with tempfile.TemporaryDirectory(prefix="cs7150-nbgrader-") as tmp:
        try:
            released = nbgrader_course.generate(name, course_root, Path(tmp), (course_root / "nbgrader_config.py").read_text(
                encoding="utf-8"), gradebook if gradebook is not None else False)
        except nbgrader_course.NbgraderError as error:
            raise ReleaseError(str(error)) from None
        shutil.copytree(released, dest, dirs_exist_ok=True, ignore=IGNORED)
        return sorted(p.relative_to(released).as_posix() for p in released.rglob("*") if p.is_file())


def _code_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines() if line.strip()}


def _notebook_cells(path: Path) -> list[tuple[str, str, bool]]:
    """(source, cell type, is a written-answer solution cell) for each cell of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return [("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"], cell["cell_type"],
             cell["cell_type"] == "markdown" and cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))
            for cell in cells]


def _split_cell(text: str) -> tuple[list[str], list[str]]:
    """(lines inside solution/hidden-test regions, lines outside them) of a notebook cell."""
    starts = {nbgrader_course.COMMENT + begin: nbgrader_course.COMMENT + end
              for begin, end in (nbgrader_course.SOLUTION, nbgrader_course.HIDDEN_TESTS)}
    inside, outside, closing = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if closing is None and stripped in starts:
            closing = starts[stripped]
        elif stripped == closing:
            closing = None
        else:
            (inside if closing else outside).append(line)
    return inside, outside


def secret_lines(repo_root: Path, course_root: Path, name: str, shipped_reference=()) -> set[str]:
    """Stripped lines that must not appear in a release.

    Non-trivial lines (10+ characters, not comments) of every solution region
    of the package and of the assignment's notebooks, of the notebooks' hidden
    tests and written-answer cells, and of the hidden ``autograder/`` files,
    minus the lines that also appear outside those regions in the package or
    the notebooks (code and text students are given), and minus the lines of
    ``shipped_reference`` (repo-relative files released with their solutions).
    """
    package = repo_root / config.PACKAGE_NAME
    secret, given = set(), set()
    for path in sorted(package.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        inside = set()
        for region in markers.find_regions(text, str(path)):
            inside.update(range(region.begin, region.end + 1))
        if path.relative_to(repo_root).as_posix() in shipped_reference:
            given |= _code_lines(text)
            continue
        secret |= _code_lines("\n".join(lines[i - 1] for i in sorted(inside)))
        given |= _code_lines("\n".join(line for i, line in enumerate(lines, 1) if i not in inside))
    for path in sorted((course_root / "source" / name).rglob("*.ipynb")):
        for cell, _, written_answer in _notebook_cells(path):
            if written_answer:  # nbgrader replaces the whole cell
                secret |= _code_lines(cell)
                continue
            inside, outside = _split_cell(cell)
            secret |= _code_lines("\n".join(inside))
            given |= _code_lines("\n".join(outside))
    autograder_dir = repo_root / "autograder"
    for path in sorted(autograder_dir.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".json") and "__pycache__" not in path.parts:
            secret |= _code_lines(path.read_text(encoding="utf-8"))
    return {line for line in secret - given if len(line) >= 10 and not line.startswith("#")}


def release_lines(release_dir: Path) -> dict[str, set[str]]:
    """Stripped lines of every text file of a release (notebooks: their cells' sources)."""
    found = {}
    for path in sorted(release_dir.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(release_dir).as_posix()
        if path.suffix == ".ipynb":
            found[rel] = _code_lines("\n".join(source for source, _, _ in _notebook_cells(path)))
        else:
            try:
                found[rel] = _code_lines(path.read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                continue  # binary data (images, IDX files)
    return found


def find_leaks(release_dir: Path, secret: set[str]) -> list[str]:
    """``"file: line"`` for each secret line or marker text found in the release."""
    leaks = []
    for rel, lines in release_lines(release_dir).items():
        for line in sorted(lines):
            if line in secret or any(text in line for text in nbgrader_course.DELIMITERS):
                leaks.append(f"{rel}: {line}")
    return leaks


def _own_files(folder: Path, name: str) -> set[str] | None:
    """The files a previous release of ``name`` in ``folder`` wrote, or None when ``folder`` is not one."""
    manifest = folder / MANIFEST
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("assignment") != name:
        return None
    return {MANIFEST, f"{name}_submission.zip", *recorded.get("files", [])}


def check_destination(out: Path, name: str) -> None:
    """Refuse ``out`` unless it is absent, empty, or a previous release of ``name`` holding only its own files.

    Caches (``__pycache__``, ``.ipynb_checkpoints``...) count as the release's own.
    """
    if not out.exists():
        return
    if not out.is_dir() or out.is_symlink():
        raise ReleaseError(f"{out} exists and is not a folder: choose another --out")
    found = sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                   if (p.is_file() or p.is_symlink()) and not set(p.relative_to(out).parts) & IGNORED_NAMES)
    if not found:
        return
    own = _own_files(out, name)
    if own is None:
        shown = ", ".join(found[:5]) + (", ..." if len(found) > 5 else "")
        raise ReleaseError(f"{out} is not empty and is not a release of {name} ({len(found)} files: {shown}); "
                           "releasing there would replace them: choose an empty or new folder with --out")
    foreign = [rel for rel in found if rel not in own]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise ReleaseError(f"{out} holds a release of {name} and {len(foreign)} files that are not part of it "
                           f"({shown}); move them away first, or release into another folder with --out")


def student_requirements(names, repo_requirements: Path) -> str:
    """The release's requirements.txt: each named package at the version pinned in ``repo_requirements``."""
    pins = {}
    for line in repo_requirements.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#")[0].strip()
        if "==" in requirement:
            package = requirement.split("==")[0].strip()
            pins[package.lower()] = requirement
    unpinned = [package for package in names if package.lower() not in pins]
    if unpinned:
        raise ReleaseError(f"requirements {unpinned} are not pinned in {repo_requirements}")
    lines = ["# What this assignment needs, at the versions it was tested with (Python 3.11 or newer).",
             "# Install into a virtual environment: python -m pip install -r requirements.txt",
             "# On Google Colab install nothing: its own NumPy, PyTorch and Matplotlib work (see README.md).",
             *(pins[package.lower()] for package in names)]
    return "\n".join(lines) + "\n"


def _swap_into_place(built: Path, dest: Path) -> None:
    """Replace ``dest`` by ``built`` with two renames on the same filesystem."""
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.rename(dest, old)
    os.rename(built, dest)
    if old is not None:
        shutil.rmtree(old)


def release(name: str, out: Path | None = None, repo_root: Path = config.REPO_ROOT,
            course_root: Path | None = None, config_dir: Path = config.ASSIGNMENTS_DIR,
            with_reference: bool = False, gradebook: Path | None = None) -> Path:
    """Build the student release of assignment ``name`` into ``out`` and return ``out``.

    ``out`` defaults to ``<course_root>/release/<name>``; ``course_root``
    defaults to ``<repo_root>/assignments``. ``with_reference`` ships the
    instructor's reference of the files the assignment builds on (``builds_on``)
    instead of leaving them for the students to bring. ``gradebook`` (the
    course's ``gradebook.db``) also records the assignment in nbgrader's
    gradebook (``generate_notebooks``), once every check of the release has
    passed and just before it is moved into place, so nbgrader's own commands
    work on it beside the full release; nbgrader refuses (a ReleaseError,
    ``out`` as it was) to change the graded cells of an assignment with
    submissions in it.
    Raises ConfigError
    (``points.PointsMismatch`` when the notebook header's points differ from
    the configuration), MarkerError or ReleaseError without touching ``out``.
    """
    repo_root = Path(repo_root)
    course_root = Path(course_root) if course_root else repo_root / "assignments"
    assignment = config.load(name, config_dir, repo_root)
    points.check(assignment, course_root / "source" / name, config_dir)
    out = Path(out) if out else course_root / "release" / name
    check_destination(out, name)
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        notebooks = generate_notebooks(name, course_root, built)
        sections = config.all_sections(name, config_dir)
        reference = assignment.brought_files if with_reference else ()
        for rel in assignment.helpers:
            copy_helper(repo_root / rel, built / rel, rel)
        functions = {rel: [region.function for region in stub_file(repo_root / rel, built / rel, rel, sections)]
                     for rel in assignment.own_files}
        for rel in reference:
            (built / rel).parent.mkdir(parents=True, exist_ok=True)
            text = (repo_root / rel).read_text(encoding="utf-8")
            (built / rel).write_text(markers.unmark_source(text, rel), encoding="utf-8")
        package = [*assignment.helpers, *assignment.own_files, *reference]
        sources = {rel: (repo_root / rel).read_text(encoding="utf-8") for rel in [*package, *assignment.brought_files]}
        sources |= {nb: notebook_code(course_root / "source" / name / nb) for nb in notebooks if nb.endswith(".ipynb")}
        present = {*package, *assignment.brought_files}
        problems = missing_imports(sources, present, repo_root)
        if package and f"{config.PACKAGE_NAME}/__init__.py" not in present:
            problems.append(f"the release ships {config.PACKAGE_NAME}/ files without {config.PACKAGE_NAME}/__init__.py")
        requirements = missing_requirements(sources, assignment.requirements)
        if requirements:
            raise ReleaseError(f"{name}: add the packages to \"requirements\" in {config.config_path(name, config_dir)}, "
                               "or remove the import:\n  " + "\n  ".join(requirements))
        if problems:
            raise ReleaseError(f"{name}: add these to \"helpers\" (or \"student_files\") in "
                               f"{config.config_path(name, config_dir)}, or remove the import:\n  " + "\n  ".join(problems))
        for rel in assignment.data:
            source = repo_root / rel
            if source.is_dir():
                shutil.copytree(source, built / rel, ignore=IGNORED)
            elif source.is_file():
                (built / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, built / rel)
            else:
                raise ReleaseError(f"data path {rel!r} listed for {name} does not exist in {repo_root}")
        (built / "requirements.txt").write_text(
            student_requirements(assignment.requirements, repo_root / "requirements.txt"), encoding="utf-8")
        notebook_files = [nb for nb in notebooks if nb.endswith(".ipynb")]
        (built / "README.md").write_text(
            student_readme.render(assignment, notebook_files, functions, sections, with_reference), encoding="utf-8")
        files = sorted(p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file())
        manifest = {
            "assignment": name,
            "notebooks": notebook_files,
            "handin": [*notebook_files, *assignment.student_files],
            "builds_on": {earlier: list(brought) for earlier, brought in assignment.builds_on.items()},
            "reference_shipped": list(reference),
            "files": [*files, MANIFEST],
        }
        (built / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        leaks = find_leaks(built, secret_lines(repo_root, course_root, name, reference))
        if leaks:
            shown = "\n  ".join(leaks[:20])
            raise ReleaseError(f"the release would contain {len(leaks)} reference or hidden lines:\n  {shown}")
        if gradebook is not None:  # only once every check passed: a refused release leaves the gradebook alone
            with tempfile.TemporaryDirectory(prefix="cs7150-gradebook-") as scratch:
                generate_notebooks(name, course_root, Path(scratch) / name, gradebook)
        os.chmod(built, 0o755)  # mkdtemp makes it private
        _swap_into_place(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return out
