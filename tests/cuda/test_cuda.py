"""The CUDA paths, run by the prepared GPU check (benchmarks/gpu.py) on a machine with a GPU.

CI has no GPU, so every test here is marked ``cuda`` and skipped without one; a skip is not a pass.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "train"))
from train_helpers import write_dataset  # noqa: E402

from lolameme.models import build_model  # noqa: E402
from lolameme.train.config import make_config  # noqa: E402

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def _config(data: Path, out: Path, model: str, **extra):
    values = {"data": str(data), "out": str(out), "model": model, "model_overrides": {"n_head": 2}, "batch_size": 8, "lr": 3e-3, "warmup_steps": 2,
              "val_samples": 16, "val_every": 3, "log_every": 1, "checkpoint_every": 100, "progress": False,
              "device": "cuda", "recipe": "none"}
    values.update(extra)
    return make_config(values)


@pytest.mark.parametrize("model", ["gpt2:32*2", "hyena:32*2", "hyena:32,gpt2:32"])
def test_bf16_autocast_training_lowers_the_loss(tmp_path, model):
    from lolameme.train.trainer import train

    data = write_dataset(tmp_path / "data", 200)
    train(_config(data, tmp_path / "run", model, steps=30))
    import json

    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
              if json.loads(line).get("event") == "train"]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5


def test_hyena_long_convolution_runs_in_float32_under_autocast():
    model = build_model("hyena:32*1", vocab_size=50, max_seq_len=64).cuda()
    seen: list[torch.dtype] = []
    original = torch.fft.rfft

    def spy(x, *args, **kwargs):
        seen.append(x.dtype)
        return original(x, *args, **kwargs)

    torch.fft.rfft = spy
    try:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(torch.randint(0, 50, (2, 40), device="cuda"))
    finally:
        torch.fft.rfft = original
    assert seen and all(dtype in (torch.float32, torch.float64) for dtype in seen), seen
    assert torch.isfinite(logits).all()


def test_resume_on_cuda_ends_with_identical_weights(tmp_path):
    from safetensors.torch import load_file

    from lolameme.train.trainer import resolve_resume_config, train

    data = write_dataset(tmp_path / "data", 200)
    train(_config(data, tmp_path / "whole", "gpt2:32*2", steps=8))
    train(_config(data, tmp_path / "part", "gpt2:32*2", steps=8), stop_after=4)
    train(resolve_resume_config(tmp_path / "part", {}), resume=True)
    a = load_file(str(tmp_path / "whole" / "checkpoints" / "step-8" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "checkpoints" / "step-8" / "model.safetensors"))
    for name in a:
        assert torch.equal(a[name], b[name]), name
