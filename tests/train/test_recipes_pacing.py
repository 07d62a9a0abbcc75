"""Curriculum pacing: generated stage corpora, gated stages, and the reversed-answer round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lolameme.data.api import generate_dataset
from lolameme.data.io import load_split, read_manifest
from lolameme.errors import ConfigError, DatasetError
from lolameme.tokenizers import get_tokenizer
from lolameme.train import trainer as trainer_module
from lolameme.train.config import make_config
from lolameme.train.format import answer_from_ids, encode_sample
from lolameme.train.curriculum import curriculum_dataset, gate_rows, stage_config
from lolameme.train.trainer import train

MICRO = {"model": "gpt2:32*2", "model_overrides": {"n_head": 2}, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2,
         "val_samples": 16, "val_every": 2, "log_every": 2, "checkpoint_every": 100, "progress": False}


@pytest.fixture(scope="module")
def base_data(tmp_path_factory) -> Path:
    """A small real base-preset corpus without globals (3 statements)."""
    out = tmp_path_factory.mktemp("pacing") / "data"
    generate_dataset("base", out, overrides={"dataset_size": 300, "test_dataset_size": 10, "global_var_count": 0,
                                             "statement_count": 3})
    return out


def stage_events(run: Path) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "stage"]


def test_stage_corpus_is_the_runs_task_with_the_stage_changes(base_data) -> None:
    first = curriculum_dataset(base_data, {"statement_count": 1}, 120)
    assert curriculum_dataset(base_data, {"statement_count": 1}, 120) == first  # reused, not regenerated
    config = read_manifest(first)["config"]
    main = read_manifest(base_data)["config"]
    assert config["statement_count"] == 1 and config["dataset_size"] == 120
    assert {k: v for k, v in config.items() if k not in ("statement_count", "dataset_size", "test_dataset_size")} == \
        {k: v for k, v in main.items() if k not in ("statement_count", "dataset_size", "test_dataset_size")}
    programs = load_split(first, "train").column("input").to_pylist()
    assert len(programs) == 120 and all(p.count(";") == 1 for p in programs)  # one statement, then print
    # the same vocabulary as the run's corpus: every assigned name is one of the run's local names
    names = {s.split(" = ")[0] for p in load_split(base_data, "train").column("input").to_pylist() for s in p.split(";")[:-1]}
    assert {p.split(" = ")[0] for p in programs} <= names


def test_a_stage_with_fewer_distinct_programs_than_rows_trains_on_nearly_all_of_them(base_data) -> None:
    # one statement, values 1..5, no globals: about a thousand distinct programs, far fewer than asked
    stage = curriculum_dataset(base_data, {"statement_count": 1, "max_int_value": 5}, 20000)
    programs = load_split(stage, "train").column("input").to_pylist()
    assert 100 <= len(programs) < 20000 and len(set(programs)) == len(programs)
    assert read_manifest(stage)["config"]["dataset_size"] == len(programs)
    # a handful of distinct programs (bare literal 1 only) is not a usable stage: a clear error
    with pytest.raises(DatasetError, match="give the stage fewer 'rows'"):
        curriculum_dataset(base_data, {"statement_count": 1, "max_int_value": 1, "expression_max_depth": 1}, 5000)


def test_a_stage_of_a_corpus_made_with_a_mean_name_length(tmp_path) -> None:
    # the manifest holds mean_var_length (A.2) beside the unused min/max bounds; the stage must still load
    data = tmp_path / "data"
    generate_dataset("variable-length", data, overrides={"dataset_size": 200, "test_dataset_size": 10,
                                                          "mean_var_length": 9, "global_var_count": 0})
    stage = curriculum_dataset(data, {"statement_count": 1}, 100)
    config = read_manifest(stage)["config"]
    assert config["mean_var_length"] == 9 and config["statement_count"] == 1


def test_stage_task_may_not_change_seed_or_size(base_data) -> None:
    manifest = read_manifest(base_data)
    with pytest.raises(ConfigError, match="seed"):
        stage_config(manifest, {"seed": 3}, 10)
    with pytest.raises(ConfigError, match="unknown generator keys"):
        stage_config(manifest, {"statement_cnt": 1}, 10)


def test_gate_rows_are_disjoint_seeded_and_leave_training_rows() -> None:
    rows = np.arange(100, 200)
    train_rows, held = gate_rows(rows, 30, seed=1)
    assert len(held) == 30 and len(train_rows) == 70 and not set(held) & set(train_rows)
    assert np.array_equal(held, gate_rows(rows, 30, seed=1)[1])
    assert len(gate_rows(np.arange(10), 30, seed=1)[1]) == 5  # never more than half the stage


def test_curriculum_produces_its_stages_in_order(base_data, tmp_path) -> None:
    stages = [{"name": "one", "task": {"statement_count": 1}, "rows": 80, "steps": 3},
              {"name": "two", "task": {"statement_count": 2}, "rows": 80, "steps": 2},
              {"name": "task"}]
    result = train(make_config({**MICRO, "data": str(base_data), "out": str(tmp_path / "run"), "steps": 7,
                                "stages": stages}))
    events = stage_events(tmp_path / "run")
    assert [e["name"] for e in events] == ["one", "two", "task"]
    assert [e["step"] for e in events] == [0, 3, 5] and result.step == 7
    counts = [read_manifest(e["data"])["config"]["statement_count"] for e in events]
    assert counts == [1, 2, 3]


@pytest.mark.parametrize("exact, ends_at", [(1.0, 2), (0.0, 6)])
def test_gate_ends_a_stage_early_or_the_cap_does(base_data, tmp_path, monkeypatch, exact, ends_at) -> None:
    """Gate checked every val_every=2 steps: an opened gate ends the stage at step 2, a shut one at its cap (6)."""
    real = trainer_module.score_sample_set

    def scores(model, samples, **kwargs):
        out = real(model, samples, **kwargs)
        return {**out, "val_exact": exact} if len(samples) == 10 else out  # the gate set has 10 rows

    monkeypatch.setattr(trainer_module, "score_sample_set", scores)
    stages = [{"name": "easy", "task": {"statement_count": 1}, "rows": 20, "gate": 0.9, "steps": 6}, {"name": "task"}]
    train(make_config({**MICRO, "data": str(base_data), "out": str(tmp_path / "run"), "steps": 8, "stages": stages}))
    events = stage_events(tmp_path / "run")
    assert [e["step"] for e in events] == [0, ends_at]
    gates = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    gates = [g for g in gates if g["event"] == "gate"]
    assert gates and all(g["gate_exact"] == exact for g in gates)
    assert gates[-1]["passed"] is (exact >= 0.9)


@given(st.integers(min_value=-10**6, max_value=10**6))
def test_reversed_answer_round_trips_to_the_true_label(value: int) -> None:
    """Training sees the digits reversed; decoding what was trained on restores the label before exact match."""
    tok = get_tokenizer("char")
    label = str(value)
    ids, start = encode_sample(tok, "aB = 1;print(aB)", label, reverse_answer=True)
    written = tok.decode(ids[start:-1])
    assert written == (("-" if value < 0 else "") + str(abs(value))[::-1])
    assert answer_from_ids(tok, ids[start:], reverse_answer=True) == label


def test_a_stage_never_asks_more_than_the_task(base_data) -> None:
    manifest = read_manifest(base_data)  # 3 statements, values 1..100
    config = stage_config(manifest, {"statement_count": 4, "max_int_value": 20}, 10)
    assert config["statement_count"] == 3 and config["max_int_value"] == 20
