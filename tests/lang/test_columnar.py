"""The columnar interpreter agrees with the scalar one (run_program and trace) on random programs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lolameme import EvalError, LolamemeError, ParseError
from lolameme.lang import LatentRules, parse, trace
from lolameme.lang.columnar import (
    BOUND,
    CONST,
    NAME,
    OP,
    Columns,
    Names,
    names_of,
    run_columns,
    to_columns,
)

from test_properties import SETTINGS, cases  # the same random programs as the other property tests


def _scalar(program, table, latent):
    try:
        return trace(program, table, latent)
    except EvalError:
        return None


@st.composite
def batches(draw):
    """Programs that share one statement count, a global table and latent rules."""
    program, table, latent = draw(cases())
    count = len(program.statements)
    others = draw(st.lists(cases(), max_size=5))
    programs = [program] + [p for p, _, _ in others if len(p.statements) == count]
    return programs, table, latent


@SETTINGS
@given(batches())
def test_columnar_run_matches_trace(batch):
    programs, table, latent = batch
    names = Names.build(names_of(programs), table, latent)
    run = run_columns(to_columns(programs, names), names)
    too_large = run.failed["too_large"]
    for n, program in enumerate(programs):
        expected = _scalar(program, table, latent)
        if too_large[n]:  # outside the int64 range: the scalar path either fails or holds a huge value
            continue
        if expected is None:
            assert not run.ok[n], f"scalar path fails, columnar does not: {program}"
            continue
        assert run.ok[n], f"columnar fails ({ {k: bool(v[n]) for k, v in run.failed.items()} }): {program}"
        assert int(run.output[n]) == expected.output
        assert [int(v) for v in run.values[:, n]] == [st_.value for st_ in expected.statements]
        assert int(run.n_global_reads[n]) == expected.n_global_reads
        assert int(run.n_latent[n]) == expected.n_latent
        assert int(run.hops[n]) == expected.hops
        assert [bool(r) for r in run.relevant[:, n]] == [st_.relevant for st_ in expected.statements]


def _run(texts, table=None, latent=None):
    programs = [parse(t) for t in texts]
    names = Names.build(names_of(programs), table, latent)
    return run_columns(to_columns(programs, names), names)


def test_hand_examples_with_latent_rules_and_failures():
    latent = LatentRules()  # x, y, z are type B/C: a-w names times 2, x-z names halved
    run = _run(["a = 7;b = (a % 3);print(b)",
                "a = 7;b = (a - g);print(b)",
                "a = 7;b = (a % 0);print(b)",
                "a = 7;b = (a * x);print(b)",
                "a = 7;b = (a + q);print(b)",
                "a = 7;b = 1;print(g)"], {"g": 10, "x": 9}, latent)
    assert list(run.output[[0, 1, 3, 5]]) == [1, -3, 14 * 4, 10]
    assert list(run.failed["modulo_by_zero"]) == [False, False, True, False, False, False]
    assert list(run.failed["undefined"]) == [False, False, False, False, True, False]
    assert list(run.n_latent) == [0, 0, 0, 1, 0, 0]
    ok = [0, 1, 3, 5]  # entries of failed rows are meaningless
    assert list(run.n_global_reads[ok]) == [0, 1, 1, 1]
    assert list(run.hops[ok]) == [2, 2, 2, 0]
    assert run.relevant[:, 5].tolist() == [False, False]


def test_values_beyond_int64_are_flagged_not_wrapped():
    run = _run(["a = 2000000000;b = (a * a);c = (b * b);print(c)",
                "a = 2000000000;b = (a * a);c = (b % 7);print(c)"])
    assert list(run.failed["too_large"]) == [True, False]
    assert int(run.output[1]) == (2000000000 ** 2) % 7


def test_malformed_columns_are_rejected():
    names = Names.build(["a"])
    good = dict(target=np.zeros((1, 1), np.int64), kind=np.array([[[OP], [CONST], [CONST]]], np.int8),
                ref=np.ones((1, 3, 1), np.int64), op=np.zeros((1, 3, 1), np.int8),
                printed=np.zeros(1, np.int64))
    run_columns(Columns(**good), names)
    bad_cases = {
        "kind": np.array([[[OP], [CONST], [0]]], np.int8),    # an operator with one child
        "ref": np.array([[[0], [BOUND], [1]]], np.int64),     # a literal out of range
        "printed": np.array([5], np.int64),                   # an id outside the names
        "target": np.zeros((2, 1), np.int64),                 # wrong shape
    }
    for key, value in bad_cases.items():
        with pytest.raises(ParseError):
            run_columns(Columns(**{**good, key: value}), names)
    with pytest.raises(ParseError):
        run_columns(Columns(**{**good, "kind": np.array([[[NAME], [NAME], [7]]], np.int8)}), names)


def test_names_must_cover_the_programs():
    programs = [parse("a = b;print(a)")]
    with pytest.raises(LolamemeError):
        to_columns(programs, Names.build(["a"]))
