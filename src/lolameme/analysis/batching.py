"""Batches of annotated samples: right-padded ids plus the per-position masks every measure needs.

Causality makes right padding invisible to the real tokens (see :mod:`lolameme.eval.decode`), so
rows of different lengths share a batch; rows are grouped by length to keep padding small.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import pad_sequence

from lolameme.analysis.annotate import DEFINING_PARTS, ROLE, ROLES, Sample
from lolameme.train.batching import length_sorted_batches


@dataclass
class Batch:
    rows: list[int]                 # indices into the sample list
    ids: torch.Tensor               # [B, T] long, right-padded
    role: torch.Tensor              # [B, T] long, -1 on padding
    answer_start: torch.Tensor      # [B]
    length: torch.Tensor            # [B]
    rhs: torch.Tensor               # [B, T] bool, False on padding

    @property
    def sep(self) -> torch.Tensor:
        return self.answer_start - 1

    def answer_queries(self) -> torch.Tensor:
        """[B, T] bool: the positions whose next-token prediction is an answer token or ``<eos>``."""
        t = torch.arange(self.ids.shape[1])[None, :]
        return (t >= self.sep[:, None]) & (t < self.length[:, None] - 1)

    def role_onehot(self) -> torch.Tensor:
        """[B, T, R + 2] float: one column per role of :data:`ROLES`, zero rows on padding, then the
        defining statement split into its :data:`DEFINING_PARTS` (name and ``=``; the expression)."""
        onehot = torch.zeros(*self.role.shape, len(ROLES) + len(DEFINING_PARTS))
        real = self.role >= 0
        onehot[real, :len(ROLES)] = torch.nn.functional.one_hot(self.role[real], len(ROLES)).float()
        defining = self.role == ROLE["defining"]
        onehot[..., len(ROLES)] = (defining & ~self.rhs).float()
        onehot[..., len(ROLES) + 1] = (defining & self.rhs).float()
        return onehot


def make_batch(samples: Sequence[Sample], rows: list[int], pad_id: int, ids: Sequence = ()) -> Batch:
    """The batch of ``samples[rows]``; ``ids`` replaces their token ids (same lengths) where given."""
    chosen = [samples[r] for r in rows]
    tokens = list(ids) or [torch.as_tensor(s.ids) for s in chosen]
    return Batch(
        rows=list(rows),
        ids=pad_sequence([torch.as_tensor(t) for t in tokens], batch_first=True, padding_value=pad_id),
        role=pad_sequence([torch.as_tensor(s.role, dtype=torch.long) for s in chosen], batch_first=True,
                          padding_value=-1),
        answer_start=torch.tensor([s.answer_start for s in chosen]),
        length=torch.tensor([len(s.ids) for s in chosen]),
        rhs=pad_sequence([torch.as_tensor(s.rhs) for s in chosen], batch_first=True, padding_value=False),
    )


def batches(samples: Sequence[Sample], pad_id: int, batch_size: int) -> Iterator[Batch]:
    """All samples in length-sorted batches."""
    for rows in length_sorted_batches([len(s.ids) for s in samples], batch_size):
        yield make_batch(samples, rows, pad_id)


def answer_logprob(logits: torch.Tensor, ids: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
    """[B] log-probability of the tokens after the ``queries`` positions [B, T] (the answer and
    ``<eos>``, see :meth:`Batch.answer_queries`), teacher-forced."""
    targets = torch.roll(ids, -1, dims=1)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None])[..., 0]
    return (logp * queries).sum(dim=1)
