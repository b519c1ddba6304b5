"""Tuning: specs, strategies, execution and reports. Nothing here imports Streamlit."""
