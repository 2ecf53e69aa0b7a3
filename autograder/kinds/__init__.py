"""The graded kinds, one module per family of layers; adding a layer to the grader is one module here (its
``KINDS``) plus its parts in an assignment's configuration."""
from __future__ import annotations

import importlib
import pkgutil

from autograder.kinds.kind import Kind, KindError

KINDS: dict[str, Kind] = {}
for _module in pkgutil.iter_modules(__path__):
    if _module.name != "kind":
        for _kind in importlib.import_module(f"{__name__}.{_module.name}").KINDS:
            if _kind.name in KINDS:
                raise RuntimeError(f"two modules of autograder/kinds define the kind {_kind.name!r}")
            KINDS[_kind.name] = _kind

__all__ = ["KINDS", "Kind", "KindError"]
