"""Save and load a model's weights with its config, as one safetensors file.

The config travels in the file's metadata (key ``lolameme.model_config``, JSON),
so ``load_model(path)`` needs nothing else. Files are written to a temporary
name in the same directory and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from lolameme.atomic import atomic_path
from lolameme.errors import CheckpointError
from lolameme.models.build import model_from_config
from lolameme.models.stack import StackModel

CONFIG_KEY = "lolameme.model_config"


def save_model(model: StackModel, path: str | Path) -> Path:
    """Write the model's parameters (contiguous, on CPU) and config to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in model.state_dict().items()}
    metadata = {CONFIG_KEY: json.dumps(model.config.to_dict(), sort_keys=True)}
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata=metadata)
    return path


def load_model(path: str | Path, device: str | torch.device = "cpu") -> StackModel:
    """Rebuild the model saved by :func:`save_model` and load its weights exactly."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file {path} does not exist")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"model file {path} is not a readable safetensors file: {exc}") from None
    if CONFIG_KEY not in metadata:
        raise CheckpointError(f"model file {path} has no {CONFIG_KEY!r} metadata; was it written by save_model?")
    with torch.device("meta"):  # no memory and no initialisation: every tensor comes from the file
        model = model_from_config(json.loads(metadata[CONFIG_KEY]))
    missing, unexpected = model.load_state_dict(tensors, strict=False, assign=True)
    if missing or unexpected:
        raise CheckpointError(
            f"model file {path} does not match its config: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    return model
