"""Solution regions in package ``.py`` files: find them, check them, stub them.

Its specification: docs/grader.md, `autograder/release/markers.py`.
"""
from __future__ import annotations

import ast
import io
import json
import tokenize
from dataclasses import dataclass
from typing import Callable

from autograder.notebook.nbgrader_course import COMMENT, SOLUTION

BEGIN, END = (COMMENT + delimiter for delimiter in SOLUTION)  # "### BEGIN SOLUTION", "### END SOLUTION"


class MarkerError(ValueError):
    """A solution marker is malformed; the message names ``file:line``."""

    def __init__(self, filename: str, line: int, message: str):
        super().__init__(f"{filename}:{line}: {message}")
        self.filename, self.line = filename, line


@dataclass(frozen=True)
class Region:
    """One solution region: 1-based line numbers of its two marker lines."""

    function: str  # qualified name of the enclosing function, e.g. "conv_forward_naive"
    begin: int
    end: int
    indent: str


def _tokens(source: str, filename: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as error:
        raise MarkerError(filename, getattr(error, "lineno", 1) or 1, f"cannot tokenize: {error}") from None


def _marker_comments(source: str, tokens, filename: str) -> list[tuple[int, str, str]]:
    """Return ``(line, kind, indent)`` for each marker comment, kind "begin" or "end"."""
    lines = source.splitlines()
    markers = []
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        text = token.string.strip()
        words = " ".join(text.lstrip("#").split()).upper()
        if not any(delimiter in words for delimiter in SOLUTION):
            continue
        line, column = token.start
        before = lines[line - 1][:column]
        if before.strip():
            raise MarkerError(filename, line, f"solution marker must be on its own line, found after code: {text!r}")
        if text not in (BEGIN, END):
            raise MarkerError(filename, line, f"malformed solution marker {text!r}; write {BEGIN!r} or {END!r}")
        markers.append((line, "begin" if text == BEGIN else "end", before))
    return markers


def _functions(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    """Every function in ``tree`` with its qualified name (``Class.method``, ``outer.inner``)."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((prefix + child.name, child))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def _code_columns(tokens) -> dict[int, int]:
    """Line -> column of its first code token (comment-only and blank lines absent)."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    columns: dict[int, int] = {}
    for token in tokens:
        if token.type not in skip:
            columns.setdefault(token.start[0], token.start[1])
    return columns


def _enclosing_function(functions, code_columns, begin: int, end: int, indent: str) -> str | None:
    """Name of the innermost function whose body holds lines ``begin..end``.

    A function's body runs from its ``def`` line to the line before the next
    code line indented no deeper than its ``def`` (trailing comments included).
    """
    best = None
    for name, node in functions:
        if not (node.lineno < begin and len(indent) > node.col_offset):
            continue
        after = [line for line, column in code_columns.items() if line > node.end_lineno and column <= node.col_offset]
        if end >= min(after, default=end + 1):
            continue
        if best is None or node.lineno > best[1].lineno:
            best = (name, node)
    return best[0] if best else None


def find_regions(source: str, filename: str) -> list[Region]:
    """Return the solution regions of ``source`` in order; raise MarkerError if malformed."""
    tokens = _tokens(source, filename)
    markers = _marker_comments(source, tokens, filename)
    if not markers:
        return []
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MarkerError(filename, error.lineno or 1, f"syntax error: {error.msg}") from None
    functions, code_columns = _functions(tree), _code_columns(tokens)
    regions, open_marker = [], None
    for line, kind, indent in markers:
        if kind == "begin":
            if open_marker is not None:
                raise MarkerError(filename, line, f"nested {BEGIN!r}: the region opened at line {open_marker[0]} has no {END!r}")
            open_marker = (line, indent)
            continue
        if open_marker is None:
            raise MarkerError(filename, line, f"{END!r} without a matching {BEGIN!r}")
        begin, begin_indent = open_marker
        open_marker = None
        if indent != begin_indent:
            raise MarkerError(filename, line, f"{END!r} is indented differently from the {BEGIN!r} at line {begin}")
        function = _enclosing_function(functions, code_columns, begin, line, indent)
        if function is None:
            raise MarkerError(filename, begin, "solution region is not inside a single function body")
        regions.append(Region(function, begin, line, indent))
    if open_marker is not None:
        raise MarkerError(filename, open_marker[0], f"{BEGIN!r} without a matching {END!r}")
    return regions


def stub_source(source: str, filename: str, message: Callable[[str], str]) -> tuple[str, list[Region]]:
    """Replace every region by ``raise NotImplementedError(message(function))``.

    Returns the new source and the regions replaced. The result is checked to
    parse; the lines around the regions (signature, docstring, validation,
    helpers) are kept byte for byte.
    """
    regions = find_regions(source, filename)
    lines = source.splitlines(keepends=True)
    for region in reversed(regions):
        stub = f"{region.indent}raise NotImplementedError({json.dumps(message(region.function))})\n"
        lines[region.begin - 1:region.end] = [stub]
    stubbed = "".join(lines)
    try:
        ast.parse(stubbed, filename=filename)
    except SyntaxError as error:  # e.g. a region that was a whole if-branch's body and more
        raise MarkerError(filename, error.lineno or 1, f"stubbed file does not parse: {error.msg}") from None
    return stubbed, regions


def unmark_source(source: str, filename: str) -> str:
    """``source`` without its marker lines: the reference code as it is, for a release that ships it.

    Raises MarkerError for a malformed file.
    """
    drop = {line for region in find_regions(source, filename) for line in (region.begin, region.end)}
    return "".join(line for number, line in enumerate(source.splitlines(keepends=True), 1) if number not in drop)
