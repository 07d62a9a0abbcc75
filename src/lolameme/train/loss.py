"""The training objective: which target tokens count, and how much.

* ``answer`` -- mean cross-entropy over the answer tokens (``<eos>`` included); the
  paper's task is to produce the answer, so this is the default.
* ``full`` -- mean over every target token: the plain causal-LM objective.
* ``weighted`` -- ``answer_weight * mean(answer) + (1 - answer_weight) * mean(program)``.
  A plain per-token mean over the whole sequence lets the program drown the answer
  (on base LOLAMEME programs about 28 program tokens per answer token); weighting the
  two means keeps the answer's share fixed whatever the program length.

Means are over all the target tokens of one optimizer step -- every micro-batch on
every rank -- so gradient accumulation and data parallelism give the same update as
one big batch. The caller passes those totals; they are known before the forward
pass from the sample lengths alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from lolameme.train.batching import Batch


@dataclass(frozen=True)
class StepTotals:
    """Target-token counts of a whole optimizer step (all micro-batches, all ranks)."""

    n_answer: int
    n_program: int


def token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of every position, in float32, shape [B, T]."""
    flat = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="none")
    return flat.view(targets.shape)


def step_loss(
    ce: torch.Tensor, batch: Batch, totals: StepTotals, loss: str, answer_weight: float = 0.5
) -> torch.Tensor:
    """This micro-batch's share of the step's loss (summing the shares gives the step's loss).

    Per-token weights from the batch (``batch.weights``) scale each token's cross-entropy;
    the means still divide by token counts, so a weight of 2 counts a token twice.
    """
    if batch.weights is not None:
        ce = ce * batch.weights
    answer_sum = (ce * batch.answer_mask).sum()
    program_sum = (ce * batch.program_mask).sum()
    if loss == "answer":
        return answer_sum / max(totals.n_answer, 1)
    if loss == "full":
        return (answer_sum + program_sum) / max(totals.n_answer + totals.n_program, 1)
    if loss == "weighted":
        return answer_weight * answer_sum / max(totals.n_answer, 1) + (1 - answer_weight) * program_sum / max(
            totals.n_program, 1
        )
    raise ValueError(f"unknown loss {loss!r}")
