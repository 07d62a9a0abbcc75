"""Duplicate detection with compact 64-bit text hashes, never the texts.

:func:`text_hashes` hashes a whole pyarrow string array in a few numpy passes
over its byte buffer (a polynomial hash mod 2**64 followed by the splitmix64
finaliser), so hashing costs well under a microsecond per program.
:class:`SeenHashes` remembers every hash of a corpus in sorted uint64 runs
(8 bytes per program: 320 MB for the paper's 40M-program corpus). Two
different programs collide with probability about n**2 / 2**65 (4e-5 for 40M
programs); a collision only drops one program as a false duplicate.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_MULTIPLIER = np.uint64(0xD6E8FEB86659FD93)  # odd, so every power is odd
_powers = np.ones(1, dtype=np.uint64)


def _power_table(length: int) -> np.ndarray:
    """_MULTIPLIER ** k mod 2**64 for k < length (grown on demand, cached)."""
    global _powers
    if len(_powers) < length:
        size = max(length, 2 * len(_powers))
        powers = np.empty(size, dtype=np.uint64)
        powers[0] = 1
        with np.errstate(over="ignore"):
            for k in range(1, size):
                powers[k] = powers[k - 1] * _MULTIPLIER
        _powers = powers
    return _powers


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def text_hashes(texts: pa.Array) -> np.ndarray:
    """A 64-bit hash of every (non-empty) string, as uint64, deterministic across runs and machines."""
    texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if len(texts) == 0:
        return np.empty(0, dtype=np.uint64)
    _, offsets_buffer, data_buffer = texts.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[texts.offset:texts.offset + len(texts) + 1]
    starts, ends = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)
    lengths = ends - starts
    data = np.frombuffer(data_buffer, dtype=np.uint8)[starts[0]:ends[-1]].astype(np.uint64)
    position = np.arange(len(data), dtype=np.int64) - np.repeat(starts - starts[0], lengths)
    with np.errstate(over="ignore"):
        terms = (data + np.uint64(1)) * _power_table(int(lengths.max()))[position]
        sums = np.add.reduceat(terms, starts - starts[0])
        return _splitmix64(sums ^ (lengths.astype(np.uint64) << np.uint64(48)))


class SeenHashes:
    """A growing set of uint64 hashes kept as sorted runs merged like a binary counter.

    Membership of a batch costs one ``searchsorted`` per run (O(log n) runs).
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self.runs)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for run in self.runs:
            where = np.searchsorted(run, hashes)
            found |= run[np.minimum(where, len(run) - 1)] == hashes
        return found

    def add(self, hashes: np.ndarray) -> None:
        run = np.sort(hashes)
        while self.runs and len(self.runs[-1]) <= len(run):
            run = np.sort(np.concatenate([self.runs.pop(), run]), kind="stable")
        if len(run):
            self.runs.append(run)

    def nbytes(self) -> int:
        return sum(run.nbytes for run in self.runs)


def first_new(hashes: np.ndarray, seen: SeenHashes) -> np.ndarray:
    """Mask of rows whose hash is neither in ``seen`` nor earlier in ``hashes``."""
    _, first = np.unique(hashes, return_index=True)
    keep = np.zeros(len(hashes), dtype=bool)
    keep[first] = True
    return keep & ~seen.contains(hashes)
