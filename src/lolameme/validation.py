"""Turn pydantic's validation errors into the one-line messages our errors carry.

Every config (generator, ListOps, model, training, experiment spec) is
validated once at its edge; this is the one place that says, for each problem,
which key, what value it had and what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pydantic import ValidationError

AcceptedKeys = Iterable[str] | Callable[[tuple], Iterable[str]] | None


def validation_problems(exc: ValidationError, accepted: AcceptedKeys = None) -> str:
    """One phrase per error, joined by ``"; "``: ``key=value: message``.

    Unknown keys read ``unknown key 'k' (value v); accepted: ...`` where
    ``accepted`` names the valid keys: a list, or a function of the error's
    location (for nested models). Errors of the whole model (no location) are
    their message alone.
    """
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        if error["type"] == "extra_forbidden":
            keys = accepted(error["loc"]) if callable(accepted) else accepted
            listed = f"; accepted: {', '.join(keys)}" if keys else ""
            problems.append(f"unknown key {where!r} (value {value!r}){listed}")
        elif not where:
            problems.append(message)
        elif isinstance(value, (dict, list)):
            problems.append(f"{where}: {message}")
        else:
            problems.append(f"{where}={value!r}: {message}")
    return "; ".join(problems)
