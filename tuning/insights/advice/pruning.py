"""Early epochs already rank the trials: replay median pruning on the stored curves,
trial by trial in the order they ran, and count the epochs it would have saved with the
same winner. Exactly the rule a pruned run applies (``curves.median_rule``)."""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from storage import Trial

from ..curves import median_rule
from .context import RunContext, fmt
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

WARMUP_EPOCHS = 2
MIN_TRIALS = 3
MIN_SAVING = 0.2   # suggest pruning when it would have saved at least a fifth of the epochs


@dataclass(frozen=True)
class Replay:
    """What median pruning would have done: each trial's epochs kept (by key), the epochs
    trained without and with it, and whether the winner would have survived."""
    kept: dict[str, int]
    pruned: tuple[str, ...]
    epochs_before: int
    epochs_after: int
    winner: str | None
    winner_kept: bool

    @property
    def saved(self) -> int:
        return self.epochs_before - self.epochs_after

    @property
    def share(self) -> float:
        return self.saved / self.epochs_before if self.epochs_before else 0.0


def _pruned(value: float | None, ordered: list[float], direction: str, min_trials: int) -> bool:
    """``curves.median_rule`` on an already sorted reference (same median, same test)."""
    if len(ordered) < min_trials or value is None:
        return False
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return median_rule(value, [median], direction, 1) is not None


def replay_pruning(ctx: RunContext, warmup_epochs: int = WARMUP_EPOCHS,
                   min_trials: int = MIN_TRIALS, trials: Sequence[Trial] | None = None
                   ) -> Replay | None:
    """Replay the median rule over the finished trials' first-execution curves of the
    objective: a trial stops at the first epoch past the warm-up where it is worse than
    the median of the earlier trials at that epoch; what it trained joins the reference.
    None without curves. Epochs count every execution (``executions_per_trial``)."""
    executions = int(ctx.spec.get("strategy", {}).get("executions_per_trial") or 1)
    trials = list(ctx.finished if trials is None else trials)
    # Sorted per epoch, so each median is an index, not a sort: a run of thousands of
    # trials replays in well under a second.
    reference: dict[int, list[float]] = {}
    kept: dict[str, int] = {}
    pruned = []
    before = after = 0
    for t in trials:
        curve = ctx.curve(t)
        if not curve:
            continue
        stop = len(curve)
        for epoch, value in enumerate(curve):
            if epoch + 1 <= warmup_epochs:
                continue
            if _pruned(value, reference.get(epoch, []), ctx.direction, min_trials):
                stop = epoch + 1
                break
        for epoch, value in enumerate(curve[:stop]):
            if value is not None:
                bisect.insort(reference.setdefault(epoch, []), value)
        kept[t.trial_key] = stop
        if stop < len(curve):
            pruned.append(t.trial_key)
        before += len(curve) * executions
        after += stop * executions
    if not kept:
        return None
    winner = ctx.ranked[0].trial_key if ctx.ranked else None
    return Replay(kept, tuple(pruned), before, after, winner,
                  winner is not None and winner not in pruned)


def turn_pruning_on(ctx: RunContext) -> list[Suggestion]:
    chosen = ctx.strategy
    if not ctx.is_keras or chosen is None or not chosen.prunable:
        return []
    if ctx.spec.get("strategy", {}).get("pruning") or len(ctx.finished) < MIN_TRIALS + 3:
        return []
    replay = replay_pruning(ctx)
    if replay is None or not replay.winner_kept or replay.share < MIN_SAVING:
        return []
    confidence, reason = evidence_confidence(len(ctx.finished), min(1.0, replay.share * 2))
    setting = {"warmup_epochs": WARMUP_EPOCHS, "min_trials": MIN_TRIALS}
    series = tuple({"name": t.trial_key, "x": list(range(1, len(ctx.curve(t)) + 1)),
                    "y": ctx.curve(t), "marked": t.trial_key in replay.pruned,
                    "stop": replay.kept.get(t.trial_key)}
                   for t in ctx.finished if t.trial_key in replay.kept)
    return [Suggestion(
        rule="pruning",
        title=f"Turn median pruning on: replayed on these curves it saves "
              f"{replay.share:.0%} of the epochs with the same winner",
        evidence=(f"Replaying the median rule (warm-up {WARMUP_EPOCHS} epochs, "
                  f"{MIN_TRIALS} earlier trials) on the {len(replay.kept)} recorded curves "
                  f"prunes {len(replay.pruned)} trials: {replay.epochs_before} epochs → "
                  f"{replay.epochs_after} (saves {replay.saved}).",
                  f"The winner, trial {replay.winner} (score "
                  f"{fmt(ctx.ranked[0].score)}), is never pruned: the early epochs already "
                  "rank the trials.",
                  f"Proposed: strategy.pruning → {setting}."),
        confidence=confidence, confidence_reason=reason + "; the replay assumes the same "
                                                          "trials are proposed again",
        changes=(change(ctx.spec, ("strategy", "pruning"), setting),),
        chart=Chart("lines", "epoch", ctx.metric, series=series),
        trials=replay.pruned)]


register(Rule("pruning", "early epochs already rank the trials", turn_pruning_on, weight=0.9))
