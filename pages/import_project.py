"""Import: an existing KerasTuner project folder becomes a run (again: it is updated)."""
from __future__ import annotations

import streamlit as st

from pages._common import LIVE_PAGE, drawn_when_open, fmt_score, get_storage, show_error
from storage import StorageError
from tuning.ingest.importer import ProjectImportError, import_project
from tuning.insights.escaping import markdown_text

storage = get_storage()
state = st.session_state

WATCH_SNIPPET = """import tuning

tuner = tuning.watch(kt.RandomSearch(build_model, objective="val_accuracy", max_trials=10,
                                     directory="random_search_dir", project_name="random_search"))
tuner.search(x_train, y_train, epochs=5, validation_data=(x_val, y_val))"""


def do_import() -> None:
    """Button callback: import, and keep the outcome for the next draw."""
    path = state.get("import_path", "")
    name = (state.get("import_name") or "").strip() or None
    try:
        run = import_project(storage, path, name=name, confined=True)
    except (ProjectImportError, StorageError) as exc:
        state["import_outcome"] = ("error", exc)
    else:
        state["import_outcome"] = ("run", run.id)


st.title("Import a KerasTuner project")
st.caption("Point at the folder a KerasTuner tuner wrote: `<directory>/<project_name>`, "
           "holding `oracle.json` and `trial_*` folders. It becomes a run with its trials, "
           "scores and Hyperband brackets; importing the same folder again updates that run. "
           "Folders are read from the project's `data/` and `examples/` and the folders "
           "listed in `TUNING_DATA_DIRS`; `python -m tuning import DIR` reads any folder.")
st.text_input("Project folder", key="import_path",
              placeholder="/path/to/random_search_dir/random_search")
st.text_input("Run name (optional)", key="import_name",
              placeholder="default: the folder's name")
st.button("Import", key="import_go", type="primary", on_click=do_import)

outcome = state.get("import_outcome")
if outcome and outcome[0] == "error":
    show_error(outcome[1])
elif outcome:
    try:
        run = storage.get_run(outcome[1])
    except StorageError as exc:  # deleted since
        show_error(exc)
    else:
        objective = run.spec.get("objective", {})
        st.success(f"Run {run.id} · {markdown_text(run.name)}: {run.trials_done} trials, "
                   f"{run.strategy} search, best {objective.get('metric')} "
                   f"({objective.get('direction')}) {fmt_score(run.best_score)}.")
        if run.error:
            st.warning(markdown_text(run.error))
        if st.button("Open live view", key="import_open"):
            st.switch_page(LIVE_PAGE, query_params={"run": str(run.id)})

with drawn_when_open("Watch a search live instead", key="import_watch") as watch_shown:
    if watch_shown:
        st.markdown("Add one line to your own script or notebook and every trial and epoch "
                    "shows up here while it trains (see `docs/watch_and_import.md`):")
        st.code(WATCH_SNIPPET, language="python")
