"""Global tables: validated once where they enter (a JSON file, a config).

``evaluate`` accepts any ``Mapping[str, int]`` and looks names up on demand;
this module is for the edge, where a table from outside is checked whole:
every key a valid name (either spelling), every value an integer, and no two
spellings of one name with different values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from lolameme.errors import ConfigError
from lolameme.lang.names import canonical, describe_names
from lolameme.lang.syntax import MAX_VALUE_BITS


def canonical_globals(table: Mapping[str, object], source: str = "global table") -> dict[str, int]:
    """The table keyed by canonical names, or a ConfigError saying which entry is wrong."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: expected a mapping of names to integers, got {type(table).__name__}")
    result: dict[str, int] = {}
    for key, value in table.items():
        name = canonical(key) if isinstance(key, str) else None
        if name is None:
            raise ConfigError(f"{source}: key {key!r} is not a valid name; {describe_names()}")
        if type(value) is not int or value.bit_length() >= MAX_VALUE_BITS:
            raise ConfigError(
                f"{source}: value of {key!r} is {value!r}; expected an integer below 2**{MAX_VALUE_BITS} in magnitude"
            )
        if result.get(name, value) != value:
            raise ConfigError(f"{source}: {key!r} and another spelling of {name!r} have different values")
        result[name] = value
    return result


def load_globals(path: str | Path) -> dict[str, int]:
    """Read a global table from JSON: ``{"name": 24, ...}`` or the paper's ``["name = 24", ...]``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read globals file {str(path)!r}: {exc.strerror or exc}") from None
    except RecursionError:
        raise ConfigError(f"globals file {str(path)!r} is nested too deeply; expected a flat "
                          '{"name": integer} object or a list of "name = integer" strings') from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, or an integer over Python's digit limit
        raise ConfigError(f"globals file {str(path)!r} is not valid JSON or holds an integer too long to "
                          f"read: {exc}") from None
    if isinstance(data, list):
        data = _from_assignments(data, str(path))
    return canonical_globals(data, f"globals file {str(path)!r}")


_INTEGER = re.compile(r"-?[0-9]{1,1000}")


def _from_assignments(lines: list, source: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for k, line in enumerate(lines):
        parts = line.split("=") if isinstance(line, str) else []
        value = parts[1].strip() if len(parts) == 2 else ""
        if not _INTEGER.fullmatch(value):
            raise ConfigError(f"{source}: item {k} is {line!r}; expected 'name = integer'")
        table[parts[0].strip()] = int(value)
    return table
