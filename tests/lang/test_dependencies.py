"""The static dependency structure: which statements feed the print, and by which operators."""

from __future__ import annotations

import pytest

from lolameme.lang import parse
from lolameme.lang.trace import chain_operators, dependencies


@pytest.mark.parametrize("program, ops", [
    ("a = 5;print(a)", set()),
    ("a = 5;b = a;c = (7 * 2);print(b)", set()),  # a lookup chain; the product is noise
    ("a = (5 + 1);b = a;print(b)", {"add"}),  # arithmetic earlier on the chain counts
    ("a = (5 + 1);a = 3;print(a)", set()),  # the later assignment shadows the sum
    ("a = 2;b = (a * 3);c = (b % a);print(c)", {"mod", "mul"}),
    ("a = (1 - 2);a = (a + 1);print(a)", {"add", "sub"}),  # a self-read reaches the earlier assignment
    ("b = (g * 2);print(b)", {"mul"}),  # a global read needs no table here
    ("print(g)", set()),
])
def test_chain_operators_on_hand_programs(program: str, ops: set[str]) -> None:
    assert chain_operators(program) == ops
    assert chain_operators(parse(program)) == ops


def test_dependencies_of_a_program():
    deps = dependencies(["a", "b", "a", "c"], [[], ["a", "g"], ["b", "a"], ["a"]], "c")
    assert deps.depends_on == ((), (0,), (0, 1), (2,))
    assert deps.hops == (1, 2, 3, 4)
    assert deps.relevant == (True, True, True, True)
    assert deps.printed_by == 3
    noise = dependencies(["a", "b"], [[], []], "a")
    assert noise.relevant == (True, False) and noise.printed_by == 0
    assert dependencies(["a"], [[]], "g").printed_by is None
