"""Text from users renders as text: Markdown (rendered here by a CommonMark parser with
tables and strikethrough, as Streamlit's is), Plotly labels, and spreadsheet cells."""
from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from tuning.insights.escaping import markdown_text, plotly_text, spreadsheet_cell

HOSTILE = [
    "![x](http://evil.example/pixel.png)",
    "[click](javascript:alert(1))",
    "<a href='http://evil.example'>run</a>",
    "<img src=x onerror=alert(1)>",
    "**bold** _em_ `code` ~~gone~~",
    "# heading", "- item", "1. item", "> quote", "| a | b |",
    ":red[alarm] :smile: $x^2$",
    "&lt;b&gt; entity", "back\\slash", "www.evil.example and http://evil.example",
    "line one\n# line two", "__init__ and _x_ and a_b_c", "*a*_b_", "\\_x_",
]


def _render(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_renders_exactly_what_was_typed(text):
    rendered = _render(markdown_text(text)).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>"), rendered
    inner = rendered[len("<p>"):-len("</p>")]
    assert not re.search(r"<(?!br)", inner), rendered  # no element of any kind
    assert html.unescape(inner) == text.replace("\n", " ")


def test_markdown_text_leaves_numbers_readable():
    assert markdown_text(0.7) == "0.7" and markdown_text(-5) == "-5"
    assert markdown_text("t00 (carried from stage 1), 0.5") == "t00 (carried from stage 1), 0.5"
    assert markdown_text("search_space.C.min must be") == "search_space.C.min must be"


@pytest.mark.parametrize("text", ["<a href='http://x'>x</a>", "<b>bold</b>", "a<br>b",
                                  "%{y} %{x:.2f}", "$x$", "&amp;"])
def test_plotly_text_has_no_tag_template_or_latex(text):
    out = plotly_text(text)
    assert "<" not in out and "%{" not in out and "$" not in out
    # Plotly turns the entities back into the characters typed.
    assert html.unescape(out) == text


@pytest.mark.parametrize("cell, expected", [
    ("=1+1", "'=1+1"), ("+SUM(A1)", "'+SUM(A1)"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("-0.5", "-0.5"), ("+3", "+3"), ("-1e-3", "-1e-3"), ("plain", "plain"), (-0.5, -0.5),
    (3, 3), (None, None),
])
def test_spreadsheet_cell_neutralises_formulas_and_keeps_numbers(cell, expected):
    assert spreadsheet_cell(cell) == expected
