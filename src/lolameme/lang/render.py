"""AST -> program text in LoLa, MeMe, or a random mix of both.

Spacing is the paper's: ``name = (a + b)`` statements joined by ``;`` and a
final ``print(x)``; MeMe writes ``name = {a | b}`` and ``print{x}`` with
snake_case names. ``parse(render(p, d)) == p`` for every dialect.
"""

from __future__ import annotations

import random
from typing import Literal

from lolameme.errors import ConfigError
from lolameme.lang.ast import Assign, BinOp, Expr, Num, Program
from lolameme.lang.names import to_snake
from lolameme.lang.syntax import BRACKETS, DIALECTS, SYMBOL

DIALECT_CHOICES = (*DIALECTS, "mixed")
Dialect = Literal[DIALECT_CHOICES]  # type: ignore[valid-type]


def render(program: Program, dialect: Dialect = "lola", rng: random.Random | None = None) -> str:
    """Program text in ``dialect``.

    ``"mixed"`` draws every operator, every bracket pair and every name
    occurrence's dialect independently (a fair coin from ``rng``, which is
    required so that mixing is reproducible from a seed).
    """
    writer = _Writer(dialect, rng)
    name, expr = writer.name, writer.expr
    parts = [f"{name(s.target)} = {expr(s.value)}" for s in program.statements]
    opener, closer = writer.brackets()
    parts.append(f"print{opener}{name(program.printed)}{closer}")
    return ";".join(parts)


def render_statement(statement: Assign, dialect: Dialect = "lola", rng: random.Random | None = None) -> str:
    """One statement ``name = expression`` (no separator), e.g. for trace tables."""
    writer = _Writer(dialect, rng)
    return f"{writer.name(statement.target)} = {writer.expr(statement.value)}"


class _Writer:
    """Writes names, expressions and bracket pairs, each in a dialect drawn by a
    coin: constant for LoLa (0) and MeMe (1), a fair random bit for mixed."""

    def __init__(self, dialect: str, rng: random.Random | None) -> None:
        if dialect == "mixed":
            if rng is None:
                raise ConfigError("render(..., 'mixed') needs rng=random.Random(seed) to draw the mix")
            self.coin = rng.getrandbits
        elif dialect == "lola" or dialect == "meme":
            constant = 0 if dialect == "lola" else 1
            self.coin = lambda _bits: constant
        else:
            raise ConfigError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECT_CHOICES)}")

    _SYMBOLS = (SYMBOL["lola"], SYMBOL["meme"])
    _BRACKETS = (BRACKETS["lola"], BRACKETS["meme"])

    def brackets(self) -> tuple[str, str]:
        return self._BRACKETS[self.coin(1)]

    def name(self, canonical: str) -> str:
        return to_snake(canonical) if self.coin(1) else canonical

    def expr(self, node: Expr) -> str:
        if type(node) is Num:
            return str(node.value)
        if type(node) is BinOp:
            opener, closer = self._BRACKETS[self.coin(1)]
            left = self.expr(node.left)
            symbol = self._SYMBOLS[self.coin(1)][node.op]
            return f"{opener}{left} {symbol} {self.expr(node.right)}{closer}"
        return self.name(node.name)
