"""``evaluate`` has a fused fast path; on every input it must agree exactly with
``run_program(parse(text))`` (same value, or same error class and message).
These are the edge cases a fast path is most likely to get wrong."""

import pytest

from lolameme import LatentRules, LolamemeError
from lolameme.lang import evaluate, parse, run_program


def nested(depth: int) -> str:
    return "a = " + "(" * depth + "1" + " + 1)" * depth + ";print(a)"


TRICKY = [
    "a = 1;print(a}", "a = 1;print{a)", "a = 1;print(a)x", "a = 1;print(a);;", "a = 1;print(a) ; ",
    "a = 1;print(a)(", "a = 1;print(a", "a = 1;print a", "a = 1;print((a))", "a = 1;print()",
    "print(a)", "a = (1 + 2));print(a)", "a = (1 + 2};print(a)", "a = ((1 + 2);print(a)",
    "a = 1 + 2;print(a)", "a = (1 + 2 + 3);print(a)", "a == 1;print(a)", "a = ;print(a)",
    "a = 1;;print(a)", "= 1;print(a)", "a = 1;print(print)", "a = print;print(a)", "a1 = 2;print(a)",
    "a = (1 + (2 * 3));print(a)", "a = (b + 1);print(a)", "a = (1 % 0);print(a)", "a = 1;print(b)",
    "a = 1 ;b = a;print(b);", "print = 1;print(print)", "a = 1;print(a) print(a)", "a = 1print(a)",
    "a = 1;b = ((a @ 2} | 3);print(b)", "a = 1;print(a);", ";", "", " ", "a", "a =", "a = 1;",
    "a = 2;" + "a = (a * a);" * 12 + "print(a)", "a = 2;" + "a = (a * a);" * 11 + "print(a)",
    "a = " + "9" * 1000 + ";print(a)", "a = " + "9" * 1001 + ";print(a)", nested(100), nested(101),
    "a = (1 + 2);print(a)\x00", "a = (1 + 2)é;print(a)", "x_y = 1;print(xY)", "x__y = 1;print(xY)",
    "aa = 3;xa = 4;r = (aa + xa);print(r)", "r = (aa + xa);print(r)",
]


def outcome(fn, *args):
    try:
        return fn(*args)
    except LolamemeError as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("latent", [None, LatentRules()])
def test_fast_path_agrees_with_parse_and_run(text, latent):
    table = {"aa": 5, "xa": 9}
    assert outcome(evaluate, text, table, latent) == outcome(lambda: run_program(parse(text), table, latent))


def test_nesting_limit_is_exact():
    assert evaluate(nested(100)) == 101
    with pytest.raises(LolamemeError, match="nested deeper than 100"):
        evaluate(nested(101))
