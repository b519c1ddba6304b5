"""Advice as report sections: Markdown (with a text plot per suggestion) and HTML (with
its Plotly figure). Every string is escaped: titles quote hyperparameter names and
values a user typed."""
from __future__ import annotations

import html
import json

from . import Advice
from .charts import suggestion_figure, text_chart

TITLE = "What to try next"


def _patch_text(suggestion) -> list[str]:
    rows = []
    for c in suggestion.to_json()["patch"]:
        old = json.dumps(c["old"]) if "old" in c else "(none)"
        new = json.dumps(c["new"]) if "new" in c else "(removed)"
        rows.append((c["field"], old, new))
    return rows


def _md(text: str) -> str:
    return html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")


def advice_markdown(advice: Advice) -> list[str]:
    """The "What to try next" section: each suggestion's title, confidence, evidence,
    patch (a field/old/new table) and chart (a text plot)."""
    lines = [f"## {TITLE}", "", _md(advice.note), ""]
    for i, s in enumerate(advice.suggestions, start=1):
        lines += [f"### {i}. {_md(s.title)}", "",
                  f"*Confidence {s.confidence_label} ({s.confidence:.2f}): "
                  f"{_md(s.confidence_reason)}*", ""]
        lines += [f"- {_md(e)}" for e in s.evidence]
        lines += ["", "| Field | Old | New |", "|---|---|---|"]
        lines += [f"| {_md(f)} | {_md(o)} | {_md(n)} |" for f, o, n in _patch_text(s)]
        if s.chart is not None:
            lines += ["", "```", text_chart(s.chart), "```"]
        lines.append("")
    return lines


def advice_html(advice: Advice, include_plotlyjs: bool = False) -> str:
    """The same section as HTML, each suggestion with its figure (Plotly's script is
    embedded only when ``include_plotlyjs``: the report embeds it once)."""
    parts = [f"<h2>{TITLE}</h2>", f"<p>{html.escape(advice.note)}</p>"]
    first = include_plotlyjs
    for i, s in enumerate(advice.suggestions, start=1):
        parts.append(f"<h3>{i}. {html.escape(s.title)}</h3>")
        parts.append(f"<p><em>Confidence {s.confidence_label} ({s.confidence:.2f}): "
                     f"{html.escape(s.confidence_reason)}</em></p>")
        parts.append("<ul>" + "".join(f"<li>{html.escape(e)}</li>" for e in s.evidence)
                     + "</ul>")
        parts.append("<table><tr><th>Field</th><th>Old</th><th>New</th></tr>" + "".join(
            f"<tr><td>{html.escape(f)}</td><td>{html.escape(o)}</td><td>{html.escape(n)}</td>"
            "</tr>" for f, o, n in _patch_text(s)) + "</table>")
        fig = suggestion_figure(s)
        if fig is not None:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=first,
                                     default_height="320px"))
            first = False
    return "\n".join(parts)
