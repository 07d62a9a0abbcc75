"""Evaluation: greedy exact match (the paper's metric) beside the majority-answer baseline, sliced by annotation.

    from lolameme.eval import evaluate_run
    reports = evaluate_run("runs/thex")          # every test* split; writes RUN/eval/SPLIT.json

The names load on first use, so ``lolameme --help`` (which imports
``lolameme.eval.cli``) does not pay for importing torch.
"""

from __future__ import annotations

_EXPORTS = {
    "EvalSettings": "lolameme.eval.evaluate",
    "evaluate_run": "lolameme.eval.evaluate",
    "evaluate_split": "lolameme.eval.evaluate",
    "exact_match": "lolameme.eval.metrics",
    "majority_answer": "lolameme.eval.metrics",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):  # PEP 562
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lolameme.eval' has no attribute {name!r}")
