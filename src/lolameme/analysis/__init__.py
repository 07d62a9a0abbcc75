"""Mechanistic analysis of trained runs against the tracer's ground truth (see docs/analysis.md).

    from lolameme.analysis import analyze_run
    analyze_run("runs/gpt2-tiny", split="test_without_globals", settings=AnalysisSettings(limit=500))

One module per measure: :mod:`~lolameme.analysis.attribution` (attention from the answer to each
token role), :mod:`~lolameme.analysis.probes` (linear probes at ``<sep>`` with a fresh-init model
and a control task beside them), :mod:`~lolameme.analysis.patching` (causal patching of the
residual stream) and :mod:`~lolameme.analysis.filters` (Hyena impulse responses); the token roles
come from :mod:`~lolameme.analysis.annotate` and the output from :mod:`~lolameme.analysis.report`.
Names load on first use, so ``import lolameme.analysis.cli`` does not import torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {"analyze_run": "lolameme.analysis.run", "AnalysisSettings": "lolameme.analysis.settings"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lolameme.analysis' has no attribute {name!r}")
