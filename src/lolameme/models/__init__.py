"""GPT-2, Hyena and THEX hybrid language models (issue 5; see docs/models.md).

    from lolameme.models import build_model
    model = build_model("thex-tiny-3", vocab_size=V, max_seq_len=256)
    logits = model(idx)  # [B, T] token ids -> [B, T, V] float32 logits
"""

from lolameme.models.build import build_model, list_presets, model_from_config, resolve_config
from lolameme.models.config import LayerSpec, ModelConfig, format_layers, parse_layers
from lolameme.models.io import load_model, save_model
from lolameme.models.stack import StackModel

__all__ = [
    "LayerSpec",
    "ModelConfig",
    "StackModel",
    "build_model",
    "format_layers",
    "list_presets",
    "load_model",
    "model_from_config",
    "parse_layers",
    "resolve_config",
    "save_model",
]
