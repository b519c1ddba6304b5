"""The fault and bad-input catalogue as figures: one command runs ``tests/faults`` and says
how many faults were survived, how many bad inputs were tried, and what became of each.

    python bench/bench_faults.py                       # Markdown report on standard output
    python bench/bench_faults.py -o docs/faults.md     # ... also written to a file

Exit status 0 when every check passed (an expected failure, marked xfail with its reason,
is listed as a known problem), 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAULTS = {
    "test_worker_kills": "Worker killed (SIGKILL) at seeded random moments, resumed each time",
    "test_dashboard_kill": "Dashboard killed (SIGKILL) while its worker trains",
    "test_trial_failures": "Trials that raise, turn NaN, hang, or would not fit in memory",
    "test_concurrency": "Three runs, two at a time, read by five polling sessions",
    "test_database_files": "Database files from an older or newer release, foreign or corrupt",
}
BAD_INPUT = {
    "test_bad_input": "Specs and CSV files through the CLI",
    "test_dashboard_input": "Uploads and hostile names through the dashboard",
}
SECURITY = {"test_security": "Security",
            "test_relay_peers": "What a network peer sends the relay for remote workers",
            "test_exposure": "The oracle's address and the uploads quota"}


def run_catalogue(report: Path) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "tests/faults", "-q", "-p",
                    "no:cacheprovider", f"--junitxml={report}", "-o", "junit_logging=system-out"],
                   cwd=ROOT, check=False)
    return time.monotonic() - started


def read_results(report: Path) -> dict[str, list[dict]]:
    by_module: dict[str, list[dict]] = defaultdict(list)
    for case in ET.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        outcome, detail = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
                detail = " ".join((node.get("message") or "").split())
                if tag == "skipped" and node.get("type") == "pytest.xfail":
                    outcome = "known problem (xfail)"
        out = case.findtext("system-out") or ""
        by_module[module].append({"name": case.get("name"), "outcome": outcome,
                                  "seconds": float(case.get("time") or 0), "detail": detail,
                                  "stdout": out.strip()})
    return by_module


def bad_input_messages() -> dict[str, str]:
    """What the validator answers to each row of the bad-input table (the first message for
    its field), computed again here so the report shows the words a user reads."""
    from tests.faults.test_bad_input import CASES
    from tuning.spec import SpecError, parse_spec_text, validate_spec

    answers = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TUNING_DB"] = str(Path(tmp) / "tuning.db")
        os.environ.pop("TUNING_DATA_DIRS", None)
        for case_id, _, build, field, _ in CASES:
            uploads = Path(tmp) / "uploads"
            uploads.mkdir(exist_ok=True)
            for old in uploads.iterdir():
                old.unlink()
            doc = build(uploads)
            try:
                if isinstance(doc, bytes):
                    doc = doc.decode("utf-8")
                if isinstance(doc, str):
                    doc = parse_spec_text(doc)
                validate_spec(doc)
                answers[case_id] = "ACCEPTED (should have been refused)"
            except UnicodeDecodeError:
                answers[case_id] = "spec must be UTF-8 JSON text"
            except SpecError as exc:
                mine = [str(p) for p in exc.problems if p.field == field] or [str(exc.problems[0])]
                # Folders of this machine would only be noise in a committed report.
                answers[case_id] = mine[0].replace(str(Path(tmp).resolve()), "<db folder>") \
                    .replace(tmp, "<db folder>").replace(str(ROOT), "<project>")
    return answers


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def _table(cases: list[dict]) -> list[str]:
    lines = [_row("check", "result", "seconds"), _row("---", "---", "---:")]
    for c in cases:
        detail = c["detail"] if len(c["detail"]) <= 120 else c["detail"][:117] + "..."
        lines.append(_row(f"`{c['name']}`", c["outcome"] + (f": {detail}" if detail else ""),
                          f"{c['seconds']:.1f}"))
    return lines


def render(results: dict[str, list[dict]], wall: float) -> tuple[str, bool]:
    every = [c for cases in results.values() for c in cases]
    broken = [c for c in every if c["outcome"] in ("FAILED", "ERROR")]
    lines = ["# Faults, bad input and security: the catalogue's figures", "",
             f"Produced by `python bench/bench_faults.py` ({platform.node() or 'this machine'}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}): "
             f"`pytest tests/faults` ran {len(every)} checks in {wall:.0f} s.", ""]
    faults = [c for m in FAULTS for c in results.get(m, [])]
    survived = [c for c in faults if c["outcome"] == "passed"]
    bad = [c for m in BAD_INPUT for c in results.get(m, [])]
    refused = [c for c in bad if c["outcome"] == "passed"]
    security = [c for m in SECURITY for c in results.get(m, [])]
    known = [c for c in every if c["outcome"].startswith("known")]
    lines += ["| | tried | survived / answered | failed | known problems |",
              "| --- | ---: | ---: | ---: | ---: |",
              f"| Faults | {len(faults)} | {len(survived)} | "
              f"{sum(c['outcome'] in ('FAILED', 'ERROR') for c in faults)} | "
              f"{sum(c in known for c in faults)} |",
              f"| Bad inputs | {len(bad)} | {len(refused)} | "
              f"{sum(c['outcome'] in ('FAILED', 'ERROR') for c in bad)} | "
              f"{sum(c in known for c in bad)} |",
              f"| Security checks | {len(security)} | "
              f"{sum(c['outcome'] == 'passed' for c in security)} | "
              f"{sum(c['outcome'] in ('FAILED', 'ERROR') for c in security)} | "
              f"{sum(c in known for c in security)} |", ""]
    for title, modules in (("Faults", FAULTS), ("Bad input", BAD_INPUT),
                           ("Security", SECURITY)):
        lines += [f"## {title}", ""]
        for module, caption in modules.items():
            cases = results.get(module, [])
            lines += [f"### {caption} (`{module}.py`)", "", *_table(cases), ""]
            for c in cases:
                kills = [ln for ln in c["stdout"].splitlines() if "kills:" in ln]
                if kills:
                    lines += [f"Kill moments: {kills[0]}", ""]
    answers = bad_input_messages()
    lines += ["## What each bad spec or CSV file is told", "",
              "The message the validator gives for the field at fault (the CLI prints it "
              "after `The spec has N problem(s):` and exits with status 2).", "",
              _row("case", "message"), _row("---", "---")]
    lines += [_row(f"`{case}`", f"`{message}`") for case, message in answers.items()]
    if known:
        lines += ["", "## Known problems", ""]
        lines += [f"- `{c['name']}`: {c['detail']}" for c in known]
    return "\n".join(lines) + "\n", not broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", help="also write the Markdown report to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "faults.xml"
        wall = run_catalogue(report)
        if not report.exists():
            print("pytest wrote no report", file=sys.stderr)
            return 1
        text, ok = render(read_results(report), wall)
    print(text)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
