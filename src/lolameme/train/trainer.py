"""The training loop: one :class:`Trainer` per run, same code on one CPU or many GPUs.

What happens, in order:

1. the run directory is created (or, with ``resume``, its config is checked against this one);
   a directory that already holds a run is never overwritten;
2. the dataset's training split is tokenised into the memory-mapped cache (once), a seeded
   validation slice is held out, and the model context is fitted to the data when not given;
3. the model is built from the zoo (``lolameme.models.build_model``) and AdamW set up with
   weight decay on matrices only;
4. for each stage: batches are drawn by length bucketing; every optimizer step takes
   ``batch_size`` samples, split over ranks and ``grad_accum`` micro-batches, with the loss
   normalised over the whole step (see :mod:`lolameme.train.loss`); gradients are clipped,
   the learning rate follows warm-up + cosine over the run's progress;
5. metrics go to RUN/metrics.jsonl and the progress bar; validation runs every ``val_every``
   steps and keeps RUN/best; checkpoints are written every ``checkpoint_every`` steps and at
   the end (also on Ctrl-C), each atomically.

A run stopped at step k and resumed ends with weights identical to an uninterrupted run:
the batch order of an epoch is a function of (seed, epoch), and the checkpoint holds the
optimizer state, the RNG state and the position in the data.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lolameme.errors import CheckpointError, ConfigError
from lolameme.tokenizers import Tokenizer, get_tokenizer, load_tokenizer
from lolameme.train import checkpoint as ckpt
from lolameme.train.batching import SampleSet, collate, epoch_batches, padding_counts, select_samples, target_counts
from lolameme.train.cache import TokenCache, token_cache
from lolameme.train.config import Stage, TrainConfig, make_config
from lolameme.train.data import TRAIN_SPLIT, check_dataset, rows_matching, split_validation, training_programs
from lolameme.train.distributed import DistContext, setup, teardown
from lolameme.train.loss import StepTotals, step_loss, token_cross_entropy
from lolameme.train.pacing import curriculum_dataset, gate_passed, gate_rows
from lolameme.train.schedule import Budget, Counters, lr_factor

# keys that may change when a run is resumed (how long and how it is watched, not what is learned)
RESUMABLE_CHANGES = frozenset(
    {"steps", "epochs", "tokens", "time_budget", "log_every", "checkpoint_every", "keep_checkpoints", "val_every",
     "device", "compile", "progress"}
)


@dataclass
class Position:
    """Where the run is in its data: stage, steps into the stage, epoch and batch within the epoch."""

    stage: int = 0
    stage_step: int = 0
    epoch: int = 0
    batch: int = 0


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    tokens: int
    elapsed: float
    best: dict[str, Any] | None
    last: dict[str, Any] = field(default_factory=dict)  # the last logged training metrics


def train(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> TrainResult:
    """Train (or with ``resume`` continue) the run described by ``config``.

    ``stop_after`` ends this call after that many total steps as if interrupted, leaving a
    checkpoint to resume from (used by tests and by callers that train in slices).
    """
    trainer = Trainer(config, resume=resume)
    try:
        return trainer.run(stop_after=stop_after)
    finally:
        teardown(trainer.ctx)


def resolve_resume_config(run_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of ``run_dir`` with ``overrides`` applied (only budget/logging keys may differ)."""
    saved = ckpt.read_run_config(run_dir)["train"]
    merged = {**saved, **{k: v for k, v in overrides.items() if v is not None}}
    merged["out"] = str(run_dir)
    return make_config(merged, source=f"config of {run_dir} with resume overrides")


class Trainer:
    def __init__(self, config: TrainConfig, *, resume: bool = False) -> None:
        self.cfg = config
        self.ctx: DistContext = setup(config.device)
        self.run_dir = Path(config.out)
        self.resume = resume
        torch.manual_seed(config.seed)
        self._prepare_run_dir()  # on resume this may fill in the saved max_seq_len
        config = self.cfg
        self.manifest = check_dataset(config.data)
        self.tok = self._tokenizer()
        self.main_cache = self._cache(Path(config.data))
        train_rows, val_rows = split_validation(len(self.main_cache), config.val_samples, config.seed)
        self.main_train_rows = train_rows
        max_seq_len = config.max_seq_len or _fit_context(self.main_cache.lengths)
        self.cfg = config = config.model_copy(update={"max_seq_len": max_seq_len})
        self.max_len = max_seq_len + 1
        self.val_set, val_counts = select_samples(
            self.main_cache, val_rows, max_len=self.max_len, overlength=config.overlength, sep_id=self.tok.sep_id,
            where=f"{config.data} (validation slice)",
        )
        self.raw_model = self._build_model(max_seq_len)
        self.optimizer = self._build_optimizer()
        self.counters = Counters()
        self.position = Position()
        self.best: dict[str, Any] | None = None
        self.gate_set: SampleSet | None = None  # held-out rows of the current stage, when it has a gate
        self.gate_open = False
        if resume:
            self._load_last_checkpoint()
        elif self.ctx.is_main:
            self._write_run_files()
        self.ctx.barrier()
        self.raw_model.to(self.ctx.device)
        _optimizer_to(self.optimizer, self.ctx.device)
        self.fast_model = torch.compile(self.raw_model) if config.compile else self.raw_model
        self.model = self.fast_model
        if self.ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.fast_model, device_ids=ids)
        self.budget = Budget(
            steps=config.steps,
            samples=config.epochs * len(train_rows) if config.epochs else None,
            tokens=config.tokens,
            seconds=config.time_budget * 60 if config.time_budget else None,
        )
        self.metrics = _MetricsLog(self.run_dir / ckpt.METRICS_FILE, enabled=self.ctx.is_main)
        self.metrics.write(
            "start", self.counters, resumed=resume, world_size=self.ctx.world_size, device=str(self.ctx.device),
            train_rows=len(train_rows), val_rows=len(self.val_set), val_overlength=val_counts,
            max_seq_len=max_seq_len, params=sum(p.numel() for p in self.raw_model.parameters()),
        )

    # ------------------------------------------------------------------ setup

    def _prepare_run_dir(self) -> None:
        has_run = (self.run_dir / ckpt.CONFIG_FILE).exists() or bool(ckpt.checkpoint_steps(self.run_dir))
        if self.resume:
            if not has_run:
                raise CheckpointError(f"cannot resume: {self.run_dir} holds no run (no {ckpt.CONFIG_FILE})")
            saved = ckpt.read_run_config(self.run_dir)["train"]
            new = self.cfg.to_json()
            changed = sorted(
                k for k in new if k not in RESUMABLE_CHANGES and k != "max_seq_len" and k != "out" and saved.get(k) != new[k]
            )
            if saved.get("max_seq_len") and self.cfg.max_seq_len not in (None, saved["max_seq_len"]):
                changed.append("max_seq_len")
            if changed:
                raise ConfigError(
                    f"cannot resume {self.run_dir} with a different {', '.join(changed)}; only "
                    f"{', '.join(sorted(RESUMABLE_CHANGES))} may change on resume"
                )
            if self.cfg.max_seq_len is None and saved.get("max_seq_len"):
                self.cfg = self.cfg.model_copy(update={"max_seq_len": saved["max_seq_len"]})
        elif has_run:
            raise CheckpointError(
                f"{self.run_dir} already holds a training run; pass --resume to continue it or choose another --out"
            )
        if self.ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)

    def _tokenizer(self) -> Tokenizer:
        fitted = self.cfg.tokenizer == "words"  # fitted to the run's training split, the same on every rank
        tok = get_tokenizer(self.cfg.tokenizer, training_programs(Path(self.cfg.data)) if fitted else None)
        if self.resume:
            saved = load_tokenizer(self.run_dir / ckpt.TOKENIZER_FILE)
            if saved.fingerprint != tok.fingerprint:
                raise CheckpointError(
                    f"{self.run_dir / ckpt.TOKENIZER_FILE} differs from the current {tok.name} tokenizer; "
                    "resume with the package version that started the run"
                )
        return tok

    def _cache(self, data_dir: Path) -> TokenCache:
        """The token cache of ``data_dir``'s training split; rank 0 builds it, the others wait."""
        if self.ctx.is_main:
            cache = token_cache(data_dir, TRAIN_SPLIT, self.tok, reverse_answer=self.cfg.reverse_answer)
        self.ctx.barrier()
        if not self.ctx.is_main:
            cache = token_cache(data_dir, TRAIN_SPLIT, self.tok, reverse_answer=self.cfg.reverse_answer)
        return cache

    def _build_model(self, max_seq_len: int) -> torch.nn.Module:
        from lolameme.models import build_model, model_from_config

        if self.resume:
            return model_from_config(ckpt.read_run_config(self.run_dir)["model"])
        return build_model(self.cfg.model, vocab_size=self.tok.vocab_size, max_seq_len=max_seq_len,
                           **self.cfg.model_overrides)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        """AdamW; weight decay only on matrices (dim >= 2), never on biases, norms or scalars."""
        params = [p for p in self.raw_model.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() >= 2]
        no_decay = [p for p in params if p.dim() < 2]
        groups = [
            {"params": decay, "weight_decay": self.cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        betas = (self.cfg.beta1, self.cfg.beta2)
        try:  # the fused kernel updates all tensors in one op: ~30x faster than the loop on CPU for tiny models
            return torch.optim.AdamW(groups, lr=self.cfg.lr, betas=betas, fused=True)
        except (RuntimeError, ValueError):  # parameters of a dtype or device without the fused kernel
            return torch.optim.AdamW(groups, lr=self.cfg.lr, betas=betas)

    def _write_run_files(self) -> None:
        config = {
            "train": self.cfg.to_json(),
            "model": _model_config(self.raw_model),
            "tokenizer": self.tok.name,
            "data": {
                "dir": str(Path(self.cfg.data).resolve()),  # absolute: eval may run from another directory
                "task": self.manifest.get("task"),
                "train_sha256": self.manifest["splits"][TRAIN_SPLIT].get("sha256"),
                "train_rows": self.manifest["splits"][TRAIN_SPLIT].get("rows"),
            },
            "package_version": _package_version(),
        }
        self.tok.save(self.run_dir / ckpt.TOKENIZER_FILE)
        ckpt.write_json_atomic(self.run_dir / ckpt.CONFIG_FILE, config)

    def _load_last_checkpoint(self) -> None:
        directory = ckpt.checkpoint_dir(self.run_dir, "last")
        ckpt.load_weights(self.raw_model, directory)
        state = ckpt.load_state(directory)
        meta = ckpt.load_meta(directory)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng_torch"])
            if torch.cuda.is_available() and state.get("rng_cuda"):
                torch.cuda.set_rng_state_all(state["rng_cuda"])
            self.counters = Counters(**meta["counters"])
            self.position = Position(**meta["position"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {directory} is incomplete or from another version: {exc}") from exc
        self.best = meta.get("best")

    # ------------------------------------------------------------------ the loop

    def run(self, stop_after: int | None = None) -> TrainResult:
        cfg, ctx = self.cfg, self.ctx
        stages = cfg.stage_list()
        self._session_start = time.monotonic()
        self._elapsed_at_start = self.counters.elapsed
        self._window = _Window(time.monotonic(), self.counters.tokens)
        self._acc = torch.zeros(3, dtype=torch.float64, device=ctx.device)  # objective, answer CE sum, program CE sum
        self._last: dict[str, Any] = {}
        total = cfg.steps if cfg.steps and not (cfg.time_budget or cfg.tokens or cfg.epochs) else None
        from lolameme.progress import Progress

        self.bar = Progress(total=total, description="train", enabled=cfg.progress and ctx.is_main)
        self.bar.done = self.counters.step
        self.raw_model.train()
        stopped_early = False
        try:
            while self.position.stage < len(stages) and not self._budget_spent():
                stage = stages[self.position.stage]
                samples = self._stage_samples(stage, self.position.stage)
                outcome = self._run_stage(stage, samples, stages, stop_after)
                if outcome == "interrupted":
                    stopped_early = True
                    break
                if outcome == "stage done":
                    self.position = Position(stage=self.position.stage + 1)
        except KeyboardInterrupt:
            self._save_checkpoint()
            self.bar.close()
            raise
        if not stopped_early and cfg.val_samples and (self.best is None or self.best["step"] != self.counters.step):
            self._validate()
        self._save_checkpoint()
        if not stopped_early and not cfg.val_samples and ctx.is_main:
            ckpt.save_checkpoint(self.run_dir, self.raw_model, self._meta(note="no validation: final weights"), best=True)
        in_sync = self._ranks_in_sync()
        self.metrics.write("end", self.counters, stopped_early=stopped_early, ranks_in_sync=in_sync, best=self.best)
        self.bar.close()
        ctx.barrier()
        return TrainResult(self.run_dir, self.counters.step, self.counters.tokens, self.counters.elapsed, self.best, self._last)

    def _stage_samples(self, stage: Stage, index: int) -> SampleSet:
        cfg = self.cfg
        if stage.task:
            data_dir = self._in_order(lambda: curriculum_dataset(Path(cfg.data), stage.task, stage.rows))
        else:
            data_dir = Path(stage.data) if stage.data else Path(cfg.data)
        same_data = data_dir.resolve() == Path(cfg.data).resolve()
        if same_data:
            cache, rows = self.main_cache, self.main_train_rows
        else:
            check_dataset(data_dir)
            cache = self._cache(data_dir)
            rows = np.arange(len(cache))
        matching = rows_matching(data_dir, stage.where)
        if matching is not None:
            rows = np.intersect1d(rows, matching)
        self.gate_set, self.gate_open = None, False
        if stage.gate is not None:
            rows, held = gate_rows(rows, cfg.val_samples or 256, cfg.seed + index)
            self.gate_set, _ = select_samples(cache, held, max_len=self.max_len, overlength=cfg.overlength,
                                              sep_id=self.tok.sep_id, where=f"{data_dir} (gate rows)")
        samples, counts = select_samples(cache, rows, max_len=self.max_len, overlength=cfg.overlength,
                                         sep_id=self.tok.sep_id, where=str(data_dir))
        self.metrics.write("stage", self.counters, stage=index, name=stage.name, data=str(data_dir), where=stage.where,
                           rows=len(samples), gate=stage.gate, **counts)
        if counts["overlength"] and self.ctx.is_main and cfg.progress:
            print(f"[train] stage {index}: {counts['overlength']} samples longer than the context "
                  f"({cfg.max_seq_len} tokens): {counts['dropped']} dropped, {counts['truncated']} truncated",
                  flush=True)
        return samples

    def _run_stage(self, stage: Stage, samples: SampleSet, stages: list[Stage], stop_after: int | None) -> str:
        """Train on one stage until its share or the budget is spent.

        Returns ``"stage done"`` (move on to the next stage), ``"budget spent"`` or ``"interrupted"``
        (``stop_after`` reached); the position stays in this stage unless it is done, so a
        finished run resumed with a larger budget continues where it ended.
        """
        cfg = self.cfg
        is_last = self.position.stage == len(stages) - 1
        while True:
            batches = epoch_batches(samples.lengths, cfg.batch_size, cfg.bucket_batches, cfg.seed + 1000 * self.position.stage,
                                    self.position.epoch)
            while self.position.batch < len(batches):
                if self._budget_spent():
                    return "budget spent"
                if not is_last and self._stage_done(stage):
                    return "stage done"
                if stop_after is not None and self.counters.step >= stop_after:
                    return "interrupted"
                self._train_step(batches[self.position.batch], samples)
                self.position.batch += 1
                self.position.stage_step += 1
                self._after_step()
            self.position.epoch += 1
            self.position.batch = 0

    def _stage_done(self, stage: Stage) -> bool:
        if self.gate_open:
            return True
        if stage.steps is not None and self.position.stage_step >= stage.steps:
            return True
        return stage.until is not None and self.budget.progress(self.counters) >= stage.until

    def _budget_spent(self) -> bool:
        self._update_elapsed()
        return self.budget.progress(self.counters) >= 1.0

    def _update_elapsed(self) -> None:
        elapsed = self._elapsed_at_start + time.monotonic() - self._session_start
        if self.ctx.distributed and self.budget.seconds is not None:
            elapsed = max(self.ctx.gather(elapsed))  # every rank must stop at the same step
        self.counters.elapsed = elapsed

    def _train_step(self, positions: np.ndarray, samples: SampleSet) -> None:
        cfg, ctx = self.cfg, self.ctx
        if len(positions) % (ctx.world_size * cfg.grad_accum):
            raise ConfigError(
                f"batch_size {cfg.batch_size} must be divisible by world size x grad_accum "
                f"({ctx.world_size} x {cfg.grad_accum})"
            )
        lengths = samples.lengths[positions]
        totals = StepTotals(*target_counts(lengths, samples.answer_starts[positions]))
        per_rank = np.split(positions, ctx.world_size)
        micro_batches = [np.array_split(part, cfg.grad_accum) for part in per_rank]
        lr = cfg.lr * lr_factor(self.counters.step, self.budget.progress(self.counters), cfg.warmup_steps, cfg.min_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        for i, part in enumerate(micro_batches[ctx.rank]):
            batch = collate([samples.sample(p) for p in part], self.tok.pad_id).to(ctx.device)
            last = i == len(micro_batches[ctx.rank]) - 1
            sync = contextlib.nullcontext() if last or not ctx.distributed else self.model.no_sync()
            with sync:
                with self._autocast():
                    logits = self.model(batch.inputs)
                ce = token_cross_entropy(logits, batch.targets)
                loss = step_loss(ce, batch, totals, cfg.loss, cfg.answer_weight)
                (loss * ctx.world_size).backward()  # DDP averages over ranks; the loss is already a global mean
            with torch.no_grad():
                self._acc += torch.stack(
                    [loss.detach().double(), (ce * batch.answer_mask).sum().double(), (ce * batch.program_mask).sum().double()]
                )
        grad_norm = None
        if cfg.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.raw_model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.counters.step += 1
        self.counters.samples += len(positions)
        self.counters.tokens += int((lengths - 1).sum())
        self._window.add(totals, padding_counts([samples.lengths[mb] for rank in micro_batches for mb in rank]),
                         lr, grad_norm)

    def _autocast(self):
        if self.ctx.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _after_step(self) -> None:
        cfg, step = self.cfg, self.counters.step
        if step % cfg.log_every == 0:
            self._log_train()
        else:
            self.bar.advance(1)
        if cfg.val_samples and step % cfg.val_every == 0:
            self._validate()
        if self.gate_set is not None and step % cfg.val_every == 0:
            self._check_gate()
        if step % cfg.checkpoint_every == 0:
            self._save_checkpoint()

    def _log_train(self) -> None:
        self._update_elapsed()
        values = self.ctx.sum(self._acc.tolist())
        self._acc.zero_()
        w = self._window
        now = time.monotonic()
        tokens_per_s = (self.counters.tokens - w.tokens_at_start) / max(now - w.start, 1e-9)
        steps = max(w.steps, 1)
        record = {
            "loss": values[0] / steps,
            "answer_loss": values[1] / max(w.n_answer, 1),
            "program_loss": values[2] / max(w.n_program, 1),
            "lr": w.lr,
            "grad_norm": w.grad_norm,
            "tokens_per_s": tokens_per_s,
            "pad_fraction": w.padded / max(w.positions, 1),
            "progress": self.budget.progress(self.counters),
            "stage": self.position.stage,
            "epoch": self.position.epoch,
        }
        self._last = record
        self.metrics.write("train", self.counters, **record)
        self._window = _Window(now, self.counters.tokens)
        fields = {"loss": record["loss"], "tok/s": round(tokens_per_s)}
        if self.bar.total is None:
            fields["done"] = f"{100 * record['progress']:.0f}%"
        self.bar.advance(1, **fields)

    @torch.no_grad()
    def _validate(self) -> None:
        """Teacher-forced validation on the held-out slice (rank 0); keeps RUN/best.

        ``exact`` counts samples whose every answer token (``<eos>`` included) is the argmax
        given the true prefix; for greedy decoding that is exactly the condition for producing
        the answer, so it equals greedy exact match on the same tokens, at the cost of one
        forward pass.
        """
        if not self.ctx.is_main:
            return
        metrics = teacher_forced_scores(self.fast_model, self.val_set, self.cfg.batch_size, self.tok.pad_id,
                                        self.ctx.device, self._autocast)
        better = self.best is None or (metrics["val_exact"], -metrics["val_answer_loss"]) > (
            self.best["val_exact"], -self.best["val_answer_loss"]
        )
        if better:
            self.best = {"step": self.counters.step, **metrics}
            ckpt.save_checkpoint(self.run_dir, self.raw_model, self._meta(), best=True)
        self.metrics.write("val", self.counters, **metrics, best=better)

    @torch.no_grad()
    def _check_gate(self) -> None:
        """Open the stage's gate once its held-out rows are answered well enough (same decision on every rank)."""
        gate = self.cfg.stage_list()[self.position.stage].gate
        scores = teacher_forced_scores(self.fast_model, self.gate_set, self.cfg.batch_size, self.tok.pad_id,
                                       self.ctx.device, self._autocast)
        exact = self.ctx.gather(scores["val_exact"])[0]  # rank 0's measurement decides for all
        self.gate_open = gate_passed(exact, gate)
        self.metrics.write("gate", self.counters, stage=self.position.stage, gate=gate, gate_exact=exact,
                           gate_answer_loss=scores["val_answer_loss"], passed=self.gate_open)

    def _in_order(self, make):
        """Run ``make`` on rank 0 first (it may write files), then on the others."""
        if self.ctx.is_main:
            value = make()
        self.ctx.barrier()
        if not self.ctx.is_main:
            value = make()
        return value

    def _meta(self, **extra: Any) -> dict[str, Any]:
        return {
            "step": self.counters.step,
            "counters": asdict(self.counters),
            "position": asdict(self.position),
            "best": self.best,
            "world_size": self.ctx.world_size,
            **extra,
        }

    def _save_checkpoint(self) -> None:
        if self.ctx.is_main:
            state = {"optimizer": self.optimizer.state_dict(), "rng_torch": torch.get_rng_state()}
            if torch.cuda.is_available():
                state["rng_cuda"] = torch.cuda.get_rng_state_all()
            ckpt.save_checkpoint(self.run_dir, self.raw_model, self._meta(), state, keep_last=self.cfg.keep_checkpoints)
        self.ctx.barrier()

    def _ranks_in_sync(self) -> bool:
        """Whether every rank holds the same weights (a cheap checksum, compared across ranks)."""
        if not self.ctx.distributed:
            return True
        with torch.no_grad():
            checksum = float(sum(p.double().sum() + (p.double() ** 2).sum() for p in self.raw_model.parameters()))
        values = self.ctx.gather(checksum)
        return all(v == values[0] for v in values)


@torch.no_grad()
def teacher_forced_scores(model, samples: SampleSet, batch_size: int, pad_id: int, device, autocast) -> dict[str, float]:
    """Answer loss, answer-token accuracy and whole-answer (exact) accuracy under teacher forcing."""
    was_training = model.training
    model.eval()
    order = np.argsort(samples.lengths, kind="stable")
    loss_sum = correct_tokens = n_tokens = exact = 0.0
    for begin in range(0, len(order), batch_size):
        batch = collate([samples.sample(p) for p in order[begin : begin + batch_size]], pad_id).to(device)
        with autocast():
            logits = model(batch.inputs)
        ce = token_cross_entropy(logits, batch.targets)
        hit = logits.argmax(-1) == batch.targets
        loss_sum += float((ce * batch.answer_mask).sum())
        correct_tokens += float((hit & batch.answer_mask).sum())
        n_tokens += float(batch.answer_mask.sum())
        exact += float((hit | ~batch.answer_mask).all(dim=1).sum())
    model.train(was_training)
    n = max(len(order), 1)
    return {
        "val_answer_loss": loss_sum / max(n_tokens, 1),
        "val_token_accuracy": correct_tokens / max(n_tokens, 1),
        "val_exact": exact / n,
        "val_samples": len(order),
    }


@dataclass
class _Window:
    """Accumulates what happened between two log lines."""

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


class _MetricsLog:
    """Appends one JSON object per event to RUN/metrics.jsonl (main rank only)."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, event: str, counters: Counters, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "step": counters.step, "tokens": counters.tokens, "time": round(counters.elapsed, 3),
                  "wall": time.time(), **fields}
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    return str(value)


def _fit_context(lengths: np.ndarray) -> int:
    """A context for the data: the longest input (sample - 1 token) plus 25% headroom, rounded up to 64."""
    longest = int(lengths.max()) - 1 if len(lengths) else 64
    return max(64, -(-int(longest * 1.25) // 64) * 64)


def _model_config(model: torch.nn.Module) -> dict[str, Any]:
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ConfigError(f"model {type(model).__name__} has no config.to_dict(); it cannot be saved in a run")
    return config.to_dict()


def _optimizer_to(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    if device.type == "cpu":
        return
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)


def _package_version() -> str:
    from lolameme import __version__

    return __version__

