"""ListOps rules: operators, text form, length accounting, malformed input."""

import random

import numpy as np
import pytest

from lolameme.data.listops import analyze, evaluate, lra_length, normalize
from lolameme.errors import LolamemeError, ParseError

OPS = ("MIN", "MAX", "MED", "SM")


@pytest.mark.parametrize("text, label", [
    ("[MIN 4 7 2 9 ]", 2),
    ("[MAX 4 7 2 9 ]", 9),
    ("[SM 4 7 2 9 ]", 2),  # 22 mod 10
    ("[SM 9 9 ]", 8),
    ("[MED 3 9 1 ]", 3),  # odd count: the middle value
    ("[MED 7 1 5 2 8 ]", 5),
    ("[MED 2 5 ]", 3),  # even count: mean of the middle two, truncated (neither 2 nor 5)
    ("[MED 1 2 3 9 ]", 2),  # (2 + 3) / 2 = 2.5 -> 2
    ("[MED 0 9 ]", 4),
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),
    ("[SM [MAX 1 8 ] [MIN 6 3 ] [MED 4 4 9 ] ]", 5),  # 8 + 3 + 4 = 15
    ("7", 7),
])
def test_hand_cases(text, label):
    assert evaluate(text) == label


@pytest.mark.parametrize("text, length", [
    ("7", 1),
    ("[MAX 2 9 ]", 4),  # 2 digits + 2 for the operator
    ("[MAX 2 9 [MIN 4 7 ] 0 ]", 9),  # 5 digits + 2 operators
    ("[SM [MED 1 2 ] [MIN [MAX 3 4 ] 5 ] ]", 13),  # 5 digits + 4 operators
])
def test_length_accounting(text, length):
    assert lra_length(text) == length
    assert analyze(text).lra_length == length


def test_depth_and_operator_count():
    result = analyze("[SM [MED 1 2 ] [MIN [MAX 3 4 ] 5 ] ]")
    assert (result.depth, result.n_ops) == (3, 4)
    assert (analyze("4").depth, analyze("4").n_ops) == (0, 0)


def test_lra_file_parentheses_are_not_tokens():
    lra_form = "( ( ( ( ( [MAX 2 ) 9 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 0 ) ] )"
    assert normalize(lra_form) == "[MAX 2 9 [MIN 4 7 ] 0 ]"
    assert evaluate(lra_form) == 9
    assert lra_length(lra_form) == 9


@pytest.mark.parametrize("text, message", [
    ("[MAX 2 9", "unbalanced '\\['"),
    ("[MAX 2 9 ] ]", "continues after"),
    ("] 3", "unbalanced '\\]'"),
    ("[MAX ]", "empty list"),
    ("[FIRST 2 9 ]", "unknown operator '\\[FIRST'"),
    ("[MAX 2 12 ]", "unknown token '12'"),
    ("[MAX 2 x ]", "unknown token 'x'"),
    ("", "empty ListOps expression"),
    ("3 4", "continues after"),
])
def test_malformed_input_raises_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        analyze(text)
    assert issubclass(ParseError, LolamemeError)


def test_deep_input_does_not_hit_the_recursion_limit():
    depth = 5000
    text = "[MAX 1 " * depth + "2" + " ]" * depth
    assert analyze(text).value == 2 and analyze(text).depth == depth


# ---------------------------------------------------------------- independent reference

def reference_tree(rng: random.Random, depth: int, max_depth: int, max_args: int):
    """LRA's recursive draw as nested lists: a digit, or [op, child, child, ...]."""
    if depth < max_depth and rng.random() <= 0.25:
        return [rng.choice(OPS)] + [reference_tree(rng, depth + 1, max_depth, max_args)
                                    for _ in range(rng.randint(2, max_args))]
    return rng.randint(0, 9)


def reference_value(tree) -> int:
    if isinstance(tree, int):
        return tree
    values = [reference_value(child) for child in tree[1:]]
    return {"MIN": min, "MAX": max, "MED": lambda v: int(np.median(v)),
            "SM": lambda v: int(np.sum(v) % 10)}[tree[0]](values)


def reference_text(tree) -> str:
    if isinstance(tree, int):
        return str(tree)
    return " ".join([f"[{tree[0]}", *(reference_text(c) for c in tree[1:]), "]"])


def test_evaluator_matches_recursive_reference_on_random_trees():
    rng = random.Random(1234)
    checked = 0
    while checked < 400:
        root = reference_tree(rng, 1, 8, 6)
        if isinstance(root, int):
            continue
        assert evaluate(reference_text(root)) == reference_value(root)
        checked += 1
