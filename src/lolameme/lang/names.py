"""Variable names: validation and the camelCase <-> snake_case identity.

A name's identity is its camelCase form; each ``_x`` of a snake_case name is
the capital ``X`` (``xv_h_mi`` is ``xvHMi``). The two spellings are in
one-to-one correspondence, so rendering to MeMe and parsing back is lossless.
"""

from __future__ import annotations

import re

from lolameme.errors import ParseError

RESERVED = "print"
_CAMEL = re.compile(r"[a-z][a-zA-Z]*")
_SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)*")
_SNAKE_PART = re.compile(r"_([a-z])")
_CAPITAL = re.compile(r"[A-Z]")

# Spelling -> canonical name, for spellings already seen. Programs reuse a small
# vocabulary, so this turns validation into one dict lookup; it is cleared when
# it grows large so random input cannot exhaust memory.
canonical_cache: dict[str, str] = {}
_snake_cache: dict[str, str] = {}
_CACHE_LIMIT = 100_000


def remember(cache: dict, key: str, value):
    """``cache[key] = value``, emptying the cache first when it is full; returns ``value``.

    The language's caches (spellings, snake_case forms, the parser's leaves) hold what
    programs reuse; clearing beats eviction bookkeeping, and random input cannot
    exhaust memory.
    """
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


def canonical(spelling: str) -> str | None:
    """The canonical camelCase name of ``spelling``, or None if it is no valid name.

    Valid: camelCase (a lowercase letter, then letters) or snake_case (lowercase
    letters and single underscores, never leading or trailing); never ``print``.
    """
    name = canonical_cache.get(spelling)
    if name is not None:
        return name
    if _CAMEL.fullmatch(spelling):
        name = spelling
    elif _SNAKE.fullmatch(spelling):
        name = _SNAKE_PART.sub(lambda m: m.group(1).upper(), spelling)
    else:
        return None
    if name == RESERVED:
        return None
    return remember(canonical_cache, spelling, name)


def to_camel(name: str) -> str:
    """Canonical (camelCase) form of a camelCase or snake_case name."""
    result = canonical(name)
    if result is None:
        raise ParseError(f"{name!r} is not a valid name; {describe_names()}")
    return result


def to_snake(name: str) -> str:
    """snake_case spelling of a name given in either style (``xvHMi`` -> ``xv_h_mi``)."""
    snake = _snake_cache.get(name)
    if snake is None:
        snake = remember(_snake_cache, name, _CAPITAL.sub(lambda m: "_" + m.group(0).lower(), to_camel(name)))
    return snake


def describe_names() -> str:
    """What a valid name looks like, for error messages."""
    return (
        "names are camelCase (a lowercase letter, then letters) or snake_case "
        "(lowercase letters joined by single underscores), and 'print' is reserved"
    )
