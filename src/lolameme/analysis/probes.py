"""Linear probes on the residual stream at ``<sep>``: can a linear map read a value off it?

Targets are digits of values, not whole values: a split of a few hundred programs has hundreds of
distinct values, most seen once, so an exact-value probe could never be right on a held-out row.
Each value ``v`` gives two 10-way targets, its units digit ``|v| mod 10`` (the first digit a
reversed-answer model writes) and its tens digit. Values are the printed value and the value of each
statement (``statement k``, in program order).

The probe is multinomial logistic regression with an L2 penalty, the objective of scikit-learn's
``LogisticRegression(C=1)``, written in torch so that every (fold, stream, target) probe trains at
once in one batched L-BFGS run: core dependencies only, and a few seconds for a whole report.
Accuracy is held-out by k-fold cross-validation, so every row is scored by a probe that never saw it.

Controls (Hewitt & Liang 2019): the *control task* gives every distinct value a random digit, drawn
from the real target's label distribution; a probe that scores as well on it as on the real digit is
reading value identity through its own capacity, not a digit the model computed. *Selectivity* is
real accuracy minus control accuracy. The same probes on a freshly initialised model of the same
architecture show what the architecture alone makes decodable.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from lolameme.analysis.annotate import Sample, slices_by
from lolameme.analysis.batching import batches
from lolameme.analysis.hooks import residual_streams
from lolameme.analysis.tables import Rows

DIGITS = {"units": 1, "tens": 10}
N_CLASSES = 10


def sep_features(model: nn.Module, samples: Sequence[Sample], pad_id: int, batch_size: int) -> list[torch.Tensor]:
    """The residual stream at ``<sep>`` at every depth: a list of [N, D_stream] tensors."""
    out: list[torch.Tensor] | None = None
    for batch in batches(samples, pad_id, batch_size):
        _, streams = residual_streams(model, batch.ids)
        picked = [s[torch.arange(len(batch.rows)), batch.sep].float() for s in streams]
        if out is None:
            out = [torch.zeros(len(samples), p.shape[1]) for p in picked]
        for stream, values in zip(out, picked):
            stream[batch.rows] = values
    assert out is not None
    return out


def target_values(samples: Sequence[Sample]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Target names, values [T, N] (object ints), a mask [T, N] of rows that have the target, and
    each target's kind [T, N]: 'copy' (a bare literal or name), 'computed' (an operator) or 'global'."""
    n_statements = max(len(s.trace.statements) for s in samples)
    names = ["printed"] + [f"statement {k}" for k in range(1, n_statements + 1)]
    values = np.zeros((len(names), len(samples)), dtype=object)
    present = np.zeros((len(names), len(samples)), dtype=bool)
    kinds = np.full((len(names), len(samples)), "", dtype=object)
    for n, s in enumerate(samples):
        for k, statement in enumerate(s.trace.statements, start=1):
            values[k, n], present[k, n] = statement.value, True
            kinds[k, n] = "copy" if statement.depth == 1 else "computed"
        values[0, n], present[0, n] = s.trace.output, True
        kinds[0, n] = kinds[s.defining, n] if s.defining else "global"
    return names, values, present, kinds


def digit_labels(values: np.ndarray, present: np.ndarray, place: int) -> np.ndarray:
    """[T, N] int64 digit of ``|value|`` at ``place`` (1 or 10); -1 where the target is absent."""
    digits = np.array([[abs(int(v)) // place % 10 for v in row] for row in values], dtype=np.int64)
    return np.where(present, digits, -1)


def control_labels(values: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Hewitt & Liang's control task: each distinct value of a target gets one random digit,
    drawn from that target's real label distribution."""
    rng = np.random.default_rng(seed)
    out = np.full_like(labels, -1)
    for t in range(labels.shape[0]):
        valid = labels[t] >= 0
        if not valid.any():
            continue
        distinct = sorted({int(v) for v in values[t][valid]})
        drawn = rng.choice(labels[t][valid], size=len(distinct))
        mapping = dict(zip(distinct, drawn.tolist()))
        out[t][valid] = [mapping[int(v)] for v in values[t][valid]]
    return out


def held_out_predictions(features: Sequence[torch.Tensor], labels: np.ndarray, *, folds: int = 5, seed: int = 0,
                         max_iter: int = 30) -> np.ndarray:
    """Cross-validated predictions [S, T, N] of one probe per (stream, target); -1 where a label is absent.

    ``features[s]`` is [N, D_s]; ``labels`` [T, N] holds classes 0..9 or -1.
    """
    n, n_targets = labels.shape[1], labels.shape[0]
    x = _standardised(features)                                          # [S, N, D]
    streams, width = x.shape[0], x.shape[2]
    y = torch.as_tensor(labels).clamp(min=0).T                           # [N, T]
    fold = torch.as_tensor(np.random.default_rng(seed).permutation(n) % folds)
    train = fold[:, None] != torch.arange(folds)[None, :]                # [N, K]
    weight = (train[:, :, None] & torch.as_tensor(labels >= 0).T[:, None, :]).float()   # [N, K, T]
    count = weight.sum(0).clamp(min=1)                                   # [K, T]
    # One matrix product per stream computes every fold's and target's probe at once.
    w = torch.zeros(streams, width, folds * n_targets * N_CLASSES, requires_grad=True)
    b = torch.zeros(streams, 1, folds, n_targets, N_CLASSES, requires_grad=True)
    l2 = (1.0 / count).repeat_interleave(N_CLASSES).view(1, 1, -1)       # scikit-learn's C=1, per problem
    index = y[None, :, None, :, None].expand(streams, n, folds, n_targets, 1)

    def logits() -> torch.Tensor:                                        # [S, N, K, T, C]
        return (x @ w).view(streams, n, folds, n_targets, N_CLASSES) + b

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        scores = logits()
        nll = torch.logsumexp(scores, -1) - scores.gather(-1, index)[..., 0]      # [S, N, K, T]
        loss = ((nll * weight).sum(1) / count).sum() + 0.5 * (l2 * w**2).sum()
        loss.backward()
        return loss

    optimizer = torch.optim.LBFGS([w, b], lr=1, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")
    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        predicted = logits().argmax(-1)                                  # [S, N, K, T]
    chosen = predicted[:, torch.arange(n), fold]                         # [S, N, T]
    return np.where(labels[None] >= 0, chosen.permute(0, 2, 1).numpy(), -1)


def _standardised(features: Sequence[torch.Tensor]) -> torch.Tensor:
    """[S, N, D_max]: each stream centred and scaled per dimension, zero-padded to the widest."""
    width = max(f.shape[1] for f in features)
    out = torch.zeros(len(features), features[0].shape[0], width)
    for s, f in enumerate(features):
        f = f.double()
        out[s, :, : f.shape[1]] = ((f - f.mean(0)) / f.std(0).clamp(min=1e-6)).float()
    return out


def accuracy(predictions: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """[S, T] share of present labels predicted right (over ``rows`` [N] or [T, N] if given); NaN where none."""
    present = labels >= 0
    if rows is not None:
        present = present & (rows if rows.ndim == 2 else rows[None, :])
    right = ((predictions == labels[None]) & present[None]).sum(-1)
    total = present.sum(-1)
    return np.where(total > 0, right / np.maximum(total, 1), np.nan)


def chance(labels: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """[T] accuracy of always answering the most common label (over ``rows`` [N] or [T, N] if given)."""
    out = np.full(labels.shape[0], np.nan)
    mask = np.ones_like(labels, dtype=bool) if rows is None else np.broadcast_to(rows, labels.shape)
    for t, row in enumerate(labels):
        valid = row[(row >= 0) & mask[t]]
        if valid.size:
            out[t] = np.bincount(valid).max() / valid.size
    return out


def probe_table(features: dict[str, Sequence[torch.Tensor]], samples: Sequence[Sample], *, folds: int = 5,
                seed: int = 0) -> pa.Table:
    """Long table of held-out accuracy: model ('trained' / 'fresh'), task ('value' / 'control'),
    target, digit, stream, slice and value (all rows; by hops; by the target's kind), accuracy, chance, n.

    ``features`` maps a model name to its :func:`sep_features`; the control task is probed on the
    trained model's features only, and reported over all rows.
    """
    names, values, present, kinds = target_values(samples)
    shape = present.shape
    groups = [("all" if name == "all" else "hops", name, np.broadcast_to(rows, shape))
              for name, rows in slices_by(samples)]
    groups += [("kind", kind, kinds == kind) for kind in ("copy", "computed", "global") if (kinds == kind).any()]
    out = Rows("model", "task", "target", "digit", "stream", "slice", "value", "accuracy", "chance", "n")
    for digit, place in DIGITS.items():
        real = digit_labels(values, present, place)
        tasks = {"value": real, "control": control_labels(values, real, seed + place)}
        for model_name, feats in features.items():
            for task, labels in tasks.items():
                if task == "control" and model_name != "trained":
                    continue
                predicted = held_out_predictions(feats, labels, folds=folds, seed=seed)
                for slice_name, value, rows in groups:
                    if task == "control" and slice_name != "all":
                        continue
                    acc, base = accuracy(predicted, labels, rows), chance(labels, rows)
                    n = ((labels >= 0) & rows).sum(-1)
                    for stream in range(acc.shape[0]):
                        for t, target in enumerate(names):
                            if n[t]:
                                out.add(model_name, task, target, digit, stream, slice_name, value,
                                        float(acc[stream, t]), float(base[t]), int(n[t]))
    return out.table()
