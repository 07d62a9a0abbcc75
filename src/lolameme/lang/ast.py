"""The abstract syntax tree shared by LoLa, MeMe and mixed programs.

The tree is dialect-free: operators are stored by meaning (``"add"``, ``"sub"``,
``"mul"``, ``"mod"``) and every name in its canonical camelCase form, so a
program and its translation into the other dialect have equal trees. Nodes are
small frozen dataclasses with ``__slots__``: cheap to build, hashable, and safe
to share (the parser reuses one ``Var``/``Num`` object per distinct leaf).

Trees built by hand (the dataset generator does) must follow the same rules as
parsed ones: names canonical (use :func:`lolameme.lang.names.to_camel`),
``Num.value >= 0`` and ``op`` one of :data:`OPS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

Op = Literal["add", "sub", "mul", "mod"]
OPS: tuple[Op, ...] = ("add", "sub", "mul", "mod")


@dataclass(frozen=True, slots=True)
class Num:
    """An unsigned integer literal."""

    value: int


@dataclass(frozen=True, slots=True)
class Var:
    """A variable read; ``name`` is canonical camelCase."""

    name: str


@dataclass(frozen=True, slots=True)
class BinOp:
    """``(left op right)``: one bracket pair around one operator."""

    op: Op
    left: Expr
    right: Expr


Expr = Union[Num, Var, BinOp]


@dataclass(frozen=True, slots=True)
class Assign:
    """``target = value``; ``target`` is canonical camelCase."""

    target: str
    value: Expr


@dataclass(frozen=True, slots=True)
class Program:
    """Statements run in order, then the value of ``printed`` is the output."""

    statements: tuple[Assign, ...]
    printed: str
