"""Training metrics: every record of RUN/metrics.jsonl passes through one :class:`MetricsSink`.

metrics.jsonl is the source of truth (see design.md); a tracker that mirrors it
(TensorBoard, W&B) is a callable in ``mirrors`` and receives each record as written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lolameme.train.loss import StepTotals
from lolameme.train.schedule import Counters

Mirror = Callable[[dict[str, Any]], None]


class MetricsSink:
    """Appends one JSON object per event to ``path`` (main rank only) and hands it to each mirror."""

    def __init__(self, path: Path, enabled: bool, mirrors: Sequence[Mirror] = ()) -> None:
        self.path = path
        self.enabled = enabled
        self.mirrors = tuple(mirrors)

    def write(self, event: str, counters: Counters, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "step": counters.step, "tokens": counters.tokens, "time": round(counters.elapsed, 3),
                  "wall": time.time(), **fields}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=_jsonable) + "\n")
        for mirror in self.mirrors:
            mirror(record)


@dataclass
class LogWindow:
    """What happened between two log lines: step count, target tokens, padding, last lr and grad norm."""

    start: float
    tokens_at_start: int
    steps: int = 0
    n_answer: int = 0
    n_program: int = 0
    padded: int = 0
    positions: int = 0
    lr: float = 0.0
    grad_norm: float | None = None

    def add(self, totals: StepTotals, padding: tuple[int, int], lr: float, grad_norm) -> None:
        self.steps += 1
        self.n_answer += totals.n_answer
        self.n_program += totals.n_program
        self.padded += padding[0]
        self.positions += padding[1]
        self.lr = lr
        self.grad_norm = float(grad_norm) if grad_norm is not None else None

    def record(self, sums: list[float], counters: Counters, now: float) -> dict[str, float | None]:
        """The train record of the window from the summed (objective, answer CE, program CE)."""
        return {
            "loss": sums[0] / max(self.steps, 1),
            "answer_loss": sums[1] / max(self.n_answer, 1),
            "program_loss": sums[2] / max(self.n_program, 1),
            "lr": self.lr,
            "grad_norm": self.grad_norm,
            "tokens_per_s": (counters.tokens - self.tokens_at_start) / max(now - self.start, 1e-9),
            "pad_fraction": self.padded / max(self.positions, 1),
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return str(value)
