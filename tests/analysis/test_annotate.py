"""Token roles from the tracer: every position of a known program gets the right role."""

from __future__ import annotations

import pytest

from lolameme.analysis.annotate import ROLES, annotate
from lolameme.errors import DatasetError
from lolameme.tokenizers import fit_words_tokenizer

PROGRAM = "x = 5;y = (x + 2);z = 9;x = (y * 3);print(x)"
#          chain  chain      noise  defining     print   (x=5 -> y -> x)


@pytest.mark.parametrize("words", [False, True])
def test_roles_follow_the_backward_slice(char_tok, words):
    tok = fit_words_tokenizer([PROGRAM, PROGRAM]) if words else char_tok
    [sample] = annotate(tok, [PROGRAM], ["21"], reverse_answer=True, globals_table=None, latent=None)
    names = [ROLES[r] for r in sample.role]
    assert names[0] == "bos" and names[sample.answer_start - 1] == "sep"
    assert names[sample.answer_start:] == ["answer"] * 3            # "1", "2" (reversed), <eos>
    spans = {"x = 5;": "chain", "y = (x + 2);": "chain", "z = 9;": "noise", "x = (y * 3);": "defining",
             "print(x)": "print"}
    for text, role in spans.items():
        start = PROGRAM.index(text)
        positions = [i + 1 for i, (a, _) in enumerate(tok.hf.encode(PROGRAM, add_special_tokens=False).offsets)
                     if start <= a < start + len(text)]
        assert {names[p] for p in positions} == {role}, text
    assert sample.hops == 3 and sample.defining == 4
    assert [(PROGRAM[s.char_start:s.char_end], s.relevant) for s in sample.literals] == [
        ("5", True), ("2", True), ("9", False), ("3", True)]


def test_global_reads_are_found_by_position(char_tok):
    program = "a = gv;b = (a + hh);print(b)"
    [sample] = annotate(char_tok, [program], ["12"], reverse_answer=False, globals_table={"gv": 5, "hh": 7},
                        latent=None)
    assert [program[s.char_start:s.char_end] for s in sample.global_reads] == ["gv", "hh"]
    assert sample.trace.output == 12


def test_a_program_the_tracer_rejects_or_disagrees_with_is_named(char_tok):
    with pytest.raises(DatasetError, match="row 1: the tracer rejects"):
        annotate(char_tok, ["a = 1;print(a)", "a = q;print(a)"], ["1", "1"], reverse_answer=False,
                 globals_table=None, latent=None, where="data/test")
    with pytest.raises(DatasetError, match="row 0: the label is '2' but the tracer computes 1"):
        annotate(char_tok, ["a = 1;print(a)"], ["2"], reverse_answer=False, globals_table=None, latent=None,
                 where="data/test")
