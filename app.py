"""Entry point: ``streamlit run app.py``. It only routes; each page lives in pages/."""
from __future__ import annotations

import streamlit as st

from pages._common import ensure_engine, get_storage

st.set_page_config(layout="wide", page_title="Tuning dashboard")

get_storage()  # a database that cannot be used stops here, with its message
ensure_engine()

st.navigation([
    st.Page("pages/launch.py", title="Launch", icon=":material/rocket_launch:", default=True),
    st.Page("pages/runs.py", title="Runs", icon=":material/list:"),
    st.Page("pages/live.py", title="Live run", icon=":material/monitoring:"),
    st.Page("pages/trial.py", title="Trial", icon=":material/science:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/reports.py", title="Reports", icon=":material/download:"),
    st.Page("pages/import_project.py", title="Import", icon=":material/drive_folder_upload:"),
]).run()
