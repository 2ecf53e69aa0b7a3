"""Make what the grader writes safe to open: text, HTML pages and CSV cells.

Its specification: docs/grader.md, `autograder/output/sanitise.py`.
"""
from __future__ import annotations

import html
import re

import nh3

ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves
    r"|\x1b[\]PX^_].*?(?:\x07|\x1b\\|$)"  # OSC, DCS, SOS, PM, APC up to their terminator: titles, clipboard
    r"|\x1b[@-Z\\-_]"  # other two-character escapes
    r"|[\x9b][0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x9d\x90\x98\x9e\x9f].*?(?:\x07|\x9c|$)",  # 8-bit OSC, DCS...
    re.DOTALL,
)
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
TAGS = {"a", "b", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "i", "img", "li", "ol", "p", "pre", "span",
        "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"}
ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt", "width", "height"}, "*": {"class"}}
STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:.2em .8em;text-align:left}"
         "pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}.note{color:#a40}")


def clean_text(text: str) -> str:
    """``text`` without terminal escape sequences, control characters (but ``\\n`` and ``\\t``) or bidi
    overrides; ``\\r\\n`` becomes ``\\n``."""
    return CONTROLS.sub("", ESCAPES.sub("", str(text).replace("\r\n", "\n")))


def csv_cell(value):
    """``value`` for a CSV cell: a string that a spreadsheet would run as a formula gets a leading ``'``;
    other values (numbers) unchanged."""
    if isinstance(value, str):
        formula = value.startswith(FORMULA_STARTS)
        value = clean_text(value)
        if formula or value.startswith(FORMULA_STARTS):
            return "'" + value
    return value


def _attribute(element: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: an image's source must be a PNG data URL; links stay relative or http(s)."""
    if element == "img" and attribute == "src":
        return value if value.startswith("data:image/png;base64,") else None
    return value


def clean_html(fragment: str) -> str:
    """An HTML fragment sanitised by nh3 with this module's allow-list (no scripts, styles, frames, forms or
    event handlers; images only as ``data:image/png``)."""
    return nh3.clean(clean_text(fragment), tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "data"},
                     attribute_filter=_attribute, link_rel="noopener noreferrer", strip_comments=True)


def html_page(title: str, body: str, style: str = STYLE) -> str:
    """A complete page: ``body`` sanitised (``clean_html``), under a head whose first element sets a restrictive
    Content-Security-Policy (so it holds for all that follows) and that holds only ``title`` (escaped) and the
    grader's own ``style``."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head><meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            '<meta charset="utf-8">\n'
            f"<title>{html.escape(clean_text(title))}</title>\n<style>{style}</style></head>\n"
            f"<body>\n{clean_html(body)}\n</body>\n</html>\n")
