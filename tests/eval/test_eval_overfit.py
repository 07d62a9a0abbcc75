"""The overfit test through the decoder: a tiny model memorises 64 generated programs.

A pipeline that cannot reach 100% exact match on the very programs it was
trained on has a bug somewhere between the generator, the task format, the
trainer and the evaluator (a shifted answer mask, decoding off by one, a wrong
<eos>). The train package's overfit test covers every family with teacher-forced
scoring; this one goes through greedy decoding and ``evaluate_run`` (one
family, since training dominates the cost), and checks on a half-trained model
that greedy exact match agrees sample by sample with teacher forcing, which
is what it must be for greedy decoding.
"""

from __future__ import annotations

import warnings

import pyarrow.parquet as pq
import pytest

from lolameme.data.api import generate_dataset
from lolameme.eval.evaluate import EvalSettings, evaluate_run
from lolameme.train.config import make_config
from lolameme.train.trainer import train

#: Short LOLAMEME programs (two statements, one- or two-letter names), so memorising is cheap.
SMALL_CORPUS = {"dataset_size": 64, "test_dataset_size": 8, "seed": 0, "statement_count": 2,
                "global_var_count": 8, "min_var_length": 1, "max_var_length": 2, "expression_max_depth": 1,
                "global_variables_num_appearance": 0}
HALFWAY, STEPS = 40, 120


@pytest.mark.slow
def test_gpt2_tiny_memorises_64_programs_by_greedy_exact_match(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few globals appear rarely in 64 programs: expected here
        generate_dataset("base", data, overrides=SMALL_CORPUS)
    config = make_config({"data": str(data), "out": str(run), "model": "gpt2-tiny", "steps": STEPS,
                          "batch_size": 64, "lr": 3e-3, "warmup_steps": 10, "weight_decay": 0.0, "val_samples": 0,
                          "checkpoint_every": 10_000, "progress": False, "seed": 0, "recipe": "none"})
    settings = EvalSettings(progress=False)

    train(config, stop_after=HALFWAY)
    half = evaluate_run(run, splits=["train"], which="last", settings=settings)["train"]
    predictions = pq.read_table(run / "eval" / "train.predictions.parquet").to_pydict()
    forced_exact = [c == n for c, n in zip(predictions["answer_tokens_correct"], predictions["answer_tokens"])]
    assert predictions["correct"] == forced_exact
    assert half["exact_match"] < 1.0

    train(config, resume=True)
    report = evaluate_run(run, splits=["train"], which="last", settings=settings)["train"]
    assert report["n"] == 64 and report["majority_baseline"] < 0.5
    assert report["exact_match"] == 1.0, f"{report['exact_match']:.3f} exact match after {STEPS} steps"
    assert report["token_accuracy"] == 1.0
