"""What to try next: rules that read a run's stored trials and epochs and return ranked
suggestions, each with its evidence, a confidence and a spec patch. No Streamlit, no
TensorFlow: this runs in the dashboard process and the CLI.

- ``advise(run, trials, epochs, peers=())`` -> ``Advice``: the suggestions, best first,
  or a ``note`` saying why there are none ("2 finished trials: nothing to say yet").
- ``apply_suggestions(spec, suggestions)``: the spec with their patches, validated
  (``AdviceError`` when two touch the same field); ``spec_diff(old, new)``: what changed,
  field by field.
- Rules live in a registry (``registry``), one module per kind of reading; ``advise``
  asks it and never names a rule.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from storage import Epoch, Run, Store, Trial

from .context import Peer, RunContext
from .patch import AdviceError, apply_changes, apply_suggestions, conflicts, diff_rows, spec_diff
from .registry import Rule, register, rules
from .suggestion import REMOVED, Change, Chart, Suggestion

__all__ = ["Advice", "AdviceError", "Change", "Chart", "MIN_FINISHED", "Peer", "REMOVED",
           "Rule", "RunContext", "Suggestion", "advise", "advise_stored", "apply_changes",
           "apply_suggestions", "conflicts", "diff_rows", "peers_of", "register", "rules",
           "spec_diff"]

MIN_FINISHED = 5   # fewer finished trials than this: nothing to say yet


@dataclass(frozen=True)
class Advice:
    """The ranked suggestions for one run (best first) and ``note``: a sentence for the
    reader, always set (how many trials were read, or why there is nothing to say)."""
    run_id: int
    finished: int
    suggestions: tuple[Suggestion, ...]
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run_id, "finished_trials": self.finished, "note": self.note,
                "suggestions": [s.to_json() for s in self.suggestions]}


def advise(run: Run, trials: Iterable[Trial], epochs: Iterable[Epoch],
           peers: Sequence[Peer] = ()) -> Advice:
    """Every registered rule's suggestions for ``run``, ranked by confidence times the
    rule's weight times the suggestion's impact. A run with fewer than ``MIN_FINISHED``
    finished trials (or a tool's run, which its own panel reads) gets a note and no
    suggestions."""
    ctx = RunContext(run, sorted(trials, key=lambda t: (t.number, t.id)), list(epochs),
                     tuple(peers))
    count = len(ctx.finished)
    if ctx.is_tool:
        return Advice(run.id, count, (), f"{run.strategy} is a tool: its own panel reads it.")
    if count < MIN_FINISHED:
        return Advice(run.id, count, (), f"{count} finished trial{'s' if count != 1 else ''}: "
                      f"nothing to say yet (advice starts at {MIN_FINISHED}).")
    found: list[Suggestion] = []
    for rule in rules():
        for s in rule.evaluate(ctx):
            found.append(dataclasses.replace(s, priority=rule.weight))
    found.sort(key=lambda s: -s.rank_key)
    note = (f"{count} finished trials: {len(found)} suggestion{'s' if len(found) != 1 else ''}."
            if found else f"{count} finished trials: no rule fires; the search looks healthy.")
    return Advice(run.id, count, tuple(found), note)


def peers_of(store: Store, run: Run) -> list[Peer]:
    """Other runs of ``run``'s race (same data, model, space and objective) with trials."""
    from .race import same_race

    return [Peer(other, tuple(store.list_trials(other.id))) for other in store.list_runs()
            if same_race(run, other)]


def advise_stored(store: Store, run_id: int) -> Advice:
    """``advise`` for a stored run, reading its trials, epochs and race peers."""
    run = store.get_run(run_id)
    return advise(run, store.list_trials(run_id), store.list_epochs(run_id),
                  peers_of(store, run))
