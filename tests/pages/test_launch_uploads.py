"""The Launch page keeps uploads within their quota and says so when it cannot."""
from __future__ import annotations

from page_helpers import open_app

from tuning.data.uploads import QUOTA_MB_ENV
from tuning.paths import uploads_dir


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="f_upload").set_value((name, content, "text/csv"))
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_an_upload_over_the_quota_is_refused_with_the_setting_to_raise(db, monkeypatch):
    monkeypatch.setenv(QUOTA_MB_ENV, "0.0001")  # 100 bytes
    at = open_app()
    at.radio(key="f_source").set_value("csv").run()
    _upload(at, "big.csv", b"x,label\n" + b"1,a\n2,b\n" * 40)
    shown = "\n".join(e.value for e in at.error)
    assert "could not be saved" in shown and QUOTA_MB_ENV in shown, shown
    assert not uploads_dir(db.path).exists() or not any(uploads_dir(db.path).iterdir())
