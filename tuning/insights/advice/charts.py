"""A suggestion's chart: a Plotly figure for the pages and the HTML report, and a small
text plot for the Markdown report. Both draw ``Chart`` data; marked points are the
evidence (the leaders, the flagged trials), the others the context."""
from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from .suggestion import Chart, Suggestion

MARKED, OTHER = "#d62728", "#9aa5b1"
TEXT_WIDTH, TEXT_HEIGHT = 48, 10


def suggestion_figure(suggestion: Suggestion) -> go.Figure | None:
    """The figure of ``suggestion.chart``; None when the suggestion has no chart."""
    chart = suggestion.chart
    if chart is None:
        return None
    fig = go.Figure()
    if chart.kind == "bars":
        fig.add_bar(x=[p["x"] for p in chart.points], y=[p["y"] for p in chart.points],
                    marker_color=[MARKED if p.get("marked") else OTHER for p in chart.points])
    elif chart.kind == "lines":
        for s in chart.series:
            fig.add_scatter(x=s["x"], y=s["y"], mode="lines+markers", name=str(s["name"]),
                            line={"color": MARKED if s.get("marked") else OTHER,
                                  "width": 2 if s.get("marked") else 1})
            if s.get("stop") and s["stop"] < len(s["x"]):
                fig.add_scatter(x=[s["x"][s["stop"] - 1]], y=[s["y"][s["stop"] - 1]],
                                mode="markers", marker={"symbol": "x", "size": 10,
                                                        "color": "black"},
                                name=f"{s['name']} pruned", showlegend=False)
    else:
        for marked in (False, True):
            pts = [p for p in chart.points if bool(p.get("marked")) is marked]
            if pts:
                fig.add_scatter(x=[p["x"] for p in pts], y=[p["y"] for p in pts], mode="markers",
                                text=[f"trial {p.get('trial')}" for p in pts],
                                name="evidence" if marked else "other trials",
                                marker={"color": MARKED if marked else OTHER, "size": 9})
        for bound in chart.bounds:
            fig.add_vline(x=bound["x"], line_dash="dash", line_color="#555",
                          annotation_text=str(bound["label"]))
    fig.update_layout(height=320, margin={"t": 30, "b": 40, "l": 50, "r": 20},
                      xaxis_title=chart.x_label, yaxis_title=chart.y_label,
                      uirevision=suggestion.rule, showlegend=chart.kind != "bars")
    if chart.x_log:
        fig.update_xaxes(type="log")
    return fig


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def text_chart(chart: Chart) -> str:
    """A fixed-width plot of the chart for Markdown: ``#`` bars, or a scatter where ``*``
    is evidence and ``o`` context (lines are drawn as their points)."""
    if chart.kind == "bars":
        top = max((abs(_number(p["y"]) or 0) for p in chart.points), default=0) or 1
        label = max((len(str(p["x"])) for p in chart.points), default=0)
        return "\n".join(f"{str(p['x']):<{label}} {'#' * round(TEXT_WIDTH * abs(_number(p['y']) or 0) / top)}"
                         f" {p['y']}" + (" <" if p.get("marked") else "") for p in chart.points)
    points = [(p["x"], p["y"], p.get("marked")) for p in chart.points]
    for s in chart.series:
        points += [(x, y, s.get("marked")) for x, y in zip(s["x"], s["y"])]
    xs = [(_number(x), _number(y), m) for x, y, m in points]
    if any(x is None for x, _, _ in xs) and all(isinstance(p[0], str) for p in points):
        labels = list(dict.fromkeys(p[0] for p in points))
        xs = [(float(labels.index(p[0])), _number(p[1]), p[2]) for p in points]
    xs = [(math.log10(x) if chart.x_log and x and x > 0 else x, y, m) for x, y, m in xs
          if x is not None and y is not None]
    if not xs:
        return "(no points)"
    x0, x1 = min(x for x, _, _ in xs), max(x for x, _, _ in xs)
    y0, y1 = min(y for _, y, _ in xs), max(y for _, y, _ in xs)
    grid = [[" "] * TEXT_WIDTH for _ in range(TEXT_HEIGHT)]
    for x, y, marked in sorted(xs, key=lambda p: bool(p[2])):
        col = round((x - x0) / (x1 - x0 or 1) * (TEXT_WIDTH - 1))
        row = TEXT_HEIGHT - 1 - round((y - y0) / (y1 - y0 or 1) * (TEXT_HEIGHT - 1))
        grid[row][col] = "*" if marked else "o"
    lines = [f"{y1:>9.4g} |" + "".join(grid[0])]
    lines += ["          |" + "".join(r) for r in grid[1:-1]]
    lines += [f"{y0:>9.4g} |" + "".join(grid[-1]), "          +" + "-" * TEXT_WIDTH]
    low, high = (10 ** x0, 10 ** x1) if chart.x_log else (x0, x1)
    lines.append(f"           {low:<.4g}{chart.x_label:^{TEXT_WIDTH - 16}}{high:>.4g}")
    return "\n".join(lines)
