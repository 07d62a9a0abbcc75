"""Traces end to end: a tiny model memorises a handful of trace samples and greedy decoding scores them all right.

If the trace layout, the cache, the loss masks, the decoding cap or the trace reader
disagreed anywhere, a memorised trace would not read back as 100% exact match, 100%
trace accuracy and 100% consistency.
"""

from __future__ import annotations

import json
import warnings

import pyarrow.parquet as pq
import pytest

from lolameme.data.api import generate_dataset
from lolameme.eval.evaluate import EvalSettings, evaluate_run
from lolameme.eval.report import scores_table
from lolameme.train.config import make_config
from lolameme.train.trainer import train

HANDFUL = {"dataset_size": 16, "test_dataset_size": 4, "seed": 0, "statement_count": 2, "global_var_count": 4,
           "min_var_length": 1, "max_var_length": 2, "expression_max_depth": 1, "global_variables_num_appearance": 0}


@pytest.mark.slow
def test_gpt2_tiny_memorises_a_handful_of_traces(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few programs per global: expected here
        generate_dataset("base", data, overrides=HANDFUL)
    config = make_config({"data": str(data), "out": str(run), "model": "gpt2-tiny", "steps": 300,
                          "answer_format": "trace", "reverse_answer": True, "trace_weight": 0.5,
                          "batch_size": 16, "lr": 3e-3, "warmup_steps": 10, "weight_decay": 0.0, "val_samples": 0,
                          "checkpoint_every": 10_000, "progress": False, "seed": 0, "recipe": "none"})
    train(config)
    report = evaluate_run(run, splits=["train"], which="last", settings=EvalSettings(progress=False))["train"]
    assert report["answer_format"] == "trace" and report["n"] == 16
    assert report["exact_match"] == 1.0, report
    assert report["trace_accuracy"] == 1.0 and report["trace_exact"] == 1.0 and report["consistency"] == 1.0
    assert [p["trace_accuracy"] for p in report["trace_by_position"]] == [1.0, 1.0]
    assert all("trace_accuracy" in s for s in report["slices"]["hops"])
    rows = pq.read_table(run / "eval" / "train.predictions.parquet").to_pylist()
    assert all(r["output"] == r["trace_target"] and r["correct"] for r in rows)
    assert json.loads((run / "eval" / "train.json").read_text())["trace_well_formed"] == 1.0
    assert "trace acc" in [c.header for c in scores_table({"train": report}).columns]

    # the same run asked for a direct answer: it never learned one, and the scores say so without raising
    direct = evaluate_run(run, splits=["train"], which="last", out_dir=tmp_path / "direct",
                          settings=EvalSettings(progress=False, answer_format="direct"))["train"]
    assert direct["answer_format"] == "direct" and "trace_accuracy" not in direct
    assert direct["exact_match"] < 1.0


def test_eval_refuses_an_unknown_format(tmp_path):
    from typer.testing import CliRunner

    from lolameme.cli import app

    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--format", "steps"])
    assert result.exit_code == 2 and "ConfigError" in result.output and "direct, trace" in result.output
    result = CliRunner().invoke(app, ["eval", str(tmp_path), "--format", "trace", "--trace-statements", "some"])
    assert result.exit_code == 2 and "all, relevant" in result.output
