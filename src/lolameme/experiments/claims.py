"""Reading a comparison: does a finding of the paper hold in our numbers?

A claim (see :class:`~lolameme.experiments.spec.Claim`) is checked on a table
column or on a figure averaged over its x values. The verdict is yes, no or
undecided: *undecided* whenever a compared model has no finished cell, so a
partial experiment never yields an invented answer, and *no signal* when no
compared model beats always giving the majority answer by more than sampling
noise (a comparison of models that learned nothing is noise). Sampling noise
is two binomial standard errors of the majority rate over every test row the
model was scored on (all seeds), e.g. +0.011 for a rate of 0.044 on 3 x 500 rows.
A "yes" or "no" whose margin is within one standard deviation over seeds is
flagged as "within noise".

Continuous measures (answer NLL ``token_loss`` in nats per answer token, lower is
better, and teacher-forced ``token_accuracy``) have no majority-answer floor: a
model that learned nothing still moves them. Their noise estimate is the spread
over seeds alone: a verdict on them stands only when the margin to the closest
rival exceeds the larger seed std of the two; it reads "within noise" otherwise,
and "undecided" with fewer than two seeds (no spread to judge by).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lolameme.experiments.results import Aggregate, aggregate, mean_std
from lolameme.experiments.spec import Claim, ExperimentSpec


@dataclass(frozen=True)
class Scores:
    """Our score (over seeds) and the paper's number per paper model, on one column or figure."""

    ours: dict[str, Aggregate | None]
    paper: dict[str, float]
    higher_is_better: bool
    baseline: float | None = None  # majority-answer exact match of the split(s), for exact-match targets
    noise: float = 0.0  # sampling noise of exact match around the baseline (see floor_noise)
    continuous: bool = False  # answer NLL or token accuracy: judged by the seed std alone

    @property
    def floor(self) -> float | None:
        """Exact match a model must exceed to count as having learned something."""
        return None if self.baseline is None else self.baseline + self.noise


@dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: some compared model has no result, or all sit at the floor
    weak: bool  # holds (or fails) by less than one standard deviation over seeds
    detail: str  # the numbers behind it
    paper_holds: bool | None  # the same check on the paper's numbers, where the table gives them
    floor: bool = False  # no compared model beats always answering the majority answer by more than noise
    why_undecided: str = "missing cells"

    @property
    def word(self) -> str:
        if self.floor:
            return "no signal (all within noise of the majority answer)"
        if self.holds is None:
            return f"undecided ({self.why_undecided})"
        return ("yes" if self.holds else "no") + (" (within noise)" if self.weak else "")


def floor_noise(baseline: float | None, rows_scored: int) -> float:
    """Two binomial standard errors of an exact-match rate near ``baseline`` measured on ``rows_scored`` rows."""
    if baseline is None or rows_scored <= 0:
        return 0.0
    p = min(max(baseline, 1.0 / rows_scored), 1.0 - 1.0 / rows_scored)
    return 2.0 * math.sqrt(p * (1.0 - p) / rows_scored)


def rows_scored(rows: list[dict], datasets: list[str], split: str, model: str) -> int:
    """Test rows ``model`` was scored on over ``datasets`` and every seed (for :func:`floor_noise`)."""
    return sum(int(r.get("n") or 0) for r in rows
               if r["dataset"] in datasets and r["split"] == split and r["model"] == model)


def paper_mean(value: float | tuple[float, float] | list[float]) -> float:
    return float(value[0]) if isinstance(value, (tuple, list)) else float(value)


def target_scores(spec: ExperimentSpec, mapping: dict[str, str], rows: list[dict], on: str,
                  metric: str = "exact_match") -> Scores:
    """Scores of every paper model on a column title (compared by ``metric``) or a figure id (its own metric)."""
    column = next((c for c in spec.table.columns if c.title == on), None) if spec.table else None
    if column is not None:
        agg = aggregate(rows, metric)
        ours = {m: agg.get((column.dataset, mapping[m], column.split)) for m in spec.models}
        if metric != "exact_match":  # the paper's columns are exact match: nothing of theirs to compare
            return Scores(ours, {}, metric != "token_loss", continuous=True)
        baseline = majority_baseline(rows, column.dataset, column.split)
        return Scores(ours, {m: paper_mean(v) for m, v in column.paper.items()}, True, baseline,
                      _noise(rows, [column.dataset], column.split, spec, mapping, baseline))
    figure = next(f for f in spec.figures if f.id == on)
    agg = aggregate(rows, figure.metric)
    datasets = [d.id for d in spec.datasets]
    # Average over the x values that every model has, so a missing point never tilts a comparison.
    common = [d for d in datasets if all((d, mapping[m], figure.split) in agg for m in spec.models)]
    ours: dict[str, Aggregate | None] = {}
    for m in spec.models:
        if not common:
            ours[m] = None
            continue
        points = [agg[(d, mapping[m], figure.split)] for d in common]
        seeds = sorted(set.intersection(*(set(p.seeds) for p in points)))
        mean = sum(p.mean for p in points) / len(points)
        # Spread over seeds of the per-seed average across x (available when seeds line up).
        per_seed = [sum(_seed_value(rows, d, mapping[m], figure.split, figure.metric, s) for d in common) / len(common)
                    for s in seeds]
        std = mean_std(per_seed)[1] if len(per_seed) >= 2 else None
        ours[m] = Aggregate(mean, std, tuple(seeds))
    baselines = [majority_baseline(rows, d, figure.split) for d in common]
    baseline = sum(baselines) / len(baselines) if figure.metric == "exact_match" and common and None not in baselines \
        else None
    return Scores(ours, {}, figure.metric != "token_loss", baseline,
                  _noise(rows, common, figure.split, spec, mapping, baseline), continuous=figure.metric != "exact_match")


def _noise(rows: list[dict], datasets: list[str], split: str, spec: ExperimentSpec, mapping: dict[str, str],
           baseline: float | None) -> float:
    """Sampling noise for the model scored on the fewest rows (the widest band, to be safe)."""
    counts = [rows_scored(rows, datasets, split, p) for p in {mapping[m] for m in spec.models}]
    counts = [c for c in counts if c > 0]
    return floor_noise(baseline, min(counts)) if counts else 0.0


def majority_baseline(rows: list[dict], dataset: str, split: str) -> float | None:
    """Exact match of always giving the majority training answer on a split (the same in every cell)."""
    values = [r["majority_baseline"] for r in rows
              if r["dataset"] == dataset and r["split"] == split and r.get("majority_baseline") is not None]
    return sum(values) / len(values) if values else None


def _seed_value(rows: list[dict], dataset: str, model: str, split: str, metric: str, seed: int) -> float:
    for row in rows:
        if (row["dataset"], row["model"], row["split"], row["seed"]) == (dataset, model, split, seed):
            return float(row[metric])
    raise KeyError((dataset, model, split, seed))


def _beats(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def check(claim: Claim, scores: Scores, mapping: dict[str, str]) -> Verdict:
    """Check ``claim`` on our scores and, where given, on the paper's."""
    higher = scores.higher_is_better
    if claim.kind == "beats":
        others = [claim.other]
    else:  # best / worst: against every model that is a different trained model
        others = [m for m in scores.ours if mapping[m] != mapping[claim.model]]
    want_above = (claim.kind != "worst")

    def verdict_on(values: dict[str, float]) -> bool | None:
        if claim.model not in values or any(o not in values for o in others):
            return None
        mine = values[claim.model]
        if want_above:
            return all(_beats(mine, values[o], higher) for o in others)
        return all(_beats(values[o], mine, higher) for o in others)

    ours = {m: a.mean for m, a in scores.ours.items() if a is not None}
    holds = verdict_on(ours)
    if mapping.get(claim.model) == mapping.get(claim.other or ""):
        holds = None  # both paper models are one trained model at this scale: nothing to compare
    detail = "; ".join(f"{m} {ours[m]:.4f}" if m in ours else f"{m} missing" for m in [claim.model, *others])
    compared = [claim.model, *others]
    floor = scores.floor is not None and all(m in ours for m in compared) \
        and all(ours[m] <= scores.floor for m in compared)
    if floor:
        detail += f" (majority answer {scores.baseline:.4f}, noise +{scores.noise:.4f})"
    weak, why = False, "missing cells"
    if holds is not None and not floor:  # the closest rival decides how safe the reading is
        nearest = min(others, key=lambda o: abs(ours[claim.model] - ours[o]))
        margin = abs(ours[claim.model] - ours[nearest])
        spreads = [s for s in (scores.ours[claim.model].std, scores.ours[nearest].std) if s is not None]
        weak = bool(spreads) and margin <= max(spreads)
        if scores.continuous and len(spreads) < 2:  # no seed spread: no noise estimate to judge by
            holds, why = None, "one seed: a continuous measure is judged by the seed spread"
    return Verdict(None if floor else holds, weak, detail, verdict_on(scores.paper) if scores.paper else None, floor,
                   why)
