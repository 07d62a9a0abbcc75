"""Check generated records against the project's interpreter and tracer.

The generator computes labels and annotations with numpy (programs.py) for
speed; this module re-runs records through ``lolameme.lang.trace`` and
insists on exact agreement. Generation calls it on a sample of every chunk
(``verify: sample``, the default) or on every record (``verify: all``); the
tests call it on every record of their corpora.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lolameme.lang import LatentRules, trace


class LabelMismatch(AssertionError):
    """A generated record disagrees with the interpreter: a bug in the generator."""


def expected_annotations(text: str, globals_table: Mapping[str, int], latent: LatentRules) -> dict[str, Any]:
    """Label and annotations of ``text`` as the tracer sees them, in the dataset's conventions.

    ``max_depth`` is the tracer's: a bare operand has depth 1, one operator 2.
    """
    t = trace(text, globals_table, latent)
    label = str(t.output)
    return {
        "label": label,
        "n_statements": len(t.statements),
        "max_depth": t.max_depth,
        "n_global_reads": t.n_global_reads,
        "uses_globals": t.n_global_reads > 0,
        "n_latent": t.n_latent,
        "n_relevant": t.n_relevant,
        "n_noise": t.n_noise,
        "hops": t.hops,
        "answer_len": len(label),
    }


def check_records(records: Iterable[Mapping[str, Any]], globals_table: Mapping[str, int],
                  latent: LatentRules) -> int:
    """Raise :class:`LabelMismatch` on the first record that disagrees; return how many were checked."""
    count = 0
    for record in records:
        expected = expected_annotations(record["input"], globals_table, latent)
        got = {key: record[key] for key in expected}
        if got != expected:
            diff = {key: (got[key], expected[key]) for key in expected if got[key] != expected[key]}
            raise LabelMismatch(f"generated record disagrees with lolameme.lang (generated, interpreter): "
                                f"{diff} for program {record['input']!r}")
        count += 1
    return count
