"""Command line: the same engine without a browser.

    python -m tuning validate SPEC.json
    python -m tuning run SPEC.json            # foreground, with a progress bar
    python -m tuning resume RUN_ID
    python -m tuning stop RUN_ID
    python -m tuning list
    python -m tuning show RUN_ID
    python -m tuning export RUN_ID --format json|csv [-o FILE]
    python -m tuning import DIR [--name NAME]   # a KerasTuner project folder
    python -m tuning advise RUN_ID [--json]     # what to try next
    python -m tuning dashboard [--db PATH] [--host 127.0.0.1] [--port 8501]

Installed, ``tuning`` is the same command.

``--db PATH`` or ``TUNING_DB`` picks the database. A bad spec exits with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from storage import (
    InvalidTransitionError,
    NotFoundError,
    Run,
    RunStatus,
    Storage,
    StorageError,
    TrialStatus,
    plain_json,
)
from tuning import catalog
from tuning.formatting import fmt_score, rounded
from tuning.runner.engine import Engine

from . import dashboard
from .paths import PROJECT_ROOT, default_db_path
from .runner import control
from .spec import SpecError, load_spec_file

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 0, 1, 2, 3
# Reading a run's row costs well under a millisecond; polling fast keeps `run` snappy at both ends.
FOLLOW_POLL_S = 0.1


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.db:
        # Everything that derives a path from the database (uploads, run folders, the CSV
        # folders a spec may read) follows --db exactly as it follows TUNING_DB.
        os.environ["TUNING_DB"] = args.db
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "dashboard":
            return dashboard.start(args)
        storage = Storage(args.db or default_db_path())
        return args.handler(storage, args)
    except SpecError as exc:
        _print_problems(exc)
        return EXIT_USAGE
    except (NotFoundError, InvalidTransitionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    # The installed console command is `tuning`; both run this same parser.
    prog = "tuning" if os.path.basename(sys.argv[0]) in ("tuning", "tuning.exe") else "python -m tuning"
    parser = argparse.ArgumentParser(prog=prog,
                                     description="Launch, watch and export tuning runs.",
                                     epilog=f"Example specs: {PROJECT_ROOT / 'examples'}")
    parser.add_argument("--db", help="database file (default: $TUNING_DB, else tuning.db in the "
                                     "data folder: a checkout's data/, an installed copy's "
                                     "per-user folder)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a spec and print every problem")
    p.add_argument("spec")
    p = sub.add_parser("run", help="run a spec in the foreground")
    p.add_argument("spec")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_run)
    p = sub.add_parser("resume", help="resume a stopped, interrupted or failed run (or one "
                                      "whose worker died) in the foreground")
    p.add_argument("run_id", type=int)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=_resume)
    p = sub.add_parser("stop", help="stop a run after the epoch in flight")
    p.add_argument("run_id", type=int)
    p.set_defaults(handler=_stop)
    p = sub.add_parser("cancel", help="cancel one running trial; the run goes on")
    p.add_argument("run_id", type=int)
    p.add_argument("trial")
    p.set_defaults(handler=_cancel)
    p = sub.add_parser("delete", help="delete a run and its files")
    p.add_argument("run_id", type=int)
    p.set_defaults(handler=_delete)
    p = sub.add_parser("worker-command", help="print the command that adds a worker on "
                                              "another machine to a distributed run")
    p.add_argument("run_id", type=int)
    p.set_defaults(handler=_worker_command)
    p = sub.add_parser("list", help="list runs")
    p.set_defaults(handler=_list)
    p = sub.add_parser("show", help="show one run and its best trials")
    p.add_argument("run_id", type=int)
    p.set_defaults(handler=_show)
    p = sub.add_parser("export", help="export a run's trials")
    p.add_argument("run_id", type=int)
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(handler=_export)
    p = sub.add_parser("import", help="import (or update) a KerasTuner project folder as a run")
    p.add_argument("directory", help="the folder holding oracle.json: <directory>/<project_name>")
    p.add_argument("--name", help="the run's name (default: the folder's name)")
    p.set_defaults(handler=_import)
    p = sub.add_parser("advise", help="what to try next: ranked suggestions with their "
                                      "evidence and spec patch")
    p.add_argument("run_id", type=int)
    p.add_argument("--json", action="store_true", help="the machine-readable list")
    p.set_defaults(handler=_advise)
    dashboard.add_parser(sub)
    return parser


def _print_problems(exc: SpecError) -> None:
    print(f"The spec has {len(exc.problems)} problem(s):", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)


def _validate(args: argparse.Namespace) -> int:
    spec = load_spec_file(args.spec)
    count = len(spec["search_space"])
    if catalog.FAMILIES[spec["model"]["family"]].user_code:
        from tuning.spec.discovery import check_user_model

        found, notes = check_user_model(spec)  # raises SpecError with the user's own error
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        count = len(found.entries)
    print(f"ok: {spec['name']} ({spec['strategy']['name']} over "
          f"{count} hyperparameters, up to {spec['strategy']['max_trials']} trials)")
    return EXIT_OK


def _run(storage: Storage, args: argparse.Namespace) -> int:
    spec = load_spec_file(args.spec)
    run = storage.create_run(spec["name"], spec)
    print(f"run {run.id} queued: {run.name}", file=sys.stderr)
    return follow(storage, run.id, quiet=args.quiet)


def _resume(storage: Storage, args: argparse.Namespace) -> int:
    # Also a run still marked running whose worker is gone, and a queued one (its
    # launcher died before starting its worker): this command launches it.
    run = control.resume_run(storage, args.run_id)
    print(f"run {run.id} queued to resume", file=sys.stderr)
    return follow(storage, run.id, quiet=args.quiet)


def follow(storage: Storage, run_id: int, quiet: bool = False, out: TextIO = sys.stderr) -> int:
    """Launch workers for one run and draw its progress until it ends.

    Ctrl-C asks the run to stop after the epoch in flight; a second Ctrl-C stops waiting.
    """
    engine = Engine(storage.path, concurrency=1, run_filter=lambda rid: rid == run_id)
    bar = _ProgressBar(out, enabled=not quiet)
    interrupted = False
    while True:
        try:
            engine.tick()
            run = storage.get_run(run_id)
            bar.draw(run)
            if run.status.is_finished() and not engine.busy():
                break
            time.sleep(FOLLOW_POLL_S)
        except KeyboardInterrupt:
            if interrupted:
                print("\nno longer waiting; the worker ends after its epoch", file=out)
                return EXIT_STOPPED
            interrupted = True
            print("\nstopping after the epoch in flight (Ctrl-C again to stop waiting)", file=out)
            try:
                storage.request_stop(run_id)
            except InvalidTransitionError:
                pass
    bar.finish(run)
    if run.status is RunStatus.COMPLETED:
        return EXIT_OK
    return EXIT_STOPPED if run.status is RunStatus.STOPPED else EXIT_FAILED


class _ProgressBar:
    WIDTH = 30

    def __init__(self, out: TextIO, enabled: bool):
        self.out = out
        self.enabled = enabled
        self.last = ""
        self.tty = hasattr(out, "isatty") and out.isatty()

    def line(self, run: Run) -> str:
        total = run.max_trials or 0
        done = run.trials_done
        filled = int(self.WIDTH * done / total) if total else 0
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        best = fmt_score(run.best_score)
        return f"[{bar}] {done}/{total or '?'} trials  best {best}  {run.status.value}"

    def draw(self, run: Run) -> None:
        if not self.enabled:
            return
        text = self.line(run)
        if text == self.last:
            return
        self.last = text
        if self.tty:
            self.out.write("\r" + text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def finish(self, run: Run) -> None:
        if self.enabled and self.tty:
            self.out.write("\n")
        message = f"run {run.id} {run.status.value}"
        if run.best_score is not None:
            message += f"; best score {fmt_score(run.best_score)}"
        if run.error:
            message += f" ({run.error})"
        print(message, file=self.out)


def _stop(storage: Storage, args: argparse.Namespace) -> int:
    run = control.stop_run(storage, args.run_id)
    if run.status is RunStatus.STOPPED:
        print(f"run {run.id} stopped")
    else:
        print(f"run {run.id} will stop after the epoch in flight")
    return EXIT_OK


def _cancel(storage: Storage, args: argparse.Namespace) -> int:
    trial = control.cancel_trial(storage, args.run_id, args.trial)
    print(f"trial {trial.trial_key} of run {args.run_id} will end after its epoch in flight")
    return EXIT_OK


def _delete(storage: Storage, args: argparse.Namespace) -> int:
    control.delete_run(storage, args.run_id)
    print(f"run {args.run_id} deleted")
    return EXIT_OK


def _worker_command(storage: Storage, args: argparse.Namespace) -> int:
    from tuning.runner.distributed import join_command

    from .paths import run_dir

    run = storage.get_run(args.run_id)
    if run.spec.get("strategy", {}).get("workers", 1) < 2 or run.status is not RunStatus.RUNNING:
        print(f"error: run {run.id} is not a running distributed run (strategy.workers >= 2)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        print(join_command(str(run_dir(storage.path, run.id))))
    except OSError:
        print(f"error: run {run.id} has not started its chief yet; try again in a moment",
              file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _list(storage: Storage, args: argparse.Namespace) -> int:
    from tuning.runner.liveness import mark_orphans

    # A run whose worker died with whatever watched it (a reboot, the OOM killer) is
    # recorded interrupted here, as the dashboard's engine would: no state waits for it.
    try:
        mark_orphans(storage)
    except StorageError as exc:  # a read-only or busy file: list what is stored
        print(f"warning: runs whose worker died could not be marked interrupted: {exc}",
              file=sys.stderr)
    runs = storage.list_runs()
    if not runs:
        print("no runs yet")
        return EXIT_OK
    print(f"{'id':>4}  {'status':<11} {'strategy':<9} {'model':<20} {'trials':>9} {'best':>8}  name")
    for r in runs:
        best = fmt_score(r.best_score)
        trials = f"{r.trials_done}/{r.max_trials or '?'}"
        print(f"{r.id:>4}  {r.status.value:<11} {r.strategy:<9} {r.model_family:<20} "
              f"{trials:>9} {best:>8}  {r.name}")
    return EXIT_OK


def _show(storage: Storage, args: argparse.Namespace) -> int:
    run = storage.get_run(args.run_id)
    trials = storage.list_trials(run.id)
    print(f"run {run.id}: {run.name}")
    print(f"  status    {run.status.value}" + (f" ({run.error})" if run.error else ""))
    print(f"  data      {run.dataset}   model {run.model_family}   strategy {run.strategy}")
    objective = run.spec.get("objective", {})
    print(f"  objective {objective.get('metric')} ({objective.get('direction')})")
    print(f"  trials    {run.trials_done}/{run.max_trials or '?'}")
    done = [t for t in trials if t.status is TrialStatus.COMPLETED and t.score is not None]
    done.sort(key=lambda t: t.score, reverse=run.direction != "min")
    for t in done[:10]:
        params = {k: v for k, v in t.hyperparameters.items() if not k.startswith("tuner/")}
        print(f"  trial {t.trial_key:>4}  score {fmt_score(t.score)}  {json.dumps(rounded(params))}")
    for t in trials:
        if t.status not in (TrialStatus.COMPLETED, TrialStatus.RUNNING):
            print(f"  trial {t.trial_key:>4}  {t.status.value}: {t.message or ''}")
    return EXIT_OK


def export_run(storage: Storage, run_id: int) -> dict[str, Any]:
    """Everything recorded for a run as plain JSON-able data."""
    run = storage.get_run(run_id)
    trials = storage.list_trials(run_id)
    epochs = storage.list_epochs(run_id)
    by_trial: dict[int, list[dict[str, Any]]] = {}
    for e in epochs:
        by_trial.setdefault(e.trial_id, []).append(
            {"execution": e.execution, "epoch": e.epoch, **plain_json(e.metrics)})
    return {
        "run": {"id": run.id, "name": run.name, "status": run.status.value,
                "created_at": run.created_at, "started_at": run.started_at,
                "finished_at": run.finished_at, "error": run.error,
                "best_score": run.best_score, "spec": plain_json(run.spec)},
        "trials": [{"trial": t.trial_key, "status": t.status.value, "score": t.score,
                    "hyperparameters": plain_json(t.hyperparameters), "metrics": plain_json(t.metrics),
                    "message": t.message, "bracket": t.bracket, "round": t.round,
                    "parent": t.parent_key, "started_at": t.started_at,
                    "finished_at": t.finished_at, "epochs": by_trial.get(t.id, [])}
                   for t in trials],
    }


def _export(storage: Storage, args: argparse.Namespace) -> int:
    if args.format == "json":
        text = json.dumps(export_run(storage, args.run_id), indent=2)
    else:
        from tuning.insights.reports import trials_csv

        run = storage.get_run(args.run_id)
        text = trials_csv(run, storage.list_trials(run.id))
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _import(storage: Storage, args: argparse.Namespace) -> int:
    from tuning.ingest.importer import ProjectImportError, import_project

    try:
        run = import_project(storage, args.directory, name=args.name)
    except ProjectImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    best = fmt_score(run.best_score)
    print(f"run {run.id} imported: {run.name} ({run.strategy}, {run.trials_done} trials, "
          f"best {best})")
    return EXIT_OK


def _advise(storage: Storage, args: argparse.Namespace) -> int:
    from tuning.insights.advice import advise_stored

    advice = advise_stored(storage, args.run_id)
    if args.json:
        print(json.dumps(advice.to_json(), indent=2, allow_nan=False))
        return EXIT_OK
    run = storage.get_run(args.run_id)
    print(f"run {run.id}: {run.name}: {advice.note}")
    for i, s in enumerate(advice.suggestions, start=1):
        print(f"\n{i}. {s.title}")
        print(f"   confidence {s.confidence_label} ({s.confidence:.2f}): {s.confidence_reason}")
        for line in s.evidence:
            print(f"   - {line}")
        for c in s.to_json()["patch"]:
            print(f"   patch {c['field']}: {json.dumps(c.get('old'))} -> "
                  f"{json.dumps(c['new']) if 'new' in c else '(removed)'}")
    return EXIT_OK
