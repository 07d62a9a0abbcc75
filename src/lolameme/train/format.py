"""The task formats: the ONE place that knows how a sample is laid out as tokens.

Two answer formats (docs/training.md, "Task format"):

* ``direct`` (the paper's): ``<bos> program <sep> answer <eos>``. The model reads
  the program and after ``<sep>`` writes the answer and then ``<eos>``; the trainer
  puts its loss on the answer tokens (``<eos>`` included, so the model learns to
  stop) and the evaluator decodes greedily after ``<sep>`` until ``<eos>``.
* ``trace``: ``<bos> # program <sep> v1;v2;...;vn>answer <eos>`` (LOLAMEME). The
  ``#`` after ``<bos>`` asks for a trace (so one model can be trained on both
  formats and asked for either); after ``<sep>`` the model writes one field per
  statement in program order -- the values of the globals the statement reads,
  then the statement's value, joined by ``,`` -- the fields joined by ``;``, then
  the marker ``>`` and the printed value. With ``relevant`` only the statements on
  the printed value's dependency chain get a field. ListOps:
  ``<bos> ] expression <sep> v1 v2 ... ] answer <eos>``, one field per list in the
  order the lists close (innermost first, the root last).

Every value comes from the task's own tracer (:func:`lolameme.lang.trace`, the
ListOps evaluator), never from semantics re-derived here.

With ``reverse_answer`` the digits of every number written after ``<sep>`` are
least significant first (``-48`` -> ``-84``; the sign stays in front), which lets a
left-to-right model produce a sum's carry before the digits that need it. The
reversal is its own inverse, and reading an output undoes it, so exact match is
always computed against the true label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lolameme.errors import ConfigError, DatasetError, LolamemeError
from lolameme.tokenizers import Tokenizer

FORMAT_VERSION = 1  # the direct layout; bump when it changes (part of every token-cache key)
TRACE_VERSION = 1  # the trace layout; bump when it changes (part of the token-cache key of trace samples)
ANSWER_FORMATS = ("direct", "trace")
TRACE_STATEMENTS = ("all", "relevant")

_INTEGER = re.compile(r"^(-?)(\d+)$")


def reverse_digits(answer: str) -> str:
    """Digits of an integer answer in reverse order, sign kept in front; other answers unchanged."""
    match = _INTEGER.match(answer)
    if match is None:
        return answer
    sign, digits = match.groups()
    return sign + digits[::-1]


def _written(value: int | str, reverse_answer: bool) -> str:
    text = str(value)
    return reverse_digits(text) if reverse_answer else text


# ---------------------------------------------------------------- direct


def prompt_ids(tok: Tokenizer, program: str) -> list[int]:
    """``<bos> program <sep>``: what the model reads before it writes the answer."""
    return [tok.bos_id, *tok.encode(program), tok.sep_id]


def answer_ids(tok: Tokenizer, label: str, *, reverse_answer: bool = False) -> list[int]:
    """``answer <eos>``: what the model must write after ``<sep>``."""
    return [*tok.encode(_written(label, reverse_answer)), tok.eos_id]


def encode_sample(
    tok: Tokenizer, program: str, label: str, *, reverse_answer: bool = False
) -> tuple[list[int], int]:
    """Token ids of a whole direct sample and the index of its first answer token.

    ``ids[answer_start:]`` is ``answer <eos>``; ``ids[:answer_start]`` is the prompt.
    """
    prompt = prompt_ids(tok, program)
    return prompt + answer_ids(tok, label, reverse_answer=reverse_answer), len(prompt)


def assemble(tok: Tokenizer, program_ids: list[int], label_ids: list[int]) -> tuple[list[int], int]:
    """:func:`encode_sample` from already-encoded program and answer text (the batch pre-tokeniser's path)."""
    ids = [tok.bos_id, *program_ids, tok.sep_id, *label_ids, tok.eos_id]
    return ids, len(program_ids) + 2


def answer_from_ids(tok: Tokenizer, ids_after_sep: list[int], *, reverse_answer: bool = False) -> str:
    """The answer string from the tokens generated after ``<sep>``: cut at the first ``<eos>``, decode,
    undo digit reversal."""
    ids = list(ids_after_sep)
    if tok.eos_id in ids:
        ids = ids[: ids.index(tok.eos_id)]
    text = tok.decode(ids)
    return reverse_digits(text) if reverse_answer else text


# ---------------------------------------------------------------- trace


@dataclass(frozen=True)
class AnswerFormat:
    """Which format a sample is written in, and how its numbers are written."""

    kind: str = "direct"  # one of ANSWER_FORMATS
    statements: str = "all"  # trace: every statement, or only the printed value's dependency chain
    reverse_answer: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ANSWER_FORMATS:
            raise ConfigError(f"unknown answer format {self.kind!r}; accepted: {', '.join(ANSWER_FORMATS)}")
        if self.statements not in TRACE_STATEMENTS:
            raise ConfigError(f"unknown trace statements {self.statements!r}; accepted: {', '.join(TRACE_STATEMENTS)}")

    @property
    def is_trace(self) -> bool:
        return self.kind == "trace"

    def key(self) -> str:
        """The part of a token-cache key that names this format (a direct key is what it always was)."""
        base = f"format-{FORMAT_VERSION}|reverse-{int(self.reverse_answer)}"
        return base if not self.is_trace else f"{base}|trace-{TRACE_VERSION}-{self.statements}"


class TraceTarget(NamedTuple):
    """The ideal output of a trace sample, as written (digits already in written order)."""

    fields: tuple[str, ...]  # one per traced statement (list, for ListOps), in order
    positions: tuple[int, ...]  # the 1-based statement (list) number of each field
    printed_field: int | None  # index of the field holding the printed value; None: a global was printed
    answer: str  # the final answer as written


class TraceLayout(NamedTuple):
    """The symbols of one task's trace: how it is asked for, and how fields are joined."""

    opener: str  # written after <bos>, before the program: "write a trace"
    field_sep: str
    item_sep: str  # inside a LOLAMEME field: global values, then the statement's value
    marker: str  # between the fields and the final answer

    def render(self, target: TraceTarget) -> tuple[str, str]:
        """(fields and marker, final answer): the text after ``<sep>``, cut where the final answer begins."""
        head = self.field_sep.join(target.fields)
        if self.field_sep == " ":  # whitespace-separated tokens (ListOps): "3 7 ] 7", "] 7"
            return (f"{head} {self.marker} " if head else f"{self.marker} "), target.answer
        return head + self.marker, target.answer

    def parse(self, text: str) -> tuple[list[str], str] | None:
        """(fields, final answer) of an output text; None without a marker."""
        if self.field_sep == " ":
            tokens = text.split()
            if self.marker not in tokens:
                return None
            cut = tokens.index(self.marker)
            return tokens[:cut], " ".join(tokens[cut + 1:])
        head, found, answer = text.partition(self.marker)
        if not found:
            return None
        return (head.split(self.field_sep) if head else []), answer


LAYOUTS = {
    "lolameme": TraceLayout(opener="#", field_sep=";", item_sep=",", marker=">"),
    "listops": TraceLayout(opener="]", field_sep=" ", item_sep=" ", marker="]"),
}


@dataclass(frozen=True)
class TraceContext:
    """What tracing a dataset's programs needs besides their text: the task, its globals and latent rules."""

    task: str
    globals: dict[str, int] | None = None
    latent: Any = None  # lolameme.lang.LatentRules or None

    @property
    def layout(self) -> TraceLayout:
        return LAYOUTS[self.task]


def trace_context(data_dir: str | Path, manifest: dict[str, Any] | None = None) -> TraceContext:
    """The trace context of a dataset directory: its task, ``globals.json`` and the manifest's latent rules."""
    from lolameme.data.io import read_manifest

    data_dir = Path(data_dir)
    manifest = manifest if manifest is not None else read_manifest(data_dir)
    task = manifest.get("task")
    if task not in LAYOUTS:
        raise DatasetError(f"{data_dir}: task {task!r} has no trace format; traces exist for: {', '.join(LAYOUTS)}")
    if task == "listops":
        return TraceContext(task)
    from lolameme.lang import LatentRules
    from lolameme.lang.global_table import load_globals

    latent = manifest.get("latent")
    globals_file = data_dir / (manifest.get("vocabulary") or {}).get("globals_file", "globals.json")
    try:
        rules = LatentRules(**latent) if latent else None
        table = load_globals(globals_file) if globals_file.is_file() else None
    except (LolamemeError, TypeError) as exc:
        raise DatasetError(f"{data_dir}: cannot read the globals or latent rules the tracer needs: {exc}") from None
    return TraceContext(task, table, rules)


def ideal_trace(program: str, label: str, ctx: TraceContext, fmt: AnswerFormat) -> TraceTarget:
    """The trace a perfect model writes for ``program``; a DatasetError if the tracer disagrees with ``label``."""
    try:
        target = _listops_trace(program, fmt) if ctx.task == "listops" else _lolameme_trace(program, ctx, fmt)
    except LolamemeError as exc:
        raise DatasetError(f"cannot trace program {program!r}: {exc}") from None
    if target.answer != _written(label, fmt.reverse_answer):
        raise DatasetError(f"the tracer computes {target.answer!r} for {program!r} but the label is {label!r} "
                           f"(written {_written(label, fmt.reverse_answer)!r})")
    return target


def _lolameme_trace(program: str, ctx: TraceContext, fmt: AnswerFormat) -> TraceTarget:
    from lolameme.lang import trace
    from lolameme.lang.semantics import read_global

    run = trace(program, ctx.globals, ctx.latent)
    rev = fmt.reverse_answer
    fields, positions, printed_field = [], [], None
    for s in run.statements:
        if fmt.statements == "relevant" and not s.relevant:
            continue
        if s.target == run.printed and not run.printed_global:
            printed_field = len(fields)  # the last assignment of the printed name wins
        items = [_written(read_global(name, ctx.globals), rev) for name in s.global_reads]
        fields.append(ctx.layout.item_sep.join([*items, _written(s.value, rev)]))
        positions.append(s.number)
    return TraceTarget(tuple(fields), tuple(positions), printed_field, _written(run.output, rev))


def _listops_trace(program: str, fmt: AnswerFormat) -> TraceTarget:
    from lolameme.data.listops.rules import analyze

    result = analyze(program)
    values = result.list_values
    fields = tuple(_written(v, fmt.reverse_answer) for v in values)
    return TraceTarget(fields, tuple(range(1, len(values) + 1)), len(values) - 1 if values else None,
                       _written(result.value, fmt.reverse_answer))


def answer_weights(length: int, answer_start: int, final_start: int, trace_weight: float,
                   final_weight: float) -> np.ndarray:
    """Per-token loss weights of a trace sample of ``length`` ids (the weight of ``ids[i]`` as a target):
    ``trace_weight`` on the trace and its marker, ``final_weight`` on the final answer and ``<eos>``, 1 before."""
    weights = np.ones(length, dtype=np.float32)
    weights[answer_start:final_start] = trace_weight
    weights[final_start:] = final_weight
    return weights


class Encoded(NamedTuple):
    """A sample's ids, where the answer begins, and where its final answer begins (after the trace)."""

    ids: list[int]
    answer_start: int
    final_start: int


def encode(tok: Tokenizer, program: str, label: str, fmt: AnswerFormat, ctx: TraceContext | None = None,
           target: TraceTarget | None = None) -> Encoded:
    """One sample in ``fmt``; a trace needs the dataset's ``ctx`` (``target`` saves tracing again)."""
    if not fmt.is_trace:
        ids, start = encode_sample(tok, program, label, reverse_answer=fmt.reverse_answer)
        return Encoded(ids, start, start)
    if ctx is None:
        raise ConfigError("a trace sample needs the dataset's trace context (lolameme.train.format.trace_context)")
    target = target if target is not None else ideal_trace(program, label, ctx, fmt)
    head, answer = ctx.layout.render(target)
    prompt = trace_prompt_ids(tok, program, ctx.layout)
    trace_ids = tok.encode(head)
    ids = [*prompt, *trace_ids, *tok.encode(answer), tok.eos_id]
    return Encoded(ids, len(prompt), len(prompt) + len(trace_ids))


def trace_prompt_ids(tok: Tokenizer, program: str, layout: TraceLayout) -> list[int]:
    """``<bos> opener program <sep>``: the prompt that asks for a trace."""
    return [tok.bos_id, *tok.encode(layout.opener), *tok.encode(program), tok.sep_id]


def prompt_for(tok: Tokenizer, program: str, fmt: AnswerFormat, task: str = "lolameme") -> list[int]:
    """The prompt of ``program`` in ``fmt``: what the evaluator feeds before decoding."""
    return trace_prompt_ids(tok, program, LAYOUTS[task]) if fmt.is_trace else prompt_ids(tok, program)


class TraceReading(NamedTuple):
    """What a model's trace output says, scored against the ideal trace; never raises on bad output."""

    answer: str  # the final answer in true digit order ("" when the output has no marker)
    fields_right: tuple[bool, ...]  # one per ideal field: the model wrote exactly that field at that place
    well_formed: bool  # marker present, as many fields as the ideal, finished by <eos> within the cap
    consistent: bool | None  # final answer == the trace's value of the printed variable (None: a global printed)


def read_trace(text: str, target: TraceTarget, layout: TraceLayout, fmt: AnswerFormat, *,
               finished: bool = True) -> TraceReading:
    """Score the decoded output ``text`` (the tokens after ``<sep>``, cut before ``<eos>``) against ``target``.

    ``finished`` says the model wrote ``<eos>`` within its length cap; an unfinished (runaway) output
    is malformed and its final answer wrong.
    """
    parsed = layout.parse(text) if finished else None
    if parsed is None:
        return TraceReading("", tuple(False for _ in target.fields), False,
                            None if target.printed_field is None else False)
    fields, written = parsed
    right = tuple(i < len(fields) and fields[i] == want for i, want in enumerate(target.fields))
    consistent = None
    if target.printed_field is not None:
        k = target.printed_field
        consistent = k < len(fields) and fields[k].split(layout.item_sep)[-1] == written and written != ""
    answer = reverse_digits(written) if fmt.reverse_answer else written
    return TraceReading(answer, right, len(fields) == len(target.fields), consistent)


def read_trace_ids(tok: Tokenizer, ids: list[int], target: TraceTarget, layout: TraceLayout, fmt: AnswerFormat,
                   *, finished: bool = True) -> TraceReading:
    """:func:`read_trace` on generated token ids; a special token inside the output makes it malformed."""
    specials = {tok.pad_id, tok.bos_id, tok.sep_id, tok.eos_id}
    clean = not any(i in specials for i in ids)
    try:
        text = tok.decode(list(ids)) if clean else ""
    except Exception:  # noqa: BLE001 -- ids outside the vocabulary: a malformed output, never a crash
        text, clean = "", False
    return read_trace(text, target, layout, fmt, finished=finished and clean)
