"""The reports carry the advice: Markdown with a text plot per suggestion, HTML with its
Plotly figure; a run with too little evidence says so in both."""
from __future__ import annotations

import math

from tests.insights.test_advice_rules import svm_trials
from tests.support.advice_runs import SVM, stored_run
from tuning.insights.advice import Chart
from tuning.insights.advice.charts import text_chart
from tuning.insights.reports import html_report, markdown_summary


def test_markdown_and_html_include_the_suggestions_with_charts(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + 0.4 * (math.log10(c) + 3) / 2))
    trials = storage.list_trials(run.id)
    text = markdown_summary(run, trials, storage.list_epochs(run.id))
    section = text[text.index("## What to try next"):]
    assert "### 1. Widen C upwards" in section
    assert "| search_space.C.max | 0.1 | 1.0 |" in section
    assert "```\n" in section and "*" in section.split("```")[1]  # the text plot
    page = html_report(run, trials, storage.list_epochs(run.id))
    assert "<h2>What to try next</h2>" in page and "<h3>1. Widen C upwards" in page
    assert page.count("plotly.js v") <= 2  # Plotly embedded once (its banner names it)


def test_too_little_evidence_says_so_in_the_reports(storage):
    run = stored_run(storage, SVM, svm_trials(lambda c, g, k: 0.5 + c)[:2])
    text = markdown_summary(run, storage.list_trials(run.id))
    assert "2 finished trials: nothing to say yet" in text


def test_text_chart_marks_evidence_and_draws_bars():
    chart = Chart("scatter", "C", "score", points=(
        {"trial": "0", "x": 0.001, "y": 0.5, "marked": False},
        {"trial": "1", "x": 0.1, "y": 0.9, "marked": True}), x_log=True)
    plot = text_chart(chart).splitlines()
    assert plot[0].endswith("*") and "o" in plot[-3]
    bars = text_chart(Chart("bars", "hp", "importance", points=(
        {"x": "C", "y": 0.9, "marked": True}, {"x": "gamma", "y": 0.1, "marked": False})))
    assert bars.splitlines()[0].startswith("C     " + "#" * 48)
