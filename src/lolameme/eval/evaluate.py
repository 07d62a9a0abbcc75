"""Evaluate a trained run on dataset splits: the Python face of ``lolameme eval``.

For one split this decodes every program greedily, scores exact match against
the label (the paper's metric), adds teacher-forced per-token accuracy and
loss, puts the majority-answer baseline beside every number, slices all of it
by each annotation column, and writes::

    RUN/eval/SPLIT.json                 scores, baseline and slices
    RUN/eval/SPLIT.predictions.parquet  input, label, prediction, correct, per-sample token scores, annotations

A run trained on step-by-step traces (``answer_format: trace``) is asked for a trace and
decoded until ``<eos>``, capped by the trace length its program implies; exact match is
scored on the final answer after the trace, beside trace accuracy (the share of statement
values right, overall and by statement position) and consistency (the final answer equals
the trace's value of the printed variable). A malformed trace counts as wrong, never raises.

Before any work it refuses combinations whose scores would mean nothing: a
dataset of another task than the run was trained on, text the run's tokenizer
cannot encode, or a tokenizer larger than the model's vocabulary.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lolameme.atomic import atomic_path, atomic_write_json
from lolameme.data.io import load_split, majority_answer, read_manifest
from lolameme.errors import DatasetError, LolamemeError, ModelError, TokenizerError
from lolameme.machine import resolve_device
from lolameme.eval.decode import greedy_decode
from lolameme.eval.metrics import (SampleScores, exact_match, sliced_scores, summarize,
                                   trace_by_position)
from lolameme.progress import Progress
from lolameme.tokenizers import Tokenizer
from lolameme.train.format import (AnswerFormat, TraceReading, answer_from_ids, answer_ids, encode, encode_sample,
                                   ideal_trace, prompt_for, read_trace_ids, trace_context)
from lolameme.train.scoring import teacher_forced_scores

EVAL_DIR = "eval"
#: Extra decoding steps beyond the longest known answer (with its <eos>): a model that writes the
#: right digits but never stops must still produce a longer, wrong string.
ANSWER_MARGIN = 2


@dataclass
class EvalSettings:
    """How to decode and score; the defaults fit CPU and GPU alike."""

    batch_size: int = 64
    max_new_tokens: int | None = None  # None: longest train/split answer + <eos> + ANSWER_MARGIN
    limit: int | None = None  # evaluate only the first N rows (quick looks)
    device: str = "auto"
    progress: bool = True
    answer_format: str | None = None  # "direct" or "trace"; None: the format the run was trained in
    trace_statements: str | None = None  # "all" or "relevant"; None: the run's


@dataclass
class TrainedOn:
    """What the run was trained on, read from its config.json: needed for checks and the baseline."""

    data_dir: Path | None
    task: str | None
    reverse_answer: bool
    answer_format: str = "direct"
    trace_statements: str = "all"

    def dataset(self, run_dir: Path, data: str | os.PathLike | None) -> Path:
        """The dataset to score on: ``data`` when given, else the one the run was trained on."""
        if data is not None:
            return Path(data)
        if self.data_dir is None:
            raise DatasetError(f"{run_dir}/config.json does not name the dataset it was trained on; pass --data")
        return self.data_dir

    def format_for(self, settings: EvalSettings) -> AnswerFormat:
        """The format to ask the model for: the settings' choice, else the run's own."""
        return AnswerFormat(settings.answer_format or self.answer_format,
                            settings.trace_statements or self.trace_statements, self.reverse_answer)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainedOn:
        """From RUN/config.json: ``data.dir``/``data.task`` as the trainer writes them, else ``train.data``."""
        train = config.get("train") or {}
        data = config.get("data") or {}
        data_dir = data.get("dir") or train.get("data")
        task = data.get("task")
        if task is None and data_dir is not None:
            try:
                task = read_manifest(data_dir)["task"]
            except DatasetError:
                task = None
        return cls(data_dir=Path(data_dir) if data_dir else None, task=task,
                   reverse_answer=bool(train.get("reverse_answer", False)),
                   answer_format=train.get("answer_format", "direct"),
                   trace_statements=train.get("trace_statements", "all"))


def check_compatible(trained: TrainedOn, data_dir: Path, tokenizer: Tokenizer, model: torch.nn.Module) -> str:
    """Raise a clear error if scores of this model on this dataset would be meaningless; return the task."""
    task = read_manifest(data_dir)["task"]
    if trained.task is not None and task != trained.task:
        raise DatasetError(
            f"{data_dir} is a {task!r} dataset but the run was trained on a {trained.task!r} dataset "
            f"({trained.data_dir}); evaluate on a {trained.task!r} dataset")
    vocab = model_vocab_size(model)
    if vocab is not None and tokenizer.vocab_size > vocab:
        raise TokenizerError(
            f"the {tokenizer.name} tokenizer has {tokenizer.vocab_size} tokens but the model's vocabulary "
            f"has {vocab}; use the tokenizer.json saved with the run")
    return task


def model_vocab_size(model: torch.nn.Module) -> int | None:
    config = getattr(model, "config", None)
    size = getattr(config, "vocab_size", None)
    return int(size) if size is not None else None


def model_context(model: torch.nn.Module) -> int | None:
    size = getattr(getattr(model, "config", None), "max_seq_len", None)
    return int(size) if size is not None else None


def _encode_prompts(tok: Tokenizer, inputs: list[str], where: str, fmt: AnswerFormat | None = None,
                    task: str = "lolameme") -> list[list[int]]:
    fmt = fmt or AnswerFormat()
    prompts = []
    for row, text in enumerate(inputs):
        try:
            prompts.append(prompt_for(tok, text, fmt, task))
        except TokenizerError as exc:
            raise TokenizerError(
                f"{where} row {row}: the run's {tok.name} tokenizer cannot encode this input, so the dataset "
                f"does not match the run's vocabulary ({exc})") from None
    return prompts


def prediction_text(tok: Tokenizer, ids: list[int], *, reverse_answer: bool = False) -> str:
    """The answer a model wrote (``ids`` cut before ``<eos>``), as the string exact match compares.

    Decoding drops special tokens, so a model writing ``<sep> 2`` would read as ``"2"`` and
    pass for the label ``"2"``. A special token inside an answer is a wrong answer, so such a
    prediction keeps its special tokens visible (``"<sep>2"``) and can never match a label.
    """
    specials = {tok.pad_id, tok.bos_id, tok.sep_id, tok.eos_id}
    if not any(i in specials for i in ids):
        return answer_from_ids(tok, ids, reverse_answer=reverse_answer)
    parts, run = [], []
    for i in [*ids, None]:
        if i is None or i in specials:
            if run:
                parts.append(tok.decode(run))
                run = []
            if i is not None:
                parts.append(tok.hf.id_to_token(i))
        else:
            run.append(i)
    return "".join(parts)


def _crop_left(ids: list[int], limit: int, head: int = 0) -> list[int]:
    """Keep the last ``limit`` tokens: LOLAMEME asks its question (``print``) at the end of the program.

    The first ``head`` tokens (``<bos>`` and the trace opener, which asks for a trace) are kept too.
    """
    return ids if len(ids) <= limit else ids[:head] + ids[len(ids) - limit + head:]


@dataclass
class _Targets:
    """What the model is asked and what a perfect model writes, per row, in the requested format."""

    fmt: AnswerFormat
    prompts: list[list[int]]
    sequences: list[list[int]]  # ideal whole samples, for teacher forcing
    starts: list[int]
    caps: list[int]  # most tokens a row may write, <eos> included
    traces: list | None = None  # TraceTarget per row (trace format)
    layout: Any = None
    head: int = 1  # prompt tokens kept when cropping: <bos> (and the trace opener)


def _targets(tok: Tokenizer, data_dir: Path, inputs: list[str], labels: list[str], train_labels: list[str],
             fmt: AnswerFormat, where: str) -> _Targets:
    """Prompts, ideal samples and length caps; a trace's cap is the length its program implies plus a margin."""
    task = read_manifest(data_dir)["task"]
    prompts = _encode_prompts(tok, inputs, where, fmt, task)
    if not fmt.is_trace:
        longest = max(len(answer_ids(tok, a, reverse_answer=fmt.reverse_answer)) for a in {*train_labels, *labels})
        sequences, starts = zip(*(encode_sample(tok, x, y, reverse_answer=fmt.reverse_answer)
                                  for x, y in zip(inputs, labels)))
        return _Targets(fmt, prompts, list(sequences), list(starts), [longest + ANSWER_MARGIN] * len(inputs))
    ctx = trace_context(data_dir)
    traces = [ideal_trace(x, y, ctx, fmt) for x, y in zip(inputs, labels)]
    encoded = [encode(tok, x, y, fmt, ctx, t) for x, y, t in zip(inputs, labels, traces)]
    caps = [len(e.ids) - e.answer_start + ANSWER_MARGIN for e in encoded]
    return _Targets(fmt, prompts, [e.ids for e in encoded], [e.answer_start for e in encoded], caps, traces,
                    ctx.layout, 1 + len(tok.encode(ctx.layout.opener)))


def evaluate_split(model: torch.nn.Module, tok: Tokenizer, data_dir: str | os.PathLike, split: str, *,
                   train_labels: list[str], reverse_answer: bool = False,
                   settings: EvalSettings | None = None, fmt: AnswerFormat | None = None
                   ) -> tuple[dict[str, Any], pa.Table]:
    """Scores of ``model`` on one split and the per-sample predictions table.

    ``train_labels`` are the training answers the majority baseline is drawn from; ``fmt`` the answer
    format to ask for (default: direct, with ``reverse_answer``).
    """
    settings = settings or EvalSettings()
    fmt = fmt or AnswerFormat(reverse_answer=reverse_answer)
    data_dir = Path(data_dir)
    where = f"{data_dir}/{split}"
    table = _rows_to_score(data_dir, split, settings.limit)
    inputs = [str(x) for x in table.column("input").to_pylist()]
    labels = [str(x) for x in table.column("label").to_pylist()]
    device = resolve_device(settings.device)
    model = model.to(device).eval()
    context = model_context(model)

    t = _targets(tok, data_dir, inputs, labels, train_labels, fmt, where)
    prompts, sequences, starts = t.prompts, t.sequences, t.starts
    max_new = settings.max_new_tokens or max(t.caps)
    prompts, sequences, starts, n_cropped = _fit_context(prompts, sequences, starts, context, max_new, t.head)

    started = time.monotonic()
    with Progress(2 * len(prompts), f"eval {split}", enabled=settings.progress) as bar:
        generated = greedy_decode(model, prompts, eos_id=tok.eos_id, max_new_tokens=max_new, pad_id=tok.pad_id,
                                  batch_size=settings.batch_size, context=context, device=device,
                                  on_batch=bar.advance)
        forced = teacher_forced_scores(model, sequences, starts, pad_id=tok.pad_id, batch_size=settings.batch_size,
                                       context=context, device=device, on_batch=bar.advance)
    seconds = time.monotonic() - started

    readings = _read_traces(tok, generated, t, max_new) if fmt.is_trace else None
    predictions = ([r.answer for r in readings] if readings is not None
                   else [prediction_text(tok, ids, reverse_answer=fmt.reverse_answer) for ids in generated])
    scores = SampleScores(correct=exact_match(predictions, labels), n_token_correct=forced.n_correct.tolist(),
                          n_answer_tokens=forced.n_tokens.tolist(), token_loss_sum=forced.loss_sum.tolist(), trace=readings,
                          trace_positions=[x.positions for x in t.traces] if readings is not None else None)
    majority = majority_answer(train_labels)
    report = {
        "split": split,
        "dataset": str(data_dir),
        "task": read_manifest(data_dir)["task"],
        "answer_format": fmt.kind,
        **summarize(scores, labels, majority),
        "majority_answer": majority,
        "n_cropped": n_cropped,
        "decode": {"method": "greedy", "max_new_tokens": max_new, "batch_size": settings.batch_size,
                   "reverse_answer": fmt.reverse_answer, "device": str(device), "limit": settings.limit,
                   "seconds": round(seconds, 3), "answer_format": fmt.kind,
                   **({"trace_statements": fmt.statements} if fmt.is_trace else {})},
        **({"trace_by_position": trace_by_position(scores)} if readings is not None else {}),
        "slices": sliced_scores(table, scores, majority),
    }
    trace_columns = _trace_columns(tok, generated, t, readings) if readings is not None else {}
    return report, _predictions_table(table, predictions, scores, trace_columns)


def _rows_to_score(data_dir: Path, split: str, limit: int | None) -> pa.Table:
    """The split's first ``limit`` rows (all by default); an empty selection is a DatasetError."""
    table = load_split(data_dir, split)
    if limit is not None:
        table = table.slice(0, limit)
    if table.num_rows == 0:
        raise DatasetError(f"{data_dir}/{split} has no rows to evaluate")
    return table


def _fit_context(prompts: list[list[int]], sequences: list[list[int]], starts: list[int], context: int | None,
                 max_new: int, head: int) -> tuple[list[list[int]], list[list[int]], list[int], int]:
    """Crop prompts and teacher-forced sequences from the left to the model's context; how many prompts lost tokens."""
    if context is None:
        return prompts, sequences, starts, 0
    if max_new >= context:
        raise ModelError(f"max_new_tokens {max_new} leaves no space for a prompt in the model's context of {context}")
    cropped = [_crop_left(p, context - max_new, head) for p in prompts]
    n_cropped = sum(len(a) != len(b) for a, b in zip(prompts, cropped))
    cut = [max(0, len(s) - context) for s in sequences]
    return cropped, [s[c:] for s, c in zip(sequences, cut)], [max(1, a - c) for a, c in zip(starts, cut)], n_cropped


def _predictions_table(table: pa.Table, predictions: list[str], scores: SampleScores,
                       trace_columns: dict[str, Any]) -> pa.Table:
    """One row per sample: input, label, prediction, teacher-forced answer scores, trace columns, annotations."""
    labels = [str(x) for x in table.column("label").to_pylist()]
    return pa.table({
        "input": [str(x) for x in table.column("input").to_pylist()], "label": labels, "prediction": predictions,
        "correct": scores.correct, "answer_tokens": scores.n_answer_tokens,
        "answer_tokens_correct": scores.n_token_correct,
        "answer_loss": [loss / max(n, 1) for loss, n in zip(scores.token_loss_sum, scores.n_answer_tokens)],
        **trace_columns,
        **{name: table.column(name) for name in table.column_names if name not in ("input", "label")},
    })


def _read_traces(tok: Tokenizer, generated: list[list[int]], t: _Targets, max_new: int) -> list[TraceReading]:
    """Score each generated trace; a row that wrote no ``<eos>`` within its own cap is a runaway (malformed)."""
    return [read_trace_ids(tok, ids, target, t.layout, t.fmt, finished=len(ids) < min(max_new, cap))
            for ids, target, cap in zip(generated, t.traces, t.caps)]


def _trace_columns(tok: Tokenizer, generated: list[list[int]], t: _Targets,
                   readings: list[TraceReading]) -> dict[str, list]:
    """Per-sample trace columns of the predictions table: what was written, what was right."""
    return {
        "output": [_safe_decode(tok, ids) for ids in generated],
        "trace_target": [t.layout.render(x)[0] + x.answer for x in t.traces],
        "trace_fields": [len(r.fields_right) for r in readings],
        "trace_fields_correct": [sum(r.fields_right) for r in readings],
        "trace_well_formed": [r.well_formed for r in readings],
        "consistent": [r.consistent for r in readings],
    }


def _safe_decode(tok: Tokenizer, ids: list[int]) -> str:
    try:
        return prediction_text(tok, ids)
    except Exception:  # noqa: BLE001 -- ids outside the vocabulary only show in this column
        return ""


def default_splits(data_dir: str | os.PathLike) -> list[str]:
    """The splits a run is scored on by default: every ``test*`` split of the dataset."""
    names = list(read_manifest(data_dir)["splits"])
    tests = [n for n in names if n.startswith("test")]
    if not tests:
        raise DatasetError(f"{data_dir} has no test split (splits: {', '.join(names)}); name one with --split")
    return tests


def evaluate_run(run_dir: str | os.PathLike, *, data: str | os.PathLike | None = None,
                 splits: list[str] | None = None, which: str | int = "best",
                 settings: EvalSettings | None = None, out_dir: str | os.PathLike | None = None
                 ) -> dict[str, dict[str, Any]]:
    """Evaluate checkpoint ``which`` of a run on ``splits`` of ``data`` and write the result files.

    ``data`` defaults to the dataset the run was trained on, ``splits`` to all
    its test splits, ``out_dir`` to RUN/eval. Returns split name -> report.
    """
    from lolameme.train.checkpoint import load_run

    run_dir = Path(run_dir)
    loaded = load_run(run_dir, which)
    trained = TrainedOn.from_config(loaded.config)
    data_dir = trained.dataset(run_dir, data)
    out = Path(out_dir) if out_dir is not None else run_dir / EVAL_DIR
    header = {"run": str(run_dir), "checkpoint": which, "step": loaded.step}
    return evaluate_model(loaded.model, loaded.tokenizer, data_dir, splits, trained=trained, settings=settings,
                          out_dir=out, header=header)


def evaluate_model(model: torch.nn.Module, tokenizer: Tokenizer, data_dir: Path, splits: list[str] | None, *,
                   trained: TrainedOn, settings: EvalSettings | None, out_dir: Path,
                   header: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Score any causal LM (``model(idx) -> logits``) on ``splits`` and write SPLIT.json and predictions to ``out_dir``."""
    check_compatible(trained, data_dir, tokenizer, model)
    train_labels = majority_source_labels(trained, data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    reports = {}
    for split in splits or default_splits(data_dir):
        report, predictions = evaluate_split(model, tokenizer, data_dir, split, train_labels=train_labels,
                                             reverse_answer=trained.reverse_answer, settings=settings,
                                             fmt=trained.format_for(settings or EvalSettings()))
        report = {**header, **report}
        write_parquet_atomic(out_dir / f"{split}.predictions.parquet", predictions)
        atomic_write_json(out_dir / f"{split}.json", report)
        reports[split] = report
    return reports


def evaluate_transformers_model(model_dir: str | os.PathLike, data: str | os.PathLike, *,
                                splits: list[str] | None = None, settings: EvalSettings | None = None,
                                out_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """``lolameme eval --hf-model DIR``: a local transformers causal LM, with the lolameme tokenizer saved in DIR.

    The scorer, the baseline and the slices are those of :func:`evaluate_run`;
    results go to ``out_dir`` (default DIR/eval).
    """
    from lolameme.eval.transformers_lm import load_transformers_lm

    model, tokenizer = load_transformers_lm(Path(model_dir))
    trained = TrainedOn(data_dir=None, task=None, reverse_answer=False)
    out = Path(out_dir) if out_dir is not None else Path(model_dir) / EVAL_DIR
    return evaluate_model(model, tokenizer, Path(data), splits, trained=trained, settings=settings, out_dir=out,
                          header={"hf_model": str(model_dir)})


def majority_source_labels(trained: TrainedOn, data_dir: Path) -> list[str]:
    """Training answers for the majority baseline: the run's own training split, else ``data_dir``'s."""
    for source in (trained.data_dir, data_dir):
        if source is None:
            continue
        try:
            if "train" in read_manifest(source)["splits"]:
                return [str(x) for x in load_split(source, "train", columns=["label"]).column("label").to_pylist()]
        except LolamemeError:
            continue
    raise DatasetError(f"no training split found for the majority baseline (looked in {trained.data_dir} "
                       f"and {data_dir})")


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
