"""The Python that package grading runs student code with: the standard library and NumPy, nothing else.

Its specification: docs/grader.md, `autograder/sandbox/interpreter.py`.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("numpy",)
SKIPPED = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip"}


@dataclass(frozen=True)
class SandboxPython:
    """A built installation: its interpreter, its site-packages, and the folder of its shared library."""

    root: Path
    executable: Path
    site_packages: Path
    library_path: Path

    @property
    def env(self) -> dict:
        """Environment variables the interpreter needs (its shared library lies beside it, not where it was built
        to look)."""
        return {"LD_LIBRARY_PATH": str(self.library_path)}


def _link(source: str, target: str) -> str:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
    return target


def build(folder: Path, packages=PACKAGES) -> SandboxPython:
    """Make the installation in ``folder`` (which must not exist) and return it.

    Raises FileNotFoundError if a package in ``packages`` is not installed in the grader's environment.
    """
    folder = Path(folder)
    executable = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    stdlib = Path(os.__file__).resolve().parent  # lib/python3.X of the base installation
    (folder / "bin").mkdir(parents=True)
    (folder / "lib").mkdir()
    target = folder / "bin" / executable.name
    _link(str(executable), str(target))
    for library in sorted(Path(sys.base_prefix, "lib").glob("libpython*.so*")):
        _link(str(library.resolve()), str(folder / "lib" / library.name))
    shutil.copytree(stdlib, folder / "lib" / stdlib.name, copy_function=_link, symlinks=True,
                    ignore=lambda _, names: [n for n in names if n in SKIPPED])
    site = folder / "site-packages"
    site.mkdir()
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"{package} is not installed in the grader's environment")
        source = Path(next(iter(spec.submodule_search_locations))).resolve()
        for path in [source, source.with_name(f"{package}.libs")]:  # a manylinux wheel's bundled libraries
            if path.is_dir():
                shutil.copytree(path, site / path.name, copy_function=_link, symlinks=True,
                                ignore=lambda _, names: [n for n in names if n == "tests"])
    return SandboxPython(folder, target, site, folder / "lib")


def pytorch_installations() -> list[Path]:
    """The ``torch/__init__.py`` files its interpreter could import once given their folder: the grader's
    own PyTorch, and one in the base installation's site-packages (the sandbox's interpreter is the base
    one). Without the jail's own root a throwaway uid must be unable to read them."""
    found = []
    spec = importlib.util.find_spec("torch")
    if spec is not None and spec.origin:
        found.append(Path(spec.origin))
    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    found += [Path(base[key], "torch", "__init__.py") for key in ("purelib", "platlib")]
    unique = {}
    for path in found:
        if path.is_file():
            unique.setdefault(path.resolve(), path)
    return list(unique.values())
