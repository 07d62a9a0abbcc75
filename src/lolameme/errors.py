"""Every error the toolkit raises on purpose derives from :class:`LolamemeError`.

Callers (the CLI, the experiment runner, users' notebooks) can then catch one
class and show its message, while real bugs still surface as ordinary
exceptions. Messages say what was wrong, where (key, file, column) and what is
accepted.
"""

from __future__ import annotations


class LolamemeError(Exception):
    """Root of all deliberate lolameme errors."""


class ParseError(LolamemeError):
    """A program (or ListOps expression) is not well formed."""


class EvalError(LolamemeError):
    """A well-formed program cannot be evaluated (undefined name, modulo by zero)."""


class ConfigError(LolamemeError):
    """A configuration, preset, recipe or experiment spec is invalid."""


class DatasetError(LolamemeError):
    """A dataset directory is missing, incomplete, corrupt or of the wrong kind."""


class TooFewProgramsError(DatasetError):
    """A generator config allows fewer distinct programs than the size asked for.

    ``found`` is how many distinct programs the split had when generation gave up,
    so a caller that can live with fewer (a curriculum stage) can ask again for less.
    """

    def __init__(self, message: str, found: int):
        super().__init__(message)
        self.found = found


class ModelError(LolamemeError):
    """A model specification is invalid or a model is called with bad input."""


class TokenizerError(LolamemeError):
    """Text cannot be tokenized, or a tokenizer does not match a run."""


class CheckpointError(LolamemeError):
    """A checkpoint or run directory is missing, corrupt or incompatible."""


class ExperimentError(LolamemeError):
    """An experiment spec or its results cannot be run or reported."""
