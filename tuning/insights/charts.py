"""Plotly figures over the tables of ``tuning.insights.analysis``. No Streamlit, no TensorFlow.

Every figure sets ``layout.uirevision`` to a stable string, so a page that redraws
it with new data keeps the user's zoom and hidden traces. Figures carry only what
they draw: no per-point custom data beyond the hover text they show.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from tuning import catalog

from .analysis import HP_PREFIX
from .escaping import plotly_text

PALETTE = qualitative.Plotly
FADED = "rgba(120, 120, 120, 0.6)"
BAND = "rgba(120, 120, 120, 0.18)"
# Above this many trials, learning_curves draws the best ones and aggregates the rest:
# thousands of line traces make a figure of many megabytes that browsers draw slowly.
MAX_CURVE_TRIALS = 20
X_AXES = {"number": "trial number", "elapsed_s": "elapsed time (s)",
          "epochs_cum": "epochs trained, all trials (cumulative)"}


def integer_axis(fig: go.Figure, largest: int, axis: str = "x") -> None:
    """Ticks on whole numbers only (epochs, trial numbers): never 1.5."""
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if largest <= 12:
        update(tickmode="linear", tick0=1, dtick=1, tickformat="d")
    else:
        update(tickformat="d")


def _empty(message: str, uirevision: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=plotly_text(message), showarrow=False, xref="paper", yref="paper",
                       x=0.5, y=0.5)
    fig.update_layout(uirevision=uirevision, xaxis_visible=False, yaxis_visible=False)
    return fig


def _present_keys(column: pd.Series) -> list[str]:
    """Trial keys present in a column, in category order (trial order) when categorical."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        used = np.unique(column.cat.codes.to_numpy())
        return [str(k) for k in column.cat.categories.take(used[used >= 0]).tolist()]
    return [str(k) for k in dict.fromkeys(column)]


def _pick_trials(sub: pd.DataFrame, metric: str, top_keys: Sequence[str] | None,
                 direction: str | None, limit: int) -> list[str]:
    """The trial keys drawn one by one: ``top_keys`` if given, else the best by the
    validation metric (training metric when there is none), best value over epochs."""
    if top_keys is not None:
        present = set(sub["trial_key"].unique())
        return [k for k in top_keys if k in present][:limit]
    name = f"val_{metric}" if (sub["metric"] == f"val_{metric}").any() else metric
    direction = direction or catalog.default_direction(name)
    per_trial = sub[sub["metric"] == name].groupby("trial_key", sort=False, observed=True)
    best = per_trial["value"].min() if direction == "min" else per_trial["value"].max()
    best = best.sort_values(ascending=direction == "min", kind="stable")
    return [str(k) for k in best.head(limit).index]


def _aggregate(fig: go.Figure, rest: pd.DataFrame, count: int) -> None:
    """Median and 10-90 % band per epoch of the trials not drawn one by one."""
    for name, dash in sorted({(str(m), "dash" if str(m).startswith("val_") else "solid")
                              for m in rest["metric"].unique().tolist()}):
        stats = rest[rest["metric"] == name].groupby("epoch")["value"].quantile(
            [0.1, 0.5, 0.9]).unstack()
        x = (stats.index.to_numpy() + 1).tolist()
        label = f"other {count} trials: {plotly_text(name)}"
        fig.add_trace(go.Scatter(
            x=x + x[::-1], y=stats[0.9].tolist() + stats[0.1].tolist()[::-1], fill="toself",
            fillcolor=BAND, line={"width": 0}, hoverinfo="skip", legendgroup=label,
            showlegend=False, name=label))
        fig.add_trace(go.Scatter(
            x=x, y=stats[0.5].tolist(), mode="lines", name=label + " (median, 10-90 %)",
            legendgroup=label, line={"color": FADED, "dash": dash, "width": 2},
            hovertemplate=f"{label}<br>epoch %{{x}}<br>median %{{y:.4g}}<extra></extra>"))


def _band_traces(fig: go.Figure, band: Any, metric: str) -> None:
    """A ``storage.CurveBand`` (read in storage, over a sample) drawn as ``_aggregate`` does."""
    sample = "" if band.sampled >= band.trials else f", from a sample of {band.sampled:,}"
    for name in (metric, f"val_{metric}"):
        points = [p for p in band.points if p.metric == name]
        if not points:
            continue
        x = [p.epoch + 1 for p in points]
        label = f"other {band.trials:,} trials: {name}"
        dash = "dash" if name.startswith("val_") else "solid"
        fig.add_trace(go.Scatter(
            x=x + x[::-1], y=[p.high for p in points] + [p.low for p in points][::-1],
            fill="toself", fillcolor=BAND, line={"width": 0}, hoverinfo="skip",
            legendgroup=label, showlegend=False, name=label))
        fig.add_trace(go.Scatter(
            x=x, y=[p.median for p in points], mode="lines",
            name=label + f" (median, 10-90 %{sample})", legendgroup=label,
            line={"color": FADED, "dash": dash, "width": 2},
            hovertemplate=f"{label}<br>epoch %{{x}}<br>median %{{y:.4g}}<extra></extra>"))


def learning_curves(curves: pd.DataFrame, metric: str, highlight_key: str | None = None,
                    log_y: bool = False, *, top_keys: Sequence[str] | None = None,
                    direction: str | None = None,
                    max_trials: int = MAX_CURVE_TRIALS, band: Any = None) -> go.Figure:
    """``metric`` (solid) and ``val_<metric>`` (dashed) against the 1-based epoch, one line
    per trial and execution, from a ``curves_frame``.

    The highlighted trial (the running one) is drawn last, thicker and opaque; the
    others are faded. With more than ``max_trials`` trials only the best ``max_trials``
    (``top_keys`` in that order, e.g. the leaderboard's, else the best value of the
    validation metric by ``direction``) and the highlighted one are drawn one by one;
    the rest become a median line and a 10-90 % band per epoch. With ``band`` (a
    ``storage.CurveBand`` of the trials not in ``curves``) every trial in ``curves`` is
    drawn and the band comes from it.
    """
    uirevision = f"learning_curves:{metric}"
    sub = curves[curves["metric"].isin((metric, f"val_{metric}"))]
    if sub.empty:
        return _empty(f"no {metric} recorded yet", uirevision)
    keys = _present_keys(sub["trial_key"])
    drawn = keys if band is not None or len(keys) <= max_trials else _pick_trials(
        sub, metric, top_keys, direction, max_trials)
    if highlight_key is not None and highlight_key in keys and highlight_key not in drawn:
        drawn = drawn + [highlight_key]
    fig = go.Figure()
    if band is not None:
        _band_traces(fig, band, metric)
    chosen = sub["trial_key"].isin(drawn)
    if not chosen.all():
        rest = sub[~chosen]
        _aggregate(fig, rest, len(keys) - len(drawn))
    colours = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(drawn)}
    order = [k for k in drawn if k != highlight_key] + (
        [highlight_key] if highlight_key in drawn else [])
    lines: dict[str, list[tuple[int, str, pd.DataFrame]]] = {}
    for (key, execution, name), rows in sub[chosen].groupby(
            ["trial_key", "execution", "metric"], sort=True, observed=True):
        lines.setdefault(str(key), []).append((int(execution), str(name), rows))
    for key in order:
        strong = highlight_key is None or key == highlight_key
        several = len({execution for execution, _, _ in lines.get(key, [])}) > 1
        for i, (execution, name, rows) in enumerate(lines.get(key, [])):
            rows = rows.sort_values("epoch")
            shown = plotly_text(key)
            label = f"{shown} (execution {execution})" if several else shown
            fig.add_trace(go.Scatter(
                x=(rows["epoch"].to_numpy() + 1), y=rows["value"].to_numpy(),
                mode="lines" if len(rows) > 1 else "markers",  # one point draws no line
                name=shown, legendgroup=shown, showlegend=i == 0,
                opacity=1.0 if strong else 0.45,
                line={"color": colours[key], "dash": "dash" if name.startswith("val_") else "solid",
                      "width": 3.5 if key == highlight_key else 1.5},
                hovertemplate=f"{label}<br>{plotly_text(name)}<br>epoch %{{x}}: %{{y:.4g}}<extra></extra>"))
    integer_axis(fig, int(sub["epoch"].max()) + 1)
    fig.update_layout(
        uirevision=uirevision, xaxis_title="epoch", yaxis_title=plotly_text(metric),
        legend_title_text="trial (solid: training, dashed: validation)")
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def best_so_far_chart(series: Mapping[str, pd.DataFrame], x: str = "number",
                      direction: str = "max") -> go.Figure:
    """One step line of the running best per run (``analysis.best_so_far`` frames, keyed by
    the legend label), with a marker for every completed trial's score."""
    if x not in X_AXES:
        raise ValueError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    uirevision = f"best_so_far:{x}"
    if not any(len(frame) for frame in series.values()):
        return _empty("no completed trial yet", uirevision)
    fig = go.Figure()
    for i, (raw_label, frame) in enumerate(series.items()):
        label = plotly_text(raw_label)
        colour = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=frame[x].to_numpy(), y=frame["score"].to_numpy(), mode="markers",
            name=label, legendgroup=label, showlegend=False, opacity=0.45,
            marker={"color": colour, "size": 5},
            hovertemplate=f"trial %{{text}}<br>score %{{y:.4g}}<extra>{label}</extra>",
            text=frame["number"].to_numpy()))
        fig.add_trace(go.Scatter(
            x=frame[x].to_numpy(), y=frame["best"].to_numpy(), mode="lines", line_shape="hv",
            name=label, legendgroup=label, line={"color": colour, "width": 2.5},
            hovertemplate=f"best so far %{{y:.4g}}<extra>{label}</extra>"))
    better = "lower" if direction == "min" else "higher"
    fig.update_layout(uirevision=uirevision, xaxis_title=X_AXES[x],
                      yaxis_title=f"score ({better} is better)")
    return fig


def _hp_columns(frame: pd.DataFrame, space: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Hyperparameters of ``space`` that vary and have a column in ``frame``."""
    return [name for name, hp in space.items()
            if hp.get("type") != "fixed" and HP_PREFIX + name in frame]


def _categories(hp: Mapping[str, Any], values: pd.Series) -> list[Any]:
    known = list(hp.get("values") or ([False, True] if hp.get("type") == "bool" else []))
    seen = {_category_key(v) for v in known}
    extra = {_category_key(v): v for v in values.dropna() if _category_key(v) not in seen}
    return known + list(extra.values())


def _is_categorical(hp: Mapping[str, Any]) -> bool:
    return hp.get("type") in ("choice", "bool")


def _decade_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    ticks = list(range(math.floor(low), math.ceil(high) + 1))
    return [float(t) for t in ticks], [f"1e{t}" for t in ticks]


def parallel_coordinates(frame: pd.DataFrame, space: Mapping[str, Mapping[str, Any]],
                         score_col: str = "score", direction: str = "max") -> go.Figure:
    """One axis per varying hyperparameter plus the score, one line per scored trial.

    Choices and booleans sit on integer ticks labelled with their values; log-sampled
    ranges are drawn on log10 with decade ticks. Lines are coloured by score, the
    best brightest.
    """
    uirevision = "parallel_coordinates"
    scored = frame[frame[score_col].notna()] if score_col in frame else frame.iloc[:0]
    names = _hp_columns(scored, space)
    if scored.empty or not names:
        return _empty("no completed trial to compare yet", uirevision)
    dims = []
    for name in names:
        hp, raw = space[name], scored[HP_PREFIX + name]
        if _is_categorical(hp):
            cats = _categories(hp, raw)
            codes = {_category_key(v): i for i, v in enumerate(cats)}
            # The lambda runs inside map, before the loop moves on.
            dims.append({"label": plotly_text(name),
                         "values": raw.map(lambda v: codes.get(_category_key(v))),  # noqa: B023
                         "tickvals": list(range(len(cats))), "ticktext": [_label(c) for c in cats],
                         "range": [0, max(1, len(cats) - 1)]})
            continue
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        low, high = float(hp.get("min", values.min())), float(hp.get("max", values.max()))
        if hp.get("sampling") == "log":
            low, high = math.log10(low), math.log10(high)
            tickvals, ticktext = _decade_ticks(low, high)
            dims.append({"label": f"{plotly_text(name)} (log10)",
                         "values": np.log10(values.where(values > 0)),
                         "range": [low, high], "tickvals": tickvals, "ticktext": ticktext})
        else:
            dims.append({"label": plotly_text(name), "values": values,
                         "range": [low, high] if high > low else [low - 0.5, high + 0.5]})
    score = scored[score_col].astype(float)
    dims.append({"label": plotly_text(score_col), "values": score})
    fig = go.Figure(go.Parcoords(
        dimensions=[{**d, "values": np.asarray(d["values"], dtype=float)} for d in dims],
        line={"color": score.to_numpy(), "colorscale": "Viridis",
              "reversescale": direction == "min", "showscale": True,
              "colorbar": {"title": {"text": plotly_text(score_col)}}}))
    fig.update_layout(uirevision=uirevision)
    return fig


def _category_key(value: Any) -> tuple[str, Any]:
    """Keeps ``True`` and ``1`` apart (equal in Python) and ``32`` and ``32.0`` together."""
    if isinstance(value, (bool, np.bool_)):
        return ("bool", bool(value))
    if isinstance(value, (int, float, np.number)):
        return ("number", float(value))
    return ("text", str(value))


def _label(value: Any) -> str:
    """A choice value as a tick label or category: ``plotly_text``, so a value of
    ``<a href=...>`` reads as typed."""
    kind, v = _category_key(value)
    if kind == "number" and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return plotly_text(v)


def importance_chart(series: pd.Series) -> go.Figure:
    """Horizontal bars of ``analysis.hp_importance``, the most important on top."""
    uirevision = "importance"
    if series.empty:
        return _empty("importance needs at least 4 completed trials", uirevision)
    fig = go.Figure(go.Bar(
        x=series.to_numpy(), y=[plotly_text(i) for i in series.index], orientation="h",
        hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(uirevision=uirevision, xaxis_title="importance (share of 1)",
                      xaxis_tickformat=".0%", yaxis_autorange="reversed",
                      height=max(250, 60 + 28 * len(series)))
    return fig


def slice_plots(frame: pd.DataFrame, space: Mapping[str, Mapping[str, Any]],
                score_col: str = "score", columns: int = 3) -> go.Figure:
    """Score against each varying hyperparameter, one subplot each, a point per scored
    trial coloured by trial number; log x axis for log-sampled hyperparameters."""
    uirevision = "slices"
    scored = frame[frame[score_col].notna()] if score_col in frame else frame.iloc[:0]
    names = _hp_columns(scored, space)
    if scored.empty or not names:
        return _empty("no completed trial to slice yet", uirevision)
    cols = min(columns, len(names))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[plotly_text(n) for n in names],
                        shared_yaxes=True,
                        horizontal_spacing=0.06, vertical_spacing=0.5 / max(rows, 2) / 2)
    number = scored["number"].to_numpy() if "number" in scored else None
    y = scored[score_col].astype(float).to_numpy()
    for i, name in enumerate(names):
        row, col = i // cols + 1, i % cols + 1
        hp, raw = space[name], scored[HP_PREFIX + name]
        x = raw.map(_label).to_numpy() if _is_categorical(hp) else pd.to_numeric(
            raw, errors="coerce").to_numpy(dtype=float)
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers", showlegend=False, name=plotly_text(name),
            marker={"size": 6, "opacity": 0.7, "color": number, "colorscale": "Viridis",
                    "showscale": i == 0 and number is not None,
                    "colorbar": {"title": {"text": "trial"}}},
            hovertemplate=f"{plotly_text(name)} %{{x}}<br>{plotly_text(score_col)} "
                          "%{y:.4g}<extra></extra>"),
            row=row, col=col)
        if _is_categorical(hp):
            fig.update_xaxes(type="category", categoryorder="array",
                             categoryarray=[_label(c) for c in _categories(hp, raw)],
                             row=row, col=col)
        elif hp.get("sampling") == "log":
            fig.update_xaxes(type="log", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text=plotly_text(score_col), row=row, col=col)
    fig.update_layout(uirevision=uirevision, height=max(320, 300 * rows))
    return fig


def hyperband_chart(table: pd.DataFrame) -> go.Figure:
    """Hyperband from ``analysis.hyperband_table``: x is the round, each row one lineage
    (a first-round trial and the trials promoted from it), rows grouped by bracket;
    a line joins each parent to its promoted child."""
    uirevision = "hyperband"
    if table.empty:
        return _empty("no Hyperband trial yet", uirevision)
    parent = dict(zip(table["trial_key"], table["parent_key"]))
    root: dict[str, str] = {}
    for key in table["trial_key"]:
        node, seen = key, set()
        while parent.get(node) in parent and node not in seen:
            seen.add(node)
            node = parent[node]
        root[key] = node
    lineages = list(dict.fromkeys(root[k] for k in table["trial_key"]))
    row_of = {r: i for i, r in enumerate(lineages)}
    y = {k: row_of[root[k]] for k in table["trial_key"]}
    x = dict(zip(table["trial_key"], table["round"]))
    fig = go.Figure()
    seg_x: list[Any] = []
    seg_y: list[Any] = []
    for key, par in parent.items():
        if par in x:
            seg_x += [x[par], x[key], None]
            seg_y += [y[par], y[key], None]
    if seg_x:
        fig.add_trace(go.Scatter(x=seg_x, y=seg_y, mode="lines", name="promoted",
                                 line={"color": FADED, "width": 1.5}, hoverinfo="skip"))
    for i, (bracket, rows) in enumerate(table.groupby("bracket", sort=False)):
        completed = rows["status"] == "completed"
        text = [f"{plotly_text(k)}<br>bracket {bracket}, round {r}<br>{s}: {'' if pd.isna(v) else f'{v:.4g}'}"
                for k, r, s, v in zip(rows["trial_key"], rows["round"], rows["status"],
                                      rows["score"])]
        fig.add_trace(go.Scatter(
            x=rows["round"].to_numpy(), y=[y[k] for k in rows["trial_key"]], mode="markers",
            name=f"bracket {bracket}", text=text, hovertemplate="%{text}<extra></extra>",
            marker={"color": PALETTE[i % len(PALETTE)], "size": 9,
                    "symbol": np.where(completed, "circle", "x").tolist(),
                    "line": {"width": np.where(rows["promoted"], 2, 0).tolist(),
                             "color": "black"}}))
    fig.update_layout(
        uirevision=uirevision, xaxis={"title": {"text": "round"}, "dtick": 1},
        yaxis={"title": {"text": "trial lineage"}, "tickvals": list(range(len(lineages))),
               "ticktext": [plotly_text(k) for k in lineages], "autorange": "reversed"},
        height=min(2400, max(320, 120 + 20 * len(lineages))))
    return fig
