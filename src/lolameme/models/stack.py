"""The one model class: token embedding -> a stack of blocks -> tied output head.

Any layer specification builds here: pure GPT-2, pure Hyena, the paper's
THEX (one GPT-2 layer inside a Hyena stack) and any other interleaving. Where
the residual stream arriving at a layer has another width than the layer, a
linear adapter (with bias) maps it; the stream leaves the stack through
another adapter if the last layer's width differs from the embedding's. So
THEX-n at paper scale is::

    embed(864) -> hyena x n -> Linear(864->768) -> gpt2(768) -> Linear(768->864) -> hyena x (17-n) -> LN -> head

Initialisation (GPT-2's): every Linear and Embedding weight ~ N(0, 0.02),
biases 0, and the projections that write into the residual stream
(each mixer family lists its own: attention ``proj``, Hyena ``out_proj``,
Mamba ``out_proj``; and MLP ``fc_out``) ~ N(0, 0.02 / sqrt(2 n_layer)), so the stream's variance does not grow with depth.
Adapters are initialised (semi-)orthogonal instead, so the stream keeps its
scale across a width change rather than shrinking by ~0.6 at each. Last, a
mixer with a ``post_init()`` method sets what its family initialises its own
way (Mamba's time-step projection).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lolameme.errors import ModelError
from lolameme.models.blocks import build_block
from lolameme.models.config import ModelConfig
from lolameme.models.registry import get_mixer


class StackModel(nn.Module):
    """A causal language model built from a :class:`ModelConfig`; ``forward(idx) -> logits``."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        d_embed = config.d_embed
        self.token_embedding = nn.Embedding(config.padded_vocab_size, d_embed)
        self.position_embedding = (
            nn.Embedding(config.max_seq_len, d_embed) if config.pos_encoding == "learned" else None
        )
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList()
        # "into_<n>": the adapter in front of layer n; "into_head": after the last layer.
        self.adapters = nn.ModuleDict()
        width = d_embed
        for index, layer in enumerate(config.layer_specs):
            if layer.width != width:
                self.adapters[f"into_{index}"] = nn.Linear(width, layer.width)
            self.layers.append(build_block(layer, config))
            width = layer.width
        if width != d_embed:
            self.adapters["into_head"] = nn.Linear(width, d_embed)
        self.ln_f = nn.LayerNorm(d_embed, eps=config.layer_norm_eps)
        self.reset_parameters()

    # -- construction ----------------------------------------------------------------
    @torch.no_grad()
    def reset_parameters(self) -> None:
        """(Re)initialise every weight, GPT-2 style (see the module docstring)."""
        if self.token_embedding.weight.is_meta:  # shapes only (parameter counting)
            return
        std = self.config.init_std
        residual_std = std / math.sqrt(2 * len(self.layers))
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=std)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        residual = self.residual_projections()
        for name, parameter in self.named_parameters():
            if name in residual:
                nn.init.normal_(parameter, mean=0.0, std=residual_std)
        for adapter in self.adapters.values():
            nn.init.orthogonal_(adapter.weight)
        for block in self.layers:  # weights a family initialises its own way (Mamba's time steps)
            if hasattr(block.mixer, "post_init"):
                block.mixer.post_init()

    def residual_projections(self) -> set[str]:
        """Names of the weights that write into the residual stream: each mixer's own list, and MLP ``fc_out``."""
        names = set()
        for index, block in enumerate(self.layers):
            prefix = f"layers.{index}"
            names.update(f"{prefix}.mixer.{name}" for name in get_mixer(block.kind).residual_projections)
            if block.mlp is not None:
                names.add(f"{prefix}.mlp.fc_out.weight")
        known = dict(self.named_parameters())
        missing = sorted(names - set(known))
        if missing:
            raise ModelError(f"residual projections {missing} are not parameters of the model; check the mixer's residual_projections")
        return names

    def num_parameters(self) -> int:
        """Exact parameter count (tied embeddings once; Hyena's frozen positional features included)."""
        return sum(parameter.numel() for parameter in self.parameters())

    # -- Hugging Face layout (lolameme.models.hub) --------------------------------------
    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` (PyTorchModelHubMixin's layout)."""
        from lolameme.models.hub import save_pretrained

        return save_pretrained(self, directory)

    @classmethod
    def from_pretrained(cls, source: str | Path, device: str | torch.device = "cpu") -> "StackModel":
        """Load a save_pretrained directory, or a Hub repository id (needs the ``hf`` extra)."""
        from lolameme.models.hub import from_pretrained

        return from_pretrained(source, device)

    def push_to_hub(self, repo_id: str, private: bool = True) -> str:
        """Upload to the Hugging Face Hub (``hf`` extra, and a login); returns the commit URL."""
        from lolameme.models.hub import push_to_hub

        return push_to_hub(self, repo_id, private=private)

    # -- forward ---------------------------------------------------------------------
    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """idx: LongTensor [B, T] of token ids -> float32 logits [B, T, vocab_size]."""
        self._check_input(idx)
        seq_len = idx.shape[1]
        x = self.token_embedding(idx)
        if self.position_embedding is not None:
            x = x + self.position_embedding(torch.arange(seq_len, device=idx.device))
        x = self.dropout(x)
        for index, block in enumerate(self.layers):
            adapter = f"into_{index}"
            if adapter in self.adapters:
                x = self.adapters[adapter](x)
            x = block(x)
        if "into_head" in self.adapters:
            x = self.adapters["into_head"](x)
        x = self.ln_f(x)
        # Tied head; the padding rows of the embedding table never become logits.
        logits = F.linear(x, self.token_embedding.weight[: self.config.vocab_size])
        return logits.float()

    def _check_input(self, idx: torch.Tensor) -> None:
        if not isinstance(idx, torch.Tensor) or idx.dtype not in (torch.int64, torch.int32):
            kind = idx.dtype if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ModelError(f"model input must be an integer tensor of token ids [batch, seq_len], got {kind}")
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ModelError(f"model input must have shape [batch, seq_len] with seq_len >= 1, got {list(idx.shape)}")
        if idx.shape[1] > self.config.max_seq_len:
            raise ModelError(
                f"sequence of length {idx.shape[1]} is longer than the model's context "
                f"max_seq_len={self.config.max_seq_len}; truncate it or build the model with a larger max_seq_len"
            )
        # Range check only where it is cheap (no device sync); a GPU raises its own assert.
        if idx.device.type == "cpu" and idx.numel():
            low, high = int(idx.min()), int(idx.max())
            if low < 0 or high >= self.config.vocab_size:
                raise ModelError(
                    f"token ids must be in [0, {self.config.vocab_size}) for vocab_size={self.config.vocab_size}, "
                    f"got ids from {low} to {high}"
                )

    def extra_repr(self) -> str:
        return f"layers={self.config.layers!r}, d_embed={self.config.d_embed}, vocab_size={self.config.vocab_size}"
