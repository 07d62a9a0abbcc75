"""Token roles: which part of a program each token position belongs to, from the tracer's ground truth.

Every measure groups positions the same way, so they are computed once here. A sample is laid out
as :mod:`lolameme.train.format` lays it out (``<bos> program <sep> answer <eos>``), and every position
gets one role:

* ``defining``: the statement that last assigns the printed name (its value is the answer);
* ``chain``: the other statements in the printed value's backward slice (its dependency chain);
* ``noise``: statements the printed value does not depend on;
* ``print``: the ``print(...)`` statement;
* ``bos`` / ``sep``: the special tokens around the program;
* ``answer``: the answer tokens and ``<eos>``.

A statement owns its text up to and including its ``;``. Token positions come from the tokenizer's
character offsets, so the roles are right for the char, words and gpt2 tokenizers alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from lolameme.errors import DatasetError, LolamemeError, TokenizerError
from lolameme.lang import LatentRules, Trace, trace
from lolameme.tokenizers import Tokenizer
from lolameme.train.format import encode_sample

ROLES = ("bos", "defining", "chain", "noise", "print", "sep", "answer")
ROLE = {name: index for index, name in enumerate(ROLES)}
#: Finer groups inside ``defining`` (attention attribution only): the assigned name with ``=``, and the expression.
DEFINING_PARTS = ("defining name", "defining value")
_LITERAL = re.compile(r"[0-9]+")
_NAME = re.compile(r"[A-Za-z_]+")


class Span(NamedTuple):
    """A literal or a name read inside one statement: where it is in the text and in the sequence."""

    statement: int                # 0-based statement index (the print statement is the last + 1)
    char_start: int
    char_end: int
    positions: tuple[int, ...]    # sequence positions of its tokens
    relevant: bool                # inside the printed value's dependency chain (or the print statement)


@dataclass
class Sample:
    """One program, tokenized as the model reads it, with a role per position."""

    program: str
    label: str
    ids: np.ndarray          # int64 [T]: <bos> program <sep> answer <eos>
    answer_start: int        # index of the first answer token; <sep> is at answer_start - 1
    role: np.ndarray         # int8 [T], indices into ROLES
    trace: Trace
    literals: list[Span]
    global_reads: list[Span]
    rhs: np.ndarray          # bool [T]: the token lies right of its statement's '=' (the expression and ';')

    @property
    def hops(self) -> int:
        return self.trace.hops

    @property
    def defining(self) -> int:
        """1-based number of the statement that defines the printed value; 0 if it is a global."""
        return defining_number(self.trace)


def defining_number(result: Trace) -> int:
    """The last statement assigning the printed name (1-based), or 0 when the printed name is a global."""
    if result.printed_global:
        return 0
    return max(s.number for s in result.statements if s.target == result.printed and s.relevant)


def statement_spans(program: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the statements, each with its ``;``; the print statement last."""
    spans, start = [], 0
    for match in re.finditer(";", program):
        spans.append((start, match.end()))
        start = match.end()
    if start < len(program):
        spans.append((start, len(program)))
    return spans


def annotate(tok: Tokenizer, programs: Sequence[str], labels: Sequence[str], *, reverse_answer: bool,
             globals_table: Mapping[str, int] | None, latent: LatentRules | None,
             where: str = "split") -> list[Sample]:
    """A :class:`Sample` per program; a program the tracer or the tokenizer rejects is a clear error."""
    try:
        offsets = [e.offsets for e in tok.hf.encode_batch(list(programs), add_special_tokens=False)]
    except Exception as exc:  # the library's own errors are not ours to show raw
        raise TokenizerError(f"{where}: the run's {tok.name} tokenizer cannot encode the programs: {exc}") from None
    samples = []
    for row, (program, label, offs) in enumerate(zip(programs, labels, offsets)):
        try:
            samples.append(_annotate_one(tok, program, label, offs, reverse_answer, globals_table, latent))
        except TokenizerError as exc:
            raise TokenizerError(f"{where} row {row}: the run's {tok.name} tokenizer cannot encode this program, "
                                 f"so the dataset does not match the run's vocabulary ({exc})") from None
        except DatasetError as exc:
            raise DatasetError(f"{where} row {row}: {exc}") from None
        except LolamemeError as exc:
            raise DatasetError(f"{where} row {row}: the tracer rejects this program ({exc}); "
                               "analysis needs LOLAMEME programs that run") from None
    return samples


def _annotate_one(tok: Tokenizer, program: str, label: str, offsets: list[tuple[int, int]], reverse_answer: bool,
                  globals_table: Mapping[str, int] | None, latent: LatentRules | None) -> Sample:
    ids, answer_start = encode_sample(tok, program, label, reverse_answer=reverse_answer)
    if len(offsets) != answer_start - 2:
        raise TokenizerError("token offsets and token ids disagree")
    result = trace(program, globals_table, latent)
    if str(result.output) != label:
        raise DatasetError(f"the label is {label!r} but the tracer computes {result.output} "
                           "(the dataset's globals.json or latent rules do not match its labels)")
    spans = statement_spans(program)
    statement_role = _statement_roles(result, len(spans))
    starts = np.array([start for start, _ in spans])
    token_statement = np.searchsorted(starts, [start for start, _ in offsets], side="right") - 1
    role = np.full(len(ids), ROLE["answer"], dtype=np.int8)
    role[0] = ROLE["bos"]
    role[1:answer_start - 1] = statement_role[token_statement]
    role[answer_start - 1] = ROLE["sep"]
    literals, names = _leaves(program, spans, offsets, statement_role)
    global_reads = _global_reads(result, names, len(spans))
    equals = np.array([program.find("=", start, end) for start, end in spans])
    rhs = np.zeros(len(ids), dtype=bool)
    token_starts = np.array([start for start, _ in offsets])
    rhs[1:answer_start - 1] = (equals[token_statement] >= 0) & (token_starts > equals[token_statement])
    return Sample(program, label, np.asarray(ids, dtype=np.int64), answer_start, role, result, literals,
                  global_reads, rhs)


def _statement_roles(result: Trace, n_spans: int) -> np.ndarray:
    """Role of each statement span (assignments in order, then the print statement)."""
    roles = np.full(n_spans, ROLE["print"], dtype=np.int8)
    defining = defining_number(result) - 1
    for s in result.statements:
        index = s.number - 1
        roles[index] = ROLE["defining"] if index == defining else ROLE["chain"] if s.relevant else ROLE["noise"]
    return roles


def _leaves(program: str, spans: list[tuple[int, int]], offsets: list[tuple[int, int]],
            statement_role: np.ndarray) -> tuple[list[Span], list[Span]]:
    """The literals and the names read (right of ``=``, or inside ``print``) of every statement."""
    token_starts = np.array([start for start, _ in offsets])
    token_ends = np.array([end for _, end in offsets])
    literals, names = [], []
    for index, (start, end) in enumerate(spans):
        text = program[start:end]
        body = text.index("=") + 1 if "=" in text else 0
        relevant = bool(statement_role[index] != ROLE["noise"])
        for pattern, out in ((_LITERAL, literals), (_NAME, names)):
            for match in pattern.finditer(text, body):
                if pattern is _NAME and match.group() == "print":
                    continue
                lo, hi = start + match.start(), start + match.end()
                inside = np.nonzero((token_ends > lo) & (token_starts < hi))[0]
                out.append(Span(index, lo, hi, tuple(int(p) + 1 for p in inside), relevant))
    return literals, names


def _global_reads(result: Trace, names: list[Span], n_spans: int) -> list[Span]:
    """The name reads answered by the global table, matched to the names in text order."""
    per_statement: dict[int, list[Span]] = {}
    for span in names:
        per_statement.setdefault(span.statement, []).append(span)
    found = []
    for s in result.statements:
        spans = per_statement.get(s.number - 1, [])
        found += [span for span, read in zip(spans, s.reads) if read in s.global_reads]
    if result.printed_global:
        found += per_statement.get(n_spans - 1, [])
    return found


def slices_by(samples: Sequence[Sample], key: str = "hops") -> list[tuple[str, np.ndarray]]:
    """('all', every row) then (value as text, its rows) for each value of ``key`` present: the slices
    every measure reports (by hops; the model's accuracy also by ``defining`` statement)."""
    values = np.array([getattr(s, key) for s in samples])
    return [("all", np.ones(len(samples), dtype=bool))] + [(str(v), values == v) for v in sorted(set(values.tolist()))]
