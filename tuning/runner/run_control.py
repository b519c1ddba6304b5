"""One run control: the rules every way of executing a run shares, kept in one object.

KerasTuner searches (``recording.Recording``), the tools (``tool_context.ToolContext``),
watched searches (``tuning.ingest.watch``) and distributed workers all ask a ``RunControl``
at the same boundaries, and so obey the same rules with the same words:

- before a trial: a stop request ends the search (``StopRequested``), a spent
  ``time_limit_s`` ends it completed (``TimeLimitReached``), and a worker that has run
  ``recycle_every`` trials retires so a fresh process takes over (``Recycle``);
- at an epoch, batch or fold boundary: a stop request ends the search, a cancel request
  ends the trial in flight (``TrialCancelled``), and a trial past ``trial_time_limit_s``
  fails (``TrialTimedOut``);
- a trial that hangs between boundaries is failed by the ``Watchdog``, which hands the run
  back to the queue and ends the process.

A worker asked to stop by a signal (SIGTERM: ``stop_on_signal``) obeys the same stop
request: the handler only raises a flag, which these checks read, and a helper thread
records the request in the database. Nothing writes inside the handler, which may land
in the middle of any write of the main thread.

``conclude`` is the one place where the way a session of a run ended becomes the run's
status and the worker's exit code. ``failure_summary`` is the one wording of a failure.

Nothing here imports KerasTuner: ``recording.in_trial_error`` gives these exceptions the
KerasTuner flavour a search needs inside a trial (a ``FatalError`` to end it, a
``FailedTrialError`` to fail the trial).
"""
from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from storage import RunStatus, TrialStatus

# Exit codes of a worker process, read by the engine.
EXIT_DONE = 0
EXIT_RECYCLE = 75  # the worker retired itself to keep memory flat; start another

HEARTBEAT_S = 2.0


class RunEnded(Exception):
    """Ends the search, not only the trial in flight; ``conclude`` says how the run ends."""


class StopRequested(RunEnded):
    """The run was asked to stop (dashboard or CLI): it ends stopped, resumable."""


class TimeLimitReached(RunEnded):
    """The run's ``time_limit_s`` is spent: no trial starts, the run ends completed."""


class Recycle(RunEnded):
    """This worker has run its ``recycle_every`` trials: it is replaced to keep memory flat."""


class TrialEnded(Exception):
    """Ends the trial in flight; the run goes on. The message is the trial's whole reason."""


class TrialCancelled(TrialEnded):
    """The trial in flight was cancelled from the dashboard or the CLI."""


class TrialTimedOut(TrialEnded):
    """The trial in flight ran past ``trial_time_limit_s``."""


class _SignalledStop:
    """Set (from a signal handler) when this process was asked to stop."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def is_set(self) -> bool:
        return self.event.is_set()

    def clear(self) -> None:
        self.event.clear()


SIGNALLED_STOP = _SignalledStop()


def stop_on_signal(storage: Any, run_id: int, signum: int = signal.SIGTERM) -> threading.Thread:
    """Make ``signum`` ask this worker's run to stop after the epoch in flight.

    The handler only sets ``SIGNALLED_STOP`` (the checks of every ``RunControl`` read it);
    the returned thread then records the request (``request_stop``) on its own connection,
    so the dashboard shows it. A handler that wrote to the database itself would run in
    the main thread, perhaps inside that thread's open write (an epoch being recorded):
    that write would fail, and the stop with it."""
    def handler(signo, frame):
        SIGNALLED_STOP.event.set()

    def record() -> None:
        SIGNALLED_STOP.event.wait()
        try:
            storage.request_stop(run_id)
        except Exception:  # the run ended meanwhile, or the database is busy: the flag stops it
            pass

    thread = threading.Thread(target=record, daemon=True, name="stop-on-signal")
    thread.start()
    signal.signal(signum, handler)
    return thread


class RunControl:
    """Stop, cancel, the run's and the trial's time limits and recycling for one session
    of one run in one process. ``clock`` is injectable for tests; ``time_spent_s`` is what
    earlier sessions of a resumed run spent (``time_spent``)."""

    def __init__(self, storage: Any, run_id: int, spec: Mapping[str, Any], *,
                 time_spent_s: float = 0.0, recycle_after: int | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.storage, self.run_id, self.clock = storage, run_id, clock
        self.time_budget = spec.get("time_limit_s")
        self.trial_limit = spec.get("trial_time_limit_s")
        self.time_spent_s = time_spent_s
        self.recycle_after = recycle_after
        self.session_start = clock()
        self.trials_here = 0
        self.trial_id: int | None = None
        self.trial_started: float | None = None

    # -- the trial in flight -------------------------------------------------------------
    def trial_began(self, trial_id: int) -> None:
        self.trial_id, self.trial_started = trial_id, self.clock()

    def trial_ended(self) -> None:
        self.trial_id = self.trial_started = None
        self.trials_here += 1

    def in_flight(self) -> tuple[float | None, int | None]:
        """(when the trial in flight began, on ``clock``; its database id), or (None, None)
        between trials: what the ``Watchdog`` watches."""
        return self.trial_started, self.trial_id

    # -- the checks ----------------------------------------------------------------------
    def before_trial(self, remaining: int | None = None) -> None:
        """Raise what ends the search before another trial starts. ``remaining``: how
        many trials the strategy has left (None: it cannot tell); a worker recycles only
        while some are left."""
        stop, _ = self.storage.control_flags(self.run_id)
        if stop or SIGNALLED_STOP.is_set():
            raise StopRequested("stop requested")
        self.check_time_budget()
        if self.recycle_after is not None and self.trials_here >= self.recycle_after and (
                remaining is None or remaining > 0):
            raise Recycle("worker recycled")

    def at_boundary(self, done: str, trial_id: int | None = None,
                    check_time: bool = True) -> None:
        """At a boundary of the trial in flight (``done``: "epoch 3", "fold 2"): raise
        ``StopRequested`` when the run was asked to stop, ``TrialCancelled`` when the trial
        (``trial_id``, default the one in flight) was; then, with ``check_time``,
        ``TrialTimedOut`` once it has run past its limit (a KerasTuner search checks the
        trial's time at every batch instead)."""
        stop, cancel = self.storage.control_flags(
            self.run_id, self.trial_id if trial_id is None else trial_id)
        if stop or SIGNALLED_STOP.is_set():
            raise StopRequested("stop requested")
        if cancel:
            raise TrialCancelled(f"cancelled after {done}")
        if check_time:
            self.check_trial_time()

    def check_trial_time(self) -> None:
        if self.trial_limit and self.trial_started is not None:
            spent = self.clock() - self.trial_started
            if spent > self.trial_limit:
                raise TrialTimedOut(
                    f"ran past the per-trial time limit of {self.trial_limit:g} s "
                    f"({spent:.0f} s); raise trial_time_limit_s or shrink the model")

    def check_time_budget(self) -> None:
        if self.time_budget:
            spent = self.time_spent_s + (self.clock() - self.session_start)
            if spent >= self.time_budget:
                raise TimeLimitReached(
                    f"time limit of {self.time_budget:g} s reached after {spent:.0f} s")

    def start_watchdog(self, exit: Callable[[int], Any] = os._exit) -> Watchdog | None:
        """Watch the trials for hangs when the spec sets ``trial_time_limit_s``."""
        if not self.trial_limit:
            return None
        dog = Watchdog(self.storage, self.run_id, self.trial_limit, self.in_flight, exit=exit)
        dog.start()
        return dog


def time_spent(storage: Any, run_id: int) -> float:
    """Time already spent on the run's trials, so a time limit survives resumes."""
    total = 0.0
    for t in storage.list_trials(run_id):
        if t.started_at and t.finished_at:
            total += max(0.0, t.finished_at - t.started_at)
    return total


def failure_summary(exc: BaseException) -> str:
    """First line of the error, plus the last line of the trial message KerasTuner appends."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) == 1:
        return f"{type(exc).__name__}: {lines[0]}"
    return f"{lines[0]} Last error: {lines[-1]}"


def conclude(storage: Any, run_id: int, outcome: BaseException | None, *,
             save_best: Callable[[], Any] | None = None, log: bool = True,
             interrupted: str = "interrupted (Ctrl-C)") -> int:
    """Record how this session of the run ended and return the worker's exit code.

    ``outcome``: None when the search ran to its end, else what ended it. A ``Recycle``
    hands the run back to the queue; a ``StopRequested`` ends it stopped; a
    ``TimeLimitReached`` ends it completed with the reason as its error; Ctrl-C ends it
    stopped, ``interrupted`` its error; anything else
    ends it failed, in ``failure_summary``'s words (the traceback goes to the worker's
    log when ``log``). A search that ran to its end without one completed trial failed.
    ``save_best`` keeps the best model of a run that ends completed.

    A SIGTERM that came before this conclusion (``SIGNALLED_STOP``) ends the run stopped
    however the search ended short of failing: the signal may land after the last boundary
    that checks it (the heartbeat's write, between the last fold and the end), and a
    worker told to stop never reports its run completed or hands it back to the queue.
    """
    if SIGNALLED_STOP.is_set() and (outcome is None or isinstance(outcome, RunEnded)):
        outcome = StopRequested("stop requested")
    if isinstance(outcome, Recycle):
        storage.requeue_for_recycle(run_id)
        return EXIT_RECYCLE
    if isinstance(outcome, StopRequested):
        storage.finish_run(run_id, RunStatus.STOPPED)
        return EXIT_DONE
    if isinstance(outcome, TimeLimitReached):
        if save_best is not None:
            save_best()
        storage.finish_run(run_id, RunStatus.COMPLETED, error=str(outcome))
        return EXIT_DONE
    if isinstance(outcome, KeyboardInterrupt):
        storage.finish_run(run_id, RunStatus.STOPPED, error=interrupted)
        return EXIT_DONE
    if outcome is not None:
        if log:
            traceback.print_exception(outcome)
        storage.finish_run(run_id, RunStatus.FAILED, error=failure_summary(outcome))
        return EXIT_DONE
    trials = storage.list_trials(run_id)
    if trials and not any(t.status is TrialStatus.COMPLETED for t in trials):
        last = trials[-1].message or "see the trials' messages"
        storage.finish_run(run_id, RunStatus.FAILED, error=f"no trial completed; last error: {last}")
        return EXIT_DONE
    if save_best is not None:
        save_best()
    storage.finish_run(run_id, RunStatus.COMPLETED)
    return EXIT_DONE


class Heartbeat(threading.Thread):
    """Beats every few seconds so the engine can tell a live worker from a dead one."""

    def __init__(self, storage: Any, run_id: int):
        super().__init__(daemon=True, name=f"heartbeat-{run_id}")
        self.storage = storage
        self.run_id = run_id
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(HEARTBEAT_S):
            try:
                self.storage.heartbeat(self.run_id)
            except Exception:  # a busy database must not kill the worker; the next beat retries
                pass


class Watchdog(threading.Thread):
    """Ends a worker whose trial hangs past its time limit (no epoch or batch to fail it at).

    ``current()`` returns the trial in flight as (``time.monotonic()`` when it began, its
    database id), or (None, None) between trials. Once a trial has run ``limit`` plus a
    grace (a quarter of the limit, at least 5 s), it is recorded as failed, the run handed
    back to the queue, and the process exits through ``exit``; the engine starts a fresh
    worker, which resumes without that trial. Used by KerasTuner searches and tool runs.
    """

    def __init__(self, storage: Any, run_id: int, limit: float,
                 current: Callable[[], tuple[float | None, int | None]],
                 exit: Callable[[int], Any] = os._exit, poll_s: float = 0.5):
        super().__init__(daemon=True, name="trial-watchdog")
        self.storage, self.run_id, self.limit = storage, run_id, float(limit)
        self.current, self.exit, self.poll_s = current, exit, poll_s
        self.deadline = self.limit + max(5.0, 0.25 * self.limit)

    def run(self) -> None:
        while True:
            time.sleep(self.poll_s)
            started, trial_id = self.current()
            if started is None or trial_id is None or \
                    time.monotonic() - started < self.deadline:
                continue
            try:
                self.storage.finish_trial(trial_id, TrialStatus.FAILED, message=(
                    f"hung: no progress for {time.monotonic() - started:.0f} s, past the "
                    f"per-trial time limit of {self.limit:g} s; the worker was "
                    "restarted and the run went on"))
                self.storage.requeue_for_recycle(self.run_id)
            finally:
                self.exit(EXIT_RECYCLE)
            return
