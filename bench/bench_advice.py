"""Benchmark: does the advice help? Five bundled problems, each from a deliberately
mediocre search space: 10 trials; then 10 more either (A) in the same space or (B) in the
spec after applying the top suggestion (``python -m tuning advise``'s first). Seeds 1-3.

Each side's best counts the first 10 trials too; the continuation runs on seed + 100,
both sides alike, with ``max_trials`` 10 (a suggestion that changes only the budget
leaves B equal to A). Scores are points: accuracy or r2 times 100.
Target: B's mean best beats A's on at least 4 of the 5 problems and never loses by more
than 1 point.

    python bench/bench_advice.py [--seeds 1 2 3] [--problems digits_mlp wine_svm ...]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage import Storage  # noqa: E402
from tuning.insights.advice import advise_stored, apply_suggestions  # noqa: E402
from tuning.spec import validate_spec  # noqa: E402

TRIALS = 10
LOW_RATES = {"type": "float", "min": 1e-5, "max": 1e-4, "sampling": "log"}
PROBLEMS = {
    "digits_mlp": {
        "data": {"source": "sklearn", "name": "digits", "validation_split": 0.25,
                 "max_rows": 900},
        "model": {"family": "mlp"},
        "search_space": {"learning_rate": LOW_RATES,
                         "units": {"type": "int", "min": 16, "max": 32, "step": 16}},
        "training": {"epochs": 4, "batch_size": 64},
        "objective": {"metric": "val_accuracy"},
    },
    "wine_svm": {
        "data": {"source": "sklearn", "name": "wine"},
        "model": {"family": "svm"},
        "search_space": {"C": {"type": "float", "min": 0.001, "max": 0.02, "sampling": "log"},
                         "gamma": {"type": "choice", "values": ["scale", "auto"]},
                         "kernel": {"type": "fixed", "value": "rbf"}},
        "objective": {"metric": "accuracy"},
    },
    "breast_cancer_random_forest": {
        "data": {"source": "sklearn", "name": "breast_cancer"},
        "model": {"family": "random_forest"},
        "search_space": {"n_estimators": {"type": "int", "min": 2, "max": 6},
                         "max_depth": {"type": "int", "min": 1, "max": 2}},
        "objective": {"metric": "accuracy"},
    },
    "houses_gradient_boosting": {
        "data": {"source": "csv", "path": "examples/data/houses.csv", "target": "price",
                 "task": "regression"},
        "model": {"family": "gradient_boosting"},
        "search_space": {"n_estimators": {"type": "int", "min": 10, "max": 30, "step": 10},
                         "learning_rate": {"type": "float", "min": 0.001, "max": 0.01,
                                           "sampling": "log"},
                         "max_depth": {"type": "int", "min": 1, "max": 3}},
        "objective": {"metric": "r2"},
    },
    "customers_mlp": {
        "data": {"source": "csv", "path": "examples/data/customers.csv", "target": "churned",
                 "validation_split": 0.3},
        "model": {"family": "mlp"},
        "search_space": {"learning_rate": LOW_RATES,
                         "units": {"type": "int", "min": 16, "max": 32, "step": 16}},
        "training": {"epochs": 6, "batch_size": 16},
        "objective": {"metric": "val_accuracy"},
    },
}


def make_spec(problem: str, seed: int) -> dict:
    doc = copy.deepcopy(PROBLEMS[problem])
    doc.update(name=f"{problem} seed {seed}", seed=seed,
               strategy={"name": "random", "max_trials": TRIALS})
    return validate_spec(doc)


def run(db: Path, spec: dict, workdir: Path) -> int:
    """Run a spec to its end with the CLI; the new run's id."""
    path = workdir / f"spec-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), "run", str(path),
                    "--quiet"], cwd=ROOT, check=True, capture_output=True)
    return Storage(db).list_runs()[0].id


def best(store: Storage, *run_ids: int) -> float:
    scores = [t.score for rid in run_ids for t in store.list_trials(rid)
              if t.score is not None and t.status.value == "completed"]
    return 100 * max(scores)


def continuation(spec: dict, seed: int) -> dict:
    out = copy.deepcopy(spec)
    out["seed"] = seed + 100
    out["strategy"]["max_trials"] = TRIALS
    return validate_spec(out)


def measure(problem: str, seed: int, workdir: Path) -> tuple[str, float, float]:
    db = workdir / f"{problem}-{seed}.db"
    spec = make_spec(problem, seed)
    first = run(db, spec, workdir)
    store = Storage(db)
    advice = advise_stored(store, first)
    a = run(db, continuation(spec, seed), workdir)
    if advice.suggestions:
        top = advice.suggestions[0]
        patched = apply_suggestions(store.get_run(first).spec, [top])
        b = run(db, continuation(patched, seed), workdir)
        title = top.title
    else:
        b, title = a, f"(none: {advice.note})"
    return title, best(store, first, a), best(store, first, b)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=list(PROBLEMS))
    args = parser.parse_args()
    started = time.monotonic()
    wins = losses_over_1 = 0
    with tempfile.TemporaryDirectory() as tmp:
        for problem in args.problems:
            rows = [measure(problem, seed, Path(tmp)) for seed in args.seeds]
            a = statistics.mean(r[1] for r in rows)
            b = statistics.mean(r[2] for r in rows)
            wins += b > a
            losses_over_1 += a - b > 1
            print(f"{problem}: A {a:.2f}  B {b:.2f}  B - A {b - a:+.2f} points")
            for seed, (title, ra, rb) in zip(args.seeds, rows):
                print(f"  seed {seed}: A {ra:.2f}  B {rb:.2f}  top suggestion: {title}")
    n = len(args.problems)
    print(f"B beats A on {wins} of {n} problems (target >= {min(4, n)}); "
          f"{losses_over_1} lose by more than 1 point (target 0); "
          f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
