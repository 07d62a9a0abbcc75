"""Scores from per-sample results: exact match, the majority baseline, slices.

Everything here is plain Python over lists and pyarrow tables (no torch), so
the arithmetic of the paper's metric can be checked on hand-made predictions.

Why the majority baseline sits beside every score: LOLAMEME answers are small
integers with a skewed distribution, so a model that always says the most
common training answer can look respectable overall and excellent in some
slices. A score means something only next to that baseline, slice by slice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lolameme.errors import EvalError

#: Columns every dataset has (design.md); everything else is an annotation to slice by.
CORE_COLUMNS = ("input", "label")
#: A numeric annotation with more distinct values than this is bucketed into ranges.
MAX_EXACT_VALUES = 12
#: How many (roughly equal-count) ranges a high-cardinality numeric annotation gets.
N_BUCKETS = 6


def exact_match(predictions: Sequence[str], labels: Sequence[str]) -> list[bool]:
    """Per-sample exact match of decoded answers against label strings, as in the paper.

    Strings are compared as they are: no stripping or number parsing, because
    ``"07"`` for ``"7"`` is a wrong answer in a task scored by exact match.
    """
    if len(predictions) != len(labels):
        raise EvalError(f"{len(predictions)} predictions for {len(labels)} labels; they must pair up one to one")
    return [str(p) == str(l) for p, l in zip(predictions, labels)]


@dataclass
class SampleScores:
    """Per-sample results of one evaluation, aligned with the rows of the split."""

    correct: list[bool]
    #: teacher-forced: answer tokens (with ``<eos>``) predicted right, out of ``n_answer_tokens``
    n_token_correct: list[int]
    n_answer_tokens: list[int]
    #: teacher-forced: summed cross-entropy (nats) over the answer tokens
    token_loss_sum: list[float]
    #: trace format: per sample, a reading with ``fields_right``, ``well_formed``, ``consistent``
    #: (:class:`lolameme.train.format.TraceReading`), and the statement number of each ideal field
    trace: list[Any] | None = None
    trace_positions: list[Sequence[int]] | None = None

    def __len__(self) -> int:
        return len(self.correct)


def summarize(scores: SampleScores, labels: Sequence[str], majority: str,
              rows: Sequence[int] | None = None) -> dict[str, Any]:
    """Scores of the given rows (all rows by default) beside the majority baseline."""
    idx = range(len(scores)) if rows is None else rows
    n = len(idx)
    tokens = sum(scores.n_answer_tokens[i] for i in idx)
    summary = {
        "n": n,
        "exact_match": _ratio(sum(scores.correct[i] for i in idx), n),
        "majority_baseline": _ratio(sum(str(labels[i]) == majority for i in idx), n),
        "token_accuracy": _ratio(sum(scores.n_token_correct[i] for i in idx), tokens),
        "token_loss": _ratio(sum(scores.token_loss_sum[i] for i in idx), tokens),
    }
    if scores.trace is not None:
        summary.update(trace_summary([scores.trace[i] for i in idx]))
    return summary


def trace_summary(readings: Sequence[Any]) -> dict[str, Any]:
    """Trace accuracy (share of statement fields right), whole traces right, well-formed, consistency.

    Consistency counts the samples whose printed variable has a field (a printed global has none).
    """
    fields = [ok for r in readings for ok in r.fields_right]
    judged = [r.consistent for r in readings if r.consistent is not None]
    return {
        "trace_accuracy": _ratio(sum(fields), len(fields)),
        "trace_exact": _ratio(sum(r.well_formed and all(r.fields_right) for r in readings), len(readings)),
        "trace_well_formed": _ratio(sum(r.well_formed for r in readings), len(readings)),
        "consistency": _ratio(sum(judged), len(judged)),
    }


def trace_by_position(scores: SampleScores) -> list[dict[str, Any]]:
    """Trace accuracy by statement position (1 = the program's first statement)."""
    hits: dict[int, list[bool]] = {}
    for reading, positions in zip(scores.trace or [], scores.trace_positions or []):
        for ok, position in zip(reading.fields_right, positions):
            hits.setdefault(int(position), []).append(bool(ok))
    return [{"position": p, "n": len(h), "trace_accuracy": sum(h) / len(h)} for p, h in sorted(hits.items())]


def _ratio(num: float, den: int) -> float | None:
    return num / den if den else None


# ---------------------------------------------------------------- slices


def slice_columns(table: pa.Table) -> list[str]:
    """Annotation columns that can be sliced: scalar strings, booleans and numbers."""
    usable = []
    for field in table.schema:
        if field.name in CORE_COLUMNS:
            continue
        t = field.type
        if pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t) \
                or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
            usable.append(field.name)
    return usable


def slice_keys(values: Sequence[Any]) -> list[str]:
    """One slice label per value: the value itself, or a range ``"a-b"`` when a number has many distinct values.

    Numbers with at most :data:`MAX_EXACT_VALUES` distinct values (hops,
    depth, n_latent, ...) keep one slice per value. More (``lra_length``,
    ``n_statements`` in big corpora) get up to :data:`N_BUCKETS` ranges with
    about equal counts, cut at quantiles of the values themselves, so every
    slice holds enough samples to mean something.
    """
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    distinct = sorted(set(present), key=_sort_key)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if not numeric or len(distinct) <= MAX_EXACT_VALUES:
        return [_format_value(v) for v in values]
    ordered = sorted(present)
    edges = _quantile_edges(ordered, N_BUCKETS)
    integral = all(float(v).is_integer() for v in present)
    return [_bucket_label(v, ordered[0], edges, integral) for v in values]


def _quantile_edges(ordered: list[float], n_buckets: int) -> list[float]:
    """Inclusive upper edges of ranges holding about equal numbers of values."""
    edges: list[float] = []
    for k in range(1, n_buckets + 1):
        edge = ordered[min(len(ordered) - 1, math.ceil(k * len(ordered) / n_buckets) - 1)]
        if not edges or edge > edges[-1]:
            edges.append(edge)
    return edges


def _bucket_label(value: Any, minimum: float, edges: list[float], integral: bool) -> str:
    """``"lo-hi"`` (inclusive) for integers; ``"(lo, hi]"`` for other numbers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    low = None
    for high in edges:
        if value <= high:
            break
        low = high
    if integral:
        first = int(minimum) if low is None else int(low) + 1
        return f"{first}-{int(high)}" if first != int(high) else str(first)
    return f"[{_format_value(minimum)}, {_format_value(high)}]" if low is None \
        else f"({_format_value(low)}, {_format_value(high)}]"


def _format_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sort_key(value: Any) -> tuple:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def sliced_scores(table: pa.Table, scores: SampleScores, majority: str) -> dict[str, list[dict[str, Any]]]:
    """For every annotation column: one summary per slice value, in a natural order."""
    labels = table.column("label").to_pylist()
    result: dict[str, list[dict[str, Any]]] = {}
    for column in slice_columns(table):
        values = table.column(column).to_pylist()
        keys = slice_keys(values)
        groups: dict[str, list[int]] = {}
        order: dict[str, Any] = {}
        for i, (key, value) in enumerate(zip(keys, values)):
            groups.setdefault(key, []).append(i)
            if value is not None and (key not in order or _sort_key(value) < _sort_key(order[key])):
                order[key] = value
        ranked = sorted(groups, key=lambda k: (k == "missing", _sort_key(order.get(k, "")), k))
        result[column] = [{"value": key, **summarize(scores, labels, majority, groups[key])} for key in ranked]
    return result
