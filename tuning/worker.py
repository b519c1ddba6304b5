"""``python -m tuning.worker``: the worker process's command line, kept at this address
for the engine, remote machines and README.md; the worker itself is ``tuning.runner.worker``."""
from __future__ import annotations

from tuning.runner.worker import exit_now, main

if __name__ == "__main__":
    exit_now(main())
