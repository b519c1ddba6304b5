"""Text from users (run names, trial keys, hyperparameter names, choice values, column
names, messages, URL query values) shown as text, whatever it holds.

Three renderers read markup in strings, so three functions, one per renderer; every place
that hands user text to one of them goes through its function:

- ``markdown_text`` for Streamlit's Markdown (``st.markdown``, ``st.error``, ``st.caption``
  and the other elements that render Markdown): links, images, HTML, emphasis, colour
  directives (``:red[...]``), emoji codes and LaTeX (``$...$``) come out as typed.
- ``plotly_text`` for Plotly labels (trace names, axis and tick labels, hover text), which
  render ``<a href>``, ``<b>``, ``<br>`` and ``%{...}`` template variables.
- ``spreadsheet_cell`` for CSV cells, which spreadsheets run as formulas when they begin
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP, CSV injection).
"""
from __future__ import annotations

import html
import numbers
import re
from typing import Any

# CommonMark lets a backslash escape any ASCII punctuation. These are the characters that
# start or close markup inline (emphasis, code, links, images, HTML, entities, tables,
# strikethrough, headings, Streamlit's ``:colour[...]`` and emoji codes, LaTeX, GFM's email
# and ``http://`` autolinks; a colon only before a letter, ``[`` or ``/``); ``(``, ``{``,
# ``!``, ``.``, ``-``, ``: `` and the like only matter after one of them or at the start of a
# line, and are left readable.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|$~&#@]|:(?=[\w\[/]))")
# Underscores between letters or digits never make emphasis (CommonMark), so field names
# such as search_space.C.min stay as they are; a run of them anywhere else is escaped.
_UNDERSCORES = re.compile(r"_+")
# A line that starts with these would be a list item, a quote or a heading rule.
_LINE_START = re.compile(r"^(\s*)([-+=>]|\d+(?=[.)]))")
# GFM links "www.example.com" without any markup.
_WWW = re.compile(r"(www)\.", re.IGNORECASE)


def markdown_text(value: Any) -> str:
    """``value`` as Markdown that renders exactly as ``str(value)`` reads, on one line.

    Line breaks become spaces: a newline could start a heading or a list item. Numbers are
    written plainly (``0.7``, ``-5``): their digits, signs and points form no markup."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return str(value)
    text = str(value).replace("\r\n", " ").replace("\r", " ").replace("\n", " ").lstrip()
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = _UNDERSCORES.sub(lambda m: _underscores(m, text), text)
    text = _WWW.sub(r"\1\\.", text)
    return _LINE_START.sub(lambda m: m.group(1) + (
        "\\" + m.group(2) if not m.group(2).isdigit() else m.group(2) + "\\"), text, count=1)


def _underscores(match: re.Match[str], text: str) -> str:
    start, end = match.span()
    inside = 0 < start and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()
    return match.group() if inside else match.group().replace("_", "\\_")


def plotly_text(value: Any) -> str:
    """``value`` for a Plotly label or hover template: HTML-escaped, and ``%``, ``{``, ``}``,
    ``$`` written as entities so the text never forms a ``%{variable}`` or LaTeX."""
    text = html.escape(str(value), quote=False)
    return (text.replace("%", "&#37;").replace("{", "&#123;").replace("}", "&#125;")
            .replace("$", "&#36;"))


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` safe for a CSV cell: a string that a spreadsheet would run as a formula gets a
    leading ``'``; numbers, and strings that are plain numbers such as ``-0.5``, stay as they
    are, so a negative number is still a number."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value
