"""Launch: build a run spec in a form, see it validated field by field, then queue it."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import streamlit as st

from pages._advice import show_prefill_diff
from pages._common import (
    COMPARE_PAGE,
    LIVE_PAGE,
    SPEC_JSON_KEY,
    drawn_when_open,
    get_storage,
    run_label,
    show_error,
)
from pages._user_model import conditional_note, model_fields
from storage import StorageError, plain_json
from tuning import catalog, network, strategies
from tuning.data import DataError
from tuning.data.uploads import UploadError, paths_in_use, store_upload
from tuning.insights.escaping import markdown_text
from tuning.paths import PROJECT_ROOT, uploads_dir
from tuning.runner.control import queue_race, queue_run
from tuning.runner.training import SCHEDULE_LABELS, SCHEDULES
from tuning.spec import Problem, SpecError, validate_spec
from tuning.spec.architecture import SHAPES
from tuning.spec.estimates import run_cost
from tuning.spec.form import (
    EARLY_STOPPING_MONITORS,
    FAILURE_FIELDS,
    FORM_DEFAULTS,
    OPTION_KEYS,
    default_name,
    form_from_spec,
    number_field,
    number_options,
    offers_early_stopping,
    offers_lr_schedule,
    offers_pruning,
    offers_workers,
    sets_own_epochs,
    spec_from_form,
    takes_combine,
    takes_stage_order,
    takes_tool_options,
)
from tuning.spec.space_table import rows_frame, space_from_rows, space_to_rows, with_template

storage = get_storage()
state = st.session_state

DEMO_CSV_DIR = PROJECT_ROOT / "examples" / "data"
SOURCES = {"sklearn": "Bundled (scikit-learn)", "keras": "Keras cache", "csv": "Upload a CSV",
           "npz": "NumPy .npz", "images": "Image folder", "python": "Python loader"}
# Which section of the form shows a problem, by the first segment of its field.
SECTION_OF = {"name": "budget", "seed": "budget", "time_limit_s": "budget", "training": "budget",
              "trial_time_limit_s": "budget",
              "objective": "objective", "data": "data", "model": "model",
              "search_space": "search_space", "strategy": "strategy", "spec": "budget"}


def default(key: str, value: Any = ...) -> None:
    """Seed a widget's value once, from ``FORM_DEFAULTS`` unless ``value`` is given;
    widgets never get ``value=`` as well (Streamlit warns)."""
    if key not in state:
        state[key] = copy.copy(FORM_DEFAULTS[key]) if value is ... else value


def keep_valid(key: str, options: list[Any]) -> None:
    if state.get(key) not in options:
        state[key] = options[0]


def space_key(family: str | None, module: str | None = None, build: str | None = None) -> str:
    """What the search-space table was made for: the family, and for the user's own
    model its module and builder (choosing another one shows that one's space)."""
    spec = catalog.FAMILIES.get(family or "")
    if spec is not None and spec.user_code:
        return f"{family}:{module or ''}:{(build or 'build_model').strip()}"
    return str(family)


def set_space(rows: list[dict], family: str | None) -> None:
    """Replace the search-space table; a new editor key drops the old editor's edits."""
    state["space_base"] = rows_frame(rows)
    state["space_family"] = family
    state["space_version"] = state.get("space_version", 0) + 1


def fill_form(spec: dict, message: str) -> None:
    values = form_from_spec(spec)
    rows = values.pop("space_rows")
    state.update(values)
    state.pop("f_module_choice", None)
    set_space(rows, space_key(values["f_family"], values.get("f_module"), values.get("f_build")))
    state["launch_flash"] = message


def load_spec(run_id: int) -> None:
    """Put an earlier run's spec back into the form (a button callback, before widgets)."""
    try:
        spec = plain_json(storage.get_run(run_id).spec)
    except StorageError as exc:
        state["launch_flash"] = str(exc)
        return
    state.pop("launch_diff", None)
    fill_form(spec, f"Loaded the spec of run {run_id}; edit it and launch.")


@st.cache_data(show_spinner="Checking the network's shape against the data…", max_entries=32)
def shape_warnings(spec_json: str) -> list[str]:
    from tuning.spec.architecture import spec_warnings

    return spec_warnings(json.loads(spec_json))


# Another page (a range test's suggestion) may hand the form a spec to start from.
if "launch_prefill" in state:
    prefill = state.pop("launch_prefill")
    fill_form(prefill, "Loaded the suggested search space; check it and launch.")


def save_upload(upload) -> Path:
    """Store an uploaded CSV under a name made from its content, never the user's file
    name, within the uploads quota (``tuning.data.uploads``)."""
    return store_upload(upload.getvalue(), uploads_dir(storage.path),
                        paths_in_use(storage.list_runs()))


def inspect(path: str, target: str | None, task: str):
    # inspect_csv remembers its answers by the file's path, size and mtime, so neither this
    # preview nor the validator's own read parses the file again on a rerun.
    from tuning.data import inspect_csv

    return inspect_csv(path, target=target, task=task)


st.title("Launch a tuning run")
flash = state.pop("launch_flash", None)
if flash:
    st.info(flash)
show_prefill_diff()

try:
    runs = storage.list_runs()
except StorageError as exc:
    show_error(exc)
    runs = []
if runs:
    with st.expander("Start from an earlier run"):
        by_id = {r.id: r for r in runs}
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        chosen = left.selectbox("Load spec of run", list(by_id),
                                format_func=lambda i: run_label(by_id[i]), key="load_run")
        right.button("Load spec", on_click=load_spec, args=(chosen,), key="load_spec")


sections = {}

# -- data ------------------------------------------------------------------------------
st.subheader("1 · Data")
default("f_source")
source = st.radio("Data set source", list(SOURCES), format_func=SOURCES.get, key="f_source",
                  horizontal=True)
task = "classification"
csv_target = None  # the CSV's target, once its columns could be read
if source == "sklearn":
    names = list(catalog.SKLEARN_DATASETS)
    keep_valid("f_sk_name", names)
    name = st.selectbox("Data set", names, key="f_sk_name",
                        format_func=lambda n: f"{n} ({catalog.SKLEARN_DATASETS[n]})")
    task = catalog.SKLEARN_DATASETS[name]
elif source == "keras":
    names = list(catalog.KERAS_DATASETS)
    keep_valid("f_keras_name", names)
    name = st.selectbox("Data set", names, key="f_keras_name")
    st.caption("Read from the Keras cache only (nothing is downloaded); a data set that is "
               "not cached fails the run with a message saying so.")
    task = catalog.KERAS_DATASETS[name]
elif source in ("npz", "images"):
    default("f_data_path")
    what = ("an .npz file with x and y (or x_train, y_train, x_val, y_val)" if source == "npz"
            else "a folder with one sub-folder of images per class")
    st.text_input(f"Path of {what}", key="f_data_path",
                  help="Inside examples/, data/ or a folder listed in TUNING_DATA_DIRS")
    if source == "images":
        task = "classification"
        cols = st.columns(3)
        for key in ("f_image_h", "f_image_w", "f_color_mode"):
            default(key)
        cols[0].number_input("Image height", min_value=1, max_value=2048, key="f_image_h")
        cols[1].number_input("Image width", min_value=1, max_value=2048, key="f_image_w")
        cols[2].selectbox("Colour", ["rgb", "grayscale", "rgba"], key="f_color_mode")
        st.caption("Read with Keras' image_dataset_from_directory in the worker; pixels "
                   "scaled to [0, 1]; the class names are the sub-folders'.")
    else:
        default("f_task")
        st.selectbox("Task", list(catalog.TASKS), key="f_task")
elif source == "python":
    default("f_data_module")
    default("f_data_function")
    default("f_task")
    cols = st.columns([3, 2, 1])
    cols[0].text_input("Loader module (empty: your model's module)", key="f_data_module")
    cols[1].text_input("Loader function", key="f_data_function",
                       help="returns (x_train, y_train, x_val, y_val), (x, y), or a dict")
    cols[2].selectbox("Task", list(catalog.TASKS), key="f_task")
    st.caption("The loader runs in the worker (and when the form checks your model), "
               "never in the dashboard's process.")
else:
    upload = st.file_uploader("CSV file", type=["csv"], key="f_upload")
    demos = sorted(p.name for p in DEMO_CSV_DIR.glob("*.csv"))
    demo = st.selectbox("…or a bundled demo CSV", ["(none)"] + demos, key="f_demo_csv")
    if upload is None and demo != "(none)":
        state["csv_path"] = str(DEMO_CSV_DIR / demo)
        state["csv_label"] = demo
    if upload is not None:
        try:
            state["csv_path"] = str(save_upload(upload))
            # Only a label for the default run name: the file itself is stored by its hash.
            state["csv_label"] = "".join(ch for ch in upload.name if ch.isprintable())[:40]
        except (OSError, UploadError) as exc:
            st.error(f"The upload could not be saved: {markdown_text(exc)}")
    path = state.get("csv_path")
    if path:
        st.caption(f"Stored as {markdown_text(Path(path).name)}")
        default("f_task")
        try:
            columns = [c.name for c in inspect(path, None, "auto").columns]
        except (DataError, OSError) as exc:
            columns = []
            st.error(markdown_text(exc))
        if columns:
            keep_valid("f_target", [columns[-1]] + columns)
            left, right = st.columns(2)
            csv_target = left.selectbox("Target column (what to predict)", columns,
                                        key="f_target")
            right.selectbox("Task", list(catalog.TASKS), key="f_task")
            try:
                summary = inspect(path, csv_target, state["f_task"])
            except (DataError, OSError) as exc:
                summary = None
                st.error(markdown_text(exc))
        if columns and summary is not None:
            if summary.task in ("classification", "regression"):
                task = summary.task
            st.caption(f"{summary.rows} rows · {len(columns)} columns · task: {summary.task}"
                       + (f" · {summary.n_classes} classes" if summary.n_classes else ""))
            for warning in summary.warnings:
                st.warning(markdown_text(warning))
            preview, types = st.columns([3, 2])
            preview.dataframe(summary.preview, height=240)
            types.dataframe(
                [{"column": c.name, "type": c.kind, "missing": c.missing, "unique": c.unique}
                 for c in summary.columns], hide_index=True, height=240)
    else:
        st.caption("Upload a CSV with a header row; one column is the target.")
with st.expander("Validation split and row limit"):
    default("f_val_split")
    default("f_max_rows")
    left, right = st.columns(2)
    left.number_input("Validation split", min_value=0.0, max_value=0.9, step=0.05,
                      key="f_val_split")
    right.number_input("Max rows (empty: all)", min_value=10, step=100, key="f_max_rows")
sections["data"] = st.container()

# -- model -----------------------------------------------------------------------------
st.subheader("2 · Model")
families = [f.name for f in catalog.FAMILIES.values() if task in f.tasks]
keep_valid("f_family", families)
family = st.selectbox("Model family", families, key="f_family",
                      format_func=lambda f: catalog.FAMILIES[f].label)
kind = catalog.FAMILIES[family].kind
st.caption(f"Families that can do {task}. "
           + ("Trained with Keras in a worker process." if kind == "keras"
              else "Fitted with scikit-learn, scored by cross-validation."))
user_model = catalog.FAMILIES[family].user_code
found = model_fields(state, storage) if user_model else None
sections["model"] = st.container()

# -- search space ----------------------------------------------------------------------
st.subheader("3 · Search space")
table_key = space_key(family, state.get("f_module"), state.get("f_build"))
if state.get("space_family") != table_key or "space_base" not in state:
    start = found.space if found is not None else (
        {} if user_model else catalog.default_space(family))
    set_space(space_to_rows(start), table_key)
if user_model:
    st.caption("Your module's own search space, as it declares it. Narrow a range, drop "
               "values or fix an entry (type fixed): the run registers these first, so your "
               "hp.Int(...) calls get them; rows you delete stay as your module declares them.")
    conditional_note(found)
st.caption("One row per hyperparameter. Ranges (int/float) use min, max and an optional step "
           "or log sampling; `choice` lists its values comma-separated; `fixed` holds one value. "
           "Add rows at the bottom; select rows to delete them.")
if family == "mlp":
    with st.expander("Depth and width template"):
        left, mid, right, go_col = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
        shape = left.selectbox("Shape", list(SHAPES), key="f_template_shape",
                               help="funnel: the first hidden layer widest, then narrowing; "
                                    "constant: every layer alike; custom: a width per layer")
        max_layers = mid.number_input("Max layers", 1, catalog.MLP_MAX_LAYERS, 3,
                                      key="f_template_layers")
        max_units = right.number_input("Max units", 16, 4096, 512, step=16,
                                       key="f_template_units")
        if go_col.button("Apply", key="f_template_apply"):
            from tuning.spec.architecture import template_space

            current, _ = space_from_rows(state["space_base"])
            template = template_space(shape, int(max_layers), int(max_units))
            set_space(space_to_rows(with_template(current, template)), family)
            st.rerun()
table = st.data_editor(
    state["space_base"], key=f"space_editor_{state['space_version']}", num_rows="dynamic",
    hide_index=True, width="stretch",
    column_config={
        "name": st.column_config.TextColumn("name", required=True),
        "type": st.column_config.SelectboxColumn("type", options=list(catalog.HP_TYPES),
                                                 required=True, default="float"),
        "min": st.column_config.NumberColumn("min", format="%g"),
        "max": st.column_config.NumberColumn("max", format="%g"),
        "step": st.column_config.NumberColumn("step", format="%g"),
        "sampling": st.column_config.SelectboxColumn("sampling", options=list(catalog.SAMPLINGS)),
        "values": st.column_config.TextColumn(
            "values", help="choice: values separated by commas; fixed: the value"),
        "default": st.column_config.TextColumn(
            "default", help="optional: the value used where this hyperparameter is not being "
                            "tuned (sequential stages, the first grid point)"),
    })
space_rows = table.to_dict("records")
space, _ = space_from_rows(space_rows)  # the stage order's choices; problems come with the draft
sections["search_space"] = st.container()

# -- strategy --------------------------------------------------------------------------
st.subheader("4 · Strategy")
offered = strategies.names(kind)
keep_valid("f_strategy", offered)
strategy_name = st.selectbox("Strategy", offered, key="f_strategy",
                             format_func=lambda s: strategies.get(s).label)
chosen = strategies.get(strategy_name)
st.caption(chosen.when)
options = number_options(strategy_name, kind)
for column, option in zip(st.columns(max(1, len(options))), options):
    widget = number_field(option, strategy_name)
    default(OPTION_KEYS[option], widget.start)
    column.number_input(widget.label, key=OPTION_KEYS[option], **widget.bounds)
if takes_tool_options(strategy_name):
    default("f_tool_options")
    st.text_area(
        f"{chosen.label}: options (JSON)", key="f_tool_options", height=90,
        help="Fields this tool reads, all optional: " + ", ".join(chosen.fields)
             + ". See README, 'Deep-learning tools'.")
if takes_stage_order(strategy_name):
    default("f_order")
    state["f_order"] = [n for n in state["f_order"] if n in space]
    st.multiselect(
        "Stages, in order (one hyperparameter each)", list(space), key="f_order",
        help="Stage 1 tunes the first with the others at their defaults; each later stage "
             "keeps the winners of the stages before it.")
if takes_combine(strategy_name):
    default("f_combine")
    st.checkbox("Sample each hyperparameter separately and try every combination",
                key="f_combine")
if offers_pruning(strategy_name, kind):
    default("f_pruning")
    if st.checkbox("Prune unpromising trials (median rule)", key="f_pruning"):
        left, right = st.columns(2)
        default("f_prune_warmup")
        default("f_prune_min_trials")
        left.number_input("Warm-up epochs", min_value=0, step=1, key="f_prune_warmup")
        right.number_input("Earlier trials needed to judge", min_value=1, step=1,
                           key="f_prune_min_trials")
if offers_workers(strategy_name):
    with st.expander("Parallel workers"):
        left, right = st.columns(2)
        default("f_workers")
        default("f_chief_host")
        left.number_input("Worker processes (KerasTuner chief/worker)", min_value=1,
                          max_value=64, step=1, key="f_workers")
        right.text_input("Serve the oracle on", key="f_chief_host")
        st.caption(network.FORM_NOTE)
with st.expander("Failure handling"):
    for column, (option, widget) in zip(st.columns(2), FAILURE_FIELDS.items()):
        default(OPTION_KEYS[option], widget.start)
        column.number_input(widget.label, key=OPTION_KEYS[option], **widget.bounds)
sections["strategy"] = st.container()

# -- objective and budget --------------------------------------------------------------
st.subheader("5 · Objective and budget")
metrics = list((catalog.SKLEARN_SCORINGS if kind == "sklearn" else catalog.KERAS_METRICS)[task])
if user_model and state.get("f_metric") and state["f_metric"] not in metrics:
    metrics.append(state["f_metric"])  # a metric of the user's own compile, from a loaded spec
keep_valid("f_metric", metrics)
left, right = st.columns(2)
metric = left.selectbox("Objective metric", metrics, key="f_metric")
direction = catalog.default_direction(metric)
left.caption(f"{metric} is {'maximised' if direction == 'max' else 'minimised'}.")
default("f_seed")
right.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="f_seed")
budget = st.columns(3)
if kind == "keras":
    default("f_epochs")
    default("f_batch_size")
    if not sets_own_epochs(strategy_name):
        budget[0].number_input("Epochs per trial", min_value=1, step=1, key="f_epochs")
    else:
        budget[0].caption(f"{chosen.label.split(' (')[0]} sets each model's epochs (up to "
                          f"{number_field(chosen.epochs_field, strategy_name).label}).")
    budget[1].number_input("Batch size", min_value=1, step=1, key="f_batch_size")
default("f_time_limit_min")
budget[2].number_input("Time limit, minutes (empty: none)", min_value=0.0, step=1.0,
                       key="f_time_limit_min")
default("f_trial_limit_s")
budget[2].number_input("Per-trial limit, seconds (empty: none)", min_value=0.0, step=10.0,
                       key="f_trial_limit_s")
if offers_lr_schedule(strategy_name, kind):
    default("f_lr_schedule")
    budget[1].selectbox(
        "Learning-rate schedule", SCHEDULES, key="f_lr_schedule",
        format_func=SCHEDULE_LABELS.get,
        help="cosine: each training starts at the trial's learning rate and anneals it to 0 "
             "by its last batch; the way to use a range test's suggestion")
if offers_early_stopping(strategy_name, kind):
    with st.expander("Early stopping"):
        default("f_early")
        if st.checkbox("Stop a trial when its monitored metric stops improving", key="f_early"):
            cols = st.columns(4)
            for key in ("f_es_monitor", "f_es_patience", "f_es_min_delta", "f_es_restore"):
                default(key)
            cols[0].selectbox("Monitor", EARLY_STOPPING_MONITORS, key="f_es_monitor")
            cols[1].number_input("Patience (epochs)", min_value=0, step=1, key="f_es_patience")
            cols[2].number_input("Minimum change", min_value=0.0, format="%g",
                                 key="f_es_min_delta")
            cols[3].checkbox("Restore best weights", key="f_es_restore")
default("f_name")
st.text_input("Run name", key="f_name", placeholder=default_name(state))
default("f_description")
st.text_input("Description (optional)", key="f_description")
sections["budget"] = st.container()

# The form's state is the widgets' keys; the spec is made from it in tuning.spec.form.
form = {key: state[key] for key in FORM_DEFAULTS if key in state}
form.update(space_rows=space_rows, f_target=csv_target)
draft = spec_from_form(form)
doc = draft.doc

# -- validation, shown next to each section --------------------------------------------
problems: list[Problem] = list(draft.problems)
spec = None
try:
    spec = validate_spec(doc)
except SpecError as exc:
    problems.extend(exc.problems)
if found is not None:  # the user's own error, with their file and line
    from tuning.spec.discovery import problems as discovery_problems
    from tuning.spec.discovery import rate_problem

    problems.extend(discovery_problems(found))
    refused = rate_problem(spec, found) if spec is not None else None
    if refused is not None:  # the range test on an optimizer whose rate cannot be set
        problems.append(refused)
if problems:
    spec = None
    grouped: dict[str, list[Problem]] = {}
    for problem in problems:
        section = SECTION_OF.get(problem.field.split(".")[0], "budget")
        grouped.setdefault(section, []).append(problem)
    for section, items in grouped.items():
        with sections[section]:
            # The field in a code span shows as typed, once a backtick cannot close it.
            st.error("\n".join(f"- `{p.field.replace('`', chr(39))}` {markdown_text(p.message)}"
                                for p in items))

# -- what will be queued ---------------------------------------------------------------
st.divider()
if spec is not None:
    st.info(run_cost(spec).describe())
# Filled after the buttons are drawn: the check reads the data set (on a new server, it
# first imports scikit-learn, seconds), which must not hold back the rest of the form.
shape_box = st.container()
with drawn_when_open("Spec (JSON)", key=SPEC_JSON_KEY) as spec_shown:
    if spec_shown and spec is not None:
        st.caption("Exactly the document that Launch queues.")
        st.code(json.dumps(spec, indent=2, ensure_ascii=False), language="json")
    elif spec_shown:
        st.caption("Not valid yet; this is the form as it stands.")
        st.code(json.dumps(doc, indent=2, ensure_ascii=False, default=str), language="json")

launch_col, race_col = st.columns(2)
with launch_col:
    if st.button("Launch", type="primary", key="launch"):
        if spec is None:
            st.error(f"Nothing was queued: fix the {len(problems)} problem(s) shown above.")
        else:
            try:
                run = queue_run(storage, spec)
            except (SpecError, StorageError) as exc:
                show_error(exc)
            else:
                st.switch_page(LIVE_PAGE, query_params={"run": str(run.id)})
with race_col:
    race = st.multiselect("Race strategies (same space, one run each)", offered,
                          key="race_strategies")
    if st.button("Race strategies", key="race", disabled=len(race) < 2):
        if spec is None:
            st.error(f"Nothing was queued: fix the {len(problems)} problem(s) shown above.")
        else:
            try:
                queued = queue_race(storage, doc, race)
            except (SpecError, StorageError) as exc:
                st.error("Nothing was queued; the race fails for at least one strategy:")
                show_error(exc)
            else:
                st.switch_page(COMPARE_PAGE,
                               query_params={"runs": ",".join(str(r.id) for r in queued)})

if spec is not None:
    with shape_box:
        for warning in shape_warnings(json.dumps(spec, sort_keys=True)):
            st.warning(warning)
