"""AST -> program text in LoLa, MeMe, or a random mix of both.

Spacing is the paper's: ``name = (a + b)`` statements joined by ``;`` and a
final ``print(x)``; MeMe writes ``name = {a | b}`` and ``print{x}`` with
snake_case names. ``parse(render(p, d)) == p`` for every dialect.
"""

from __future__ import annotations

import random
from typing import Literal

from lolameme.errors import ConfigError
from lolameme.lang.ast import BinOp, Expr, Num, Program
from lolameme.lang.names import to_snake
from lolameme.lang.syntax import BRACKETS, SYMBOL

Dialect = Literal["lola", "meme", "mixed"]
DIALECT_CHOICES = ("lola", "meme", "mixed")


def render(program: Program, dialect: Dialect = "lola", rng: random.Random | None = None) -> str:
    """Program text in ``dialect``.

    ``"mixed"`` draws every operator, every bracket pair and every name
    occurrence's dialect independently (a fair coin from ``rng``, which is
    required so that mixing is reproducible from a seed).
    """
    if dialect == "mixed":
        if rng is None:
            raise ConfigError("render(..., 'mixed') needs rng=random.Random(seed) to draw the mix")
        coin = rng.getrandbits
    elif dialect == "lola" or dialect == "meme":
        constant = 0 if dialect == "lola" else 1
        coin = lambda _bits: constant  # noqa: E731 - the fixed "coin" of a pure dialect
    else:
        raise ConfigError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECT_CHOICES)}")

    symbols = (SYMBOL["lola"], SYMBOL["meme"])
    brackets = (BRACKETS["lola"], BRACKETS["meme"])

    def name(canonical: str) -> str:
        return to_snake(canonical) if coin(1) else canonical

    def expr(node: Expr) -> str:
        if type(node) is Num:
            return str(node.value)
        if type(node) is BinOp:
            opener, closer = brackets[coin(1)]
            left = expr(node.left)
            symbol = symbols[coin(1)][node.op]
            return f"{opener}{left} {symbol} {expr(node.right)}{closer}"
        return name(node.name)

    parts = [f"{name(s.target)} = {expr(s.value)}" for s in program.statements]
    opener, closer = brackets[coin(1)]
    parts.append(f"print{opener}{name(program.printed)}{closer}")
    return ";".join(parts)
