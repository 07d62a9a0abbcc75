"""The language's rules, stated once: what an operator computes, the value range, and reads.

Every execution path -- the tree walker (:func:`~lolameme.lang.run_program`), the
fused text evaluator (:func:`~lolameme.lang.evaluate`), the tracer
(:func:`~lolameme.lang.trace`) and the columnar batch path
(:mod:`lolameme.lang.columnar`) -- applies an operator through :data:`OPERATORS`
and the latent-type rule through :attr:`LatentPlan.rule`, so the paths cannot
drift apart. docs/language.md is the prose version.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from lolameme.errors import ConfigError, EvalError
from lolameme.lang.ast import OPS, Op
from lolameme.lang.latent import LatentPlan
from lolameme.lang.names import to_snake
from lolameme.lang.syntax import MAX_VALUE_BITS

Globals = Mapping[str, int]

#: meaning -> function. Python's operators, so ``mod`` is floor modulo (the sign of the
#: divisor), on ints and on numpy int64 arrays alike (the columnar path uses the same table).
OPERATORS: dict[Op, Callable] = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "mod": operator.mod}
assert tuple(OPERATORS) == OPS

LIMIT = 1 << MAX_VALUE_BITS  # every operator result must satisfy -LIMIT < r < LIMIT


class Undefined(Exception):
    """Internal: a name is neither assigned nor global (becomes an EvalError)."""


class TooLarge(Exception):
    """Internal: an operator result is out of range (becomes an EvalError)."""


#: the internal failures of a statement, turned into an EvalError by :func:`statement_error`
FAILURES = (Undefined, ZeroDivisionError, TooLarge, RecursionError)


def apply(op: Op, lvalue: int, rvalue: int, lname: str | None, rname: str | None,
          plan: LatentPlan | None, fired: list[int] | None = None) -> int:
    """The value of ``(left op right)``; counts a latent firing in ``fired[0]`` when given.

    ``lname``/``rname`` are the operands' names when they are bare names (None for a
    literal or a bracketed expression): latent rules apply only between two names.
    """
    if plan is not None and lname is not None and rname is not None:
        row = plan.by_letter.get(lname[0])
        firing = row.get(rname[0]) if row is not None else None
        if firing is not None:
            lvalue, rvalue = lvalue * firing[0] // firing[1], rvalue * firing[2] // firing[3]
            if fired is not None:
                fired[0] += 1
    result = OPERATORS[op](lvalue, rvalue)
    if not -LIMIT < result < LIMIT:
        raise TooLarge
    return result


def read_global(name: str, globals: Globals | None) -> int:
    """Value of a name that the program has not assigned, from the global table.

    Table keys may be spelled either way; the camelCase key is tried first,
    then the snake_case one. Looking names up on demand (instead of
    re-keying the whole table per call) keeps big tables cheap.
    """
    if globals is not None:
        try:
            value = globals.get(name)
            if value is None and not name.islower():
                value = globals.get(to_snake(name))
        except AttributeError:
            raise ConfigError(f"globals must be a mapping of names to integers, got {type(globals).__name__}") from None
        if value is not None:
            if type(value) is int:
                return value
            if isinstance(value, bool):
                raise ConfigError(f"global {name!r} has value {value!r}; global values must be integers, not booleans")
            try:
                return operator.index(value)
            except TypeError:
                raise ConfigError(
                    f"global {name!r} has value {value!r}; global values must be integers"
                ) from None
    raise Undefined(name)


def statement_error(where: str, exc: Exception) -> EvalError:
    """The EvalError for an internal failure inside statement ``where``."""
    if isinstance(exc, Undefined):
        return EvalError(
            f"{where}: {exc.args[0]!r} is not defined (not assigned earlier and not in the global table)"
        )
    if isinstance(exc, ZeroDivisionError):
        return EvalError(f"{where}: modulo by zero")
    if isinstance(exc, TooLarge):
        return EvalError(f"{where}: a value reached 2**{MAX_VALUE_BITS} in magnitude, the accepted maximum")
    if isinstance(exc, RecursionError):
        return EvalError(f"{where}: expression nested too deeply")
    raise TypeError(exc)  # pragma: no cover - only the types above are passed
