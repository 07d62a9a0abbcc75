"""A run directory: prepared once, checkpointed as the run goes, restored on resume.

The file formats are :mod:`lolameme.train.checkpoint`'s; this module decides *when* a
directory may be written: a new run never overwrites a run that has checkpoints, a
resumed run keeps everything that determines what is learned, and a run stopped
before its first checkpoint (nothing to resume) is started again from scratch, saying so.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from lolameme.errors import CheckpointError, ConfigError
from lolameme.tokenizers import Tokenizer, get_tokenizer, load_tokenizer
from lolameme.train import checkpoint as ckpt
from lolameme.train.config import TrainConfig, validate_config
from lolameme.train.data import TRAIN_SPLIT, training_programs
from lolameme.train.distributed import DistContext
from lolameme.train.schedule import Counters, Position, RunState

# keys that may change when a run is resumed (how long and how it is watched, not what is learned)
RESUMABLE_CHANGES = frozenset(
    {"steps", "epochs", "tokens", "time_budget", "log_every", "checkpoint_every", "keep_checkpoints", "val_every",
     "device", "compile", "progress"}
)
#: What a run leaves in its directory before its first checkpoint; removed when it starts again.
_RUN_FILES = (ckpt.TOKENIZER_FILE, ckpt.METRICS_FILE, ckpt.CONFIG_FILE)
_RUN_DIRS = (ckpt.CHECKPOINTS_DIR, ckpt.BEST_DIR)


def resolve_resume_config(run_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of ``run_dir`` with ``overrides`` applied (only budget/logging keys may differ)."""
    saved = ckpt.read_run_config(run_dir)["train"]
    merged = {**saved, **{k: v for k, v in overrides.items() if v is not None}, "out": str(run_dir)}
    return validate_config(merged, source=f"config of {run_dir} with resume overrides")


class RunDir:
    """The directory of one run, as seen by one rank (only the main rank writes)."""

    def __init__(self, path: Path, ctx: DistContext, resume: bool, lock: Any = None) -> None:
        self.path = Path(path)
        self.ctx = ctx
        self.resume = resume  # whether this start continues a checkpoint (False after a restart from scratch)
        self.lock = lock  # held exclusive_lock: a second trainer on this directory is refused at once

    @classmethod
    def prepare(cls, config: TrainConfig, ctx: DistContext, resume: bool) -> tuple[RunDir, TrainConfig]:
        """Check ``config`` against what the directory holds; return the run directory and the config to use.

        With no checkpoint there is nothing to continue, so the run starts from scratch -- with
        ``resume`` too -- after saying why; whatever an earlier start left behind is removed.
        """
        path = Path(config.out)
        has_checkpoint = bool(ckpt.checkpoint_steps(path))
        if not resume and has_checkpoint:
            raise CheckpointError(
                f"{path} already holds a training run; pass --resume to continue it or choose another --out")
        if resume and (path / ckpt.CONFIG_FILE).is_file():
            config = _check_resumable(path, config)
        lock = _lock(path) if ctx.is_main else None
        if not has_checkpoint:
            left = _clear_run(path) if ctx.is_main else False
            if ctx.is_main and (resume or left):
                what = "holds a run stopped before its first checkpoint" if left else "holds no checkpoint"
                action = "starting it again from scratch" if resume else "replacing it"
                print(f"[train] {path} {what}; {action}", flush=True)
            resume = False
        ctx.barrier()
        return cls(path, ctx, resume, lock), config

    def close(self) -> None:
        """Release the directory's lock (the main rank holds it from :meth:`prepare` on)."""
        if self.lock is not None:
            self.lock.__exit__(None, None, None)
            self.lock = None

    def tokenizer(self, cfg: TrainConfig) -> Tokenizer:
        """The run's tokenizer; on resume it must be the one the run started with."""
        fitted = cfg.tokenizer == "words"  # fitted to the run's training split, the same on every rank
        tok = get_tokenizer(cfg.tokenizer, training_programs(Path(cfg.data)) if fitted else None)
        if self.resume:
            saved = load_tokenizer(self.path / ckpt.TOKENIZER_FILE)
            if saved.fingerprint != tok.fingerprint:
                raise CheckpointError(
                    f"{self.path / ckpt.TOKENIZER_FILE} differs from the current {tok.name} tokenizer; "
                    "resume with the package version that started the run")
        return tok

    def build_model(self, cfg: TrainConfig, vocab_size: int) -> torch.nn.Module:
        """A fresh model from the zoo, or on resume the model the run's config.json describes."""
        from lolameme.models import build_model, model_from_config

        if self.resume:
            return model_from_config(ckpt.read_run_config(self.path)["model"])
        return build_model(cfg.model, vocab_size=vocab_size, max_seq_len=cfg.max_seq_len, **cfg.model_overrides)

    def write_start(self, cfg: TrainConfig, model: torch.nn.Module, tok: Tokenizer, manifest: dict[str, Any]) -> None:
        """config.json and tokenizer.json of a new run (main rank)."""
        from lolameme import __version__
        from lolameme.atomic import atomic_write_json
        from lolameme.machine import provenance

        if not self.ctx.is_main:
            return
        split = manifest["splits"][TRAIN_SPLIT]
        config = {
            "train": cfg.to_json(),
            "model": _model_config(model),
            "tokenizer": tok.name,
            "data": {
                "dir": str(Path(cfg.data).resolve()),  # absolute: eval may run from another directory
                "task": manifest.get("task"),
                "train_sha256": split.get("sha256"),
                "train_rows": split.get("rows"),
            },
            "package_version": __version__,
            "provenance": provenance(str(self.ctx.device)),  # commit, versions, machine, command line
        }
        tok.save(self.path / ckpt.TOKENIZER_FILE)
        atomic_write_json(self.path / ckpt.CONFIG_FILE, config)

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, meta: dict[str, Any], keep: int) -> None:
        """A step checkpoint: weights, optimizer and RNG state, counters and position (all ranks wait)."""
        if self.ctx.is_main:
            state = {"optimizer": optimizer.state_dict(), "rng_torch": torch.get_rng_state()}
            if torch.cuda.is_available():
                state["rng_cuda"] = torch.cuda.get_rng_state_all()
            ckpt.save_checkpoint(self.path, model, meta, state, keep_last=keep)
        self.ctx.barrier()

    def save_best(self, model: torch.nn.Module, meta: dict[str, Any]) -> None:
        if self.ctx.is_main:
            ckpt.save_checkpoint(self.path, model, meta, best=True)

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[RunState, dict | None]:
        """Load the last checkpoint into ``model`` and ``optimizer``; return the run state and best score."""
        directory = ckpt.checkpoint_dir(self.path, "last")
        meta = ckpt.verify_checkpoint(directory)
        ckpt.load_weights(model, directory, meta["step"])
        state = ckpt.load_state(directory)
        if state.get("step", meta["step"]) != meta["step"]:
            raise CheckpointError(f"{directory}: {ckpt.STATE_FILE} belongs to step {state.get('step')}, "
                                  f"not to step {meta['step']}; the checkpoint was assembled from two steps")
        try:
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng_torch"])
            if torch.cuda.is_available() and state.get("rng_cuda"):
                torch.cuda.set_rng_state_all(state["rng_cuda"])
            run_state = RunState(Counters(**meta["counters"]), Position(**meta["position"]))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {directory} is incomplete or from another version: {exc}") from None
        best = meta.get("best")
        if best is not None and not (self.path / ckpt.BEST_DIR / ckpt.META_FILE).is_file():
            best = None  # killed while RUN/best was replaced: the next validation writes it again
        return run_state, best


def checkpoint_meta(state: RunState, best: dict | None, world_size: int, **extra: Any) -> dict[str, Any]:
    """meta.json of a checkpoint: the step its weights belong to, counters, data position, best score."""
    return {"step": state.counters.step, "counters": asdict(state.counters), "position": asdict(state.position),
            "best": best, "world_size": world_size, **extra}


def _check_resumable(path: Path, config: TrainConfig) -> TrainConfig:
    """``config`` with the saved context length; ConfigError if it changes what the run learns."""
    saved = ckpt.read_run_config(path)["train"]
    new = config.to_json()
    changed = sorted(k for k in new if k not in RESUMABLE_CHANGES | {"max_seq_len", "out"}
                     and saved.get(k, _default(k)) != new[k])
    if saved.get("max_seq_len") and config.max_seq_len not in (None, saved["max_seq_len"]):
        changed.append("max_seq_len")
    if changed:
        raise ConfigError(f"cannot resume {path} with a different {', '.join(changed)}; only "
                          f"{', '.join(sorted(RESUMABLE_CHANGES))} may change on resume")
    if config.max_seq_len is None and saved.get("max_seq_len"):
        return config.model_copy(update={"max_seq_len": saved["max_seq_len"]})
    return config


def _default(key: str) -> Any:
    """A TrainConfig key's default: what a run saved before the key existed was trained with."""
    return TrainConfig.model_fields[key].get_default(call_default_factory=True)


def _lock(path: Path) -> Any:
    """Take the run directory's exclusive lock (creating the directory) and keep it until close()."""
    from lolameme.atomic import exclusive_lock

    lock = exclusive_lock(path)
    lock.__enter__()
    return lock


def _clear_run(path: Path) -> bool:
    """Remove what a run leaves before its first checkpoint; whether there was anything.

    config.json goes last, so a run killed while clearing is still seen as started next time.
    """
    found = [p for p in [path / n for n in (*_RUN_DIRS, *_RUN_FILES)] if p.exists()]
    for item in found:
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    return bool(found)


def _model_config(model: torch.nn.Module) -> dict[str, Any]:
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ConfigError(f"model {type(model).__name__} has no config.to_dict(); it cannot be saved in a run")
    return config.to_dict()
