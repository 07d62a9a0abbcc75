"""``analyze_run``: every measure on one run and one split, written to ``RUN/analysis/`` in one piece.

Checks come first (a model to load, a LOLAMEME dataset of the task the run was trained on, a split
that exists and matches its manifest's sha256, text the run's tokenizer encodes, answers in the
``direct`` format), then the measures run, then the whole directory is written under a temporary
name and renamed into place: a failure at any point leaves the previous ``RUN/analysis`` (or none).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import torch

from lolameme.analysis.annotate import Sample, annotate, slices_by
from lolameme.analysis.attribution import attribution_table
from lolameme.analysis.batching import answer_logprob, batches
from lolameme.analysis.filters import filter_tables
from lolameme.analysis.patching import PairContext, make_pairs, patching_table
from lolameme.analysis.probes import probe_table, sep_features
from lolameme.analysis.settings import AnalysisSettings
from lolameme.analysis.tables import Rows
from lolameme.errors import CheckpointError, DatasetError
from lolameme.machine import describe

if TYPE_CHECKING:
    from lolameme.train.checkpoint import LoadedRun

ANALYSIS_DIR = "analysis"
TASK = "lolameme"


@dataclass
class AnalysisResult:
    """Everything the report shows; every table is also written as Parquet."""

    meta: dict[str, Any]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)   # measure -> why it does not apply


def analyze_run(run_dir: str | os.PathLike, *, split: str, data: str | os.PathLike | None = None,
                settings: AnalysisSettings | None = None, out_dir: str | os.PathLike | None = None) -> Path:
    """Analyse ``split`` of ``data`` (default: the run's dataset) with the run's model; return the output dir."""
    from lolameme.analysis.report import write_analysis

    settings = settings or AnalysisSettings()
    run_dir = Path(run_dir)
    loaded, data_dir, samples, context = load_inputs(run_dir, data, split, settings)
    result = measure(loaded, samples, context, settings)
    result.meta.update({"run": str(run_dir), "checkpoint": settings.checkpoint, "step": loaded.step,
                        "dataset": str(data_dir), "split": split,
                        "machine": describe(torch.get_num_threads())})
    out = Path(out_dir) if out_dir is not None else run_dir / ANALYSIS_DIR
    write_analysis(out, result)
    return out


def load_inputs(run_dir: Path, data: str | os.PathLike | None, split: str, settings: AnalysisSettings
                ) -> tuple[LoadedRun, Path, list[Sample], PairContext]:
    """The loaded run, the dataset dir, annotated samples and the pair context; every refusal is here."""
    from lolameme.data.io import load_split, read_manifest
    from lolameme.eval.evaluate import TrainedOn, check_compatible
    from lolameme.lang import LatentRules
    from lolameme.lang.global_table import load_globals
    from lolameme.train.checkpoint import load_run

    loaded = load_run(run_dir, settings.checkpoint)
    trained = TrainedOn.from_config(loaded.config)
    if trained.answer_format != "direct":
        raise CheckpointError(f"{run_dir} writes answers in the {trained.answer_format!r} format; analysis reads "
                              "the answer written right after <sep> and accepts only 'direct' runs")
    data_dir = trained.dataset(run_dir, data)
    task = check_compatible(trained, data_dir, loaded.tokenizer, loaded.model)
    if task != TASK:
        raise DatasetError(f"{data_dir} is a {task!r} dataset; its samples carry no trace (statement values, "
                           f"dependency chains, noise), which every measure here groups by. Analysis accepts "
                           f"{TASK!r} datasets only")
    manifest = read_manifest(data_dir)
    table = load_split(data_dir, split, verify=True, columns=["input", "label"])
    if settings.limit is not None:
        table = table.slice(0, settings.limit)
    if table.num_rows < 2 * settings.folds:
        raise DatasetError(f"{data_dir}/{split} has {table.num_rows} rows to analyse; the probes' "
                           f"{settings.folds}-fold cross-validation needs at least {2 * settings.folds}")
    globals_path = data_dir / "globals.json"
    globals_table = load_globals(globals_path) if globals_path.is_file() else None
    latent = LatentRules(**manifest["latent"]) if manifest.get("latent") else None
    samples = annotate(loaded.tokenizer, [str(x) for x in table.column("input").to_pylist()],
                       [str(x) for x in table.column("label").to_pylist()], reverse_answer=loaded.reverse_answer,
                       globals_table=globals_table, latent=latent, where=f"{data_dir}/{split}")
    context = getattr(loaded.model.config, "max_seq_len", None)
    too_long = [i for i, s in enumerate(samples) if context is not None and len(s.ids) > context]
    if too_long:
        raise DatasetError(f"{data_dir}/{split}: {len(too_long)} rows (first: row {too_long[0]}) are longer than "
                           f"the model's context of {context} tokens; analyse a split the model can read whole")
    return loaded, data_dir, samples, PairContext(loaded.tokenizer, globals_table, latent)


def measure(loaded: LoadedRun, samples: list[Sample], context: PairContext, settings: AnalysisSettings
            ) -> AnalysisResult:
    """Run every measure that applies to this model; time each one."""
    from lolameme.models import model_from_config

    model, pad = loaded.model.eval(), loaded.tokenizer.pad_id
    torch.manual_seed(settings.seed)
    fresh = model_from_config(model.config).eval()
    result = AnalysisResult(meta={"rows": len(samples), "layers": model.config.layers, "seconds": {},
                                      "cpu_seconds": {}})
    pairs = make_pairs(samples, context, seed=settings.seed, max_pairs=settings.max_pairs)
    for kind, found in pairs.items():
        if not found:
            result.skipped[f"{kind} patching pairs"] = (f"no program of these rows allows a {kind} pair "
                                                        f"(docs/analysis.md says what each kind needs)")
    steps = [
        ("accuracy", lambda: {"accuracy": accuracy_table(model, samples, pad, settings.batch_size)}),
        ("attribution", lambda: {"attention": attribution_table(model, samples, pad, settings.batch_size)}),
        ("probes", lambda: {"probes": probe_table(
            {"trained": sep_features(model, samples, pad, settings.batch_size),
             "fresh": sep_features(fresh, samples, pad, settings.batch_size)},
            samples, folds=settings.folds, seed=settings.seed)}),
        ("patching", lambda: {"patching": patching_table(model, pairs, pad, settings.batch_size)}),
        ("filters", lambda: dict(zip(("filter_impulse", "filter_reach"),
                                     filter_tables({"trained": model, "fresh": fresh},
                                                   max(len(s.ids) for s in samples)) or ()))),
    ]
    for name, step in steps:
        started, cpu = time.monotonic(), time.process_time()
        if settings.progress:
            print(f"analysis: {name} ...", file=sys.stderr, flush=True)
        tables = step()
        result.meta["seconds"][name] = round(time.monotonic() - started, 2)
        result.meta["cpu_seconds"][name] = round(time.process_time() - cpu, 2)
        for key, value in tables.items():
            if value is not None:
                result.tables[key] = value
    if "attention" not in result.tables:
        result.skipped["attribution"] = f"the model ({model.config.layers}) has no attention layers"
    if "filter_impulse" not in result.tables:
        result.skipped["filters"] = f"the model ({model.config.layers}) has no Hyena layers"
    return result


def accuracy_table(model: torch.nn.Module, samples: list[Sample], pad_id: int, batch_size: int) -> pa.Table:
    """Exact match and P(answer), for all rows, by hops and by defining statement (0: a global).

    Teacher-forced argmax right at every answer token is exactly a greedy decode of the answer and
    ``<eos>``, so this is the evaluator's exact match without decoding."""
    right, prob = np.zeros(len(samples), dtype=bool), np.zeros(len(samples))
    with torch.inference_mode():
        for batch in batches(samples, pad_id, batch_size):
            logits = model(batch.ids)
            queries = batch.answer_queries()
            hit = (logits.argmax(-1) == torch.roll(batch.ids, -1, dims=1)) | ~queries
            right[batch.rows] = hit.all(dim=1).numpy()
            prob[batch.rows] = answer_logprob(logits, batch.ids, queries).exp().numpy()
    rows = Rows("slice", "value", "n", "exact_match", "p_answer")
    for key in ("hops", "defining"):
        for name, chosen in slices_by(samples, key):
            if name != "all" or key == "hops":
                rows.add(key if name != "all" else "all", name, int(chosen.sum()), float(right[chosen].mean()),
                         float(prob[chosen].mean()))
    return rows.table()
