"""The one run control: stop, cancel, time limits, recycling and how a session ends,
checked on a real store with an injected clock (no TensorFlow, no sleeping)."""
from __future__ import annotations

import pytest

from storage import RunStatus, TrialStatus
from tuning.runner.run_control import (
    EXIT_DONE,
    EXIT_RECYCLE,
    SIGNALLED_STOP,
    Recycle,
    RunControl,
    RunEnded,
    StopRequested,
    TimeLimitReached,
    TrialCancelled,
    TrialEnded,
    TrialTimedOut,
    conclude,
    failure_summary,
    time_spent,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def running(storage):
    run = storage.create_run("r", {"strategy": {"name": "random"}})
    assert storage.claim_run(run.id, 1)
    return run.id


def control(storage, run_id, clock, **spec):
    return RunControl(storage, run_id, spec, clock=clock,
                      time_spent_s=spec.pop("spent", 0.0), recycle_after=spec.pop("recycle", None))


def test_the_exception_family_separates_the_run_from_the_trial():
    for cls in (StopRequested, TimeLimitReached, Recycle):
        assert issubclass(cls, RunEnded) and not issubclass(cls, TrialEnded)
    for cls in (TrialCancelled, TrialTimedOut):
        assert issubclass(cls, TrialEnded) and not issubclass(cls, RunEnded)


def test_before_a_trial_stop_then_the_time_budget_then_recycling(storage, running):
    clock = Clock()
    ctl = control(storage, running, clock, time_limit_s=60, spent=50.0, recycle=2)
    ctl.before_trial()
    clock.now += 9
    ctl.before_trial()  # 59 s of 60
    clock.now += 1
    with pytest.raises(TimeLimitReached, match="time limit of 60 s reached after 60 s"):
        ctl.before_trial()
    storage.request_stop(running)
    with pytest.raises(StopRequested, match="stop requested"):
        ctl.before_trial()  # a stop outranks the spent budget


def test_a_worker_recycles_after_its_trials_only_while_some_are_left(storage, running):
    ctl = control(storage, running, Clock(), recycle=2)
    for trial_id in (1, 2):
        ctl.trial_began(trial_id)
        ctl.trial_ended()
    with pytest.raises(Recycle):
        ctl.before_trial(remaining=3)
    with pytest.raises(Recycle):
        ctl.before_trial(remaining=None)  # a distributed worker cannot tell
    ctl.before_trial(remaining=0)  # nothing left: finishing beats a fresh process


def test_at_a_boundary_stop_and_cancel_are_read_and_the_trial_time_is_checked(storage, running):
    clock = Clock()
    ctl = control(storage, running, clock, trial_time_limit_s=5)
    trial = storage.begin_trial(running, "0", 0, {"units": 8})
    ctl.trial_began(trial.id)
    assert ctl.in_flight() == (100.0, trial.id)
    ctl.at_boundary("epoch 1")
    clock.now += 6
    with pytest.raises(TrialTimedOut, match="ran past the per-trial time limit of 5 s \\(6 s\\)"):
        ctl.at_boundary("epoch 2")
    storage.request_cancel(running, "0")
    with pytest.raises(TrialCancelled, match="^cancelled after fold 3$"):
        ctl.at_boundary("fold 3")
    storage.request_stop(running)
    with pytest.raises(StopRequested):
        ctl.at_boundary("epoch 3")
    ctl.trial_ended()
    assert ctl.in_flight() == (None, None) and ctl.trials_here == 1


def test_no_limits_set_means_no_limit(storage, running):
    clock = Clock()
    ctl = control(storage, running, clock)
    ctl.trial_began(1)
    clock.now += 10**6
    ctl.check_trial_time()
    ctl.check_time_budget()
    assert ctl.start_watchdog(exit=lambda code: None) is None


@pytest.mark.parametrize("outcome, status, error, code", [
    (Recycle("worker recycled"), RunStatus.QUEUED, None, EXIT_RECYCLE),
    (StopRequested("stop requested"), RunStatus.STOPPED, None, EXIT_DONE),
    (TimeLimitReached("time limit of 5 s reached after 6 s"), RunStatus.COMPLETED,
     "time limit of 5 s reached after 6 s", EXIT_DONE),
    (ValueError("bad shape"), RunStatus.FAILED, "ValueError: bad shape", EXIT_DONE),
])
def test_conclude_turns_each_outcome_into_a_status_and_an_exit_code(storage, running, outcome,
                                                                    status, error, code):
    trial = storage.begin_trial(running, "0", 0, {})
    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5)
    saved = []
    assert conclude(storage, running, outcome, save_best=lambda: saved.append(1),
                    log=False) == code
    run = storage.get_run(running)
    assert run.status is status and run.error == error
    assert saved == ([1] if isinstance(outcome, TimeLimitReached) else [])


def test_a_search_that_ends_without_one_completed_trial_failed(storage, running):
    trial = storage.begin_trial(running, "0", 0, {})
    storage.finish_trial(trial.id, TrialStatus.FAILED, message="ValueError: nan loss")
    saved = []
    assert conclude(storage, running, None, save_best=lambda: saved.append(1)) == EXIT_DONE
    run = storage.get_run(running)
    assert run.status is RunStatus.FAILED and not saved
    assert run.error == "no trial completed; last error: ValueError: nan loss"


def test_a_search_that_ends_with_a_completed_trial_keeps_its_best_model(storage, running):
    trial = storage.begin_trial(running, "0", 0, {})
    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.9)
    saved = []
    conclude(storage, running, None, save_best=lambda: saved.append(1))
    assert storage.get_run(running).status is RunStatus.COMPLETED and saved == [1]
    assert time_spent(storage, running) >= 0.0


def test_failure_summary_names_the_error_and_keeps_the_last_line():
    assert failure_summary(ValueError("bad")) == "ValueError: bad"
    assert failure_summary(RuntimeError("")) == "RuntimeError"
    assert failure_summary(RuntimeError("3 failed in a row\n\nTraceback...\nKeyError: 'x'")) == \
        "3 failed in a row Last error: KeyError: 'x'"


def test_a_search_checks_the_trial_time_at_batches_not_at_the_epoch_boundary(storage, running):
    """``at_boundary(check_time=False)``: what a KerasTuner search asks at an epoch end (its
    batches check the time), so a trial past its limit only in its last validation still
    completes; a tool's epoch boundary checks it."""
    clock = Clock()
    ctl = control(storage, running, clock, trial_time_limit_s=5)
    ctl.trial_began(storage.begin_trial(running, "0", 0, {}).id)
    clock.now += 6
    ctl.at_boundary("epoch 1", check_time=False)
    with pytest.raises(TrialTimedOut):
        ctl.at_boundary("epoch 1")


def test_ctrl_c_stops_the_run_in_the_words_of_whoever_was_interrupted(storage, running):
    assert conclude(storage, running, KeyboardInterrupt(),
                    interrupted="interrupted in the script (Ctrl-C)") == EXIT_DONE
    run = storage.get_run(running)
    assert run.status is RunStatus.STOPPED and run.error == "interrupted in the script (Ctrl-C)"


@pytest.fixture
def signalled():
    """This process was sent SIGTERM (the handler's flag), cleared again afterwards."""
    SIGNALLED_STOP.event.set()
    yield
    SIGNALLED_STOP.clear()


@pytest.mark.parametrize("outcome", [
    None, Recycle("worker recycled"), TimeLimitReached("time limit of 5 s reached after 6 s")])
def test_a_sigterm_no_boundary_saw_still_ends_the_run_stopped(storage, running, signalled,
                                                              outcome):
    """The signal landed after the search's last check (in the heartbeat's write after the
    last fold): the run is not reported completed, nor handed back to the queue."""
    trial = storage.begin_trial(running, "0", 0, {})
    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5)
    saved = []
    assert conclude(storage, running, outcome, save_best=lambda: saved.append(1)) == EXIT_DONE
    run = storage.get_run(running)
    assert run.status is RunStatus.STOPPED and run.error is None and not saved


def test_a_sigterm_does_not_hide_a_failure(storage, running, signalled):
    conclude(storage, running, ValueError("bad shape"), log=False)
    run = storage.get_run(running)
    assert run.status is RunStatus.FAILED and run.error == "ValueError: bad shape"
