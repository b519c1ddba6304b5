"""Reading what runs recorded: tables and statistics (``analysis``), curve diagnostics
(``curves``), sequential and pruning stages (``stages``), Plotly figures (``charts``,
``tool_charts``) and the downloadable reports (``reports``). Reads storage only; no
TensorFlow, no Streamlit.
"""
