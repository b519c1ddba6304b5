"""The launch form with the user's own model: the module chosen from the data folders,
its space discovered (in a process of its own) and shown in the space editor, narrowed
and launched; a broken module's error shown as the user's under the model section."""
from __future__ import annotations

from page_helpers import open_app, shown_spec

from storage import plain_json

MODULE = "examples/models/digits_dense.py"


def custom_form(module: str):
    at = open_app()
    at.selectbox(key="f_sk_name").set_value("digits").run()
    at.selectbox(key="f_family").set_value("custom").run()
    at.selectbox(key="f_module_choice").set_value(module).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_form_shows_a_discovered_space_and_queues_what_it_shows(db):
    at = custom_form(MODULE)
    assert not at.error, [e.value for e in at.error]
    shown = shown_spec(at)
    assert shown["model"] == {"family": "custom", "module": MODULE, "build": "build_model"}
    assert shown["search_space"]["units_0"] == {"type": "int", "min": 16, "max": 64, "step": 16,
                                                "sampling": "linear"}
    assert set(shown["search_space"]) == {"num_layers", "units_0", "activation", "dropout",
                                          "learning_rate"}
    captions = " ".join(c.value for c in at.caption)
    assert "declares 6 hyperparameters" in captions
    assert "`dropout_rate` (float, only when dropout in [True])" in captions
    assert "Uploading a module is off" in captions

    at.button(key="launch").click().run()
    (run,) = db.list_runs()
    assert plain_json(run.spec) == shown


def test_a_broken_module_shows_the_users_file_and_line(db, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    broken = tmp_path / "broken.py"
    broken.write_text("def build_model(hp):\n    return hp.Int('units', 1, 4) / 0\n")
    at = custom_form(str(broken))
    message = "\n".join(e.value for e in at.error)
    assert f"{broken}, line 2, in build_model: ZeroDivisionError" in message, message
    at.button(key="launch").click().run()
    assert not db.list_runs()
