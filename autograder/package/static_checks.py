"""Static checks of a student's source, done in the grader's process (nothing is run).

Its specification: docs/grader.md, `autograder/package/static_checks.py`.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class Use:
    """One forbidden use: what (``"torch"`` or ``"fast"``), the name, the line."""

    what: str
    name: str
    line: int

    def describe(self) -> str:
        return f"{self.name} (line {self.line})"


def _is_torch(module: str | None) -> bool:
    return bool(module) and (module == "torch" or module.startswith("torch."))


def _is_fast(module: str | None) -> bool:
    return bool(module) and module.split(".")[-1].endswith("_fast")


def _module_bindings(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to torch or to the fast path: name -> "torch" / "fast"."""
    bound: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_torch(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = "torch"
                elif _is_fast(alias.name):
                    bound[alias.asname or alias.name.split(".")[0]] = "fast"
        elif isinstance(node, ast.ImportFrom):
            what = "torch" if _is_torch(node.module) else "fast" if _is_fast(node.module) else None
            for alias in node.names:
                if what:
                    bound[alias.asname or alias.name] = what
    for node in tree.body:  # one level of aliasing: T2 = T, conv = F.conv2d
        if isinstance(node, ast.Assign):
            names = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            kinds = {bound[n] for n in names if n in bound}
            for target in node.targets:
                if isinstance(target, ast.Name) and kinds:
                    bound[target.id] = sorted(kinds)[0]
    return bound


def _direct_uses(function: ast.AST, bound: dict[str, str]) -> list[Use]:
    uses = []
    for node in ast.walk(function):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_torch(alias.name):
                    uses.append(Use("torch", f"import {alias.name}", node.lineno))
                elif _is_fast(alias.name):
                    uses.append(Use("fast", f"import {alias.name}", node.lineno))
        elif isinstance(node, ast.ImportFrom):
            if _is_torch(node.module):
                uses.append(Use("torch", f"from {node.module} import ...", node.lineno))
            elif _is_fast(node.module):
                uses.append(Use("fast", f"from {node.module} import ...", node.lineno))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in bound:
                uses.append(Use(bound[node.id], node.id, node.lineno))
            elif node.id.endswith("_fast"):
                uses.append(Use("fast", node.id, node.lineno))
        elif isinstance(node, ast.Attribute) and node.attr.endswith("_fast"):
            uses.append(Use("fast", node.attr, node.lineno))
        elif isinstance(node, ast.Call):  # __import__("torch"), importlib.import_module("torch.nn")
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _is_torch(arg.value):
                    uses.append(Use("torch", f"import of {arg.value!r}", node.lineno))
    return uses


class Unparsable(ValueError):
    """Python's own parser failed on a student file with something other than a SyntaxError
    (a RecursionError or MemoryError from very deep nesting, a null byte): it cannot be checked."""


def forbidden_uses(source: str) -> dict[str, list[Use]]:
    """Top-level function name -> forbidden uses, direct or through same-file calls.

    A file with a syntax error gives ``{}`` (its import fails at run time,
    which the run reports); one on which the parser itself fails raises
    ``Unparsable`` naming the error. Cached by source: a submission's file is
    parsed once, not once per graded function; callers must not modify the result.
    """
    found = _analysis(source)
    if isinstance(found, str):
        raise Unparsable(f"Python's parser failed on it ({found})")
    return found


@functools.lru_cache(maxsize=64)
def _analysis(source: str) -> dict[str, list[Use]] | str:
    """``forbidden_uses``, or why the source could not be parsed."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    except (RecursionError, MemoryError, ValueError) as error:
        return f"{type(error).__name__}: {error}"[:200]
    bound = _module_bindings(tree)
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    direct = {name: _direct_uses(node, bound) for name, node in functions.items()}
    calls = {
        name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in functions and n.id != name}
        for name, node in functions.items()
    }
    result = {}
    for name in functions:
        seen, stack, uses = {name}, [name], []
        while stack:
            current = stack.pop()
            uses.extend(direct[current])
            for callee in sorted(calls[current] - seen):
                seen.add(callee)
                stack.append(callee)
        result[name] = sorted(set(uses), key=lambda use: (use.line, use.name))
    return result


def violations(source: str, function: str, naive: bool) -> list[Use]:
    """Uses that forbid ``function``: PyTorch always, the fast path when ``naive``."""
    return [use for use in forbidden_uses(source).get(function, []) if use.what == "torch" or naive]
