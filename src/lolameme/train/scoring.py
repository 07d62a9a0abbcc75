"""Teacher-forced scores of each sample: the one scorer behind validation, curriculum gates and eval.

Under teacher forcing every answer token is predicted from the true prefix, all in one forward
pass. A sample is *exact* when every answer token (``<eos>`` included) is the argmax: that is
the condition for greedy decoding to write the answer, so it equals greedy exact match on the
same tokens at a fraction of the cost, which is why training selects its best weights and opens
curriculum gates with it. With step-by-step traces the answer is the trace and then the final
answer; ``final_exact`` asks only for the final answer's tokens, given the true trace.

Rows of different lengths share a batch, padded on the right: a causal model cannot see the pads
behind a token (``tests/eval/test_eval_decode.py`` checks that for every family).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lolameme.errors import ModelError
from lolameme.train.batching import SampleSet, check_fits, collate, length_sorted_batches
from lolameme.train.loss import token_cross_entropy


@dataclass(frozen=True)
class TeacherForcedScores:
    """Per-sample arrays, in the order of the sequences scored."""

    n_correct: np.ndarray  # answer tokens predicted right
    n_tokens: np.ndarray  # answer tokens (the answer and its <eos>)
    loss_sum: np.ndarray  # summed cross-entropy of the answer tokens, in nats
    exact: np.ndarray  # bool: every answer token right
    final_exact: np.ndarray  # bool: every token of the final answer right (equals ``exact`` without a trace)

    def summary(self) -> dict[str, float]:
        """The validation record: token-weighted loss and accuracy, sample-weighted exact matches."""
        tokens, n = max(int(self.n_tokens.sum()), 1), max(len(self.exact), 1)
        return {
            "val_answer_loss": float(self.loss_sum.sum()) / tokens,
            "val_token_accuracy": float(self.n_correct.sum()) / tokens,
            "val_exact": float(self.exact.sum()) / n,
            "val_final_exact": float(self.final_exact.sum()) / n,
            "val_samples": len(self.exact),
        }


@torch.no_grad()
def teacher_forced_scores(model: torch.nn.Module, sequences: Sequence[Sequence[int]], answer_starts: Sequence[int],
                          *, final_starts: Sequence[int] | None = None, pad_id: int = 0, batch_size: int = 64,
                          context: int | None = None, device: torch.device | str | None = None,
                          autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                          on_batch: Callable[[int], None] | None = None) -> TeacherForcedScores:
    """Score ``sequences`` whose answers start at ``answer_starts`` (their final answers at ``final_starts``).

    The answer tokens of a sequence are ``sequence[answer_start:]``; each is predicted from
    everything before it, as in training. The model's train/eval mode is restored afterwards.
    """
    n = len(sequences)
    starts = np.asarray(answer_starts, dtype=np.int64)
    finals = starts if final_starts is None else np.asarray(final_starts, dtype=np.int64)
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if len(starts) != n or len(finals) != n:
        raise ModelError(f"{n} sequences but {len(starts)} answer starts and {len(finals)} final starts")
    bad = np.flatnonzero((starts <= 0) | (starts > lengths) | (finals < starts) | (finals > lengths))
    if len(bad):
        i = int(bad[0])
        raise ModelError(f"answer start {starts[i]} (final {finals[i]}) outside sequence {i} of length {lengths[i]}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    out = {key: np.zeros(n, dtype=dtype) for key, dtype in
           (("n_correct", np.int64), ("n_tokens", np.int64), ("loss_sum", np.float64),
            ("exact", bool), ("final_exact", bool))}
    was_training = model.training
    model.eval()
    try:
        for rows in length_sorted_batches(lengths.tolist(), batch_size):
            check_fits(int(lengths[rows].max()) - 1, context, "teacher forcing")
            _score_batch(model, [(sequences[i], int(starts[i])) for i in rows], finals[rows], pad_id, device,
                         autocast, out, rows)
            if on_batch is not None:
                on_batch(len(rows))
    finally:
        model.train(was_training)
    return TeacherForcedScores(**out)


def _score_batch(model, samples: list[tuple], finals: np.ndarray, pad_id: int, device, autocast,
                 out: dict[str, np.ndarray], rows: list[int]) -> None:
    batch = collate(samples, pad_id).to(device)
    with autocast():
        logits = model(batch.inputs)
    ce = token_cross_entropy(logits, batch.targets)
    hit = logits.argmax(-1) == batch.targets
    answer = batch.answer_mask
    columns = torch.arange(answer.shape[1], device=device)
    final = answer & (columns[None, :] >= torch.as_tensor(finals - 1, device=device)[:, None])
    out["n_correct"][rows] = (hit & answer).sum(1).cpu().numpy()
    out["n_tokens"][rows] = answer.sum(1).cpu().numpy()
    out["loss_sum"][rows] = (ce * answer).sum(1).double().cpu().numpy()
    out["exact"][rows] = (hit | ~answer).all(1).cpu().numpy()
    out["final_exact"][rows] = (hit | ~final).all(1).cpu().numpy()


def score_sample_set(model: torch.nn.Module, samples: SampleSet, *, pad_id: int, batch_size: int,
                     device: torch.device | str | None = None,
                     autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
                     ) -> dict[str, float]:
    """The validation record of a training :class:`SampleSet` (samples cut to the model's context)."""
    cut = [samples.sample(i) for i in range(len(samples))]
    scores = teacher_forced_scores(model, [s[0] for s in cut], [s[1] for s in cut],
                                   final_starts=samples.final_starts, pad_id=pad_id, batch_size=batch_size,
                                   device=device, autocast=autocast)
    return scores.summary()
