"""Two CPU processes under torchrun (gloo) stay in sync and match one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lolameme.train.config import make_config
from lolameme.train.trainer import train


@pytest.mark.slow
def test_two_gloo_ranks_stay_in_sync_and_match_a_single_process(dataset, tmp_path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(worker), str(dataset), str(tmp_path / "ddp"), str(dump)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rank0, rank1 = load_file(str(dump / "rank0.safetensors")), load_file(str(dump / "rank1.safetensors"))
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    end = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()][-1]
    assert end["event"] == "end" and end["ranks_in_sync"] is True and end["step"] == 4

    # one process, the same 8 samples per step split into 2 micro-batches: the same update up to rounding
    single = make_config({
        "data": str(dataset), "out": str(tmp_path / "single"), "model": "gpt2:32*2",
        "model_overrides": {"n_head": 2, "dropout": 0.0}, "batch_size": 8, "grad_accum": 2, "steps": 4, "lr": 3e-3,
        "warmup_steps": 1, "val_samples": 8, "val_every": 2, "log_every": 1, "device": "cpu", "progress": False,
    })
    train(single)
    alone = load_file(str(tmp_path / "single" / "checkpoints" / "step-4" / "model.safetensors"))
    ddp = load_file(str(tmp_path / "ddp" / "checkpoints" / "step-4" / "model.safetensors"))
    for name in alone:
        torch.testing.assert_close(ddp[name], alone[name], rtol=1e-4, atol=1e-5)
