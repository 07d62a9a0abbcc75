"""Run under ``torchrun --nproc_per_node 2``: train a micro model with gloo, then each rank saves its weights.

Used by test_distributed.py; the test compares the ranks' files itself rather than trusting
the trainer's own in-sync check.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from safetensors.torch import save_file

from lolameme.train.config import make_config
from lolameme.train.distributed import teardown
from lolameme.train.trainer import Trainer

data, out, dump = map(Path, sys.argv[1:4])
config = make_config({
    "data": str(data), "out": str(out), "model": "gpt2:32*2", "model_overrides": {"n_head": 2, "dropout": 0.0},
    "batch_size": 8, "steps": 4, "lr": 3e-3, "warmup_steps": 1, "val_samples": 8, "val_every": 2,
    "log_every": 1, "device": "cpu", "progress": False,
})
trainer = Trainer(config)
trainer.run()
rank = int(os.environ["RANK"])
save_file({k: v.contiguous() for k, v in trainer.raw_model.state_dict().items()}, str(dump / f"rank{rank}.safetensors"))
teardown(trainer.ctx)
