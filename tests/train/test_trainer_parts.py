"""The trainer's parts on their own: per-token loss weights, the metrics sink, the optimizer's groups, run state."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lolameme.train.batching import collate
from lolameme.train.config import make_config
from lolameme.train.loss import StepTotals, step_loss
from lolameme.train.metrics import MetricsSink
from lolameme.train.optim import build_optimizer, optimizer_steps, param_groups, set_lr
from lolameme.train.schedule import Counters, RunState


def test_per_token_weights_from_the_batch_scale_the_loss() -> None:
    ids = np.array([1, 5, 6, 2, 7, 8, 3])  # <bos> 5 6 <sep> 7 8 <eos>; answer starts at 4
    plain = collate([(ids, 4)], pad_id=0)
    weights = np.ones(len(ids), dtype=np.float32)
    weights[4:] = 2.0  # the answer tokens count twice
    weighted = collate([(ids, 4, weights)], pad_id=0)
    assert plain.weights is None and weighted.weights is not None
    ce = torch.rand(plain.targets.shape)
    totals = StepTotals(n_answer=3, n_program=3)
    assert step_loss(ce, weighted, totals, "answer") == pytest.approx(2 * float(step_loss(ce, plain, totals, "answer")))
    assert step_loss(ce, weighted, totals, "full") > step_loss(ce, plain, totals, "full")


def test_every_metrics_record_passes_through_the_sink_and_its_mirrors(tmp_path) -> None:
    seen = []
    sink = MetricsSink(tmp_path / "metrics.jsonl", enabled=True, mirrors=[seen.append])
    sink.write("train", Counters(step=3, tokens=40, elapsed=1.5), loss=np.float32(0.5))
    sink.write("val", Counters(step=4), val_exact=torch.tensor(0.25))
    written = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["event"] for r in written] == [r["event"] for r in seen] == ["train", "val"]
    assert written[0]["step"] == 3 and written[0]["loss"] == 0.5 and written[1]["val_exact"] == 0.25
    MetricsSink(tmp_path / "off.jsonl", enabled=False, mirrors=[seen.append]).write("train", Counters())
    assert not (tmp_path / "off.jsonl").exists() and len(seen) == 2


def test_optimizer_groups_decay_matrices_only_and_scale_lr() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    cfg = make_config({"data": "d", "out": "o", "steps": 1, "weight_decay": 0.3})
    decay, no_decay = param_groups(model, cfg)
    assert [p.dim() for p in decay["params"]] == [2] and decay["weight_decay"] == 0.3
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    optimizer = build_optimizer(model, cfg)
    optimizer.param_groups[1]["lr_scale"] = 0.5
    set_lr(optimizer, 0.01)
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.005]
    assert optimizer_steps(optimizer) is None
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    assert optimizer_steps(optimizer) == 1


def test_run_state_moves_counters_and_position_together() -> None:
    state = RunState().after_step(samples=8, tokens=100).after_step(samples=8, tokens=50)
    assert (state.counters.step, state.counters.samples, state.counters.tokens) == (2, 16, 150)
    assert (state.position.stage_step, state.position.batch) == (2, 2)
    assert state.next_epoch().position.batch == 0 and state.next_epoch().position.epoch == 1
    assert state.next_stage().position.stage == 1 and state.next_stage().position.stage_step == 0
    with pytest.raises(AttributeError):
        state.counters.step = 5  # frozen: state changes only by replacement
