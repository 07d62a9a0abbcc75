"""A local ``transformers`` causal LM behind the interface our scorer reads (``hf`` extra).

The evaluator calls ``model(idx)`` for logits and reads ``model.config.vocab_size``
and ``model.config.max_seq_len``; :class:`TransformersLM` gives any
``AutoModelForCausalLM`` exactly that, so ``lolameme eval --hf-model DIR``
scores it with the same greedy decoding, exact match and slices as our runs.
The prompt layout is ours (``<bos> input <sep>``), so DIR must hold the
lolameme ``tokenizer.json`` the model was trained with, as
``lolameme export --to hf`` writes it.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from lolameme.errors import ModelError
from lolameme.models.hub import require_hf
from lolameme.tokenizers import Tokenizer, load_tokenizer


class TransformersLM(nn.Module):
    """``forward(idx) -> float logits`` around a transformers causal LM; no cache, no attention mask (as ours)."""

    def __init__(self, model: Any):
        super().__init__()
        self.model = model
        hf = model.config
        context = getattr(hf, "n_positions", None) or getattr(hf, "max_position_embeddings", None)
        self.config = SimpleNamespace(vocab_size=hf.vocab_size, max_seq_len=context)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=idx, use_cache=False).logits.float()


def load_transformers_lm(directory: Path) -> tuple[TransformersLM, Tokenizer]:
    """The model and lolameme tokenizer of a local transformers directory (no network)."""
    transformers = require_hf("transformers")
    if not (directory / "config.json").is_file():
        raise ModelError(f"--hf-model {directory}: no config.json, so not a transformers model directory")
    tokenizer = load_tokenizer(directory / "tokenizer.json")
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(directory), local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"--hf-model {directory}: transformers cannot load a causal LM from it: {exc}") from None
    return TransformersLM(model.eval()), tokenizer
