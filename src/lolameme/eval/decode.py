"""Batched greedy decoding and teacher-forced scoring of causal language models.

The models of the zoo take ``idx[B, T]`` and return ``logits[B, T, V]`` with
no attention mask, so padding must never change what a real token sees. We
get that for free from causality: pad on the *right* and read each row's
logits at its own last real position. A causal model's output at position t
depends only on tokens 0..t, so the pads behind it are invisible, and rows of
different lengths share one batch. Sorting prompts by length first keeps the
padding (wasted compute) small. ``tests/eval/test_decode.py`` checks, for every
model family, that batched decoding gives the same tokens as one-by-one
decoding, which would catch a model that is not truly causal.

Decoding recomputes the whole prefix at every step (no KV cache): answers are
a handful of tokens, and this works for attention and Hyena layers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from lolameme.errors import ModelError


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Row indices in batches of similar length (longest first, so memory peaks early)."""
    if batch_size < 1:
        raise ModelError(f"batch size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def _right_padded(rows: Sequence[Sequence[int]], width: int, pad_id: int, device: torch.device) -> torch.Tensor:
    out = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for r, ids in enumerate(rows):
        out[r, :len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
    return out.to(device)


def _check_fits(length: int, context: int | None, what: str) -> None:
    if context is not None and length > context:
        raise ModelError(f"{what} needs {length} positions but the model's context is {context}; "
                         "shorten the input or pass fewer new tokens")


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
        _check_fits(width - 1, context, "decoding")
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


@torch.inference_mode()
def teacher_forced_scores(model: torch.nn.Module, sequences: Sequence[Sequence[int]],
                          answer_starts: Sequence[int], *, pad_id: int = 0, batch_size: int = 64,
                          context: int | None = None, device: torch.device | str | None = None,
                          on_batch: Callable[[int], None] | None = None
                          ) -> tuple[list[int], list[int], list[float]]:
    """Per sample: (answer tokens predicted right, answer tokens, summed cross-entropy in nats).

    The answer tokens are ``sequence[answer_start:]`` (the answer and its
    ``<eos>``); each is predicted from everything before it, as in training.
    """
    if len(sequences) != len(answer_starts):
        raise ModelError(f"{len(sequences)} sequences but {len(answer_starts)} answer starts")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    n = len(sequences)
    n_correct, n_tokens, loss_sum = [0] * n, [0] * n, [0.0] * n
    lengths = [len(s) for s in sequences]
    model.eval()
    for batch in length_sorted_batches(lengths, batch_size):
        width = max(lengths[i] for i in batch)
        _check_fits(width, context, "teacher forcing")
        tokens = _right_padded([sequences[i] for i in batch], width, pad_id, device)
        logits = model(tokens).float()
        for r, i in enumerate(batch):
            a, end = answer_starts[i], lengths[i]
            if not 0 < a <= end:
                raise ModelError(f"answer start {a} outside sequence {i} of length {end}")
            row_logits, targets = logits[r, a - 1:end - 1], tokens[r, a:end]
            n_correct[i] = int((row_logits.argmax(-1) == targets).sum())
            n_tokens[i] = end - a
            loss_sum[i] = float(F.cross_entropy(row_logits, targets, reduction="sum"))
        if on_batch is not None:
            on_batch(len(batch))
    return n_correct, n_tokens, loss_sum
