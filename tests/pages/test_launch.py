"""The launch form: what it shows is what it queues, and a bad form queues nothing."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from page_helpers import SK_SPEC, open_app, open_spec_json, shown_spec

from pages._common import SPEC_JSON_KEY
from storage import plain_json
from tuning.paths import uploads_dir
from tuning.runner.control import queue_run


def errors(at) -> str:
    return "\n".join(e.value for e in at.error)


def svm_form(db):
    at = open_app()
    at.selectbox(key="f_family").set_value("svm").run()
    at.number_input(key="f_max_trials").set_value(4).run()
    return at


def test_launch_queues_exactly_the_spec_the_form_shows(db):
    at = svm_form(db)
    assert not at.error, errors(at)
    shown = shown_spec(at)
    assert shown["model"] == {"family": "svm"}
    assert shown["strategy"]["max_trials"] == 4
    assert set(shown["search_space"]) == {"C", "gamma", "kernel"}

    at.button(key="launch").click().run()

    (run,) = db.list_runs()
    assert plain_json(run.spec) == shown
    assert at.query_params["run"] in (str(run.id), [str(run.id)])
    assert at.title[0].value == "Live run"


def test_min_above_max_shows_the_problem_beside_the_space_and_queues_nothing(db):
    at = svm_form(db)
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {0: {"min": 500.0}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "search_space.C.min" in errors(at) and "swap them" in errors(at)
    open_spec_json(at)
    assert "Not valid yet" in " ".join(c.value for c in at.caption)

    at.button(key="launch").click().run()
    assert "Nothing was queued" in errors(at)
    assert db.list_runs() == []
    assert not at.exception


def test_the_spec_json_is_sent_only_once_its_expander_is_opened(db):
    """Collapsed, the expander's code is not sent at all: the browser would load the syntax
    highlighter (1.5 MB) before drawing the form. Opened, it shows the spec; closed, it goes."""
    at = svm_form(db)
    assert [e.label for e in at.expander if e.label == "Spec (JSON)"]
    assert not at.code
    assert shown_spec(at)["model"] == {"family": "svm"}
    at.session_state[SPEC_JSON_KEY] = False
    at.run()
    assert not at.code


def test_an_empty_search_space_is_refused(db):
    at = svm_form(db)
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {}, "added_rows": [], "deleted_rows": [0, 1, 2]}
    at.run()
    assert "`search_space` must name at least one hyperparameter" in errors(at)
    at.button(key="launch").click().run()
    assert db.list_runs() == []


def test_added_rows_parse_choices_and_ranges(db):
    at = svm_form(db)
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {1: {"values": "scale, auto"}}, "deleted_rows": [2],
        "added_rows": [{"name": "degree", "type": "int", "min": 2, "max": 4, "step": 1,
                        "sampling": "linear"}]}
    at.run()
    assert not at.error, errors(at)
    space = shown_spec(at)["search_space"]
    assert space["gamma"] == {"type": "choice", "values": ["scale", "auto"]}
    assert space["degree"] == {"type": "int", "min": 2, "max": 4, "step": 1, "sampling": "linear"}
    assert "kernel" not in space


def test_only_families_and_strategies_that_fit_are_offered(db):
    at = open_app()
    at.selectbox(key="f_sk_name").set_value("diabetes").run()
    assert "logistic_regression" not in at.selectbox(key="f_family").options
    at.selectbox(key="f_family").set_value("ridge").run()
    assert "hyperband" not in at.selectbox(key="f_strategy").options
    assert at.selectbox(key="f_metric").value == "r2"


def test_strategy_shows_its_options_and_its_sentence(db):
    at = open_app()  # mlp on iris
    at.selectbox(key="f_strategy").set_value("hyperband").run()
    keys = {n.key for n in at.number_input}
    assert {"f_max_epochs", "f_factor", "f_hb_iterations"} <= keys
    assert "f_max_trials" not in keys
    assert any("many configurations get a few epochs" in c.value for c in at.caption)


def test_race_queues_one_run_per_strategy_and_opens_compare(db):
    at = svm_form(db)
    at.multiselect(key="race_strategies").set_value(["random", "bayesian"]).run()
    at.button(key="race").click().run()
    runs = db.list_runs()
    assert sorted(r.strategy for r in runs) == ["bayesian", "random"]
    assert at.title[0].value == "Compare runs"


def test_load_spec_of_an_earlier_run_puts_it_back_in_the_form(db):
    earlier = queue_run(db, SK_SPEC)
    at = open_app()
    at.selectbox(key="load_run").set_value(earlier.id)
    at.button(key="load_spec").click().run()
    assert not at.error, errors(at)
    assert shown_spec(at) == plain_json(earlier.spec)


def test_uploaded_csv_is_stored_by_content_previewed_and_targeted(db):
    frame = pd.DataFrame({"x1": range(40), "x2": [i % 3 for i in range(40)],
                          "label": ["a", "b"] * 20})
    content = frame.to_csv(index=False).encode()
    at = open_app()
    at.radio(key="f_source").set_value("csv").run()
    at.file_uploader(key="f_upload").set_value(("my secret name.csv", content, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    stored = list(uploads_dir(db.path).iterdir())
    assert len(stored) == 1 and "secret" not in stored[0].name
    assert stored[0].read_bytes() == content
    assert at.selectbox(key="f_target").value == "label"
    types = [d.value for d in at.dataframe if "type" in d.value.columns][0]
    assert list(types["column"]) == ["x1", "x2", "label"]
    spec = shown_spec(at)
    assert spec["data"]["path"] == str(stored[0]) and spec["data"]["target"] == "label"


def test_a_bad_csv_shows_its_data_error(db):
    at = open_app()
    at.radio(key="f_source").set_value("csv").run()
    at.file_uploader(key="f_upload").set_value(("bad.csv", b"only_one_column\n1\n", "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "data.path" in errors(at)
    assert db.list_runs() == []


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.json"))


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_spec_loads_back_into_the_form_unchanged(db, example):
    doc = json.loads(example.read_text())
    if doc["data"].get("path"):
        doc["data"]["path"] = str(example.parent / doc["data"]["path"].removeprefix("examples/"))
    earlier = queue_run(db, doc)
    at = open_app()
    at.selectbox(key="load_run").set_value(earlier.id)
    at.button(key="load_spec").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, errors(at)
    assert shown_spec(at) == plain_json(earlier.spec)
    at.button(key="launch").click().run()
    again = max(db.list_runs(), key=lambda r: r.id)
    assert again.id != earlier.id and plain_json(again.spec) == plain_json(earlier.spec)


def test_a_network_too_large_for_its_data_is_warned_before_the_launch_button(db):
    """The warning reads the data set after the buttons are drawn, and still shows above them."""
    doc = {"name": "wide", "data": {"source": "sklearn", "name": "iris"},
           "model": {"family": "mlp"},
           "search_space": {"units": {"type": "int", "min": 512, "max": 1024, "step": 512},
                            "num_layers": {"type": "int", "min": 4, "max": 6}},
           "strategy": {"name": "random", "max_trials": 2}, "training": {"epochs": 2}}
    earlier = queue_run(db, doc)
    at = open_app()
    at.selectbox(key="load_run").set_value(earlier.id)
    at.button(key="load_spec").click().run()
    assert not at.exception and not at.error, errors(at)
    order = _flat(at.main)
    warned = [i for i, n in enumerate(order) if n.type == "warning"
              and "too large for the data" in n.value]
    launch = [i for i, n in enumerate(order) if getattr(n, "key", None) == "launch"]
    assert warned and launch and warned[0] < launch[0]


def _flat(node) -> list:
    out = []
    for child in getattr(node, "children", {}).values():
        out.append(child)
        out.extend(_flat(child))
    return out


def test_keras_cache_data_sets_are_offered(db):
    at = open_app()
    at.radio(key="f_source").set_value("keras").run()
    at.selectbox(key="f_keras_name").set_value("fashion_mnist").run()
    assert shown_spec(at)["data"]["name"] == "fashion_mnist"
    assert "Keras MLP (dense network)" in at.selectbox(key="f_family").options


@pytest.mark.parametrize("page", ["pages/launch.py", "pages/runs.py", "pages/live.py",
                                  "pages/trial.py", "pages/compare.py", "pages/reports.py"])
def test_every_page_opens_on_an_empty_database(db, page):
    at = open_app(page)
    assert not at.exception and not at.error


def test_sequential_strategy_takes_its_stage_order_and_shows_the_cost(db):
    at = svm_form(db)
    at.selectbox(key="f_strategy").set_value("sequential").run()
    assert "`strategy.order` must list the hyperparameters" in errors(at)
    at.session_state[at.data_editor[0].key] = {
        "edited_rows": {0: {"type": "choice", "values": "0.1, 1, 10"}}, "added_rows": [],
        "deleted_rows": []}
    at.run()
    at.multiselect(key="f_order").set_value(["C", "kernel"]).run()
    assert not at.error, errors(at)
    shown = shown_spec(at)
    assert shown["strategy"]["order"] == ["C", "kernel"]
    assert shown["strategy"]["max_trials"] == 3 + 1  # kernel's default, rbf, is carried
    assert any("Up to 4 trials" in i.value for i in at.info)
    at.button(key="launch").click().run()
    (run,) = db.list_runs()
    assert plain_json(run.spec)["strategy"]["order"] == ["C", "kernel"]


def test_keras_form_offers_pruning_early_stopping_and_workers(db):
    at = open_app()
    at.selectbox(key="f_sk_name").set_value("digits").run()
    at.selectbox(key="f_family").set_value("mlp").run()
    at.checkbox(key="f_pruning").check().run()
    at.checkbox(key="f_early").check().run()
    at.number_input(key="f_es_patience").set_value(2).run()
    at.number_input(key="f_workers").set_value(2).run()
    at.selectbox(key="f_lr_schedule").set_value("cosine").run()
    assert not at.error, errors(at)
    shown = shown_spec(at)
    assert shown["training"]["lr_schedule"] == "cosine"
    assert shown["strategy"]["pruning"] == {"warmup_epochs": 2, "min_trials": 3}
    assert shown["strategy"]["workers"] == 2
    assert shown["training"]["early_stopping"]["patience"] == 2
    assert any("epochs of training in all" in i.value for i in at.info)


def test_a_tool_takes_its_options_as_json(db):
    at = open_app()
    at.selectbox(key="f_sk_name").set_value("digits").run()
    at.selectbox(key="f_family").set_value("mlp").run()
    at.selectbox(key="f_strategy").set_value("lr_range_test").run()
    assert not [s for s in at.selectbox if s.key == "f_lr_schedule"]  # it sets the rate itself
    at.selectbox(key="f_strategy").set_value("batch_size_study").run()
    at.text_area(key="f_tool_options").set_value('{"batch_sizes": [16, 128]}').run()
    at.number_input(key="f_executions").set_value(2).run()
    assert not at.error, errors(at)
    assert shown_spec(at)["strategy"]["batch_sizes"] == [16, 128]
    assert shown_spec(at)["strategy"]["executions_per_trial"] == 2
    at.text_area(key="f_tool_options").set_value("[1, 2").run()
    assert "options must be a JSON object" in errors(at)


def test_a_bundled_demo_csv_can_be_picked_without_uploading(db):
    at = open_app()
    at.radio(key="f_source").set_value("csv").run()
    at.selectbox(key="f_demo_csv").set_value("houses.csv").run()
    at.selectbox(key="f_target").set_value("price").run()
    at.selectbox(key="f_family").set_value("ridge").run()
    assert not at.error, errors(at)
    shown = shown_spec(at)
    assert shown["data"]["path"].endswith("examples/data/houses.csv")
    assert shown["data"]["task"] == "regression"
