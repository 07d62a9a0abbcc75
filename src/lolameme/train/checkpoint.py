"""Run directories and checkpoints: written atomically, loaded without unpickling.

Layout of a run directory (see ``design.md``)::

    RUN/config.json              resolved config: {"train": ..., "model": ..., "tokenizer": ..., "data": ...}
    RUN/tokenizer.json           Hugging Face tokenizer file
    RUN/checkpoints/step-N/      model.safetensors, state.pt (optimizer + RNG), meta.json (counters, data position)
    RUN/best/                    model.safetensors, meta.json of the best validation score so far
    RUN/metrics.jsonl            one JSON object per log event

Checkpoints get shared between people, so loading never runs pickled code:
weights are safetensors, the optimizer and RNG state are loaded with
``torch.load(weights_only=True)`` and everything else is JSON. Every directory is
written under a temporary name and renamed into place, so a crash leaves
either the old checkpoint or the new one, never half of one; its ``meta.json``
records the sha256 of the other files and the step, checked on every load.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors import safe_open
from safetensors.torch import load_model, save_model

from lolameme.atomic import atomic_dir
from lolameme.data.io import sha256_file
from lolameme.errors import CheckpointError, LolamemeError
from lolameme.tokenizers import Tokenizer, load_tokenizer

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINTS_DIR = "checkpoints"
BEST_DIR = "best"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "state.pt"
META_FILE = "meta.json"
FILES_KEY = "files"  # meta.json: file name -> sha256, written with the checkpoint
STEP_KEY = "step"  # in the safetensors header and state.pt: the step the weights belong to


@dataclass
class LoadedRun:
    """A trained model ready for inference, with what is needed to feed it."""

    model: torch.nn.Module
    tokenizer: Tokenizer
    config: dict[str, Any]  # config.json: "train" (TrainConfig keys), "model", "tokenizer", "data"
    step: int

    @property
    def reverse_answer(self) -> bool:
        """Whether the model writes answers with reversed digits (see :mod:`lolameme.train.format`)."""
        return bool(self.config.get("train", {}).get("reverse_answer", False))


def read_json(path: Path, what: str) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{what} {path} is not valid JSON: {exc}") from exc


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints in ``run_dir``, ascending."""
    root = Path(run_dir) / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    steps = []
    for child in root.iterdir():
        if child.name.startswith("step-") and (child / META_FILE).is_file():
            try:
                steps.append(int(child.name[len("step-") :]))
            except ValueError:
                continue
    return sorted(steps)


def checkpoint_dir(run_dir: Path, which: Literal["best", "last"] | int) -> Path:
    """The directory of checkpoint ``which`` in ``run_dir``; CheckpointError if there is none."""
    run_dir = Path(run_dir)
    if which == "best":
        path = run_dir / BEST_DIR
        if not (path / META_FILE).is_file():
            raise CheckpointError(
                f"{run_dir} has no best checkpoint yet (written after the first validation or at the end "
                "of training); use which='last' or a step number"
            )
        return path
    steps = checkpoint_steps(run_dir)
    if which == "last":
        if not steps:
            raise CheckpointError(f"{run_dir} has no checkpoints in {run_dir / CHECKPOINTS_DIR}")
        return run_dir / CHECKPOINTS_DIR / f"step-{steps[-1]}"
    if isinstance(which, int) and not isinstance(which, bool):
        if which not in steps:
            raise CheckpointError(f"{run_dir} has no checkpoint at step {which}; available steps: {steps}")
        return run_dir / CHECKPOINTS_DIR / f"step-{which}"
    raise CheckpointError(f"checkpoint {which!r} not understood; accepted: 'best', 'last' or a step number")


def save_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    meta: dict[str, Any],
    state: dict[str, Any] | None = None,
    *,
    best: bool = False,
    keep_last: int | None = None,
) -> Path:
    """Write weights, ``state`` (tensors and plain values only) and ``meta`` (JSON) atomically.

    ``best=True`` writes RUN/best (weights and meta only); otherwise RUN/checkpoints/step-<meta['step']>,
    after which all but the newest ``keep_last`` step checkpoints are deleted. ``meta.json`` is
    written last and records the sha256 of every other file and the step the weights belong to,
    so a loader can tell a checkpoint that was damaged or assembled from two steps.
    """
    run_dir = Path(run_dir)
    final = run_dir / BEST_DIR if best else run_dir / CHECKPOINTS_DIR / f"step-{meta['step']}"
    final.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(final, replace=True) as tmp:
        save_model(model, str(tmp / WEIGHTS_FILE), metadata={STEP_KEY: str(meta["step"])})
        if state is not None:
            torch.save({**state, "step": int(meta["step"])}, tmp / STATE_FILE)
        files = {name: sha256_file(tmp / name) for name in (WEIGHTS_FILE, STATE_FILE) if (tmp / name).is_file()}
        (tmp / META_FILE).write_text(json.dumps({**meta, FILES_KEY: files}, indent=2) + "\n", encoding="utf-8")
    if not best and keep_last is not None:
        for step in checkpoint_steps(run_dir)[:-keep_last]:
            shutil.rmtree(run_dir / CHECKPOINTS_DIR / f"step-{step}", ignore_errors=True)
    return final


def verify_checkpoint(directory: Path) -> dict[str, Any]:
    """The checkpoint's meta, after checking its files against the sha256 digests and the step it records.

    A checkpoint without recorded digests (written before they existed) is accepted as it is.
    """
    directory = Path(directory)
    meta = load_meta(directory)
    recorded = meta.get(FILES_KEY) or {}
    if not isinstance(recorded, dict) or not isinstance(meta.get("step"), int):
        raise CheckpointError(f"{directory / META_FILE} is not checkpoint metadata (needs an integer 'step' "
                              f"and '{FILES_KEY}' mapping file names to sha256 digests)")
    for name, expected in recorded.items():
        path = directory / name
        if name not in (WEIGHTS_FILE, STATE_FILE) or not path.is_file():
            raise CheckpointError(f"checkpoint {directory} lists {name!r} but it is missing; the checkpoint is incomplete")
        if sha256_file(path) != expected:
            raise CheckpointError(f"checkpoint file {path} does not match the sha256 recorded in {META_FILE}; "
                                  "it was changed or damaged after it was written")
    return meta


def load_weights(model: torch.nn.Module, directory: Path, step: int | None = None) -> None:
    """Load ``directory/model.safetensors`` into ``model``; shape or name mismatches raise CheckpointError.

    With ``step``, weights that record another step (copied in from another checkpoint) are refused.
    """
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint weights {path} do not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            recorded = (handle.metadata() or {}).get(STEP_KEY)
        load_model(model, str(path), strict=True)
    except Exception as exc:  # safetensors raises several kinds for corrupt or mismatched files
        raise CheckpointError(f"cannot load weights from {path}: {exc}") from None
    if step is not None and recorded is not None and recorded != str(step):
        raise CheckpointError(f"{path} holds the weights of step {recorded}, not of step {step} as its "
                              f"checkpoint says; the checkpoint was assembled from two steps")


def load_state(directory: Path) -> dict[str, Any]:
    """``state.pt`` of a step checkpoint, loaded with ``weights_only=True`` (no arbitrary unpickling).

    A file that would need more than tensors and plain values is refused in one line: such a
    file can run code when unpickled, so no option here loads it.
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"checkpoint state {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+)", str(exc))
        what = f" (it references {found.group(1)})" if found else ""
        raise CheckpointError(f"checkpoint state {path} holds more than tensors and plain values{what}; "
                              "refused: loading it could run code") from None
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"cannot load checkpoint state {path}: {first}") from None


def load_meta(directory: Path) -> dict[str, Any]:
    return read_json(Path(directory) / META_FILE, "checkpoint metadata")


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """RUN/config.json, the resolved configuration of a run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {run_dir} does not exist")
    config = read_json(run_dir / CONFIG_FILE, "run config")
    if not isinstance(config, dict) or "model" not in config or "train" not in config:
        raise CheckpointError(f"{run_dir / CONFIG_FILE} is not a lolameme run config (needs 'train' and 'model')")
    return config


def load_run(run_dir: str | Path, which: Literal["best", "last"] | int = "best") -> LoadedRun:
    """Rebuild the model of a run from its config and load checkpoint ``which`` into it (CPU, eval mode)."""
    from lolameme.models import model_from_config

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    directory = checkpoint_dir(run_dir, which)
    tokenizer = load_tokenizer(run_dir / TOKENIZER_FILE)
    try:
        model = model_from_config(config["model"])
    except LolamemeError as exc:
        raise CheckpointError(f"{run_dir / CONFIG_FILE}: cannot rebuild the model: {exc}") from exc
    if tokenizer.vocab_size > _vocab_size(model, config):
        raise CheckpointError(
            f"{run_dir}: tokenizer has {tokenizer.vocab_size} tokens but the model only {_vocab_size(model, config)}"
        )
    meta = verify_checkpoint(directory)
    load_weights(model, directory, meta["step"])
    model.eval()
    return LoadedRun(model=model, tokenizer=tokenizer, config=config, step=meta["step"])


def _vocab_size(model: torch.nn.Module, config: dict[str, Any]) -> int:
    size = config["model"].get("vocab_size")
    if size is None:
        size = getattr(getattr(model, "config", None), "vocab_size", None)
    return int(size) if size is not None else 1 << 62
