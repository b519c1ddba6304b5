"""The storage contract: what every store promises, as typed protocols.

Two protocols, because two kinds of caller exist:

- ``Recorder``: what a process that records a search calls (the recording hooks of a
  worker, a deep-learning tool, a watched script). ``storage.Storage`` (the SQLite file)
  and ``tuning.runner.relay.RemoteStorage`` (a worker on another machine, answered by
  the chief's relay) both implement it, and ``tests/storage/test_contract.py`` runs one
  suite against both.
- ``Store``: a ``Recorder`` plus everything the engine, the pages and the CLI use to
  queue, control, read and delete runs. ``storage.Storage`` implements it.

Promises that hold for every call of both:

- Thread-safe: one object may be shared by threads (a worker's main thread, its
  heartbeat and its watchdog do so), with no locking by the caller.
- Every write is committed before the call returns: a reader in another thread or
  process sees it at once (inside ``Store.transaction()``: when the block ends).
- Every record returned (``Run``, ``Trial``, ``Epoch``, ``RunChanges``) is a frozen
  dataclass whose mappings are read-only and whose sequences are tuples. It is a
  snapshot: later writes never change a record already returned; read again to see them.
- Stored values are plain JSON: numpy scalars are stored as numbers, non-finite floats
  as None (``plain_json``).
- A call about a run or trial that does not exist raises ``NotFoundError``, unless its
  docstring says otherwise.
- A call that changes a run or trial depending on its status (claim, stop, requeue,
  delete, cancel, mark interrupted) checks that status atomically with its write: of two
  processes racing over one run, one wins and the other sees the winner's result (or
  ``InvalidTransitionError``), never a mix of both.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from ._models import Cursor, Epoch, Run, RunChanges, RunStatus, Trial, TrialStatus


@runtime_checkable
class Recorder(Protocol):
    """What recording a search needs. A recorder serves one run at a time: ``run_id`` is
    always the run being recorded (the relay answers for its own run only and refuses
    trials of other runs with ``NotFoundError``)."""

    #: Where the records live: the database file, or ``relay:<url>`` for a relay.
    path: str

    def get_run(self, run_id: int) -> Run:
        """The run. Its ``id``, ``spec``, ``status`` and ``created_at`` are current; a
        recorder that is not the database itself (the relay) may leave the other
        fields at their defaults (empty name, None, False), so recording code reads
        only those four."""
        ...

    def begin_trial(self, run_id: int, trial_key: str, number: int,
                    hyperparameters: Mapping[str, Any], *, bracket: int | None = None,
                    round: int | None = None, parent_key: str | None = None,
                    worker: str | None = None) -> Trial:
        """Record that the run's trial ``trial_key`` starts, and return it ``RUNNING``.

        A key seen before (a trial trained again after a resume or a worker's death)
        keeps its database id, and loses the epochs, score, metrics, message, flags and
        cancel request of its earlier attempt, so nothing is ever recorded twice. The
        relay (a worker on another machine) refuses with ``InvalidTransitionError`` to
        begin again a trial that has a result (completed, pruned or cancelled).
        """
        ...

    def record_epoch(self, trial_id: int, execution: int, epoch: int,
                     metrics: Mapping[str, Any]) -> None:
        """Store one epoch's metrics and count it in the trial's ``epochs_done``.

        Each value is read with ``float()`` (numpy scalars included); a non-finite one
        (a diverged epoch) is kept as None, and one ``float()`` cannot read is dropped.
        Recording the same ``(execution, epoch)`` again replaces it.
        """
        ...

    def finish_trial(self, trial_id: int, status: TrialStatus, score: float | None = None,
                     metrics: Mapping[str, Any] | None = None, message: str | None = None,
                     flags: list[str] | None = None,
                     hyperparameters: Mapping[str, Any] | None = None) -> None:
        """Record how a trial ended. A non-finite ``score`` is stored as None. Finishing
        a finished trial again overwrites status, score, metrics and message; ``flags``
        are replaced only when given, and so are ``hyperparameters`` (a define-by-run
        builder registers entries while it builds, after the trial began: a user's
        ``hp.Int(f"units_{i}", ...)`` inside a loop)."""
        ...

    def record_trial_output(self, trial_id: int, traceback: str | None = None,
                            log: str | None = None) -> None:
        """Keep a trial's full traceback and the lines its worker logged while it ran (the
        end of each, when long); None leaves a value as it is."""
        ...

    def control_flags(self, run_id: int, trial_id: int | None = None) -> tuple[bool, bool]:
        """(stop requested for the run, cancel requested for ``trial_id``): what a worker
        polls at each epoch boundary. Cancel is False when no trial is given.

        Not ``NotFoundError`` for a run that no longer exists (deleted under its
        worker): the answer is stop. The relay raises ``NotFoundError`` for a trial id
        that is not one of its run's; the database answers cancel False."""
        ...

    def heartbeat(self, run_id: int) -> None:
        """Say the run's worker is alive. Where another process beats for the run (the
        relay's chief does, for its remote workers) this does nothing."""
        ...

    def requeue_for_recycle(self, run_id: int) -> None:
        """A worker retiring (to free memory, or after its watchdog failed a hung trial)
        hands its running run back to the queue. Where another process owns the run (a
        distributed run's chief, for its workers) this does nothing."""
        ...

    def get_trial_by_key(self, run_id: int, trial_key: str) -> Trial:
        """The run's trial with this key (any str()-able key)."""
        ...

    def list_trials(self, run_id: int) -> list[Trial]:
        """The run's trials, ordered by number, then id."""
        ...

    def list_epochs(self, run_id: int, trial_id: int | None = None) -> list[Epoch]:
        """The run's epochs (or one trial's), in the order they were recorded."""
        ...


@runtime_checkable
class Store(Recorder, Protocol):
    """The whole store: recording, plus what the engine, the pages and the CLI call."""

    # -- runs ------------------------------------------------------------------------

    def create_run(self, name: str, spec: Mapping[str, Any],
                   status: RunStatus = RunStatus.QUEUED) -> Run:
        """Store a new run (``QUEUED`` unless told) and return it."""
        ...

    def create_runs(self, runs: list[tuple[str, Mapping[str, Any]]],
                    status: RunStatus = RunStatus.QUEUED) -> list[Run]:
        """Store several (name, spec) runs at once: all of them or, on any error, none;
        no worker can claim the first before the last is stored."""
        ...

    def list_runs(self, statuses: list[RunStatus] | None = None,
                  strategies: list[str] | None = None) -> list[Run]:
        """All runs, newest first, optionally filtered by status and strategy name."""
        ...

    def queued_run_ids(self) -> list[int]:
        """Ids of the queued runs, oldest first: what the engine launches next."""
        ...

    def update_max_trials(self, run_id: int, max_trials: int) -> None:
        """Store the run's trial budget once it is known (Hyperband computes it)."""
        ...

    def claim_run(self, run_id: int, pid: int, identity: str | None = None) -> bool:
        """Move a queued run to running for worker ``pid``, whose process identity is
        ``identity`` (``Run.worker_identity``); False if someone else took it.
        Atomic: of several processes claiming one run, exactly one gets True."""
        ...

    def set_worker(self, run_id: int, pid: int, identity: str | None = None) -> None:
        """Record the worker process of a running run, and beat for it."""
        ...

    def finish_run(self, run_id: int, status: RunStatus, error: str | None = None) -> None:
        """Record how a run ended. Trials still running become ``STOPPED`` for a stopped
        run, ``INTERRUPTED`` otherwise."""
        ...

    def mark_interrupted(self, run_id: int, reason: str, worker_pid: int | None = None) -> bool:
        """Mark a running run whose worker is gone; False if it is no longer running or,
        with ``worker_pid``, if its worker is now another process (it was resumed)."""
        ...

    def reopen_run(self, run_id: int, spec: Mapping[str, Any], pid: int,
                   max_trials: int | None, identity: str | None = None) -> bool:
        """Make a run that is not running ``running`` for ``pid`` in one step, replacing
        its spec (a watched script); False when another process holds it running."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A context in which every call of this thread is one write transaction: all of
        it lands when the block ends, nothing of it when the block raises (an import that
        fails half-way leaves no trace). Other writers wait until the block ends; blocks
        nest (an inner one joins the outer)."""
        ...

    def replace_spec(self, run_id: int, name: str, spec: Mapping[str, Any]) -> None:
        """Store a new name and spec for a run (an imported project read again)."""
        ...

    def request_stop(self, run_id: int) -> Run:
        """Ask a running run to stop after the epoch in flight (a queued run stops at
        once); ``InvalidTransitionError`` for a run in any other state."""
        ...

    def requeue(self, run_id: int) -> Run:
        """Queue a stopped, interrupted or failed run again so a worker resumes it;
        ``InvalidTransitionError`` otherwise."""
        ...

    def delete_run(self, run_id: int) -> None:
        """Delete a run that is not running, with its trials and epochs;
        ``InvalidTransitionError`` for a running one."""
        ...

    # -- trials and epochs -------------------------------------------------------------

    def record_epochs(self, trial_id: int,
                      rows: Iterable[tuple[int, int, Mapping[str, Any]]]) -> None:
        """``record_epoch`` for each ``(execution, epoch, metrics)`` row, in one write (an
        imported trial's saved epochs)."""
        ...

    def request_cancel(self, run_id: int, trial_key: str) -> Trial:
        """Ask a running trial's worker to cancel it at the next epoch boundary;
        ``InvalidTransitionError`` for a finished trial."""
        ...

    def get_trial(self, trial_id: int) -> Trial:
        """The trial with this database id."""
        ...

    def list_epochs(self, run_id: int, trial_id: int | None = None,
                    after_id: int = 0) -> list[Epoch]:
        """The run's epochs (or one trial's) with an id above ``after_id``, in order."""
        ...

    def changes_since(self, run_id: int, cursor: Cursor = Cursor()) -> RunChanges:
        """The run, the trials changed and the epochs added since ``cursor``, read in one
        snapshot, with the cursor to pass next time. Cursors only grow."""
        ...

    def close(self) -> None:
        """Release this thread's connection; the store stays usable (it reconnects)."""
        ...
