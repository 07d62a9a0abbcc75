"""Reading and overwriting a model's residual stream through forward hooks, without touching its code.

The residual stream is indexed by *stream*: stream 0 enters the first layer (token and position
embeddings), stream ``l + 1`` leaves layer ``l``. Any model that takes ``idx [B, T]``, returns logits
``[B, T, V]`` and keeps its blocks in ``model.layers`` works: GPT-2, Hyena and THEX stacks alike,
and the hand-built models of the tests. Attention weights come from mixers that offer
``attention_weights(x)``; layers without one (Hyena) have none, and the analysis says so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from lolameme.errors import ModelError


def model_layers(model: nn.Module) -> nn.ModuleList:
    """The model's blocks in order; a model without ``layers`` cannot be analysed layer by layer."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, nn.ModuleList) or len(layers) == 0:
        raise ModelError(f"{type(model).__name__} keeps no blocks in .layers; analysis needs a layered model")
    return layers


def attention_layers(model: nn.Module) -> dict[int, nn.Module]:
    """Layer index -> its attention mixer, for the layers that have one."""
    found = {}
    for index, block in enumerate(model_layers(model)):
        for module in block.modules():
            if callable(getattr(module, "attention_weights", None)):
                found[index] = module
                break
    return found


@contextlib.contextmanager
def _hooks(handles: list) -> Iterator[None]:
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _stream_hook(model: nn.Module, stream: int, change) -> torch.utils.hooks.RemovableHandle:
    """Hook that calls ``change(x) -> x or None`` on stream ``stream``."""
    layers = model_layers(model)
    if stream == 0:
        def pre(_module, args):
            new = change(args[0])
            return None if new is None else (new, *args[1:])
        return layers[0].register_forward_pre_hook(pre)

    def post(_module, _args, output):
        return change(output)
    return layers[stream - 1].register_forward_hook(post)


@torch.inference_mode()
def residual_streams(model: nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits and the residual stream at every depth: a list of ``n_layers + 1`` tensors [B, T, D_l]."""
    n = len(model_layers(model)) + 1
    streams: list[torch.Tensor | None] = [None] * n

    def keep(stream):
        def change(x):
            streams[stream] = x.detach()
        return change
    with _hooks([_stream_hook(model, s, keep(s)) for s in range(n)]):
        logits = model(ids)
    return logits, streams  # type: ignore[return-value]


@torch.inference_mode()
def patched_logits(model: nn.Module, ids: torch.Tensor, stream: int, mask: torch.Tensor,
                   source: torch.Tensor) -> torch.Tensor:
    """Logits of ``ids`` with stream ``stream`` replaced by ``source`` wherever ``mask`` [B, T] is set."""
    def change(x):
        return torch.where(mask[..., None], source.to(x.dtype), x)
    with _hooks([_stream_hook(model, stream, change)]):
        return model(ids)


@torch.inference_mode()
def attention_maps(model: nn.Module, ids: torch.Tensor) -> dict[int, torch.Tensor]:
    """Layer index -> attention weights [B, H, T, T] of that layer on ``ids`` (attention layers only)."""
    mixers = attention_layers(model)
    inputs: dict[int, torch.Tensor] = {}

    def keep(index):
        def pre(_module, args):
            inputs[index] = args[0].detach()
        return pre
    with _hooks([mixer.register_forward_pre_hook(keep(i)) for i, mixer in mixers.items()]):
        model(ids)
    return {i: mixers[i].attention_weights(inputs[i]) for i in mixers}
