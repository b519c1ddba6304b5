"""Reading a KerasTuner project folder's files within fixed limits, before any field is
looked at: how many trial folders, how many bytes per file and in all, JSON that parses.

A project folder may be damaged, hand-edited or hostile, and the dashboard reads it in its
own process: every read here is bounded, and every fault is a line for
``ProjectImportError`` naming the file and the fix, never an exception of its own.
"""
from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from typing import Any

#: The most trial folders one project may hold (KerasTuner's own searches rarely pass a few
#: thousand; each becomes rows of one transaction in the dashboard's database).
MAX_TRIALS = 10_000
#: The most entries the project folder itself may hold (trial folders and the oracle's files).
MAX_ENTRIES = MAX_TRIALS + 1_000
#: The largest JSON file read (a trial.json of the stock tuner is a few kilobytes; an
#: oracle.json grows by about a hundred bytes per trial).
MAX_FILE_BYTES = 16 * 2**20
#: The most JSON bytes one import reads in all.
MAX_PROJECT_BYTES = 256 * 2**20

DAMAGED_FIX = ("restore it from a copy, or delete the project and run the search again "
               "(KerasTuner rewrites it)")


def mib(n: int) -> str:
    return f"{n / 2**20:g} MiB"


@dataclass
class Budget:
    """What one import has read so far, against ``MAX_PROJECT_BYTES``."""
    bytes_left: int = field(default_factory=lambda: MAX_PROJECT_BYTES)
    exhausted: bool = False


def read_json(path: str, problems: list[str], budget: Budget, fix: str = DAMAGED_FIX) -> Any:
    """The JSON document in ``path``, or None with a line added to ``problems``.

    Only a regular file is read (never a pipe or a device: opening is non-blocking), at
    most ``MAX_FILE_BYTES`` of it and ``budget`` in all. Not UTF-8, not JSON, nested too
    deeply, or an integer too long for Python to read: each is a problem, not an exception.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        problems.append(f"{path} cannot be read ({exc.strerror}); check its permissions")
        return None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            problems.append(f"{path} is not a regular file (a pipe, a device or a socket); "
                            f"KerasTuner writes plain files: {fix}")
            return None
        if info.st_size > MAX_FILE_BYTES:
            problems.append(f"{path} is {mib(info.st_size)}, more than the {mib(MAX_FILE_BYTES)} "
                            f"a KerasTuner file may be here; it is not one of KerasTuner's "
                            f"files or is damaged: {fix}")
            return None
        if info.st_size > budget.bytes_left:
            if not budget.exhausted:
                problems.append(f"the project's JSON files hold more than the "
                                f"{mib(MAX_PROJECT_BYTES)} one import reads; import a smaller "
                                f"project, or delete trial folders you do not need")
            budget.exhausted = True
            return None
        raw = fh.read(MAX_FILE_BYTES + 1)
    budget.bytes_left -= len(raw)
    if len(raw) > MAX_FILE_BYTES:  # it grew while we read it
        problems.append(f"{path} grew past {mib(MAX_FILE_BYTES)} while it was read; import "
                        "the project once its search has ended")
        return None
    return _parse(path, raw, problems, fix)


def _parse(path: str, raw: bytes, problems: list[str], fix: str) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        problems.append(f"{path} is not UTF-8 text, so not KerasTuner's JSON; the file is "
                        f"damaged: {fix}")
    except json.JSONDecodeError as exc:
        problems.append(f"{path} is not valid JSON (line {exc.lineno} column {exc.colno}: "
                        f"{exc.msg}); the file is damaged: {fix}")
    except RecursionError:
        problems.append(f"{path} nests arrays or objects too deeply for a KerasTuner file; "
                        f"the file is damaged: {fix}")
    except ValueError as exc:  # an integer of thousands of digits
        problems.append(f"{path} holds a number Python refuses to read ({exc}); the file "
                        f"is damaged: {fix}")
    return None


def trial_folders(path: str, problems: list[str]) -> list[str]:
    """The project's ``trial_*`` folders, sorted by name; at most ``MAX_TRIALS`` of them,
    and a folder of more than ``MAX_ENTRIES`` entries is refused before it is all listed."""
    folders: list[str] = []
    entries = 0
    try:
        with os.scandir(path) as listing:
            for entry in listing:
                entries += 1
                if entries > MAX_ENTRIES:
                    problems.append(f"{path} holds more than {MAX_ENTRIES} entries; a KerasTuner "
                                    "project holds its oracle's files and one trial_* folder "
                                    f"per trial (at most {MAX_TRIALS} are imported): import a "
                                    "smaller project")
                    return []
                if entry.name.startswith("trial_") and entry.is_dir():
                    folders.append(entry.path)
    except OSError as exc:
        problems.append(f"{path} cannot be listed ({exc.strerror}); check its permissions")
        return []
    if len(folders) > MAX_TRIALS:
        problems.append(f"{path} holds {len(folders)} trial folders, more than the {MAX_TRIALS} "
                        "one import takes: import a smaller project, or delete trial folders "
                        "you do not need")
        return []
    return sorted(folders)
