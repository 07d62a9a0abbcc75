"""GPT-2, Hyena, THEX hybrids, Mamba and your own mixers (see docs/models.md).

    from lolameme.models import build_model
    model = build_model("thex-tiny-3", vocab_size=V, max_seq_len=256)
    logits = model(idx)  # [B, T] token ids -> [B, T, V] float32 logits

Names are loaded on first use (PEP 562), so ``import lolameme.models.cli``
(done by every ``lolameme`` command) does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "build_model": "lolameme.models.build",
    "list_presets": "lolameme.models.build",
    "model_from_config": "lolameme.models.build",
    "resolve_config": "lolameme.models.build",
    "LayerSpec": "lolameme.models.config",
    "ModelConfig": "lolameme.models.config",
    "format_layers": "lolameme.models.config",
    "parse_layers": "lolameme.models.config",
    "load_model": "lolameme.models.io",
    "save_model": "lolameme.models.io",
    "StackModel": "lolameme.models.stack",
    "check_causal": "lolameme.models.causality",
    "Mixer": "lolameme.models.registry",
    "MIXERS": "lolameme.models.registry",
    "get_mixer": "lolameme.models.registry",
    "mixer_names": "lolameme.models.registry",
    "register_mixer": "lolameme.models.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lolameme.models' has no attribute {name!r}")
