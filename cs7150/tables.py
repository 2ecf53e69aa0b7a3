"""Plain-text tables: aligned columns under a rule, for timings, results and the lecture's layer table."""
from __future__ import annotations


def format_table(headers, rows, align: str) -> str:
    """Plain-text table with aligned columns, a rule under the header.

    Args:
        headers: sequence of column titles.
        rows: sequence of rows, each a sequence of cells (converted with ``str``).
        align: one character per column, ``"l"`` (left) or ``"r"`` (right).
    Returns:
        str, lines joined by newlines (no trailing newline).
    Raises:
        ValueError: a row or ``align`` whose length differs from ``headers``.
    """
    if len(align) != len(headers) or any(len(row) != len(headers) for row in rows):
        raise ValueError(f"every row and align must have {len(headers)} entries, one per header {list(headers)}")
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]

    def line(row):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(row, widths, align)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])
