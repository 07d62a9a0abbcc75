"""Is a mixer causal? The check every registered mixer passes, callable on yours.

A language model's mixer may use only the past: its output at position t must
not change when any input after t changes. :func:`check_causal` builds the
mixer in float64, feeds it random inputs, replaces everything after t for a
few t, and compares. A leak of even one position is found (up to float64
round-off), and so is an output of the wrong shape.

    from lolameme.models import check_causal
    check_causal("my_mixers:GatedConv", width=32)   # raises ModelError if not causal
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from lolameme.errors import ModelError


def _mixer_module(mixer: Any, width: int, seq_len: int, options: dict[str, Any]) -> tuple[str, nn.Module]:
    """(a name for messages, the module) for a kind, a Mixer, an nn.Module class or instance."""
    from lolameme.models.registry import Mixer, get_mixer, mixer_from_class

    if isinstance(mixer, nn.Module):
        return type(mixer).__name__, mixer
    if isinstance(mixer, type):
        mixer = mixer_from_class(mixer, mixer.__name__)
    elif isinstance(mixer, str):
        mixer = get_mixer(mixer)
    if not isinstance(mixer, Mixer):
        raise ModelError(f"check_causal takes a mixer name, a Mixer, an nn.Module class or instance; got {mixer!r}")
    # The options every layer shares, as a short context with no positions and no dropout.
    shared = SimpleNamespace(max_seq_len=seq_len, dropout=0.0, pos_encoding="none", rotary_base=10000.0, layer_norm_eps=1e-5)
    resolved = mixer.resolve(options)
    if mixer.check is not None:
        mixer.check(width, resolved, shared)
    return mixer.name, mixer.build(width, resolved, shared)


@torch.no_grad()
def check_causal(mixer: Any, width: int = 32, seq_len: int = 16, batch: int = 2, seed: int = 0,
                 **options: Any) -> None:
    """Raise ModelError unless ``mixer``'s outputs up to t ignore its inputs after t.

    ``mixer``: a registered name, ``"package.module:ClassName"``, a Mixer, an
    ``nn.Module`` class (built as ``cls(width, **options)``) or a built module.
    """
    name, module = _mixer_module(mixer, width, seq_len, options)
    module = module.to(torch.float64).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seq_len, width, generator=generator, dtype=torch.float64)
    reference = module(x)
    if not isinstance(reference, torch.Tensor) or reference.shape != x.shape:
        got = tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
        raise ModelError(f"mixer {name!r}: forward(x) must return a tensor of x's shape {tuple(x.shape)}, got {got}")
    scale = reference.abs().max().item() or 1.0
    for t in sorted({0, seq_len // 3, seq_len // 2, seq_len - 2} - {-1}):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn(batch, seq_len - t - 1, width, generator=generator, dtype=torch.float64)
        leak = (module(changed)[:, : t + 1] - reference[:, : t + 1]).abs().max().item()
        if leak > 1e-9 * scale:
            raise ModelError(
                f"mixer {name!r} is not causal: its output at positions 0..{t} changed by up to {leak:.3g} "
                f"when only inputs after position {t} changed (width {width}, length {seq_len}); "
                "a language model's mixer may only look at the past"
            )
