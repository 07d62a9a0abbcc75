"""Latent types: optional rules that change operand values by the names' first letters.

A name's type comes from the alphabet index ``i`` (a=0 ... z=25) of its first
letter: A if ``i < boundary_a``, B if ``boundary_a <= i < boundary_b``, C
otherwise. In a binary expression whose two operands are both names, a type-A
left operand with a type-B or type-C right operand is modified before the
operator applies: left by ``modification_a``, right by ``modification_b`` (B)
or ``modification_c`` (C). A modification is ``*k``, ``/k`` (floor division)
or ``''`` (none).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from lolameme.errors import ConfigError

_MODIFICATION = re.compile(r"([*/])([0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class LatentRules:
    """The latent-type rules; the defaults are the paper's base config."""

    boundary_a: int = 23
    boundary_b: int = 26
    modification_a: str = "*2"
    modification_b: str = "/2"
    modification_c: str = "/2"

    def __post_init__(self) -> None:
        for field in ("boundary_a", "boundary_b"):
            value = getattr(self, field)
            if type(value) is not int or not 0 <= value <= 26:
                raise ConfigError(f"LatentRules.{field} is {value!r}; expected an integer from 0 to 26")
        if self.boundary_a > self.boundary_b:
            raise ConfigError(
                f"LatentRules.boundary_a ({self.boundary_a}) must not exceed boundary_b ({self.boundary_b})"
            )
        for field in ("modification_a", "modification_b", "modification_c"):
            _parse_modification(getattr(self, field), field)

    def type_of(self, name: str) -> str:
        """'A', 'B' or 'C': the latent type of a (canonical) name."""
        return _plan(self).type_of[name[0]]


class Modification(NamedTuple):
    """``value * multiply // divide``: one formula for '*k', '/k' and ''."""

    multiply: int
    divide: int

    @property
    def is_identity(self) -> bool:
        return self.multiply == 1 and self.divide == 1


TYPES = ("A", "B", "C")

#: ``(left multiply, left divide, right multiply, right divide)``: what a firing rule does to
#: the operands of ``left op right`` (``value * multiply // divide`` each)
Firing = tuple[int, int, int, int]


class LatentPlan(NamedTuple):
    """LatentRules prepared for the interpreters' inner loops.

    ``rule[left type][right type]`` is the whole latent-type rule as a 3x3 table (types as
    indices into :data:`TYPES`): the :data:`Firing` when a rule changes the operands, else
    None. ``by_letter`` is the same table keyed by the operands' first letters, holding only
    the firing entries, so the scalar paths pay two dict lookups per name-name operation.
    """

    type_of: dict[str, str]                           # first letter -> 'A' | 'B' | 'C'
    rule: tuple[tuple[Firing | None, ...], ...]       # [left type][right type]
    by_letter: dict[str, dict[str, Firing]]           # left first letter -> right first letter -> Firing


def _parse_modification(text: object, field: str) -> Modification:
    if text == "":
        return Modification(1, 1)
    match = _MODIFICATION.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match.group(2)) == 0:
        raise ConfigError(
            f"LatentRules.{field} is {text!r}; expected '*k' or '/k' with k a positive integer "
            "below 10**9, or '' for no modification"
        )
    k = int(match.group(2))
    return Modification(k, 1) if match.group(1) == "*" else Modification(1, k)


@lru_cache(maxsize=64)
def _plan(rules: LatentRules) -> LatentPlan:
    type_of = {}
    for index, letter in enumerate(string.ascii_lowercase):
        type_of[letter] = "A" if index < rules.boundary_a else "B" if index < rules.boundary_b else "C"
    left = _parse_modification(rules.modification_a, "modification_a")
    right = {
        "B": _parse_modification(rules.modification_b, "modification_b"),
        "C": _parse_modification(rules.modification_c, "modification_c"),
    }
    # The rule: a type-A left operand with a type-B or -C right operand, unless both
    # modifications are the identity (then nothing changes and nothing counts as fired).
    rule = tuple(
        tuple((*left, *right[rtype]) if ltype == "A" and rtype != "A"
              and not (left.is_identity and right[rtype].is_identity) else None for rtype in TYPES)
        for ltype in TYPES
    )
    by_letter: dict[str, dict[str, Firing]] = {}
    for lletter, ltype in type_of.items():
        row = {rletter: firing for rletter, rtype in type_of.items()
               if (firing := rule[TYPES.index(ltype)][TYPES.index(rtype)]) is not None}
        if row:
            by_letter[lletter] = row
    return LatentPlan(type_of, rule, by_letter)


def plan_for(rules: LatentRules | None) -> LatentPlan | None:
    """The prepared plan, or None when no rule can ever change a value."""
    if rules is None:
        return None
    if not isinstance(rules, LatentRules):
        raise ConfigError(f"latent must be a LatentRules or None, got {type(rules).__name__}")
    plan = _plan(rules)
    return plan if plan.by_letter else None
