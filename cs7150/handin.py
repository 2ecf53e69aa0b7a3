"""Hand in a released assignment: check the graded files, then zip exactly those.

In a released assignment folder (the one holding ``release.json``, the
notebooks and ``cs7150/``), from the notebook::

    from cs7150.handin import make_submission
    make_submission()

or from a shell in that folder::

    python -m cs7150.handin

``make_submission`` reads the list of graded files from ``release.json``,
stops with a ``HandinError`` that names every missing file (and, for a file
of an earlier assignment, where it comes from), imports each package file in
a fresh Python process (so an edit the notebook's kernel has not reloaded
counts, and a file that does not import is reported with its error), checks
that each notebook is a readable notebook, then writes
``<assignment>_submission.zip`` with exactly those files at the paths the
grader looks for (``conv_pool.ipynb``, ``cs7150/conv.py``, ...), and prints
what it packed and which functions still raise the release's
``NotImplementedError``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from cs7150.atomic import atomic_write

MANIFEST = "release.json"
STUB_TEXT = "implement this in "  # every stub message the release writes contains it
IMPORT_CHECK = r"""
import importlib, json, sys, traceback
folder = sys.argv[1]
sys.path.insert(0, folder)
found = {}
for module in sys.argv[2:]:
    try:
        loaded = importlib.import_module(module)
        found[module] = None if loaded.__file__.startswith(folder) else f"imported {loaded.__file__} instead"
    except BaseException as error:
        found[module] = "".join(traceback.format_exception_only(type(error), error)).strip()
print(json.dumps(found))
"""


class HandinError(ValueError):
    """The submission cannot be built: a graded file is missing, does not import, or the folder is not a release."""


def release_folder() -> Path:
    """The folder holding this ``cs7150/`` package (a released assignment's folder)."""
    return Path(__file__).resolve().parent.parent


def read_manifest(folder: Path) -> dict:
    """``release.json`` of the released assignment in ``folder``; HandinError if there is none."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise HandinError(f"{path} does not exist: run this in the folder of a released assignment "
                          "(the one with the notebook and cs7150/)")
    return json.loads(path.read_text(encoding="utf-8"))


def _module_name(rel: str) -> str:
    return rel[:-3].replace("/", ".")


def _import_errors(folder: Path, files: list[str]) -> dict[str, str]:
    """``file -> error`` for each package file that does not import in a fresh interpreter."""
    modules = {_module_name(rel): rel for rel in files if rel.endswith(".py")}
    if not modules:
        return {}
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK, str(folder), *modules],
                            cwd=folder, capture_output=True, text=True, timeout=300)
    try:
        found = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {rel: f"Python could not check the imports: {result.stderr.strip()[-500:]}" for rel in modules.values()}
    return {modules[module]: error for module, error in found.items() if error}


def _notebook_errors(folder: Path, files: list[str]) -> dict[str, str]:
    """``file -> problem`` for each notebook that is not a readable notebook."""
    problems = {}
    for rel in files:
        if rel.endswith(".ipynb"):
            try:
                cells = json.loads((folder / rel).read_text(encoding="utf-8"))["cells"]
                if not isinstance(cells, list):
                    raise TypeError("'cells' is not a list")
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
                problems[rel] = f"is not a readable notebook ({error})"
    return problems


def still_stubbed(folder: Path, files: list[str]) -> list[str]:
    """``"file: line"`` for each line of the package files that still raises the release's stub."""
    found = []
    for rel in files:
        if rel.endswith(".py"):
            for number, line in enumerate((folder / rel).read_text(encoding="utf-8").splitlines(), 1):
                if "raise NotImplementedError" in line and STUB_TEXT in line:
                    found.append(f"{rel}:{number}: {line.strip()}")
    return found


def check_files(folder: Path | None = None) -> dict:
    """Check the graded files of the release in ``folder`` (default: this package's folder).

    Returns the manifest. Raises HandinError naming each missing file (with
    the assignment it comes from, for a file an assignment builds on), each
    package file that does not import (with its error) and each notebook that
    cannot be read.
    """
    folder = Path(folder) if folder else release_folder()
    manifest = read_manifest(folder)
    files = manifest["handin"]
    origin = {rel: earlier for earlier, brought in manifest.get("builds_on", {}).items() for rel in brought}
    missing = [rel for rel in files if not (folder / rel).is_file()]
    if missing:
        lines = [f"  {rel}" + (f" (your own, from {origin[rel]}: copy it from that assignment's folder)" if rel in origin else "")
                 for rel in missing]
        raise HandinError(f"these graded files are missing from {folder}:\n" + "\n".join(lines))
    problems = {**_notebook_errors(folder, files), **_import_errors(folder, files)}
    if problems:
        raise HandinError("fix these before handing in:\n" + "\n".join(f"  {rel}: {why}" for rel, why in problems.items()))
    return manifest


def make_submission(folder: Path | None = None, out: Path | None = None) -> Path:
    """Check the graded files (``check_files``) and zip exactly those; return the zip's path.

    Args:
        folder: the released assignment's folder (default: the folder of this package).
        out: the zip to write (default ``<folder>/<assignment>_submission.zip``).
    Raises:
        HandinError: as ``check_files``; nothing is written then.
    """
    folder = Path(folder) if folder else release_folder()
    manifest = check_files(folder)
    files = manifest["handin"]
    out = Path(out) if out else folder / f"{manifest['assignment']}_submission.zip"
    with atomic_write(out) as temporary:
        with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
            for rel in files:
                archive.write(folder / rel, rel)
    print(f"wrote {out} with {len(files)} files:")
    for rel in files:
        print(f"  {rel} ({(folder / rel).stat().st_size:,} bytes)")
    stubs = still_stubbed(folder, files)
    if stubs:
        print(f"still not implemented ({len(stubs)}; they score nothing):")
        print("\n".join(f"  {line}" for line in stubs))
    print("Save the notebook before running this: the zip holds the notebook as it is on disk.")
    return out


def main(argv=None) -> int:
    """``python -m cs7150.handin [FOLDER]``: 0 when the zip was written, 1 with the reason otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 1 or any(arg.startswith("-") for arg in argv):
        print("usage: python -m cs7150.handin [FOLDER]  (default: the folder holding cs7150/)", file=sys.stderr)
        return 2
    try:
        make_submission(Path(argv[0]) if argv else None)
    except HandinError as error:
        print(f"not handed in: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
