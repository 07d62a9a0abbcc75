"""The task format: the ONE place that knows how a sample is laid out as tokens.

A sample is ``<bos> program <sep> answer <eos>``. The model reads the program,
and after ``<sep>`` it writes the answer and then ``<eos>``; the trainer puts
its loss on the answer tokens (``<eos>`` included, so the model learns to stop)
and the evaluator decodes greedily after ``<sep>`` until ``<eos>``.

With ``reverse_answer`` the digits of a numeric answer are written least
significant first (``-48`` -> ``-84``; the sign stays in front), which lets a
left-to-right model produce a sum's carry before the digits that need it. The
reversal is its own inverse, and :func:`answer_from_ids` undoes it, so exact
match is always computed against the true label.
"""

from __future__ import annotations

import re

from lolameme.tokenizers import Tokenizer

FORMAT_VERSION = 1  # bump when the layout changes; part of the token-cache key

_INTEGER = re.compile(r"^(-?)(\d+)$")


def reverse_digits(answer: str) -> str:
    """Digits of an integer answer in reverse order, sign kept in front; other answers unchanged."""
    match = _INTEGER.match(answer)
    if match is None:
        return answer
    sign, digits = match.groups()
    return sign + digits[::-1]


def prompt_ids(tok: Tokenizer, program: str) -> list[int]:
    """``<bos> program <sep>``: what the model reads before it writes the answer."""
    return [tok.bos_id, *tok.encode(program), tok.sep_id]


def answer_ids(tok: Tokenizer, label: str, *, reverse_answer: bool = False) -> list[int]:
    """``answer <eos>``: what the model must write after ``<sep>``."""
    text = reverse_digits(label) if reverse_answer else label
    return [*tok.encode(text), tok.eos_id]


def encode_sample(
    tok: Tokenizer, program: str, label: str, *, reverse_answer: bool = False
) -> tuple[list[int], int]:
    """Token ids of a whole sample and the index of its first answer token.

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
