"""Which samples train together, and how they become tensors.

* :class:`SampleSet` -- the samples a stage trains on: row indices into a
  :class:`~lolameme.train.cache.TokenCache`, after the held-out validation rows,
  the stage's row filter and the over-length policy have been applied.
* :func:`epoch_batches` -- length bucketing: each epoch is a seeded shuffle, cut
  into windows of ``bucket_batches`` batches, each window sorted by length and
  cut into batches, and the batch order shuffled again. Samples of similar
  length share a batch, so little compute goes to padding, while the order
  stays random. The batch list of epoch ``e`` is a pure function of
  ``(seed, e)``, so a resumed run finds its place from two integers.
* :func:`collate` -- pads a list of samples into model inputs, next-token
  targets and masks of which targets are answer tokens and which are program
  tokens (the loss module weighs them).
* :func:`length_sorted_batches` -- fixed-order batches of similar length, for
  scoring and decoding (no shuffle: every row once, longest first).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lolameme.errors import DatasetError, ModelError
from lolameme.train.cache import TokenCache
from lolameme.train.format import answer_weights


@dataclass
class SampleSet:
    """Samples of one cache, selected by ``rows``; over-long ones are cut to ``max_len`` tokens."""

    cache: TokenCache
    rows: np.ndarray  # indices into the cache
    max_len: int  # most tokens a sample may have: the model's context + 1 (the last token is only a target)
    sep_id: int

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> np.ndarray:
        return np.minimum(self.cache.lengths[self.rows], self.max_len)

    @property
    def answer_starts(self) -> np.ndarray:
        """Index of the first answer token of each sample, after truncation."""
        full = self.cache.lengths[self.rows]
        start = self.cache.answer_start[self.rows].astype(np.int64)
        return np.where(full > self.max_len, self.max_len - (full - start), start)

    @property
    def final_starts(self) -> np.ndarray:
        """Index of the first token of each sample's final answer (after its trace), after truncation."""
        full = self.cache.lengths[self.rows]
        final = self.cache.final_start[self.rows].astype(np.int64)
        return np.where(full > self.max_len, self.max_len - (full - final), final)

    def sample(self, position: int) -> tuple:
        """Token ids and answer start of the sample at ``position``, truncated if it is too long.

        Truncation keeps ``<bos>``, the first program tokens, ``<sep>`` and the whole answer. A trace
        sample of a cache with loss weights (``cache.answer_weights``) carries them as a third element.
        """
        row = int(self.rows[position])
        ids = self.cache.sample(row)
        start = int(self.cache.answer_start[row])
        if len(ids) > self.max_len:
            n_answer = len(ids) - start
            keep = self.max_len - n_answer  # prompt tokens kept, <sep> included
            ids, start = np.concatenate([ids[: keep - 1], [self.sep_id], ids[start:]]).astype(ids.dtype), keep
        final = start + int(self.cache.final_start[row]) - int(self.cache.answer_start[row])
        weights = self.cache.answer_weights
        if final == start or weights == (1.0, 1.0):
            return ids, start
        return ids, start, answer_weights(len(ids), start, final, *weights)


def select_samples(
    cache: TokenCache,
    rows: np.ndarray,
    *,
    max_len: int,
    overlength: str,
    sep_id: int,
    where: str = "",
) -> tuple[SampleSet, dict[str, int]]:
    """Apply the over-length policy (``filter``, ``truncate`` or ``error``) to ``rows``.

    Returns the sample set and counts for the log: ``overlength`` (samples longer than the
    context), ``dropped`` (removed) and ``truncated`` (kept in shortened form).
    """
    rows = np.asarray(rows, dtype=np.int64)
    lengths = cache.lengths[rows]
    too_long = lengths > max_len
    n_long = int(too_long.sum())
    counts = {"overlength": n_long, "dropped": 0, "truncated": 0}
    if n_long and overlength == "error":
        raise DatasetError(
            f"{where or cache.directory}: {n_long} of {len(rows)} samples have more than {max_len - 1} input tokens "
            f"(the longest has {int(lengths.max())}); set overlength to 'filter' or 'truncate', or raise max_seq_len"
        )
    if overlength == "truncate":
        answer_tokens = lengths - cache.answer_start[rows]
        fits = answer_tokens + 2 <= max_len  # <bos> and <sep> must survive next to the whole answer
        counts["truncated"] = int((too_long & fits).sum())
        keep = fits
    else:
        keep = ~too_long
    counts["dropped"] = int((~keep).sum())
    return SampleSet(cache, rows[keep], max_len, sep_id), counts


def epoch_batches(lengths: np.ndarray, batch_size: int, bucket_batches: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Positions of every batch of one epoch, grouped by length (see module docstring).

    Every sample appears once per epoch; when the count is not a multiple of ``batch_size``
    the last batch is filled up with samples from the start of the shuffle.
    """
    n = len(lengths)
    if n == 0:
        raise DatasetError("no training samples left after filtering")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    short = -n % batch_size
    if short:
        order = np.concatenate([order, np.resize(order, short)])
    window = batch_size * bucket_batches
    batches: list[np.ndarray] = []
    for begin in range(0, len(order), window):
        chunk = order[begin : begin + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


@dataclass
class Batch:
    """Model inputs and next-token targets of several samples, padded to one length."""

    inputs: torch.Tensor  # [B, T] token ids, <pad> after the end of each sample
    targets: torch.Tensor  # [B, T] next token at each input position
    answer_mask: torch.Tensor  # [B, T] bool: target is an answer token (incl. <eos>)
    program_mask: torch.Tensor  # [B, T] bool: target is a program token or <sep>
    weights: torch.Tensor | None = None  # [B, T] float: per-target loss weight (None: all 1), see collate

    @property
    def n_tokens(self) -> int:
        return int((self.answer_mask | self.program_mask).sum())

    def to(self, device: torch.device) -> Batch:
        moved = [t.to(device, non_blocking=True) for t in (self.inputs, self.targets, self.answer_mask, self.program_mask)]
        return Batch(*moved, None if self.weights is None else self.weights.to(device, non_blocking=True))


def collate(samples: list[tuple], pad_id: int) -> Batch:
    """Pad samples ``(ids, answer_start)`` into a :class:`Batch`; input length = longest sample - 1.

    A sample may carry a third element, per-token loss weights aligned with ``ids`` (the weight
    of ``ids[i]`` as a target); the sample layout (:mod:`lolameme.train.format`) decides them,
    e.g. to weigh some fields of an answer more than others. Without them every weight is 1.
    """
    width = max(len(s[0]) for s in samples) - 1
    tokens = np.full((len(samples), width + 1), pad_id, dtype=np.int64)
    answer = np.zeros((len(samples), width), dtype=bool)
    program = np.zeros((len(samples), width), dtype=bool)
    weighted = any(len(s) > 2 and s[2] is not None for s in samples)
    weights = np.ones((len(samples), width), dtype=np.float32) if weighted else None
    for b, sample in enumerate(samples):
        ids, start = sample[0], sample[1]
        n = len(ids)
        tokens[b, :n] = ids
        program[b, : start - 1] = True  # targets ids[1 : start]: the program tokens and <sep>
        answer[b, start - 1 : n - 1] = True  # targets ids[start : n]: the answer and <eos>
        if weights is not None and len(sample) > 2 and sample[2] is not None:
            weights[b, : n - 1] = sample[2][1:n]
    tokens_t = torch.from_numpy(tokens)
    return Batch(tokens_t[:, :-1].contiguous(), tokens_t[:, 1:].contiguous(), torch.from_numpy(answer),
                 torch.from_numpy(program), None if weights is None else torch.from_numpy(weights))


def target_counts(lengths: np.ndarray, answer_starts: np.ndarray) -> tuple[int, int]:
    """Answer and program target counts of samples with these lengths and answer starts."""
    n_answer = int((lengths - answer_starts).sum())
    n_program = int((answer_starts - 1).sum())
    return n_answer, n_program


def padding_counts(chunks: list[np.ndarray]) -> tuple[int, int]:
    """Padded and total input positions when each array of lengths in ``chunks`` is one padded batch."""
    padded = total = 0
    for lengths in chunks:
        width = int(lengths.max()) - 1
        total += width * len(lengths)
        padded += int((width - (lengths - 1)).sum())
    return padded, total


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    """Row indices in batches of similar length (longest first, so memory peaks early)."""
    if batch_size < 1:
        raise ModelError(f"batch size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def check_fits(length: int, context: int | None, what: str) -> None:
    """A :class:`ModelError` when ``what`` needs more positions than the model's ``context``."""
    if context is not None and length > context:
        raise ModelError(f"{what} needs {length} positions but the model's context is {context}; "
                         "shorten the input or pass fewer new tokens")
