"""The trainer end to end on micro models: exact resume, checkpoints, metrics, stages, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from lolameme.cli import app
from lolameme.errors import CheckpointError, ConfigError, DatasetError
from lolameme.train.checkpoint import checkpoint_steps, load_run
from lolameme.train.config import make_config
from lolameme.train.trainer import resolve_resume_config, train

MICRO = {"model": "gpt2:32*2", "model_overrides": {"n_head": 2, "dropout": 0.1}}


def micro_config(data: Path, out: Path, **overrides):
    values = {"data": str(data), "out": str(out), **MICRO, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2,
              "val_samples": 16, "val_every": 3, "log_every": 2, "checkpoint_every": 100, "progress": False}
    values.update(overrides)
    return make_config(values)


def weights(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run / "checkpoints" / f"step-{step}" / "model.safetensors"))


def events(run: Path, kind: str) -> list[dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == kind]


def test_resumed_run_ends_with_identical_weights(dataset, tmp_path) -> None:
    common = {"steps": 7, "grad_accum": 2}  # dropout, accumulation and validation all touch the state
    whole = train(micro_config(dataset, tmp_path / "whole", **common))
    part = train(micro_config(dataset, tmp_path / "part", **common), stop_after=3)
    assert part.step == 3 and checkpoint_steps(tmp_path / "part") == [3]
    resumed = train(resolve_resume_config(tmp_path / "part", {}), resume=True)
    assert whole.step == resumed.step == 7 and whole.tokens == resumed.tokens
    a, b = weights(tmp_path / "whole", 7), weights(tmp_path / "part", 7)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # and training did change the weights
    first = load_run(tmp_path / "part", 3).model.state_dict()
    assert any(not torch.equal(first[k], a[k]) for k in a if k in first)


def test_run_directory_contents_and_metrics(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    result = train(micro_config(dataset, run, steps=6, checkpoint_every=2, keep_checkpoints=2))
    assert checkpoint_steps(run) == [4, 6]  # older ones pruned
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["max_seq_len"] >= 64 and config["tokenizer"] == "char"
    assert config["data"]["task"] == "lolameme" and config["model"]["layers"] == "gpt2:32*2"
    train_events = events(run, "train")
    assert [e["step"] for e in train_events] == [2, 4, 6]
    for e in train_events:
        assert {"loss", "answer_loss", "tokens_per_s", "pad_fraction", "lr", "time", "tokens"} <= e.keys()
        assert 0 <= e["pad_fraction"] < 1
    assert [e["step"] for e in events(run, "val")] == [3, 6]
    assert result.best is not None and (run / "best" / "model.safetensors").is_file()
    loaded = load_run(run)
    assert loaded.step == result.best["step"] and loaded.tokenizer.name == "char" and not loaded.model.training
    assert load_run(run, "last").step == 6


def test_loss_modes_and_reverse_answer_train(dataset, tmp_path) -> None:
    for i, extra in enumerate([{"loss": "full"}, {"loss": "weighted", "answer_weight": 0.7, "reverse_answer": True}]):
        run = tmp_path / f"run{i}"
        train(micro_config(dataset, run, steps=2, log_every=1, val_samples=0, **extra))
        last = events(run, "train")[-1]
        if extra["loss"] == "weighted":
            expected = 0.7 * last["answer_loss"] + 0.3 * last["program_loss"]
            assert last["loss"] == pytest.approx(expected, rel=1e-5)
        assert (run / "best" / "model.safetensors").is_file()  # no validation: best = final weights
    assert load_run(tmp_path / "run1").reverse_answer


def test_curriculum_stages_run_in_order_on_their_rows(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    stages = [{"name": "one", "where": {"n_statements": 1}, "steps": 2},
              {"name": "rest", "where": {"n_statements": {"min": 2}}}]
    result = train(micro_config(dataset, run, steps=5, val_samples=0, stages=stages))
    assert result.step == 5
    stage_events = events(run, "stage")
    assert [(e["name"], e["step"]) for e in stage_events] == [("one", 0), ("rest", 2)]
    assert stage_events[0]["rows"] + stage_events[1]["rows"] == 200


def test_time_and_token_budgets_stop_training(dataset, tmp_path) -> None:
    by_tokens = train(micro_config(dataset, tmp_path / "tokens", tokens=600, val_samples=0))
    assert 600 <= by_tokens.tokens < 600 + 8 * 64
    by_time = train(micro_config(dataset, tmp_path / "time", time_budget=0.002, val_samples=0))
    assert by_time.step >= 1 and by_time.elapsed >= 0.12


def test_existing_run_is_never_overwritten(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train(micro_config(dataset, run, steps=2, val_samples=0))
    before = (run / "checkpoints" / "step-2" / "model.safetensors").read_bytes()
    with pytest.raises(CheckpointError, match="already holds a training run"):
        train(micro_config(dataset, run, steps=4, val_samples=0))
    with pytest.raises(ConfigError, match="lr"):
        train(micro_config(dataset, run, steps=4, val_samples=0, lr=0.5), resume=True)
    assert (run / "checkpoints" / "step-2" / "model.safetensors").read_bytes() == before


def test_corrupt_checkpoint_is_a_clear_error(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train(micro_config(dataset, run, steps=2, val_samples=0))
    (run / "checkpoints" / "step-2" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="does not match the sha256"):
        load_run(run, "last")
    with pytest.raises(CheckpointError, match="does not match the sha256"):
        train(resolve_resume_config(run, {"steps": 4}), resume=True)
    assert checkpoint_steps(run) == [2]  # nothing written over it
    (run / "checkpoints" / "step-2" / "state.pt").write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(CheckpointError):
        from lolameme.train.checkpoint import load_state

        load_state(run / "checkpoints" / "step-2")
    with pytest.raises(CheckpointError, match="no checkpoint at step 9"):
        load_run(run, 9)


def test_mismatched_tokenizer_is_refused(dataset, tmp_path) -> None:
    run = tmp_path / "run"
    train(micro_config(dataset, run, steps=1, val_samples=0))
    with pytest.raises(ConfigError, match="tokenizer"):
        train(micro_config(dataset, run, steps=2, val_samples=0, tokenizer="gpt2"), resume=True)
    from lolameme.tokenizers import get_tokenizer

    get_tokenizer("listops").save(run / "tokenizer.json")
    with pytest.raises(CheckpointError, match="differs"):
        train(resolve_resume_config(run, {"steps": 2}), resume=True)


def test_bad_inputs_give_clear_errors(tmp_path, dataset) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        train(micro_config(tmp_path / "missing", tmp_path / "run", steps=1))
    with pytest.raises(ConfigError, match="unknown key"):
        make_config({"data": "d", "out": "o", "steps": 1, "learning_rate": 1})
    with pytest.raises(ConfigError, match="no training budget"):
        make_config({"data": "d", "out": "o"})
    with pytest.raises(ConfigError, match="divisible"):
        make_config({"data": "d", "out": "o", "steps": 1, "batch_size": 6, "grad_accum": 4})
    with pytest.raises(ConfigError, match="tokenizer"):
        make_config({"data": "d", "out": "o", "steps": 1, "tokenizer": "bpe"})
    with pytest.raises(DatasetError, match="input tokens"):
        train(micro_config(dataset, tmp_path / "short", steps=1, max_seq_len=16, overlength="error"))


def test_cli_trains_and_reports_errors(dataset, tmp_path) -> None:
    runner = CliRunner()
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"data: {dataset}\nmodel: gpt2:32*2\nmodel_overrides: {{n_head: 2}}\nbatch_size: 8\nval_samples: 8\n")
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "run"), "--steps", "2",
                                 "--set", "val_every=1", "--set", "model.dropout=0.0"])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["train"]["steps"] == 2 and saved["model"]["dropout"] == 0.0 and saved["train"]["val_every"] == 1
    result = runner.invoke(app, ["train", "--out", str(tmp_path / "run"), "--resume", "--steps", "3"])
    assert result.exit_code == 0, result.output
    assert "trained 3 steps" in result.output
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r2"), "--steps", "1"])
    assert result.exit_code == 2 and "DatasetError" in result.output
    result = runner.invoke(app, ["train", "--config", str(cfg), "--out", str(tmp_path / "r3"), "--steps", "1",
                                 "--set", "batch_size=-3"])
    assert result.exit_code == 2 and "batch_size" in result.output


def test_words_tokenizer_is_fitted_to_the_run_and_resumes_exactly(dataset, tmp_path) -> None:
    from lolameme.eval.evaluate import EvalSettings, evaluate_run
    from lolameme.tokenizers import load_tokenizer

    common = {"steps": 4, "tokenizer": "words", "val_samples": 0}
    whole = train(micro_config(dataset, tmp_path / "whole", **common))
    train(micro_config(dataset, tmp_path / "part", **common), stop_after=2)
    resumed = train(resolve_resume_config(tmp_path / "part", {}), resume=True)  # refits the same vocabulary
    assert whole.tokens == resumed.tokens
    a, b = weights(tmp_path / "whole", 4), weights(tmp_path / "part", 4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    tok = load_tokenizer(tmp_path / "whole")
    assert tok.name == "words" and tok.vocab_size > 5 + 2 * 100  # specials, characters and their pieces, words
    # programs are shorter than in characters, and the evaluator decodes with the run's own tokenizer
    config = json.loads((tmp_path / "whole" / "config.json").read_text())
    assert config["tokenizer"] == "words"
    report = evaluate_run(tmp_path / "whole", settings=EvalSettings(limit=8, device="cpu", progress=False))
    assert all(r["n"] == 8 for r in report.values())
