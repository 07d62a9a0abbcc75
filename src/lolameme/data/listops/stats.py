"""Per-split statistics for the manifest: what chance level and lengths look like.

The class histogram and majority-class rate tell a reader what a model that
always answers the commonest digit would score (about 17% in LRA; uniform
guessing gives 10%). Length statistics let the trainer see how many examples
exceed a fixed context before it chooses to filter or truncate.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SplitStats:
    """Accumulates labels and LRA lengths of one split, batch by batch."""

    def __init__(self) -> None:
        self.histogram = np.zeros(10, dtype=np.int64)
        self.lengths: list[np.ndarray] = []

    def add(self, labels: np.ndarray, lra_lengths: np.ndarray) -> None:
        self.histogram += np.bincount(np.asarray(labels, dtype=np.int64), minlength=10)[:10]
        self.lengths.append(np.asarray(lra_lengths, dtype=np.int64))

    def label_stats(self) -> dict[str, Any]:
        rows = int(self.histogram.sum())
        majority = int(self.histogram.argmax())
        return {
            "histogram": {str(d): int(c) for d, c in enumerate(self.histogram)},
            "majority_class": str(majority),
            "majority_rate": round(float(self.histogram[majority]) / rows, 6) if rows else None,
        }

    def length_stats(self) -> dict[str, Any]:
        lengths = np.concatenate(self.lengths) if self.lengths else np.empty(0, np.int64)
        if lengths.size == 0:
            return {"min": None, "max": None, "mean": None, "median": None, "over_1024_lra_tokens": 0}
        return {
            "min": int(lengths.min()),
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 2),
            "median": float(np.median(lengths)),
            # GPT-2's context: the count a fixed-context trainer must filter or truncate (LRA tokens, before BOS/EOS)
            "over_1024_lra_tokens": int((lengths > 1024).sum()),
        }
