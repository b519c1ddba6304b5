"""The launch form's fields for the user's own model: the module (a file in the data
folders, or an upload when ``TUNING_ALLOW_MODULE_UPLOAD`` allows it), the builder's
name, and the search space discovered from them.

The module is never imported here: ``tuning.spec.discovery`` runs it in a process of its
own, once per file content and builder (cached), and its errors are shown as the
user's (their file, line and exception) under the model field.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import streamlit as st

from tuning.data.uploads import UploadError, paths_in_use, store_upload
from tuning.insights.escaping import markdown_text
from tuning.paths import MODULE_UPLOAD_ENV, module_uploads_allowed, python_files, uploads_dir
from tuning.spec.discovery import Discovery, discover, from_answer
from tuning.spec.discovery_process import prewarm

NO_MODULE = "(choose a module)"


@st.cache_data(show_spinner="Running your builder in a process of its own to read its search "
               "space…", max_entries=32)
def _discover(module: str, build: str, fingerprint: str) -> dict[str, Any]:
    found = discover(module, build)
    return {**found.to_answer(), "seconds": found.seconds, "warm": found.warm}


def discovered(module: str, build: str) -> Discovery:
    """The module's space, discovered again whenever the file's content changes."""
    try:
        content = Path(module).read_bytes()
    except OSError:
        content = b""
    answer = _discover(module, build, hashlib.sha256(content).hexdigest())
    return from_answer(answer, answer.get("seconds", 0.0), answer.get("warm", False))


def save_module_upload(upload: Any, storage: Any) -> Path:
    """An uploaded module, stored under a name made from its content (never its own),
    within the uploads quota (``tuning.data.uploads``), as CSV uploads are."""
    return store_upload(upload.getvalue(), uploads_dir(storage.path),
                        paths_in_use(storage.list_runs()), module=True)


def model_fields(state: Any, storage: Any) -> Discovery | None:
    """Draw the module and builder fields; return the discovery (None until a module is
    chosen). Sets ``state["f_module"]``, which the spec is made from."""
    prewarm()  # the process for the module about to be chosen, its imports done early
    pending = state.pop("f_module_pending", None)
    if pending:  # an upload of the last run: choose it before the selectbox exists
        state["f_module_choice"] = pending
    choices = python_files()
    current = pending or state.get("f_module") or ""
    if current and current not in choices:
        choices = [current, *choices]
    options = [NO_MODULE, *choices]
    if state.get("f_module_choice") not in options:
        state["f_module_choice"] = current or NO_MODULE
    left, right = st.columns([3, 1])
    left.selectbox("Your module (a .py file in examples/, data/ or TUNING_DATA_DIRS)", options,
                   key="f_module_choice")
    if "f_build" not in state:
        state["f_build"] = "build_model"
    right.text_input("Builder", key="f_build",
                     help="build_model(hp) returning a compiled keras.Model, or the name of a "
                          "keras_tuner.HyperModel subclass")
    if module_uploads_allowed():
        upload = st.file_uploader("…or upload a module (.py)", type=["py"], key="f_module_upload")
        st.caption(f"Uploads are on ({MODULE_UPLOAD_ENV}): an uploaded module runs in the "
                   "worker with the dashboard's rights.")
        try:
            saved = None if upload is None else str(save_module_upload(upload, storage))
        except (OSError, UploadError) as exc:
            saved = None
            st.error(f"The module could not be saved: {markdown_text(exc)}")
        if saved is not None and state.get("f_module_uploaded") != saved:
            state["f_module_uploaded"] = saved
            state["f_module_pending"] = saved
            st.rerun()
    else:
        st.caption("Uploading a module is off: it would run a browser user's code. Whoever "
                   f"starts the dashboard can turn it on with {MODULE_UPLOAD_ENV}=1.")
    choice = state.get("f_module_choice")
    state["f_module"] = "" if choice in (None, NO_MODULE) else choice
    if not state["f_module"]:
        st.info("Choose the Python file that defines your model to see its search space.")
        return None
    found = discovered(state["f_module"], str(state.get("f_build") or "build_model").strip())
    if found.error is None:  # an error is listed with the form's problems, under this section
        kind = "HyperModel subclass" if found.builder == "hypermodel" else "build function"
        size = f", {found.params:,} parameters at its defaults" if found.params else ""
        st.caption(f"Your {kind} declares {len(found.entries)} hyperparameters{size} "
                   f"(read in {found.seconds:.1f} s).")
    return found


def conditional_note(found: Discovery | None) -> None:
    """The entries the module keeps deciding (conditional, or a sampling the table lacks)."""
    if found is None or not found.conditional:
        return
    lines = []
    for entry in found.conditional:
        when = " and ".join(f"{c['name']} in {c['values']}" for c in entry.get("conditions", []))
        lines.append(f"`{entry['name']}` ({entry['type']}"
                     + (f", only when {when}" if when else f", {entry.get('sampling')} sampling")
                     + ")")
    st.caption("Decided by your module as it declares them: " + "; ".join(lines) + ".")
