"""Reading a user's CSV file into a DataFrame, with a ``DataError`` for every way the file
itself can be unusable: missing, a folder, empty, too large, binary, not UTF-8, no header,
repeated column names, ragged rows, too few rows or columns.

What the columns mean (target, task, features) is ``csv_data``'s business.
"""
from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
import stat

import numpy as np
import pandas as pd

from .splits import MIN_ROWS, DataError, counted, short_list

MAX_CSV_BYTES = 200 * 1024 * 1024
# Enough of the file to judge its encoding and header without reading all of it; a header
# row longer than this is refused (never read cut short).
SNIFF_BYTES = 64 * 1024
# Beyond these a file is refused before it is parsed whole: the dashboard keeps a preview
# of it in memory, and a run one-hot encodes every categorical column.
MAX_CSV_COLUMNS = 2_000
MAX_CSV_ROWS = 1_000_000
DELIMITERS = (",", ";", "\t", "|")


def read_csv_frame(path: str, label: str) -> pd.DataFrame:
    """The file as a DataFrame; every way a file can be unusable is a ``DataError``.

    ``label`` names the file in messages. Infinite numbers come back as missing values.
    """
    size = _file_size(path, label)
    head = _read_head(path, label)
    whole = len(head) >= size
    text = _decode_head(head, whole=whole, label=label)
    if not whole and not _has_line_end(text):
        raise DataError("data.path", f"data.path {label} has a header row longer than "
                        f"{SNIFF_BYTES // 1024} KB; shorten the column names or split the "
                        "file into fewer columns")
    delimiter = _guess_delimiter(text)
    _check_header(_header_names(text, delimiter, label), label)
    frame = _parse_csv(path, delimiter, label)
    _check_shape(frame, label)
    numeric = frame.select_dtypes("number").columns
    # Infinities break scaling; treat them like the missing values they usually stand for.
    frame[numeric] = frame[numeric].replace([np.inf, -np.inf], np.nan)
    return frame


def _file_size(path: str, label: str) -> int:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise DataError("data.path", f"data.path {path!r} does not exist; check the path or "
                        "upload the file again") from None
    except OSError as exc:
        raise DataError("data.path", f"data.path {path!r} cannot be read ({exc.strerror}); "
                        "check that the file exists and is readable") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError("data.path", f"data.path {path!r} is a folder; give the path of a CSV "
                        "file inside it")
    if info.st_size == 0:
        raise DataError("data.path", f"data.path {label} is empty (0 bytes); give a CSV file "
                        f"with a header row and at least {MIN_ROWS} data rows")
    if info.st_size > MAX_CSV_BYTES:
        raise DataError("data.path", f"data.path {label} is {math.ceil(info.st_size / 2**20)} MB;"
                        f" the limit is {MAX_CSV_BYTES // 2**20} MB; sample it down to fewer rows")
    return info.st_size


def _read_head(path: str, label: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise DataError("data.path", f"data.path {label} cannot be read ({exc.strerror}); check "
                        "that the file is readable") from None


def _decode_head(head: bytes, whole: bool, label: str) -> str:
    # Text files never hold NUL bytes; spreadsheets, archives and UTF-16 exports do.
    if b"\x00" in head:
        raise DataError("data.path", f"data.path {label} is not a text file (it holds binary "
                        "data); export the data as CSV (UTF-8) and use that file")
    # An incremental decoder tolerates a character cut in half where the sample ends.
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError as exc:
        raise _not_utf8(label, f"byte 0x{head[exc.start]:02x} at offset {exc.start}") from None
    return text.lstrip("\ufeff")


def _not_utf8(label: str, where: str) -> DataError:
    return DataError("data.path", f"data.path {label} is not UTF-8 text ({where}); save it as "
                     "CSV UTF-8 (in Excel: Save As, CSV UTF-8) and try again")


def _guess_delimiter(text: str) -> str:
    """The delimiter used most often in the header line; a comma when none is used."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts = [first.count(d) for d in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else ","


def _header_names(text: str, delimiter: str, label: str) -> list[str]:
    try:
        for row in csv.reader(io.StringIO(text), delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return row
    except csv.Error as exc:
        raise DataError("data.path", f"data.path {label} is not valid CSV ({exc}); check its "
                        "header row") from None
    return []


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _has_line_end(text: str) -> bool:
    """Whether the sample holds the header row whole: a line end after a non-blank line."""
    stripped = text.lstrip("\r\n")
    return "\n" in stripped or "\r" in stripped


def _check_header(names: list[str], label: str) -> None:
    if not names:
        raise DataError("data.path", f"data.path {label} has no columns (it holds only blank "
                        "lines); give a CSV file with a header row and data rows")
    if len(names) > MAX_CSV_COLUMNS:
        raise DataError("data.path", f"data.path {label} has {len(names)} columns; the limit "
                        f"is {MAX_CSV_COLUMNS}; keep the columns the model needs")
    if all(_NUMBER.fullmatch(name.strip()) for name in names):
        raise DataError("data.path", f"data.path {label} has no header row: its first row "
                        f"({short_list(names, 5)}) looks like data; the first row must be a "
                        "header naming the columns")
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = [f"{name!r} ({count} times)" for name, count in seen.items() if count > 1]
    if repeated:
        raise DataError("data.path", f"data.path {label} repeats column names: "
                        f"{short_list(repeated, 5)}; rename the columns so that each name is "
                        "used once")


def _parse_csv(path: str, delimiter: str, label: str) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, sep=delimiter, encoding="utf-8", low_memory=False,
                            nrows=MAX_CSV_ROWS + 1)
    except pd.errors.EmptyDataError:
        raise DataError("data.path", f"data.path {label} has no columns; give a CSV file with a "
                        "header row and data rows") from None
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().splitlines()[-1].replace("Error tokenizing data. ", "")
        raise DataError("data.path", f"data.path {label} is not valid CSV ({detail}); check that "
                        f"every row has as many {_delimiter_name(delimiter)}-separated fields as "
                        "the header and that every quote is closed") from None
    except UnicodeDecodeError:
        raise _not_utf8(label, f"somewhere after the first {SNIFF_BYTES // 1024} KB") from None
    except Exception as exc:  # pandas raises many unrelated types; a bad file must not crash
        raise DataError("data.path", f"data.path {label} cannot be read as CSV "
                        f"({type(exc).__name__}: {exc}); check that it is a CSV file") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas silently turns the first column into the index when rows outgrow the header.
        raise DataError("data.path", f"data.path {label} is not valid CSV (its rows have more "
                        f"fields than its header); check that every row has as many "
                        f"{_delimiter_name(delimiter)}-separated fields as the header")
    return frame


def _check_shape(frame: pd.DataFrame, label: str) -> None:
    if len(frame) > MAX_CSV_ROWS:
        raise DataError("data.path", f"data.path {label} has more than {MAX_CSV_ROWS} data "
                        "rows; sample it down (data.max_rows only limits what a run uses)")
    if frame.shape[1] < 2:
        raise DataError("data.path", f"data.path {label} has a single column "
                        f"({frame.columns[0]!r}); a tuning run needs at least one feature "
                        "column besides the target")
    if len(frame) < MIN_ROWS:
        raise DataError("data.path", f"data.path {label} has {counted(len(frame), 'data row')}; "
                        f"at least {MIN_ROWS} are needed below the header row")


def _delimiter_name(delimiter: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}[delimiter]

