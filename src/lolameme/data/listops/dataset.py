"""Write a ListOps dataset: chunks from workers, merged in order, deduplicated, split.

Generation is defined as a sequence of fixed-size chunks (see ``sampler``):
chunk ``k`` depends only on ``(seed, k)``. Workers compute chunks ahead; the
parent takes them strictly in chunk order, drops any tree it has seen before
(anywhere, across splits, as LRA's set does) and fills ``train``, then
``val``, then ``test``. The files are therefore byte-identical for any worker
count. Chunks computed beyond what the splits need are discarded.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from lolameme.data.io import DatasetWriter, Format
from lolameme.data.listops.config import ListOpsConfig
from lolameme.data.listops.sampler import CHUNK_DRAWS, Chunk, SamplerParams, sample_chunk
from lolameme.data.listops.stats import SplitStats
from lolameme.errors import ConfigError
from lolameme.progress import Progress

#: Rows per Parquet row group / write call; fixed so files do not depend on chunking by workers.
WRITE_BATCH = 8_192
#: Give up when this many consecutive chunks add no new tree: the config admits too few distinct trees.
STALL_CHUNKS = 32
_LABEL_TEXT = np.array([str(d) for d in range(10)], dtype=object)


def sampler_params(config: ListOpsConfig) -> SamplerParams:
    return SamplerParams(config.seed, config.max_depth, config.max_args, config.min_length, config.max_length)


def iter_chunks(params: SamplerParams, workers: int = 1, start: int = 0) -> Iterator[Chunk]:
    """Chunks ``start, start+1, ...`` in order, computed by ``workers`` processes (endless)."""
    if workers <= 1:
        index = start
        while True:
            yield sample_chunk(params, index)
            index += 1
    with ProcessPoolExecutor(max_workers=workers) as pool:
        ahead = 2 * workers
        pending = deque(pool.submit(sample_chunk, params, start + i) for i in range(ahead))
        index = start + ahead
        try:
            while True:
                chunk = pending.popleft().result()
                pending.append(pool.submit(sample_chunk, params, index))
                index += 1
                yield chunk
        finally:
            for future in pending:
                future.cancel()


class _SplitFiller:
    """Buffers rows of the split being filled and writes them in fixed-size batches."""

    def __init__(self, writer: DatasetWriter, sizes: dict[str, int]):
        self.order = [(name, size) for name, size in sizes.items()]
        self.writer = writer
        self.stats = {name: SplitStats() for name in sizes}
        self.position = 0  # index into self.order of the split being filled
        self.rows = 0  # rows already given to the current split
        self.buffer: dict[str, list] = self._empty()
        self.current = writer.split(self.order[0][0])
        self._skip_full()

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"input": [], "label": [], "depth": [], "n_ops": [], "lra_length": []}

    @property
    def done(self) -> bool:
        return self.position >= len(self.order)

    def add(self, text: str, label: int, depth: int, n_ops: int, lra_length: int) -> None:
        buffer = self.buffer
        buffer["input"].append(text)
        buffer["label"].append(label)
        buffer["depth"].append(depth)
        buffer["n_ops"].append(n_ops)
        buffer["lra_length"].append(lra_length)
        self.rows += 1
        if len(buffer["input"]) >= WRITE_BATCH:
            self._flush()
        self._skip_full()

    def _flush(self) -> None:
        buffer = self.buffer
        if buffer["input"]:
            labels = np.asarray(buffer["label"], dtype=np.int64)
            self.stats[self.order[self.position][0]].add(labels, np.asarray(buffer["lra_length"]))
            buffer["label"] = _LABEL_TEXT[labels].tolist()
            self.current.write(buffer)
        self.buffer = self._empty()

    def _skip_full(self) -> None:
        """Close every split that is full and open the next one."""
        while not self.done and self.rows >= self.order[self.position][1]:
            self._flush()
            self.current.close()
            self.position += 1
            self.rows = 0
            if not self.done:
                self.current = self.writer.split(self.order[self.position][0])


def generate(config: ListOpsConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Generate, label and write the three splits; return the manifest."""
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    sizes = config.split_sizes()
    params = sampler_params(config)
    seen: set[bytes] = set()
    duplicates = draws = accepted = chunks_used = stalled = 0
    with DatasetWriter(out_dir, fmt=fmt, overwrite=overwrite) as writer, \
            Progress(config.total_samples, "listops", enabled=progress) as bar:
        filler = _SplitFiller(writer, sizes)
        chunks = iter_chunks(params, workers)
        try:
            while not filler.done:
                chunk = next(chunks)
                chunks_used += 1
                draws += chunk.draws
                accepted += len(chunk.inputs)
                added = 0
                for i, digest in enumerate(chunk.digests):
                    if digest in seen:
                        duplicates += 1
                        continue
                    seen.add(digest)
                    filler.add(chunk.inputs[i], int(chunk.labels[i]), int(chunk.depth[i]),
                               int(chunk.n_ops[i]), int(chunk.lra_length[i]))
                    added += 1
                    if filler.done:
                        break
                stalled = 0 if added else stalled + 1
                if stalled >= STALL_CHUNKS:
                    raise ConfigError(
                        f"only {len(seen)} distinct trees exist within min_length={config.min_length} < length < "
                        f"max_length={config.max_length} (max_depth={config.max_depth}, max_args={config.max_args}) "
                        f"after {draws} draws, but {config.total_samples} samples were requested; "
                        f"widen the lengths or ask for fewer samples")
                bar.advance(added, dup=duplicates)
        finally:
            chunks.close()
        manifest = {
            "task": "listops",
            "config": config.model_dump(),
            "seed": config.seed,
            "generation": {
                "chunk_draws": CHUNK_DRAWS,
                "chunks": chunks_used,
                "draws": draws,
                "accepted": accepted,  # trees inside the length bounds, before deduplication
                "acceptance_rate": round(accepted / draws, 6),
            },
            "duplicates_dropped": duplicates,
            "label_stats": {name: stats.label_stats() for name, stats in filler.stats.items()},
            "length_stats": {name: stats.length_stats() for name, stats in filler.stats.items()},
        }
        return writer.finish(manifest)
