"""evaluate_run and `lolameme eval` on a run directory written with the trainer's checkpoint functions."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from lolameme.atomic import atomic_write_json
from lolameme.cli import app
from lolameme.errors import CheckpointError, DatasetError
from lolameme.eval.evaluate import EvalSettings, evaluate_run
from lolameme.models import build_model
from lolameme.train.checkpoint import save_checkpoint


@pytest.fixture
def run_dir(tmp_path, tiny_dataset, char_tok):
    """An untrained gpt2-tiny 'run' on the tiny dataset: enough to exercise the plumbing."""
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    model = build_model("gpt2-tiny", vocab_size=char_tok.vocab_size, max_seq_len=32)
    char_tok.save(run / "tokenizer.json")
    atomic_write_json(run / "config.json", {"train": {"data": str(tiny_dataset), "reverse_answer": False},
                                            "model": model.config.to_dict(), "tokenizer": "char"})
    save_checkpoint(run, model, {"step": 7}, best=True)
    return run


def test_evaluate_run_writes_report_and_predictions(run_dir):
    reports = evaluate_run(run_dir, settings=EvalSettings(progress=False))
    assert list(reports) == ["test_with_globals"]
    saved = json.loads((run_dir / "eval" / "test_with_globals.json").read_text())
    assert saved["step"] == 7 and saved["n"] == 5 and saved["majority_answer"] == "5"
    assert saved["majority_baseline"] == pytest.approx(2 / 5)
    assert 0 <= saved["exact_match"] <= 1 and saved["token_loss"] > 0
    predictions = pq.read_table(run_dir / "eval" / "test_with_globals.predictions.parquet")
    assert predictions.num_rows == 5
    assert sum(predictions.column("correct").to_pylist()) == round(saved["exact_match"] * 5)
    assert not list((run_dir / "eval").glob("*.tmp"))


def test_other_task_and_missing_run_are_refused(run_dir, tmp_path, make_dataset):
    listops = make_dataset(tmp_path / "lo", "listops", {"train": {"input": ["[MAX 1 ]"], "label": ["1"]},
                                                          "test": {"input": ["[MAX 2 3 ]"], "label": ["3"]}})
    with pytest.raises(DatasetError, match="trained on a 'lolameme'"):
        evaluate_run(run_dir, data=listops, settings=EvalSettings(progress=False))
    with pytest.raises(CheckpointError):
        evaluate_run(tmp_path / "no-such-run", settings=EvalSettings(progress=False))
    assert not (run_dir / "eval").exists()


def test_cli_prints_table_and_reports_errors(run_dir, tmp_path):
    result = CliRunner().invoke(app, ["eval", str(run_dir), "--limit", "3", "--out", str(tmp_path / "ev")])
    assert result.exit_code == 0, result.output
    assert "majority baseline" in result.output and "test_with_globals" in result.output
    assert (tmp_path / "ev" / "test_with_globals.json").exists()
    bad = CliRunner().invoke(app, ["eval", str(run_dir), "--split", "nope"])
    assert bad.exit_code == 2 and "DatasetError" in bad.output and "no split 'nope'" in bad.output
