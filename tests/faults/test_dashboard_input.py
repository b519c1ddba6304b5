"""Bad and hostile input through the dashboard (AppTest): CSV uploads that cannot be trained
on are refused beside the data section and queue nothing; an upload's own name never
becomes a path; a run named with HTML and script is accepted as text, and every page shows
it as text (no element of any page may render raw HTML)."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import db_fingerprint
from tuning.paths import uploads_dir
from tuning.spec import validate_spec

APP = str(Path(__file__).resolve().parents[2] / "app.py")
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'
NUMBERS = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(30))

UPLOADS = [
    # (id, bytes, field, fragment)
    ("empty", b"", "data.path", "is empty (0 bytes)"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "data.path", "is not a text file"),
    ("latin-1", ("a,b,y\n" + "caf\xe9,1,p\nth\xe9,2,q\n" * 10).encode("latin-1"), "data.path",
     "is not UTF-8 text"),
    ("no-header", NUMBERS.encode(), "data.path", "has no header row"),
    ("single-column", b"y\n" + b"1\n" * 30, "data.path", "has a single column"),
    ("too-few-rows", b"a,b,y\n1,2,p\n3,4,q\n", "data.path", "at least 10 are needed"),
    ("ragged", b"a,b,y\n" + b"1,2,p\n3,4,q,5,6\n" * 10, "data.path", "is not valid CSV"),
    ("constant-target", b"a,b,y\n" + b"1,2,p\n3,4,p\n" * 10, "data.target", "has the same value"),
    ("one-row-of-a-class", b"a,b,y\n" + b"1,2,p\n3,4,q\n" * 10 + b"5,6,r\n", "data.target",
     "with a single row"),
]


@pytest.fixture
def db(tmp_path, monkeypatch) -> Storage:
    path = tmp_path / "tuning.db"
    monkeypatch.setenv("TUNING_DB", str(path))
    monkeypatch.setenv("TUNING_ENGINE", "0")
    store = Storage(path)
    yield store
    store.close()


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


@pytest.mark.parametrize("content, field, fragment", [u[1:] for u in UPLOADS],
                         ids=[u[0] for u in UPLOADS])
def test_a_bad_upload_is_refused_in_the_form_and_queues_nothing(db, content, field, fragment):
    before = db_fingerprint(Path(db.path))
    at = _app()
    at.radio(key="f_source").set_value("csv").run()
    at.file_uploader(key="f_upload").set_value(("../../../evil name.csv", content, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert field in _errors(at) and fragment in _errors(at), _errors(at)
    at.button(key="launch").click().run()
    assert "Nothing was queued" in _errors(at)
    assert db.list_runs() == [] and db_fingerprint(Path(db.path)) == before
    stored = list(uploads_dir(db.path).iterdir())
    assert [p.suffix for p in stored] == [".csv"] and "evil" not in stored[0].name
    assert not (Path(db.path).parent.parent / "evil name.csv").exists()


def _leaves(node) -> Iterator:
    children = getattr(node, "children", None)
    if children:
        for child in children.values():
            yield from _leaves(child)
    else:
        yield node


def _assert_shown_as_text_only(at: AppTest, where: str) -> str:
    """No element renders raw HTML; returns every text the page shows, for checking."""
    texts = []
    for leaf in _leaves(at._tree):
        proto = getattr(leaf, "proto", None)
        if proto is None:
            continue
        assert leaf.type != "html", f"{where}: an st.html element"
        assert not getattr(proto, "allow_html", False), f"{where}: {leaf.type} allows raw HTML"
        for field in ("body", "label", "code_text", "value"):
            value = getattr(proto, field, None)
            if isinstance(value, str):
                texts.append(value)
        texts += [str(o) for o in getattr(proto, "options", [])]
    return "\n".join(texts)


def test_a_run_named_with_html_and_script_is_kept_as_text_on_every_page(db):
    at = _app()
    at.text_input(key="f_name").set_value(HOSTILE).run()
    at.text_input(key="f_description").set_value("<b>bold</b> & <i>co</i>").run()
    assert not at.error, _errors(at)
    at.button(key="launch").click().run()
    (run,) = db.list_runs()
    assert run.name == HOSTILE, "the name was altered instead of being kept as text"
    # A failed trial whose message and choice value also hold markup.
    assert db.claim_run(run.id, pid=1)
    ok = db.begin_trial(run.id, "0", 0, {"C": 1.0, "kernel": HOSTILE})
    db.record_epoch(ok.id, 0, 0, {"score": 0.9})
    db.finish_trial(ok.id, TrialStatus.COMPLETED, score=0.9)
    bad = db.begin_trial(run.id, "1", 1, {"C": 2.0, "kernel": "rbf"})
    db.finish_trial(bad.id, TrialStatus.FAILED, message=f"ValueError: {HOSTILE}")
    db.finish_run(run.id, RunStatus.COMPLETED)

    for page in ("pages/launch.py", "pages/runs.py", "pages/live.py", "pages/compare.py",
                 "pages/reports.py"):
        at = AppTest.from_file(APP, default_timeout=60).run()
        at.query_params["run"] = str(run.id)
        at.query_params["runs"] = str(run.id)
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        shown = _assert_shown_as_text_only(at, page)
        if page in ("pages/runs.py", "pages/live.py", "pages/reports.py"):
            assert "script" in shown, f"{page} does not show the run's name at all"
    # The Markdown summary on the reports page shows the markup as text.
    rendered = _render("\n".join(m.value for m in at.markdown))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered and "<script>" not in rendered


def _render(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)


MD_HOSTILE = ("![px](http://evil.example/p.png) [click](http://evil.example) <b>b</b> "
              ":red[alarm] **loud**")
MARKDOWN_ELEMENTS = ("markdown", "error", "warning", "info", "success", "caption", "title",
                     "subheader", "header", "exception")


def _markdown_bodies(at: AppTest) -> list[str]:
    bodies = []
    for leaf in _leaves(at._tree):
        proto = getattr(leaf, "proto", None)
        if leaf.type in MARKDOWN_ELEMENTS or getattr(proto, "element_type", None):
            body = getattr(proto, "body", None)
            if isinstance(body, str) and body:
                bodies.append(body)
        label = getattr(proto, "label", None)
        if leaf.type == "tab" and isinstance(label, str):
            bodies.append(label)
    return bodies


def test_markdown_from_users_and_urls_renders_as_text_on_every_page(db):
    spec = validate_spec({"name": MD_HOSTILE, "data": {"source": "sklearn", "name": "iris"},
                          "model": {"family": "svm"},
                          "search_space": {"kernel": {"type": "choice",
                                                      "values": [MD_HOSTILE, "rbf"]}},
                          "strategy": {"name": "random", "max_trials": 2}})
    runs = [db.create_run(MD_HOSTILE, spec) for _ in range(2)]
    for run in runs:
        assert db.claim_run(run.id, pid=1)
        trial = db.begin_trial(run.id, "0", 0, {"kernel": MD_HOSTILE})
        db.finish_trial(trial.id, TrialStatus.FAILED, message=f"ValueError: {MD_HOSTILE}")
        db.finish_run(run.id, RunStatus.FAILED, error=f"failed: {MD_HOSTILE}")
    ids = f"{runs[0].id},{runs[1].id}"
    for page, query in [("pages/runs.py", {"run": str(runs[0].id)}),
                        ("pages/live.py", {"run": str(runs[0].id)}),
                        ("pages/reports.py", {"run": str(runs[0].id)}),
                        ("pages/compare.py", {"runs": ids}),
                        ("pages/live.py", {"run": "![q](http://evil.example/q.png)"}),
                        ("pages/compare.py", {"runs": f"{ids},[x](http://evil.example)"})]:
        at = AppTest.from_file(APP, default_timeout=60).run()
        for key, value in query.items():
            at.query_params[key] = value
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        bodies = _markdown_bodies(at)
        assert any("evil.example" in b for b in bodies), (page, query, bodies)
        for body in bodies:
            html = _render(body)
            assert not any(tag in html for tag in ("<a ", "<img", "<b>", "<strong>loud")), (
                page, query, body, html)
            assert ":red[" not in body, (page, body)  # Streamlit's colour directive


def test_a_spec_loaded_back_into_the_form_keeps_its_hostile_name_as_text(db):
    doc = {"name": HOSTILE, "data": {"source": "sklearn", "name": "iris"},
           "model": {"family": "knn"},
           "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 5}},
           "strategy": {"name": "random", "max_trials": 2}}
    earlier = db.create_run(HOSTILE, validate_spec(copy.deepcopy(doc)))
    at = _app()
    at.selectbox(key="load_run").set_value(earlier.id)
    at.button(key="load_spec").click().run()
    assert at.text_input(key="f_name").value == HOSTILE
    _assert_shown_as_text_only(at, "launch")
