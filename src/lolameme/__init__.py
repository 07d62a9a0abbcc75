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

__version__ = "0.1.0"

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
