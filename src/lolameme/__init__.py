"""lolameme: LOLAMEME languages, datasets, models and experiments.

The top-level namespace stays light: importing ``lolameme`` never imports
torch. The language API (``evaluate``, ``LatentRules``) is loaded on first use.
"""

from __future__ import annotations

from lolameme.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    EvalError,
    ExperimentError,
    LolamemeError,
    ModelError,
    ParseError,
    TokenizerError,
)



def _installed_version() -> str:
    """The version in the installed distribution's metadata (pyproject.toml is its one home)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lolameme")
    except PackageNotFoundError:  # imported from a source tree that was never installed
        return "0+unknown"


__version__ = _installed_version()

_LANG_EXPORTS = ("evaluate", "LatentRules")

__all__ = [
    "__version__",
    "LolamemeError",
    "ParseError",
    "EvalError",
    "ConfigError",
    "DatasetError",
    "ModelError",
    "TokenizerError",
    "CheckpointError",
    "ExperimentError",
    *_LANG_EXPORTS,
]


def __getattr__(name: str):  # PEP 562: lazy access to the language API
    if name in _LANG_EXPORTS:
        from lolameme import lang

        return getattr(lang, name)
    raise AttributeError(f"module 'lolameme' has no attribute {name!r}")
