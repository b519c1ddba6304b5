"""Plotly figures of the deep-learning tools' runs. No Streamlit, no TensorFlow.

Each function takes storage records (``Epoch`` or ``Trial``; anything with the same
``metrics`` / ``hyperparameters`` / ``score`` attributes will do) and returns a figure
with a stable ``layout.uirevision``, so a page that redraws it keeps the user's zoom.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from storage import TrialStatus
from tuning.strategies.lr_finder import find_divergence

from .curves import finite_number
from .escaping import plotly_text

PALETTE = qualitative.Plotly
FADED = "rgba(120, 120, 120, 0.5)"
PARAM_METRICS = ("param_count", "total_params")


def _empty(message: str, uirevision: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=plotly_text(message), showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_layout(uirevision=uirevision, xaxis_visible=False, yaxis_visible=False)
    return fig


def _completed(trials: Iterable[Any]) -> list[Any]:
    return [t for t in trials
            if t.status is TrialStatus.COMPLETED and finite_number(t.score) is not None]


def _hover(trial: Any, keys: Sequence[str] = ()) -> str:
    values = {k: v for k, v in trial.hyperparameters.items() if not str(k).startswith("tuner/")}
    parts = [plotly_text(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}")
             for k, v in values.items()]
    parts += [plotly_text(f"{k}={trial.metrics[k]}") for k in keys
              if trial.metrics.get(k) is not None]
    return f"trial {plotly_text(trial.trial_key)}<br>" + "<br>".join(parts)


# -- learning-rate range test ------------------------------------------------------


def lr_range_chart(epochs: Iterable[Any]) -> go.Figure:
    """Loss against learning rate (log axis) of one range-test trial: the batch losses,
    the recorded smoothed loss, and vertical lines where the loss starts to diverge and at
    the suggested rate (``lr_finder.find_divergence`` over the same points)."""
    uirevision = "lr_range"
    rows = sorted(((e.epoch, e.metrics) for e in epochs), key=lambda r: r[0])
    points = [(float(m["lr"]), m.get("loss"), m.get("smoothed_loss")) for _, m in rows
              if finite_number(m.get("lr")) is not None]
    if not points:
        return _empty("no learning-rate step recorded yet", uirevision)
    lrs = [p[0] for p in points]
    losses = [math.nan if p[1] is None else float(p[1]) for p in points]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lrs, y=[p[1] for p in points], mode="lines+markers",
                             name="loss (per batch)", line={"color": FADED, "width": 1},
                             marker={"size": 4, "color": FADED},
                             hovertemplate="lr %{x:.3g}<br>loss %{y:.4g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=lrs, y=[p[2] for p in points], mode="lines",
                             name="smoothed loss", line={"color": PALETTE[0], "width": 2.5},
                             hovertemplate="lr %{x:.3g}<br>smoothed %{y:.4g}<extra></extra>"))
    diverge, suggested, _ = find_divergence(lrs, losses)
    finite = [y for y in losses if math.isfinite(y)]
    # The last steps blow up by orders of magnitude; keep the interesting part in view.
    top = 1.5 * max(finite[: max(1, len(finite) // 2)]) if finite else 1.0
    # Vertical lines as traces, in data coordinates: shapes on a log axis are not.
    for x, label, colour in ((diverge, "starts to diverge", PALETTE[1]),
                             (suggested, "suggested", PALETTE[2])):
        if x is not None:
            fig.add_trace(go.Scatter(x=[x, x], y=[0, top], mode="lines",
                                     name=f"{label}: {x:.2g}",
                                     line={"color": colour, "dash": "dash"},
                                     hovertemplate=f"{label}: {x:.3g}<extra></extra>"))
    fig.update_layout(uirevision=uirevision, xaxis_type="log", xaxis_title="learning rate",
                      yaxis_title="training loss", yaxis_range=[0, top])
    return fig


# -- batch-size study --------------------------------------------------------------


def batch_size_chart(trials: Iterable[Any], metric: str = "score") -> go.Figure:
    """Two panels against batch size (log-2 axis): seconds per epoch, and the validation
    score (best epoch, with the last epoch's as a dotted line)."""
    uirevision = "batch_size"
    done = sorted((t for t in _completed(trials) if "batch_size" in t.hyperparameters),
                  key=lambda t: t.hyperparameters["batch_size"])
    if not done:
        return _empty("no completed batch size yet", uirevision)
    sizes = [int(t.hyperparameters["batch_size"]) for t in done]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("time per epoch", plotly_text(metric)))
    hover = [_hover(t, ("mean_epoch_time_s",)) for t in done]
    fig.add_trace(go.Scatter(x=sizes, y=[finite_number(t.metrics.get("mean_epoch_time_s"))
                                         for t in done],
                             mode="lines+markers", name="seconds per epoch", text=hover,
                             hovertemplate="%{text}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=sizes, y=[t.score for t in done], mode="lines+markers",
                             name=f"{plotly_text(metric)} (best epoch)", text=hover,
                             hovertemplate="%{text}<br>score %{y:.4g}<extra></extra>"),
                  row=1, col=2)
    fig.add_trace(go.Scatter(x=sizes, y=[finite_number(t.metrics.get("final_score")) for t in done],
                             mode="lines+markers", name=f"{plotly_text(metric)} (last epoch)",
                             line={"dash": "dot"}, hovertemplate="last epoch %{y:.4g}"
                             "<extra></extra>"), row=1, col=2)
    ticks = {"type": "log", "tickvals": sizes, "ticktext": [str(s) for s in sizes],
             "title": "batch size"}
    fig.update_xaxes(**ticks)
    fig.update_yaxes(title_text="seconds", row=1, col=1)
    fig.update_layout(uirevision=uirevision)
    return fig


# -- depth and width, transfer, LoRA -------------------------------------------------


def score_vs_params_chart(trials: Iterable[Any], param: str | None = None,
                          colour_by: str | None = None) -> go.Figure:
    """Score against parameter count (log axis), one marker per completed trial.

    ``param`` names the metric on the x axis (default: ``param_count``, which MLP trials
    record, else ``total_params``); ``colour_by`` a hyperparameter that groups markers
    (default: ``shape`` if trials have it, else ``num_layers``).
    """
    uirevision = "score_vs_params"
    done = _completed(trials)
    if param is None:
        param = next((p for p in PARAM_METRICS if any(p in t.metrics for t in done)),
                     PARAM_METRICS[0])
    done = [t for t in done if finite_number(t.metrics.get(param)) is not None]
    if not done:
        return _empty(f"no completed trial has recorded {param} yet", uirevision)
    if colour_by is None:
        colour_by = next((h for h in ("shape", "num_layers", "rank", "init")
                          if any(h in t.hyperparameters for t in done)), None)
    groups: dict[str, list[Any]] = {}
    for t in done:
        groups.setdefault(str(t.hyperparameters.get(colour_by, "")) if colour_by else "",
                          []).append(t)
    fig = go.Figure()
    for i, (label, members) in enumerate(sorted(groups.items())):
        fig.add_trace(go.Scatter(
            x=[t.metrics[param] for t in members], y=[t.score for t in members],
            mode="markers", name=plotly_text(f"{colour_by}={label}") if colour_by else "trials",
            marker={"size": 9, "color": PALETTE[i % len(PALETTE)]},
            text=[_hover(t, (param,)) for t in members],
            hovertemplate="%{text}<br>score %{y:.4g}<extra></extra>"))
    fig.update_layout(uirevision=uirevision, xaxis_type="log",
                      xaxis_title=plotly_text(param.replace("_", " ")), yaxis_title="score",
                      showlegend=colour_by is not None)
    return fig


def transfer_chart(trials: Iterable[Any]) -> go.Figure:
    """Score per number of frozen layers, one line per fine-tuning rate, with the
    from-scratch baseline as a horizontal line: what the transfer bought."""
    uirevision = "transfer"
    done = _completed(trials)
    transferred = [t for t in done if t.hyperparameters.get("init") == "transfer"]
    if not transferred:
        return _empty("no completed transfer trial yet", uirevision)
    fig = go.Figure()
    rates = sorted({float(t.hyperparameters["fine_tune_lr"]) for t in transferred})
    for i, rate in enumerate(rates):
        members = sorted((t for t in transferred
                          if float(t.hyperparameters["fine_tune_lr"]) == rate),
                         key=lambda t: t.hyperparameters["frozen_layers"])
        fig.add_trace(go.Scatter(
            x=[t.hyperparameters["frozen_layers"] for t in members],
            y=[t.score for t in members], mode="lines+markers",
            name=f"fine-tuning rate {rate:g}", line={"color": PALETTE[i % len(PALETTE)]},
            text=[_hover(t, ("trainable_params", "non_trainable_params")) for t in members],
            hovertemplate="%{text}<br>score %{y:.4g}<extra></extra>"))
    for t in done:
        if t.hyperparameters.get("init") == "scratch":
            fig.add_hline(y=t.score, line={"color": FADED, "dash": "dash"},
                          annotation_text=f"from scratch: {t.score:.4g}")
    fig.update_layout(uirevision=uirevision, xaxis_title="lower layers frozen",
                      xaxis_dtick=1, yaxis_title="score")
    return fig


def lora_chart(trials: Iterable[Any]) -> go.Figure:
    """Score against LoRA rank (log-2 axis), one line per learning rate; the hover shows
    each trial's trainable parameters and generated sample."""
    uirevision = "lora"
    done = [t for t in _completed(trials) if "rank" in t.hyperparameters]
    if not done:
        return _empty("no completed LoRA trial yet", uirevision)
    fig = go.Figure()
    rates = sorted({float(t.hyperparameters["learning_rate"]) for t in done})
    for rate in rates:
        members = sorted((t for t in done if float(t.hyperparameters["learning_rate"]) == rate),
                         key=lambda t: t.hyperparameters["rank"])
        fig.add_trace(go.Scatter(
            x=[t.hyperparameters["rank"] for t in members], y=[t.score for t in members],
            mode="lines+markers", name=f"learning rate {rate:g}",
            text=[_hover(t, ("trainable_params",)) + "<br>" + _sample(t) for t in members],
            hovertemplate="%{text}<br>score %{y:.4g}<extra></extra>"))
    ranks = sorted({int(t.hyperparameters["rank"]) for t in done})
    fig.update_layout(uirevision=uirevision, xaxis_type="log", xaxis_tickvals=ranks,
                      xaxis_ticktext=[str(r) for r in ranks], xaxis_title="LoRA rank",
                      yaxis_title="score")
    return fig


def _sample(trial: Any, limit: int = 80) -> str:
    text = str(trial.metrics.get("sample") or "")
    return "sample: " + plotly_text(text if len(text) <= limit else text[: limit - 1] + "…")


def lr_suggestion(trial: Any) -> Mapping[str, Any] | None:
    """What a page shows of a finished range-test trial: the suggested and divergence
    rates, the reasoning, and the search-space entry one click carries into a new run."""
    from tuning.strategies.lr_finder import suggested_space

    suggested = finite_number(trial.metrics.get("suggested_lr"))
    if suggested is None or suggested <= 0:
        return None
    return {"suggested_lr": suggested, "diverge_lr": finite_number(trial.metrics.get("diverge_lr")),
            "reasoning": trial.message or "", "learning_rate": suggested_space(suggested)}
