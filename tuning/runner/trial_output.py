"""What a trial leaves besides its numbers: the lines its worker wrote while it ran.

An engine's worker writes its stdout and stderr to the run's ``worker.log`` (see
``engine.Engine.spawn``). ``LogMark`` notes where that file stood when a trial began and
reads what was written after, so the trial page can show the lines of this trial alone.
When stdout is not a file (a watched script in a terminal) there is nothing to read.
"""
from __future__ import annotations

import os
import stat
import sys

READ_LIMIT = 200_000  # bytes read back at most: the end of a long log


class LogMark:
    def __init__(self) -> None:
        self.offset: int | None = None
        try:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            if stat.S_ISREG(os.fstat(1).st_mode):
                self.offset = os.lseek(1, 0, os.SEEK_CUR)
        except (OSError, ValueError, AttributeError):
            self.offset = None

    def read(self) -> str | None:
        """The text written to stdout's file since the mark, None when there is none."""
        if self.offset is None:
            return None
        try:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            end = os.lseek(1, 0, os.SEEK_CUR)
            start = max(self.offset, end - READ_LIMIT)
            data = os.pread(1, end - start, start) if end > start else b""
        except (OSError, ValueError, AttributeError):
            return None
        return data.decode("utf-8", errors="replace")
