"""The overfit test: a tiny model of each family learns 64 programs by heart.

Accuracy is teacher-forced whole-answer accuracy on the 64 training programs: every answer
token, ``<eos>`` included, is the argmax given the true prefix. With the char tokenizer that
is exactly the condition for greedy decoding to write the label, i.e. exact match (the eval
package's test checks the same with its decoder). Training runs in slices of
``CHECK_EVERY`` steps (stop, score, resume -- resuming is exact), so a family that learns
fast stops early; ``MAX_STEPS`` bounds the cost.
"""

from __future__ import annotations


import numpy as np
import pytest
from train_helpers import write_dataset

from lolameme.train.batching import select_samples
from lolameme.train.cache import token_cache
from lolameme.train.checkpoint import load_run
from lolameme.train.config import make_config
from lolameme.train.scoring import score_sample_set
from lolameme.train.trainer import train

MAX_STEPS = 400
CHECK_EVERY = 50


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gpt2-tiny", "hyena-tiny", "thex-tiny-3"])
def test_tiny_model_memorises_64_programs(tmp_path, model: str) -> None:
    data = write_dataset(tmp_path / "data", 64, seed=1)
    config = make_config({
        "data": str(data), "out": str(tmp_path / "run"), "model": model, "steps": MAX_STEPS, "batch_size": 32,
        "lr": 3e-3, "warmup_steps": 10, "weight_decay": 0.0, "val_samples": 0, "log_every": 25,
        "checkpoint_every": 10_000, "progress": False, "seed": 0, "recipe": "none",
    })
    history = []
    for stop in range(CHECK_EVERY, MAX_STEPS + 1, CHECK_EVERY):
        train(config, resume=stop > CHECK_EVERY, stop_after=stop)
        run = load_run(tmp_path / "run", "last")
        cache = token_cache(data, "train", run.tokenizer)
        samples, _ = select_samples(cache, np.arange(len(cache)), max_len=10**6, overlength="error",
                                    sep_id=run.tokenizer.sep_id)
        scores = score_sample_set(run.model, samples, pad_id=run.tokenizer.pad_id, batch_size=64)
        history.append((stop, scores["val_exact"], round(scores["val_answer_loss"], 4)))
        if scores["val_exact"] == 1.0:
            break
    assert history[-1][1] == 1.0, f"{model} did not memorise 64 programs in {MAX_STEPS} steps: {history}"
