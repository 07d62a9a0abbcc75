"""Hand-written cases for every language rule (docs/language.md)."""

import random

import pytest

import lolameme
from lolameme import EvalError, LatentRules, ParseError
from lolameme.lang import (
    Assign,
    BinOp,
    Num,
    Program,
    Var,
    evaluate,
    parse,
    render,
    run_program,
    to_camel,
    to_snake,
    trace,
)


def test_package_forwards_api():
    assert lolameme.evaluate is evaluate
    assert lolameme.LatentRules is LatentRules


@pytest.mark.parametrize(
    "program, expected",
    [
        ("a = 2;print(a)", 2),
        ("a = (2 + 3);print(a)", 5),
        ("a = (2 - 3);print(a)", -1),
        ("a = (2 * 3);print(a)", 6),
        ("a = (7 % 3);print(a)", 1),
        ("a = {2 | 3};print{a}", 5),
        ("a = {2 ! 3};print{a}", -1),
        ("a = {2 @ 3};print{a}", 6),
        ("a = {7 / 3};print{a}", 1),
        ("a = (-7);print(a)", None),  # no unary minus
        ("a = (0 - 7);b = (a % 3);print(b)", 2),  # floor modulo: sign of divisor
        ("a = (7 % (0 - 3));print(a)", -2),
        ("a = ((1 + 2) * (3 - 10));print(a)", -21),
        ("  a\t=\n(1+2) ;  print ( a ) ; ", 3),
        ("a = 1;a = (a + a);a = (a * 5);print(a)", 10),
        ("a = 007;print(a)", 7),
    ],
)
def test_arithmetic(program, expected):
    if expected is None:
        with pytest.raises(ParseError):
            evaluate(program)
    else:
        assert evaluate(program) == expected
        assert run_program(parse(program)) == expected


def test_names_share_identity_across_styles():
    assert to_camel("xv_h_mi") == "xvHMi" and to_snake("xvHMi") == "xv_h_mi"
    assert to_camel("o_z") == "oZ" and to_snake("oZ") == "o_z"
    assert to_snake("lsok") == "lsok" == to_camel("lsok")
    assert evaluate("xv_h_mi = 3;print(xvHMi)") == 3
    assert evaluate("oZ = 4;o_z = (oZ + o_z);print{oZ}") == 8


@pytest.mark.parametrize("bad", ["A", "aB_c", "a__b", "_a", "a_", "a1", "print", "Ab", "a_B"])
def test_invalid_names_are_parse_errors(bad):
    with pytest.raises(ParseError):
        evaluate(f"{bad} = 1;print({bad})")
    with pytest.raises(ParseError):
        to_camel(bad)


def test_mixed_program():
    assert evaluate("zAb = (2@3);print(z_ab)") == 6
    assert evaluate("x_y = {2 + (3 ! 1)};print{xY}") == 4
    tree = parse("zAb = (2@3);print{z_ab}")
    assert tree == Program((Assign("zAb", BinOp("mul", Num(2), Num(3))),), "zAb")


@pytest.mark.parametrize(
    "program, message",
    [
        ("a = (1 + 2};print(a)", "column 11: expected ')' to close '(' at column 5"),
        ("a = {1 + 2);print(a)", "expected '}' to close '{' at column 5"),
        ("a = (1 + 2;print(a)", "column 11: expected ')' to close '('"),
        ("a = (1 2);print(a)", "column 8: expected an operator"),
        ("a = 1 print(a)", "column 7: expected ';'"),
        ("a = 1;", "column 7: expected a statement"),
        ("a = 1;print(a);b = 2", "print must be the last statement"),
        ("print = 1;print(print)", "column 1"),
        ("a = 1;print(a", "found end of input"),
        ("", "column 1"),
        ("a = 1 $ 2;print(a)", "column 7"),
        ("a = " + "(" * 101 + "1", "nested deeper than 100"),
        ("a = " + "9" * 1001 + ";print(a)", "at most 1000"),
    ],
)
def test_parse_errors_say_where_and_what(program, message):
    with pytest.raises(ParseError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{").replace("}", r"\}").replace("$", r"\$")):
        evaluate(program)
    with pytest.raises(ParseError):
        parse(program)


def test_eval_errors():
    with pytest.raises(EvalError, match=r"statement 2: 'b' is not defined"):
        evaluate("a = 1;c = (a + b);print(c)")
    with pytest.raises(EvalError, match="statement 1: modulo by zero"):
        evaluate("a = (5 % 0);print(a)")
    with pytest.raises(EvalError, match="print statement: 'zz' is not defined"):
        evaluate("a = 1;print(zz)")
    with pytest.raises(EvalError, match="2\\*\\*4096"):
        evaluate("a = 2;" + "a = (a * a);" * 13 + "print(a)")


def test_globals_in_either_style_and_shadowing():
    assert evaluate("b = (xvHMi + 1);print(b)", {"xv_h_mi": 4}) == 5
    assert evaluate("b = (xv_h_mi + 1);print(b)", {"xvHMi": 4}) == 5
    assert evaluate("print(g)", {"g": 9}) == 9
    assert evaluate("b = g;g = 1;c = (b + g);print(c)", {"g": 9}) == 10


def test_non_integer_global_is_a_clear_error():
    with pytest.raises(lolameme.ConfigError, match="'g'"):
        evaluate("a = g;print(a)", {"g": "7"})


# --- latent types -------------------------------------------------------------
LATENT = LatentRules(boundary_a=23, boundary_b=25, modification_a="*2", modification_b="/2", modification_c="*3")


@pytest.mark.parametrize(
    "expression, expected",
    [
        ("(aa + xa)", 2 * 10 + 7 // 2),  # A op B
        ("(aa + za)", 2 * 10 + 7 * 3),   # A op C
        ("(xa + aa)", 7 + 10),           # B op A: unchanged
        ("(aa + ba)", 10 + 10),          # A op A: unchanged
        ("(xa + za)", 7 + 7),            # B op C: unchanged
        ("(aa + 7)", 10 + 7),            # A op literal: unchanged
        ("(aa + (xa + 0))", 10 + 7),     # A op sub-expression: unchanged
        ("((aa - xa) * 1)", 20 - 3),     # nested A op B fires
        ("(aa % xa)", 20 % 3),
    ],
)
def test_latent_cases(expression, expected):
    program = f"aa = 10;ba = 10;xa = 7;za = 7;r = {expression};print(r)"
    assert evaluate(program, latent=LATENT) == expected
    assert run_program(parse(program), latent=LATENT) == expected
    assert trace(program, latent=LATENT).output == expected


def test_latent_defaults_and_floor_division():
    assert LatentRules() == LatentRules(23, 26, "*2", "/2", "/2")
    # xa is type B under defaults; /2 floors towards minus infinity
    assert evaluate("xa = (0 - 7);r = (aa + xa);print(r)", {"aa": 1}, LatentRules()) == 2 - 4
    assert evaluate("xa = (0 - 7);r = (aa + xa);print(r)", {"aa": 1}) == -6
    # empty modifications never change anything
    assert evaluate("r = (aa + xa);print(r)", {"aa": 1, "xa": 3}, LatentRules(modification_a="", modification_b="", modification_c="")) == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"boundary_a": 27},
        {"boundary_a": -1},
        {"boundary_a": 10, "boundary_b": 5},
        {"modification_a": "*0"},
        {"modification_b": "/0"},
        {"modification_c": "+2"},
        {"modification_a": "2"},
        {"boundary_b": "26"},
    ],
)
def test_latent_rules_are_validated(kwargs):
    with pytest.raises(lolameme.ConfigError):
        LatentRules(**kwargs)


def test_latent_rules_are_frozen():
    with pytest.raises(AttributeError):
        LatentRules().boundary_a = 3


# --- render -------------------------------------------------------------------
def test_render_canonical_spacing():
    tree = parse("xv_h_mi = {a | (b * 3)};print{xv_h_mi}")
    assert render(tree, "lola") == "xvHMi = (a + (b * 3));print(xvHMi)"
    assert render(tree, "meme") == "xv_h_mi = {a | {b @ 3}};print{xv_h_mi}"
    mixed = render(tree, "mixed", random.Random(0))
    assert parse(mixed) == tree
    assert render(tree, "mixed", random.Random(0)) == mixed  # reproducible from the seed


def test_render_mixed_needs_rng_and_known_dialect():
    tree = parse("a = 1;print(a)")
    with pytest.raises(lolameme.ConfigError):
        render(tree, "mixed")
    with pytest.raises(lolameme.ConfigError):
        render(tree, "python")


# --- trace --------------------------------------------------------------------
def test_trace_slice_hops_and_counts():
    program = "a = 2;b = 1;c = ((a % b) + gX);d = 5;e = (c * gY);a = 7;print(e)"
    t = trace(program, {"g_x": 3, "gY": 4})
    assert t.output == evaluate(program, {"g_x": 3, "gY": 4}) == 12
    assert [s.relevant for s in t.statements] == [True, True, True, False, True, False]
    assert (t.n_relevant, t.n_noise) == (4, 2)
    assert t.hops == 3  # a -> c -> e
    assert t.statements[2].reads == ("a", "b", "gX")
    assert t.statements[2].global_reads == ("gX",)
    assert t.statements[2].depends_on == (1, 2)
    assert t.statements[2].depth == 3  # ((a % b) + gX): operand 1, one operator 2, nested 3
    assert t.max_depth == 3
    assert t.n_global_reads == 2
    assert t.n_latent == 0


def test_trace_reassignment_reads_previous_value():
    t = trace("a = 1;a = (a + 1);b = 9;print(a)")
    assert [s.relevant for s in t.statements] == [True, True, False]
    assert t.hops == 2 and t.output == 2


def test_trace_counts_latent_and_printed_global():
    t = trace("r = (aa + xa);s = (xa + r);print(r)", {"aa": 1, "xa": 4}, LatentRules())
    assert [s.latent for s in t.statements] == [1, 0]
    assert t.n_latent == 1 and t.output == 4
    t = trace("r = 1;print(g)", {"g": 3})
    assert t.printed_global and t.output == 3 and t.hops == 0 and t.n_noise == 1 and t.n_global_reads == 1


def test_latent_fires_only_when_a_modification_applies():
    program = "r = (aa + xa);print(r)"
    table = {"aa": 1, "xa": 4}
    none = LatentRules(modification_a="", modification_b="", modification_c="")
    assert trace(program, table, none).n_latent == 0
    right_only = LatentRules(modification_a="")
    t = trace(program, table, right_only)
    assert t.n_latent == 1 and t.output == 1 + 2
