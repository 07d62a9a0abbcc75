"""Batched greedy decoding of causal language models (teacher-forced scores: :mod:`lolameme.train.scoring`).

The models of the zoo take ``idx[B, T]`` and return ``logits[B, T, V]`` with
no attention mask, so padding must never change what a real token sees. We
get that for free from causality: pad on the *right* and read each row's
logits at its own last real position. A causal model's output at position t
depends only on tokens 0..t, so the pads behind it are invisible, and rows of
different lengths share one batch. Sorting prompts by length first keeps the
padding (wasted compute) small. ``tests/eval/test_eval_decode.py`` checks, for every
model family, that batched decoding gives the same tokens as one-by-one
decoding, which would catch a model that is not truly causal.

Decoding recomputes the whole prefix at every step (no KV cache): answers are
a handful of tokens, and this works for attention and Hyena layers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from lolameme.errors import ModelError
from lolameme.train.batching import check_fits, length_sorted_batches


def _right_padded(rows: Sequence[Sequence[int]], width: int, pad_id: int, device: torch.device) -> torch.Tensor:
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for r, ids in enumerate(rows):
        out[r, :len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
    return out.to(device)


@torch.inference_mode()
def greedy_decode(model: torch.nn.Module, prompts: Sequence[Sequence[int]], *, eos_id: int,
                  max_new_tokens: int, pad_id: int = 0, batch_size: int = 64,
                  context: int | None = None, device: torch.device | str | None = None,
                  on_batch: Callable[[int], None] | None = None) -> list[list[int]]:
    """Greedy continuations of ``prompts``: the new token ids, up to and without ``<eos>``.

    A row stops at its first ``<eos>`` or after ``max_new_tokens`` tokens. Every
    prompt plus ``max_new_tokens`` must fit in ``context`` (the caller crops
    prompts, because it knows which end of an input matters). ``on_batch`` is
    called with the number of rows finished, for progress bars.
    """
    if max_new_tokens < 1:
        raise ModelError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    results: list[list[int]] = [[] for _ in prompts]
    lengths = [len(p) for p in prompts]
    if any(n == 0 for n in lengths):
        raise ModelError("cannot decode from an empty prompt; every prompt needs at least <bos>")
    model.eval()
    for batch in length_sorted_batches(lengths, batch_size):
        start = torch.tensor([lengths[i] for i in batch], device=device)
        width = int(start.max()) + max_new_tokens
        check_fits(width - 1, context, "decoding")
        tokens = _right_padded([prompts[i] for i in batch], width, pad_id, device)
        rows = torch.arange(len(batch), device=device)
        finished = torch.zeros(len(batch), dtype=torch.bool, device=device)
        for step in range(max_new_tokens):
            end = start + step  # where each row's next token goes
            logits = model(tokens[:, :int(end.max())])
            next_ids = logits[rows, end - 1].argmax(dim=-1)
            tokens[rows, end] = torch.where(finished, torch.full_like(next_ids, pad_id), next_ids)
            finished |= next_ids == eos_id
            if bool(finished.all()):
                break
        for r, i in enumerate(batch):
            new = tokens[r, lengths[i]:lengths[i] + max_new_tokens].tolist()
            results[i] = new[:new.index(eos_id)] if eos_id in new else new
        if on_batch is not None:
            on_batch(len(batch))
    return results
