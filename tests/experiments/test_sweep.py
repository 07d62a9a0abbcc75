"""Sweeps over training keys: each value is a cell, with its own settings key, stale detection and report section."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from test_runner import calls, fake_cell

from lolameme.errors import ConfigError
from lolameme.experiments.backend import settings_key
from lolameme.experiments.cells import enumerate_cells, seed_list
from lolameme.experiments.report import write_report
from lolameme.experiments.results import read_table
from lolameme.experiments.runner import keyed_work_dir, run_experiment
from lolameme.experiments.spec import find_spec, spec_from_dict


def listops(sweep: dict, models=("gpt2",)) -> dict:
    raw = yaml.safe_load(find_spec("listops").read_text())
    raw["models"], raw["claims"] = list(models), []
    for column in raw["table"]["columns"]:
        column["paper"] = {m: column["paper"][m] for m in models}
    return {**raw, "sweep": sweep}


def recording_cell(job):
    """fake_cell, also keeping the training keys the cell was given."""
    result = fake_cell(job)
    (job.run_dir / "train.json").write_text(json.dumps(job.train))
    return result


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "datasets" / "listops"
    d.mkdir(parents=True)
    (d / "manifest.json").write_text(json.dumps({"task": "listops", "splits": {}}))
    return tmp_path


def test_each_axis_value_is_a_cell_with_its_training_keys(work):
    spec = spec_from_dict(listops({"lr": [0.001, 0.003], "recipe": ["plain", "tiny"]}))
    cells = enumerate_cells(spec, "micro", seed_list(1))
    assert [c.id for c in cells] == [f"listops--gpt2-tiny--lr={lr},recipe={r}--s0"
                                     for lr in ("0.001", "0.003") for r in ("plain", "tiny")]
    assert len({settings_key(spec, "micro", c) for c in cells}) == 4
    summary = run_experiment(spec, "micro", work=work, log=lambda _: None, cell_fn=recording_cell)
    assert sorted(summary.finished) == sorted(c.id for c in cells)
    given = {c.id: json.loads((work / "cells" / c.id / "run" / "train.json").read_text()) for c in cells}
    assert given["listops--gpt2-tiny--lr=0.003,recipe=plain--s0"]["lr"] == 0.003  # the axis beats the recipe
    assert given["listops--gpt2-tiny--lr=0.001,recipe=tiny--s0"]["loss"] == "weighted"  # the swept recipe's keys
    assert given["listops--gpt2-tiny--lr=0.001,recipe=plain--s0"]["steps"] == 2  # the scale's keys stay
    table = read_table(work / "results.parquet")
    assert sorted(set(table.column("setting").to_pylist())) == sorted(c.id.split("--")[2] for c in cells)


def test_changed_axis_values_run_only_the_new_cells(work):
    run = lambda raw: run_experiment(spec_from_dict(raw), "micro", work=work, log=lambda _: None, cell_fn=fake_cell)
    assert len(run(listops({"lr": [0.001, 0.003]})).finished) == 2
    again = run(listops({"lr": [0.001, 0.003, 0.01]}))
    assert again.finished == ["listops--gpt2-tiny--lr=0.01--s0"] and again.skipped == 2
    assert len(calls(work)) == 3
    # a scale key under every setting changed: all of them are stale and rerun
    raw = listops({"lr": [0.001, 0.003, 0.01]})
    raw["scales"] = {**raw["scales"], "micro": {**raw["scales"]["micro"], "train": {"warmup_steps": 0}}}
    spec = spec_from_dict(raw)
    wd = keyed_work_dir(spec, "micro", work, enumerate_cells(spec, "micro", seed_list(1)))
    assert {wd.state(c) for c in enumerate_cells(spec, "micro", seed_list(1))} == {"stale"}
    assert len(run(raw).finished) == 3


def test_report_has_one_section_per_setting(work, tmp_path):
    spec = spec_from_dict(listops({"lr": [0.001, 0.003]}, models=("gpt2", "hyena")))
    run_experiment(spec, "micro", seeds=2, work=work, log=lambda _: None, cell_fn=fake_cell)
    rows = read_table(work / "results.parquet").to_pylist()
    text = write_report(spec, "micro", rows, tmp_path / "out", seeds=2, expected_cells=8).read_text()
    assert text.count("# Setting `lr=0.001`") == 1 and text.count("# Setting `lr=0.003`") == 1
    # each section averages its own two seeds: fake scores 0.1 and 0.2 -> 0.15, never pooled over settings
    # 2 models x 2 settings, in the exact-match table and again as token accuracy (the fake sets both alike)
    assert text.count("0.1500 (0.0707)") == 8
    assert "Sweep over training keys: `lr` in [0.001, 0.003]" in text


@pytest.mark.parametrize("sweep, message", [
    ({"learning_rate": [0.1]}, "unknown or reserved axis key.*learning_rate"),
    ({"seed": [1, 2]}, "unknown or reserved axis key.*seed"),
    ({"lr": []}, "has no values"),
    ({"lr": [0.001, 0.001]}, "lists a value twice"),
    ({"recipe": ["a/b"]}, "must be a number"),
])
def test_bad_axes_are_config_errors(sweep, message):
    with pytest.raises(ConfigError, match=message):
        spec_from_dict(listops(sweep))


def test_bad_axis_value_fails_before_any_work(work):
    from lolameme.experiments.backend import check_training

    spec = spec_from_dict(listops({"lr": [0.001, -1.0]}))
    with pytest.raises(ConfigError, match="lr=-1"):
        check_training(spec, "micro")
