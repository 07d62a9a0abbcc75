"""Answer NLL and token accuracy of a micro run equal a calculation done here by hand.

Experiments report these continuous measures beside exact match (and claims may target them), so
they are checked against an independent computation: run the trained model on each whole sample,
take the log-probability of every answer token (``<eos>`` included) at the position before it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
from train_helpers import write_dataset  # noqa: E402

from lolameme.data.io import load_split  # noqa: E402
from lolameme.eval.evaluate import EvalSettings, evaluate_run  # noqa: E402
from lolameme.train.checkpoint import load_run  # noqa: E402
from lolameme.train.config import make_config  # noqa: E402
from lolameme.train.format import encode_sample  # noqa: E402
from lolameme.train.trainer import train  # noqa: E402


def test_answer_nll_and_token_accuracy_match_a_hand_calculation(tmp_path):
    data = write_dataset(tmp_path / "data", 120)
    run = tmp_path / "run"
    train(make_config({"data": str(data), "out": str(run), "model": "gpt2:32*2", "model_overrides": {"n_head": 2},
                       "recipe": "plain", "batch_size": 8, "steps": 12, "lr": 3e-3, "warmup_steps": 2,
                       "val_samples": 0, "checkpoint_every": 100, "progress": False, "reverse_answer": True}))
    report = evaluate_run(run, splits=["test"], which="last",
                          settings=EvalSettings(batch_size=3, device="cpu", progress=False))["test"]

    loaded = load_run(run, "last")
    table = load_split(data, "test")
    nll, correct, tokens = 0.0, 0, 0
    with torch.no_grad():
        for program, label in zip(table.column("input").to_pylist(), table.column("label").to_pylist()):
            ids, start = encode_sample(loaded.tokenizer, program, label, reverse_answer=True)
            logp = torch.log_softmax(loaded.model(torch.tensor([ids]))[0].double(), dim=-1)
            for position in range(start, len(ids)):
                nll -= float(logp[position - 1, ids[position]])
                correct += int(int(logp[position - 1].argmax()) == ids[position])
                tokens += 1
    assert report["token_loss"] == pytest.approx(nll / tokens, rel=1e-4)
    assert report["token_accuracy"] == pytest.approx(correct / tokens)
    assert 0 < report["token_loss"] and 0 <= report["token_accuracy"] <= 1
