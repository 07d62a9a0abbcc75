"""How far a run has got, and the learning rate that goes with it.

A budget can be given in optimizer steps, epochs, tokens or minutes, or several
at once (training stops at whichever runs out first). :class:`Budget` turns the
run's counters into one number, *progress* in [0, 1], and the learning rate is a
function of the step (for warm-up) and of progress (for the cosine decay), so
the same schedule serves every kind of budget and a curriculum's stages share
one schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Counters:
    """Everything the run has consumed so far; saved in every checkpoint."""

    step: int = 0  # optimizer steps done
    samples: int = 0  # training samples seen (all ranks)
    tokens: int = 0  # non-padding input tokens seen (all ranks)
    elapsed: float = 0.0  # seconds of training, over every start of a resumed run


@dataclass(frozen=True)
class Position:
    """Where the run is in its data: stage, steps into the stage, epoch and batch within the epoch."""

    stage: int = 0
    stage_step: int = 0
    epoch: int = 0
    batch: int = 0


@dataclass(frozen=True)
class RunState:
    """Counters and position together, replaced as one value after each step.

    One assignment moves both, so an interrupt sees either the state before a step or the
    state after it, never counters of one step with the position of another.
    """

    counters: Counters = Counters()
    position: Position = Position()

    def after_step(self, samples: int, tokens: int) -> RunState:
        c, p = self.counters, self.position
        return RunState(replace(c, step=c.step + 1, samples=c.samples + samples, tokens=c.tokens + tokens),
                        replace(p, stage_step=p.stage_step + 1, batch=p.batch + 1))

    def next_epoch(self) -> RunState:
        return replace(self, position=replace(self.position, epoch=self.position.epoch + 1, batch=0))

    def next_stage(self) -> RunState:
        return replace(self, position=Position(stage=self.position.stage + 1))

    def with_elapsed(self, elapsed: float) -> RunState:
        return replace(self, counters=replace(self.counters, elapsed=elapsed))


@dataclass(frozen=True)
class Budget:
    steps: int | None = None
    samples: float | None = None  # epochs x training-set size
    tokens: int | None = None
    seconds: float | None = None

    def progress(self, c: Counters) -> float:
        """Fraction of the budget used: the largest over the limits that are set."""
        fractions = [
            used / limit
            for used, limit in ((c.step, self.steps), (c.samples, self.samples), (c.tokens, self.tokens), (c.elapsed, self.seconds))
            if limit is not None
        ]
        return min(1.0, max(fractions))


def lr_factor(step: int, progress: float, warmup_steps: int, min_lr_ratio: float) -> float:
    """Multiplier of the peak learning rate: linear warm-up over ``warmup_steps`` steps, times a
    cosine decay from 1 to ``min_lr_ratio`` over the run's progress."""
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    cosine = min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return warm * cosine
