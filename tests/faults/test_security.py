"""Nobody gets in: the dashboard binds loopback with XSRF protection on and uploads capped;
nothing a user uploads is ever unpickled; names a user types never become paths; every SQL
statement is parameterised; reports escape what users typed; the README's advice on
exposing the dashboard matches the configuration."""
from __future__ import annotations

import ast
import copy
import http.client
import re
import socket
import tomllib
from pathlib import Path

import psutil
import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import ROOT, Dashboard, write_spec
from tests.support.runs import cli
from tuning.insights.reports import html_report, markdown_summary, rebuild_script
from tuning.spec import validate_spec

CONFIG = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
SOURCES = sorted([*ROOT.glob("storage/**/*.py"), *ROOT.glob("tuning/**/*.py"),
                  *ROOT.glob("pages/**/*.py"), *ROOT.glob("bench/*.py"), ROOT / "app.py"])
HOSTILE = "<script>alert(1)</script>"


# -- the server ---------------------------------------------------------------------------

def test_the_configuration_binds_loopback_keeps_xsrf_and_caps_uploads():
    server = CONFIG["server"]
    assert server["address"] == "127.0.0.1"
    assert server["enableXsrfProtection"] is True
    assert server.get("enableCORS", True) is True, "CORS protection must stay on"
    assert 0 < server["maxUploadSize"] <= 50
    assert CONFIG["client"]["showErrorDetails"] == "none", "tracebacks would reach the browser"


def test_the_upload_widget_carries_the_cap(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TUNING_DB", str(tmp_path / "t.db"))
    monkeypatch.setenv("TUNING_ENGINE", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.radio(key="f_source").set_value("csv").run()
    (uploader,) = at.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == CONFIG["server"]["maxUploadSize"]
    assert list(uploader.proto.type) == [".csv"]


def _other_addresses() -> list[str]:
    return sorted({a.address for addrs in psutil.net_if_addrs().values() for a in addrs
                   if a.family == socket.AF_INET and not a.address.startswith("127.")})


@pytest.mark.slow
def test_a_started_dashboard_listens_on_loopback_only_and_refuses_cross_site_uploads(tmp_path):
    dashboard = Dashboard(tmp_path / "t.db", tmp_path / "streamlit.log", address=None,
                          env={"TUNING_ENGINE": "0"})
    try:
        dashboard.wait_healthy()
        listening = [c.laddr for c in psutil.Process(dashboard.proc.pid).net_connections("inet")
                     if c.status == psutil.CONN_LISTEN]
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
        for address in _other_addresses():
            with pytest.raises(OSError):
                socket.create_connection((address, dashboard.port), timeout=2).close()
        # An upload without the XSRF cookie and header, as a page of another site sends it.
        conn = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=10)
        conn.request("PUT", "/_stcore/upload_file/some-session/some-file", body=b"a,b\n1,2\n",
                     headers={"Content-Type": "text/csv"})
        response = conn.getresponse()
        assert response.status == 403, (response.status, response.read()[:200])
        conn.close()
    finally:
        dashboard.close()


def test_the_docker_image_is_published_on_loopback_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    runs = [ln for ln in readme.splitlines() if ln.strip().startswith("docker run")]
    assert runs and all("-p 127.0.0.1:" in ln for ln in runs), runs


def test_the_readme_section_on_exposing_the_dashboard_matches_the_configuration():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Exposing the dashboard", 1)[1].split("\n## ", 1)[0]
    assert "127.0.0.1" in section and "XSRF" in section
    assert f"{CONFIG['server']['maxUploadSize']} MB" in section
    assert "reverse proxy" in section and "authenticat" in section
    assert "never unpickled" in section
    assert "/_stcore/stream" in section  # WebSocket upgrades must be proxied


# -- nothing unpickled ---------------------------------------------------------------------

# Loaders that can run code from a file, and what makes each one safe.
UNSAFE_LOADS = re.compile(r"\b(pickle\.loads?|cPickle\.loads?|joblib\.load|dill\.loads?|"
                          r"cloudpickle\.loads?|marshal\.loads?|shelve\.open|pd\.read_pickle|"
                          r"pandas\.read_pickle|torch\.load|yaml\.load|yaml\.unsafe_load)\s*\(")
# The one load_model that is not Keras's file loader: KerasTuner's Tuner.load_model rebuilds
# the hypermodel from its hyperparameters and reads only weights the worker itself saved.
ALLOWED_LOAD_MODEL = {("tuning/runner/executor.py", "tuner.load_model(best[0])")}


def test_no_code_loads_a_pickle_or_an_unsafe_model_file():
    problems = []
    for path in SOURCES:
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        problems += [f"{rel}: {m.group(0)}" for m in UNSAFE_LOADS.finditer(text)]
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name not in ("load_model", "load"):
                continue
            keywords = {k.arg: k.value for k in node.keywords}
            source = ast.get_source_segment(text, node)
            if name == "load_model" and (rel, source) not in ALLOWED_LOAD_MODEL:
                safe = keywords.get("safe_mode")
                if not (isinstance(safe, ast.Constant) and safe.value is True):
                    problems.append(f"{rel}:{node.lineno}: {source} without safe_mode=True")
            if name == "load" and isinstance(node.func, ast.Attribute) and getattr(
                    node.func.value, "id", "") in ("np", "numpy"):
                allow = keywords.get("allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    problems.append(f"{rel}:{node.lineno}: {source} without allow_pickle=False")
    assert problems == []


# -- names never become paths ---------------------------------------------------------------

@pytest.mark.slow
def test_a_run_named_like_a_path_creates_nothing_outside_its_run_folder(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    spec = {"name": "../../evil/../../../tmp/evil", "seed": 1,
            "data": {"source": "sklearn", "name": "iris"}, "model": {"family": "knn"},
            "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 9}},
            "strategy": {"name": "random", "max_trials": 2}}
    spec_path = write_spec(tmp_path, spec)
    before = set(tmp_path.rglob("*"))
    result = cli(work / "t.db", "run", str(spec_path), "--quiet", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    store = Storage(work / "t.db")
    (run,) = store.list_runs()
    assert run.name == spec["name"] and run.status is RunStatus.COMPLETED
    created = {p.relative_to(work).as_posix() for p in set(tmp_path.rglob("*")) - before}
    allowed = re.compile(rf"^(t\.db(-wal|-shm)?|t-runs|t-runs/run-{run.id}(/.*)?)$")
    assert created and all(allowed.match(p) for p in created), sorted(created)
    assert not any("evil" in p for p in created)
    assert not Path("/tmp/evil").exists()


def test_the_dashboards_import_reads_no_folder_outside_the_data_folders(tmp_path, monkeypatch):
    from tuning.ingest.importer import ProjectImportError, import_project

    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path / "allowed"))
    store = Storage(tmp_path / "t.db")
    for typed in ("/etc", "/", str(tmp_path), str(tmp_path / "allowed" / ".." / ".."),
                  "~", "/tmp\x00/x"):
        with pytest.raises(ProjectImportError) as err:
            import_project(store, typed, confined=True)
        text = str(err.value)
        assert ("only from inside" in text or "control characters" in text), text
        assert "does not exist" not in text and "oracle.json" not in text  # nothing was read
    assert store.list_runs() == []


# -- SQL -------------------------------------------------------------------------------------

# PRAGMAs take no bound parameters; these integers are computed in code, not typed by anyone.
ALLOWED_INTERPOLATIONS = {"_RUN_COLUMNS", "_TRIAL_COLUMNS", "int(BUSY_TIMEOUT_S * 1000)",
                          "version + 1",
                          # storage/_reads.py, each text the code writes itself:
                          "_EPOCH_COLUMNS",   # a constant column list
                          "done",             # the TrialStatus enum's own values, quoted
                          "pick",             # "MIN" or "MAX", from the run's direction
                          "marks",            # "?,?,...": one placeholder per bound value
                          "RANK_GROUP", "key"}  # constant ORDER BY expressions
# SQL passed along, not built: each is the constant text of a statement written elsewhere.
PASSED_THROUGH = {
    ("storage/_schema.py", "statement"),  # one statement of the constant MIGRATIONS
    ("storage/_sqlite.py", "sql"),  # _Connection.execute: the caller's statement, scanned there
}
SQL_METHODS = {"execute", "executemany", "executescript"}


def _assignments(function: ast.AST) -> dict[str, list[ast.expr]]:
    found: dict[str, list[ast.expr]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.value)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)) and isinstance(
                node.target, ast.Name) and node.value is not None:
            found.setdefault(node.target.id, []).append(node.value)
    return found


def _sql_problem(node: ast.expr, text: str, names: dict[str, list[ast.expr]],
                 seen: frozenset = frozenset()) -> str | None:
    """None when ``node`` can only be SQL written in the code; else what is wrong."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return None
    if isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue):
                inner = ast.get_source_segment(text, part.value)
                if inner not in ALLOWED_INTERPOLATIONS:
                    return f"f-string interpolates {inner}"
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_sql_problem(node.left, text, names, seen)
                or _sql_problem(node.right, text, names, seen))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return "%-formatting"
    if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
        for value in names[node.id]:
            problem = _sql_problem(value, text, names, seen | {node.id})
            if problem:
                return f"{node.id} = {problem}"
        return None
    if isinstance(node, ast.Name) and node.id in ("_RUN_COLUMNS", "_TRIAL_COLUMNS"):
        return None
    return f"SQL built by {ast.get_source_segment(text, node)}"


def _sql_calls(tree: ast.AST):
    """Every ``*.execute(...)`` call, with the assignments of its innermost function."""
    scopes: dict[ast.AST, ast.AST] = {}

    def visit(node: ast.AST, scope: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            scopes[child] = scope
            visit(child, child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
                  else scope)

    visit(tree, tree)
    assignments: dict[ast.AST, dict[str, list[ast.expr]]] = {}
    for node, scope in scopes.items():
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_METHODS and node.args):
            if scope not in assignments:
                assignments[scope] = _assignments(scope)
            yield node, assignments[scope]


def test_every_sql_statement_is_written_in_the_code_and_values_are_bound():
    problems, statements = [], 0
    for path in SOURCES:
        text = path.read_text()
        for call, names in _sql_calls(ast.parse(text)):
            statements += 1
            rel = path.relative_to(ROOT).as_posix()
            if (rel, ast.get_source_segment(text, call.args[0])) in PASSED_THROUGH:
                continue
            problem = _sql_problem(call.args[0], text, names)
            if problem:
                problems.append(f"{path.relative_to(ROOT)}:{call.lineno}: {problem}")
    assert statements > 40, "the scan found too few statements to be looking at the code"
    assert problems == []


def test_the_sql_scan_catches_values_formatted_into_statements():
    bad = '''
def f(conn, name, run_id):
    conn.execute(f"SELECT * FROM runs WHERE name = '{name}'")
    conn.execute("DELETE FROM runs WHERE id = %d" % run_id)
    sql = "SELECT * FROM runs WHERE name = '" + name + "'"
    conn.execute(sql)
    conn.execute("SELECT * FROM runs WHERE name = '{}'".format(name))
'''
    tree = ast.parse(bad)
    found = [_sql_problem(call.args[0], bad, names) for call, names in _sql_calls(tree)]
    assert len(found) == 4 and all(found), found


# -- reports ---------------------------------------------------------------------------------

def _hostile_run(tmp_path) -> tuple[Storage, int]:
    store = Storage(tmp_path / "t.db")
    doc = {"name": HOSTILE, "description": '<img src=x onerror="alert(2)">',
           "data": {"source": "sklearn", "name": "iris"}, "model": {"family": "svm"},
           "search_space": {"kernel": {"type": "choice", "values": [HOSTILE, "rbf"]},
                            "C": {"type": "float", "min": 0.1, "max": 10.0}},
           "strategy": {"name": "random", "max_trials": 3}}
    run = store.create_run(HOSTILE, validate_spec(copy.deepcopy(doc)))
    assert store.claim_run(run.id, pid=1)
    for i, (kernel, message) in enumerate([(HOSTILE, None), ("rbf", f"ValueError: {HOSTILE}"),
                                           ("rbf", None)]):
        trial = store.begin_trial(run.id, str(i), i, {"kernel": kernel, "C": 1.0 + i})
        for fold in range(3):
            store.record_epoch(trial.id, 0, fold, {"score": 0.5 + 0.1 * i})
        if message:
            store.finish_trial(trial.id, TrialStatus.FAILED, message=message)
        else:
            store.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5 + 0.1 * i)
    store.finish_run(run.id, RunStatus.COMPLETED, error=f"note: {HOSTILE}")
    return store, run.id


def test_reports_keep_what_users_typed_as_text(tmp_path):
    store, run_id = _hostile_run(tmp_path)
    run, trials = store.get_run(run_id), store.list_trials(run_id)
    page = html_report(run, trials, store.list_epochs(run_id))
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    assert page.count("<script") == page.count("</script>")  # only Plotly's own scripts
    from markdown_it import MarkdownIt

    summary = MarkdownIt("commonmark").enable("table").render(markdown_summary(run, trials))
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    script = rebuild_script(run, trials)
    tree = ast.parse(script)  # the payload cannot break out of its string literal
    calls = {getattr(n.func, "attr", getattr(n.func, "id", None)) for n in ast.walk(tree)
             if isinstance(n, ast.Call)}
    assert "alert" not in calls and "system" not in calls


@pytest.mark.slow
@pytest.mark.browser
def test_the_server_refuses_an_upload_over_the_cap(tmp_path, browser):
    """The widget's cap is only a hint to the browser: the server enforces it too. A real
    upload from the page gives a live session and XSRF token; the same request replayed
    with a body over the cap is refused with 413 before it is stored."""
    import re as regex

    cap = CONFIG["server"]["maxUploadSize"] * 2**20
    dashboard = Dashboard(tmp_path / "t.db", tmp_path / "streamlit.log",
                          env={"TUNING_ENGINE": "0"})
    try:
        dashboard.wait_healthy()
        page = browser.new_page()
        uploads = []
        page.on("request", lambda r: uploads.append(r) if "/upload_file/" in r.url
                and r.method == "PUT" else None)
        page.goto(dashboard.url)
        page.get_by_role("heading", name="Launch a tuning run").wait_for(timeout=60_000)
        page.get_by_text("Upload a CSV").click()
        small = tmp_path / "small.csv"
        small.write_text("a,b,y\n" + "1,2,p\n3,4,q\n" * 10)
        page.locator("input[type=file]").set_input_files(str(small))
        page.get_by_text(regex.compile(r"Stored as")).wait_for(timeout=30_000)
        assert uploads, "the page uploaded nothing"
        request = uploads[0]
        token = request.headers.get("x-xsrftoken")
        assert token, "the page sends no XSRF token"
        cookies = "; ".join(f"{c['name']}={c['value']}" for c in page.context.cookies())
        path = request.url.split(str(dashboard.port), 1)[1]
        boundary = "faults"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"x.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\n1,2\n\r\n"
                f"--{boundary}--\r\n").encode()

        def put(length: int, payload: bytes) -> int:
            conn = http.client.HTTPConnection("127.0.0.1", dashboard.port, timeout=30)
            conn.putrequest("PUT", path)
            for key, value in (("Cookie", cookies), ("X-Xsrftoken", token),
                               ("Content-Type", f"multipart/form-data; boundary={boundary}"),
                               ("Content-Length", str(length))):
                conn.putheader(key, value)
            conn.endheaders()
            conn.send(payload)
            status = conn.getresponse().status
            conn.close()
            return status

        # The same session and token: a small upload is taken, one declared over the cap is
        # refused at once, before a byte of its body is read.
        assert put(len(body), body) in (200, 204)
        assert put(cap + 2**20, b"") == 413
        page.close()
    finally:
        dashboard.close()


def test_every_file_a_spec_names_is_checked_again_where_it_is_read(tmp_path, monkeypatch):
    """A spec stored under looser settings (TUNING_DATA_DIRS since removed) cannot make a
    worker read outside the data folders: the reader applies the rule itself."""
    from tuning.data import DataError, load_dataset
    from tuning.paths import PROJECT_ROOT, PathRefused, checked_spec_path, resolve_spec_path
    from tuning.strategies import lora

    monkeypatch.setenv("TUNING_DB", str(tmp_path / "t.db"))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "d.csv").write_text("a,y\n" + "1,p\n2,q\n" * 10)
    monkeypatch.setenv("TUNING_DATA_DIRS", str(mine))
    spec = validate_spec({"name": "x", "data": {"source": "csv", "path": str(mine / "d.csv"),
                                                "target": "y"},
                          "model": {"family": "knn"},
                          "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 3}},
                          "strategy": {"name": "random", "max_trials": 2}})
    assert load_dataset(spec["data"], seed=1).n_classes == 2
    monkeypatch.delenv("TUNING_DATA_DIRS")
    with pytest.raises(DataError, match="data.path must be a file inside"):
        load_dataset(spec["data"], seed=1)
    with pytest.raises(PathRefused, match="strategy.corpus must be a file inside"):
        lora._read_corpus("/etc/passwd")
    with pytest.raises(PathRefused, match="strategy.source.path must be a file inside"):
        checked_spec_path("../../etc/model.keras", "strategy.source.path")
    # A relative path means the same file wherever the command was started.
    monkeypatch.chdir(tmp_path)
    assert resolve_spec_path("examples/data/corpus.txt") == \
        (PROJECT_ROOT / "examples" / "data" / "corpus.txt").resolve()
    assert lora._read_corpus("examples/data/corpus.txt")
