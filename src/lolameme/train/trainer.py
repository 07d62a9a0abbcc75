"""The training loop: one :class:`Trainer` per run, same code on one CPU or many GPUs.

What happens, in order:

1. the run directory is prepared (:mod:`lolameme.train.rundir`): a new run never overwrites
   one with checkpoints; a resumed run is checked against the saved config;
2. the training split is tokenised into the memory-mapped cache (once), a seeded validation
   slice is held out, and the model context is fitted to the data when not given;
3. the model is built from the zoo and the optimizer by :func:`lolameme.train.optim.build_optimizer`;
4. for each stage of the :class:`~lolameme.train.curriculum.Curriculum`: batches are drawn by
   length bucketing; every optimizer step takes ``batch_size`` samples, split over ranks and
   ``grad_accum`` micro-batches, with the loss normalised over the whole step
   (:mod:`lolameme.train.loss`); gradients are clipped, the learning rate follows warm-up +
   cosine over the run's progress;
5. metrics go through one :class:`~lolameme.train.metrics.MetricsSink` to RUN/metrics.jsonl;
   validation runs every ``val_every`` steps and keeps RUN/best; checkpoints are written every
   ``checkpoint_every`` steps, at the end and after Ctrl-C (:mod:`lolameme.train.interrupt`).

A run stopped at step k and resumed ends with weights identical to an uninterrupted run:
the batch order of an epoch is a function of (seed, stage, epoch), and the checkpoint holds
the optimizer state, the RNG state and the position in the data.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lolameme.errors import ConfigError
from lolameme.progress import Progress
from lolameme.train.batching import SampleSet, collate, epoch_batches, padding_counts, select_samples, target_counts
from lolameme.train.cache import TokenCache, token_cache
from lolameme.train.config import TrainConfig
from lolameme.train.curriculum import Curriculum, StageData, StageOutcome
from lolameme.train.data import TRAIN_SPLIT, check_dataset, split_validation
from lolameme.train.distributed import setup, teardown
from lolameme.train.interrupt import StopRequest, stop_on_interrupt
from lolameme.train.loss import StepTotals, step_loss, token_cross_entropy
from lolameme.train.metrics import LogWindow, MetricsSink, Mirror
from lolameme.train.optim import build_optimizer, optimizer_to, set_lr
from lolameme.train.rundir import RESUMABLE_CHANGES, RunDir, checkpoint_meta, resolve_resume_config
from lolameme.train.schedule import Budget, RunState, lr_factor
from lolameme.train.scoring import score_sample_set

__all__ = ["RESUMABLE_CHANGES", "TrainResult", "Trainer", "resolve_resume_config", "train"]


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    tokens: int
    elapsed: float
    best: dict[str, Any] | None
    last: dict[str, Any] = field(default_factory=dict)  # the last logged training metrics


def train(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None,
          mirrors: Sequence[Mirror] = ()) -> TrainResult:
    """Train (or with ``resume`` continue) the run described by ``config``.

    ``stop_after`` ends this call after that many total steps as if interrupted, leaving a
    checkpoint to resume from (used by tests and by callers that train in slices).
    ``mirrors`` receive every metrics record (trackers such as TensorBoard).
    """
    trainer = Trainer(config, resume=resume, mirrors=mirrors)
    try:
        return trainer.run(stop_after=stop_after)
    finally:
        trainer.run_dir.close()
        teardown(trainer.ctx)


class Trainer:
    def __init__(self, config: TrainConfig, *, resume: bool = False, mirrors: Sequence[Mirror] = ()) -> None:
        self.ctx = ctx = setup(config.device)
        torch.manual_seed(config.seed)
        self.run_dir, config = RunDir.prepare(config, ctx, resume)
        try:
            self._build(config, mirrors)
        except BaseException:
            self.run_dir.close()
            raise

    def _build(self, config: TrainConfig, mirrors: Sequence[Mirror]) -> None:
        """Data, model, optimizer and bookkeeping of the run (part of construction)."""
        ctx = self.ctx
        manifest = check_dataset(config.data)
        self.tok = self.run_dir.tokenizer(config)
        main_cache = self._cache(Path(config.data), config)
        train_rows, val_rows = split_validation(len(main_cache), config.val_samples, config.seed)
        self.cfg = cfg = config.model_copy(update={"max_seq_len": config.max_seq_len or fit_context(main_cache.lengths)})
        max_len = cfg.max_seq_len + 1
        self.val_set, val_counts = select_samples(main_cache, val_rows, max_len=max_len, overlength=cfg.overlength,
                                                  sep_id=self.tok.sep_id, where=f"{cfg.data} (validation slice)")
        self.curriculum = Curriculum(cfg, main_cache, train_rows, max_len, self.tok.sep_id,
                                     lambda d: self._cache(d, cfg), self._in_order)
        self.raw_model = self.run_dir.build_model(cfg, self.tok.vocab_size)
        self.optimizer = build_optimizer(self.raw_model, cfg)
        self.state, self.best = RunState(), None
        if self.run_dir.resume:
            self.state, self.best = self.run_dir.restore(self.raw_model, self.optimizer)
        else:
            self.run_dir.write_start(cfg, self.raw_model, self.tok, manifest)
        ctx.barrier()
        self.raw_model.to(ctx.device)
        optimizer_to(self.optimizer, ctx.device)
        self.fast_model = torch.compile(self.raw_model) if cfg.compile else self.raw_model
        self.model = self.fast_model
        if ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [ctx.device.index] if ctx.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.fast_model, device_ids=ids)
        self.budget = Budget(steps=cfg.steps, samples=cfg.epochs * len(train_rows) if cfg.epochs else None,
                             tokens=cfg.tokens, seconds=cfg.time_budget * 60 if cfg.time_budget else None)
        self.metrics = MetricsSink(self.run_dir.path / "metrics.jsonl", ctx.is_main, mirrors)
        self.metrics.write("start", self.state.counters, resumed=self.run_dir.resume, world_size=ctx.world_size,
                           device=str(ctx.device), train_rows=len(train_rows), val_rows=len(self.val_set),
                           val_overlength=val_counts, max_seq_len=cfg.max_seq_len,
                           params=sum(p.numel() for p in self.raw_model.parameters()))
        only_steps = cfg.steps and not (cfg.time_budget or cfg.tokens or cfg.epochs)
        self.bar = Progress(total=cfg.steps if only_steps else None, description="train",
                            enabled=cfg.progress and ctx.is_main)
        self.clock = (time.monotonic(), self.state.counters.elapsed)  # (session start, elapsed before it)
        self.window = LogWindow(time.monotonic(), self.state.counters.tokens)
        self.sums = torch.zeros(3, dtype=torch.float64, device=ctx.device)  # objective, answer CE, program CE
        self.last: dict[str, Any] = {}

    # ------------------------------------------------------------------ the loop

    def run(self, stop_after: int | None = None) -> TrainResult:
        """Train through the curriculum until the budget is spent, ``stop_after`` steps, or Ctrl-C."""
        self.clock = (time.monotonic(), self.state.counters.elapsed)
        self.window = LogWindow(time.monotonic(), self.state.counters.tokens)
        self.bar.done = self.state.counters.step
        self.raw_model.train()
        outcome = StageOutcome.DONE
        with stop_on_interrupt(enabled=not self.ctx.distributed) as stop:
            try:
                while (outcome is StageOutcome.DONE and self.state.position.stage < len(self.curriculum)
                       and not self.budget_spent()):
                    outcome = self.run_stage(stop_after, stop)
            except KeyboardInterrupt:  # a second Ctrl-C, or one raised mid-step: no checkpoint can name this state
                self.bar.close()
                print(f"[train] interrupted during step {self.state.counters.step + 1}: no checkpoint written "
                      f"for it; resume continues from the last one in {self.run_dir.path}", flush=True)
                raise
        finished = outcome is not StageOutcome.STOPPED
        if finished and self.cfg.val_samples and (self.best is None or self.best["step"] != self.state.counters.step):
            self.validate()
        self.save_checkpoint()
        if finished and not self.cfg.val_samples:
            self.run_dir.save_best(self.raw_model, self.meta(note="no validation: final weights"))
        self.metrics.write("end", self.state.counters, stopped_early=not finished, ranks_in_sync=self.ranks_in_sync(),
                           best=self.best)
        self.bar.close()
        self.ctx.barrier()
        if not finished and stop.requested:
            raise KeyboardInterrupt
        c = self.state.counters
        return TrainResult(self.run_dir.path, c.step, c.tokens, c.elapsed, self.best, self.last)

    def run_stage(self, stop_after: int | None, stop: StopRequest) -> StageOutcome:
        """Train on the current stage until it ends; the position stays in it unless it is done,
        so a finished run resumed with a larger budget continues where it ended."""
        cfg, index = self.cfg, self.state.position.stage
        data = self.curriculum.data(index)
        self.log_stage(index, data)
        while True:
            batches = epoch_batches(data.samples.lengths, cfg.batch_size, cfg.bucket_batches, cfg.seed + 1000 * index,
                                    self.state.position.epoch)
            for positions in batches[self.state.position.batch:]:
                if self.budget_spent():
                    return StageOutcome.BUDGET_SPENT
                if self.curriculum.capped(index, self.state.position.stage_step, self.progress()):
                    self.state = self.state.next_stage()
                    return StageOutcome.DONE
                if stop.requested or (stop_after is not None and self.state.counters.step >= stop_after):
                    return StageOutcome.STOPPED
                self.train_step(positions, data.samples)
                if self.after_step(data):
                    return StageOutcome.DONE
            self.state = self.state.next_epoch()

    def train_step(self, positions: np.ndarray, samples: SampleSet) -> None:
        """One optimizer step over ``positions``, split over ranks and micro-batches."""
        cfg, ctx = self.cfg, self.ctx
        if len(positions) % (ctx.world_size * cfg.grad_accum):
            raise ConfigError(f"batch_size {cfg.batch_size} must be divisible by world size x grad_accum "
                              f"({ctx.world_size} x {cfg.grad_accum})")
        lengths = samples.lengths[positions]
        totals = StepTotals(*target_counts(lengths, samples.answer_starts[positions]))
        micro_batches = [np.array_split(part, cfg.grad_accum) for part in np.split(positions, ctx.world_size)]
        lr = cfg.lr * lr_factor(self.state.counters.step, self.progress(), cfg.warmup_steps, cfg.min_lr_ratio)
        set_lr(self.optimizer, lr)
        for i, part in enumerate(micro_batches[ctx.rank]):
            batch = collate([samples.sample(p) for p in part], self.tok.pad_id).to(ctx.device)
            last = i == len(micro_batches[ctx.rank]) - 1
            with contextlib.nullcontext() if last or not ctx.distributed else self.model.no_sync():
                with self.autocast():
                    logits = self.model(batch.inputs)
                ce = token_cross_entropy(logits, batch.targets)
                loss = step_loss(ce, batch, totals, cfg.loss, cfg.answer_weight)
                (loss * ctx.world_size).backward()  # DDP averages over ranks; the loss is already a global mean
            with torch.no_grad():
                self.sums += torch.stack([loss.detach().double(), (ce * batch.answer_mask).sum().double(),
                                          (ce * batch.program_mask).sum().double()])
        grad_norm = None
        if cfg.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state = self.state.after_step(len(positions), int((lengths - 1).sum()))
        self.window.add(totals, padding_counts([samples.lengths[mb] for rank in micro_batches for mb in rank]),
                        lr, grad_norm)

    def after_step(self, data: StageData) -> bool:
        """Log, validate, check the stage's gate and checkpoint; True when the gate ended the stage."""
        cfg, step = self.cfg, self.state.counters.step
        if step % cfg.log_every == 0:
            self.log_train()
        else:
            self.bar.advance(1)
        if cfg.val_samples and step % cfg.val_every == 0:
            self.validate()
        opened = data.gate is not None and step % cfg.val_every == 0 and self.gate_opens(data.gate)
        if opened:  # before the checkpoint, so a resumed run starts in the next stage too
            self.state = self.state.next_stage()
        if step % cfg.checkpoint_every == 0:
            self.save_checkpoint()
        return opened

    # ------------------------------------------------------------------ budget, logging, validation

    def progress(self) -> float:
        return self.budget.progress(self.state.counters)

    def budget_spent(self) -> bool:
        start, before = self.clock
        elapsed = before + time.monotonic() - start
        if self.ctx.distributed and self.budget.seconds is not None:
            elapsed = max(self.ctx.gather(elapsed))  # every rank must stop at the same step
        self.state = self.state.with_elapsed(elapsed)
        return self.progress() >= 1.0

    def log_train(self) -> None:
        self.budget_spent()  # brings the elapsed time up to date
        sums = self.ctx.sum(self.sums.tolist())
        self.sums.zero_()
        now = time.monotonic()
        pos = self.state.position
        self.last = {**self.window.record(sums, self.state.counters, now), "progress": self.progress(),
                     "stage": pos.stage, "epoch": pos.epoch}
        self.metrics.write("train", self.state.counters, **self.last)
        self.window = LogWindow(now, self.state.counters.tokens)
        fields = {"loss": self.last["loss"], "tok/s": round(self.last["tokens_per_s"])}
        if self.bar.total is None:
            fields["done"] = f"{100 * self.last['progress']:.0f}%"
        self.bar.advance(1, **fields)

    def log_stage(self, index: int, data: StageData) -> None:
        stage, counts = self.curriculum.stages[index], data.counts
        self.metrics.write("stage", self.state.counters, stage=index, name=stage.name, data=str(data.data_dir),
                           where=stage.where, rows=len(data.samples), gate=stage.gate, **counts)
        if counts["overlength"] and self.ctx.is_main and self.cfg.progress:
            print(f"[train] stage {index}: {counts['overlength']} samples longer than the context "
                  f"({self.cfg.max_seq_len} tokens): {counts['dropped']} dropped, {counts['truncated']} truncated",
                  flush=True)

    def validate(self) -> None:
        """Teacher-forced validation on the held-out slice (rank 0); keeps RUN/best.

        ``exact`` counts samples whose every answer token (``<eos>`` included) is the argmax
        given the true prefix; for greedy decoding that is exactly the condition for producing
        the answer, so it equals greedy exact match on the same tokens, at one forward pass.
        """
        if not self.ctx.is_main:
            return
        metrics = self.score(self.val_set)
        better = self.best is None or (metrics["val_exact"], -metrics["val_answer_loss"]) > (
            self.best["val_exact"], -self.best["val_answer_loss"])
        if better:
            self.best = {"step": self.state.counters.step, **metrics}
            self.run_dir.save_best(self.raw_model, self.meta())
        self.metrics.write("val", self.state.counters, **metrics, best=better)

    def gate_opens(self, gate_set: SampleSet) -> bool:
        """Whether the stage's held-out rows are answered well enough (rank 0's measurement decides for all)."""
        index = self.state.position.stage
        scores = self.score(gate_set)
        exact = self.ctx.gather(scores["val_exact"])[0]
        opens = self.curriculum.gate_opens(index, exact)
        self.metrics.write("gate", self.state.counters, stage=index, gate=self.curriculum.stages[index].gate,
                           gate_exact=exact, gate_answer_loss=scores["val_answer_loss"], passed=opens)
        return opens

    # ------------------------------------------------------------------ helpers

    def score(self, samples: SampleSet) -> dict[str, float]:
        return score_sample_set(self.fast_model, samples, pad_id=self.tok.pad_id, batch_size=self.cfg.batch_size,
                                device=self.ctx.device, autocast=self.autocast)

    def save_checkpoint(self) -> None:
        self.run_dir.save(self.raw_model, self.optimizer, self.meta(), self.cfg.keep_checkpoints)

    def meta(self, **extra: Any) -> dict[str, Any]:
        return checkpoint_meta(self.state, self.best, self.ctx.world_size, **extra)

    def autocast(self):
        if self.ctx.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _cache(self, data_dir: Path, cfg: TrainConfig) -> TokenCache:
        """The token cache of ``data_dir``'s training split; rank 0 builds it, the others wait."""
        cache = self._in_order(lambda: token_cache(data_dir, TRAIN_SPLIT, self.tok, fmt=cfg.answer_format_spec(),
                                                   trace_share=cfg.trace_share, share_seed=cfg.seed))
        cache.answer_weights = (cfg.trace_weight, cfg.final_weight)
        return cache

    def _in_order(self, make):
        """Run ``make`` on rank 0 first (it may write files), then on the others."""
        if self.ctx.is_main:
            value = make()
        self.ctx.barrier()
        if not self.ctx.is_main:
            value = make()
        return value

    def ranks_in_sync(self) -> bool:
        """Whether every rank holds the same weights (a cheap checksum, compared across ranks)."""
        if not self.ctx.distributed:
            return True
        with torch.no_grad():
            checksum = float(sum(p.double().sum() + (p.double() ** 2).sum() for p in self.raw_model.parameters()))
        values = self.ctx.gather(checksum)
        return all(v == values[0] for v in values)


def fit_context(lengths: np.ndarray) -> int:
    """A context for the data: the longest input (sample - 1 token) plus 25% headroom, rounded up to 64."""
    longest = int(lengths.max()) - 1 if len(lengths) else 64
    return max(64, -(-int(longest * 1.25) // 64) * 64)
