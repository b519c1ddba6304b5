"""Project folders sized to hang or exhaust the dashboard, which imports in its own process:
too many trial folders or entries, files or a project too large, more observations than one
import records, a grid too large to count, thousands of damaged files. Each is answered at
once with the importer's own error (or, for the grid, imported with a trial count that fits),
and nothing is stored when it is refused.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storage import Storage
from tests.support.kt_folders import SPACE, random_project, trial, write_project
from tuning.ingest import importer, project_files
from tuning.ingest.importer import ProjectImportError, import_project


def _refused(storage: Storage, folder: Path) -> str:
    with pytest.raises(ProjectImportError) as info:
        import_project(storage, folder)
    assert storage.list_runs() == []
    return str(info.value)


def test_more_trial_folders_than_one_import_takes_are_refused_before_any_is_read(
        storage: Storage, tmp_path: Path):
    folder = random_project(tmp_path / "p")
    for i in range(3, project_files.MAX_TRIALS + 1):
        (folder / f"trial_{i}").mkdir()
    message = _refused(storage, folder)
    assert f"holds {project_files.MAX_TRIALS + 1} trial folders, more than the " \
           f"{project_files.MAX_TRIALS} one import takes" in message


def test_a_folder_of_too_many_entries_is_refused_before_it_is_all_listed(storage: Storage,
                                                                        tmp_path: Path):
    folder = random_project(tmp_path / "p")
    for i in range(project_files.MAX_ENTRIES):
        (folder / f"checkpoint_{i}").touch()
    message = _refused(storage, folder)
    assert f"holds more than {project_files.MAX_ENTRIES} entries" in message


def test_a_file_too_large_for_a_kerastuner_file_is_not_read(storage: Storage, tmp_path: Path):
    folder = random_project(tmp_path / "p")
    with open(folder / "oracle.json", "r+b") as fh:  # sparse: no disk is spent
        fh.truncate(project_files.MAX_FILE_BYTES + 1)
    message = _refused(storage, folder)
    assert "oracle.json is 16 MiB, more than the 16 MiB a KerasTuner file may be here" in message


def test_a_project_of_more_json_than_one_import_reads_is_refused(storage: Storage,
                                                                tmp_path: Path):
    folder = random_project(tmp_path / "p")
    size = project_files.MAX_FILE_BYTES - 1024
    for i in range(project_files.MAX_PROJECT_BYTES // size + 1):
        (folder / f"trial_{10 + i}").mkdir()
        with open(folder / f"trial_{10 + i}" / "trial.json", "wb") as fh:
            fh.truncate(size)
    message = _refused(storage, folder)
    assert "the project's JSON files hold more than the 256 MiB one import reads" in message
    assert message.count("one import reads") == 1


def test_more_observations_than_one_import_records_are_refused(storage: Storage,
                                                               tmp_path: Path, monkeypatch):
    monkeypatch.setattr(importer, "MAX_EPOCH_ROWS", 2)
    message = _refused(storage, random_project(tmp_path / "p"))
    # random_project's trials hold 2 + 1 + 0 epochs (one per execution and step)
    assert "the trials hold 3 epochs of metrics, more than the 2 one import records" in message


def test_thousands_of_damaged_files_make_one_readable_message(storage: Storage,
                                                              tmp_path: Path):
    folder = random_project(tmp_path / "p")
    for i in range(10, 210):
        (folder / f"trial_{i}").mkdir()
        (folder / f"trial_{i}" / "trial.json").write_text("{")
    bad = json.loads((folder / "trial_0" / "trial.json").read_text())
    bad["hyperparameters"]["values"] = {f"hp_{i}": [i] for i in range(500)}
    (folder / "trial_0" / "trial.json").write_text(json.dumps(bad))
    message = _refused(storage, folder)
    assert len(message.splitlines()) == 1 + importer.LISTED_PROBLEMS + 1
    assert message.endswith(f"... and {200 + 11 - importer.LISTED_PROBLEMS} more problems")
    assert "trial_0/trial.json: more problems than these 10" in message


def test_a_grid_too_large_to_count_imports_with_a_trial_count_that_fits(storage: Storage,
                                                                        tmp_path: Path):
    """Ranges whose grid would overflow a float or an SQLite integer: the import neither
    raises nor stores a count SQLite cannot hold."""
    space = [
        {"class_name": "Float", "config": {"name": "x", "min_value": -1e300,
                                           "max_value": 1e300, "step": 1e-300,
                                           "sampling": "linear", "default": None}},
        {"class_name": "Int", "config": {"name": "n", "min_value": 0, "max_value": 2**53,
                                         "step": 1, "sampling": "linear", "default": None}},
        {"class_name": "Int", "config": {"name": "m", "min_value": 0, "max_value": 2**53,
                                         "step": 1, "sampling": "linear", "default": None}},
    ]
    for name, entries in (("float", space[:1]), ("ints", space[1:])):
        values = {e["config"]["name"]: e["config"]["min_value"] for e in entries}
        t = dict(trial("0", values, 0.5), hyperparameters={"space": entries, "values": values})
        folder = write_project(tmp_path / name, [t])
        oracle = json.loads((folder / "oracle.json").read_text())
        oracle["hyperparameters"]["space"] = entries
        (folder / "oracle.json").write_text(json.dumps(oracle))
        run = import_project(storage, folder)
        assert run.max_trials == 1 and run.spec["strategy"]["max_trials"] is None, name


def test_a_pipe_named_trial_json_never_blocks_the_import(storage: Storage, tmp_path: Path):
    """A FIFO is not a file KerasTuner writes: it is left out, never opened for reading
    (which would wait for a writer forever)."""
    folder = random_project(tmp_path / "p")
    os.unlink(folder / "trial_2" / "trial.json")
    os.mkfifo(folder / "trial_2" / "trial.json")
    run = import_project(storage, folder)
    assert run.trials_done == 2
    problems: list[str] = []
    assert project_files.read_json(str(folder / "trial_2" / "trial.json"), problems,
                                   project_files.Budget()) is None
    assert "is not a regular file (a pipe, a device or a socket)" in problems[0]


def test_trial_values_of_spec_space_sizes_import(storage: Storage, tmp_path: Path):
    """The limits leave room for real searches: 1,000 trials of a few epochs each."""
    trials = [trial(str(i), {"units": 8 + i % 3 * 8, "act": "relu", "lr": 0.002}, 0.5 + i / 1e4)
              for i in range(1000)]
    run = import_project(storage, write_project(tmp_path / "big", trials))
    assert run.trials_done == 1000 and len(SPACE) == len(run.spec["search_space"])
