"""Write a ListOps dataset: chunks from workers, merged in order, deduplicated, split.

Generation is defined as a sequence of fixed-size chunks (see ``sampler``):
chunk ``k`` depends only on ``(seed, k)``. Workers compute chunks ahead; the
parent takes them strictly in chunk order, drops any tree it has seen before
(anywhere, across splits, as LRA's set does) and fills ``train``, then
``val``, then ``test``. The files are therefore byte-identical for any worker
count. Chunks computed beyond what the splits need are discarded.
"""

from __future__ import annotations

import multiprocessing
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
from lolameme.machine import init_pool_worker
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
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_worker_context(),
                               initializer=init_pool_worker, initargs=(os.getpid(),))
    try:
        ahead = workers + 1  # one queued beyond the running ones keeps workers busy; few wasted at the end
        pending = deque(pool.submit(sample_chunk, params, start + i) for i in range(ahead))
        index = start + ahead
        while True:
            chunk = pending.popleft().result()
            pending.append(pool.submit(sample_chunk, params, index))
            index += 1
            yield chunk
    finally:
        # Do not wait for chunks nobody needs any more; workers exit after their current one.
        pool.shutdown(wait=False, cancel_futures=True)


def _fresh_rows(digests: list[bytes], seen: set[bytes], limit: int) -> tuple[list[int], int]:
    """(indices of up to ``limit`` trees not seen before, in order; repeats skipped), marking them seen."""
    fresh: list[int] = []
    repeated = 0
    for i, digest in enumerate(digests):
        if len(fresh) == limit:
            break
        if digest in seen:
            repeated += 1
        else:
            seen.add(digest)
            fresh.append(i)
    return fresh, repeated


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers fork from a clean single-threaded server where available (forking a process
    that already runs Arrow's threads is unsafe), with the sampler preloaded so they start fast."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["lolameme.data.listops.sampler"])
    return context


class _SplitFiller:
    """Streams rows into train, then val, then test, writing fixed batches of WRITE_BATCH rows."""

    NUMERIC = ("label", "depth", "n_ops", "lra_length")

    def __init__(self, writer: DatasetWriter, sizes: dict[str, int]):
        self.order = list(sizes.items())
        self.writer = writer
        self.stats = {name: SplitStats() for name in sizes}
        self.remaining = sum(sizes.values())
        self.position = 0  # index into self.order of the split being filled
        self.rows = 0  # rows already given to the current split
        self.texts: list[str] = []
        self.numbers: dict[str, list[np.ndarray]] = {key: [] for key in self.NUMERIC}
        self.current = writer.split(self.order[0][0])
        self._close_full_splits()

    @property
    def done(self) -> bool:
        return self.position >= len(self.order)

    def add(self, texts: list[str], numbers: dict[str, np.ndarray]) -> None:
        """Append rows in order, moving on to the next split whenever one is full."""
        start = 0
        while start < len(texts) and not self.done:
            take = min(self.order[self.position][1] - self.rows, len(texts) - start)
            self.texts.extend(texts[start:start + take])
            for key in self.NUMERIC:
                self.numbers[key].append(numbers[key][start:start + take])
            self.rows += take
            self.remaining -= take
            start += take
            self._write(final=False)
            self._close_full_splits()

    def _write(self, final: bool) -> None:
        """Write whole batches of WRITE_BATCH rows (and the rest too when ``final``)."""
        numbers = {key: np.concatenate(parts) if parts else np.empty(0, np.int64) for key, parts in self.numbers.items()}
        written = 0
        while len(self.texts) - written >= WRITE_BATCH or (final and written < len(self.texts)):
            end = min(written + WRITE_BATCH, len(self.texts))
            labels, lengths = numbers["label"][written:end], numbers["lra_length"][written:end]
            self.stats[self.order[self.position][0]].add(labels, lengths)
            self.current.write({
                "input": self.texts[written:end],
                "label": _LABEL_TEXT[labels].tolist(),
                "depth": numbers["depth"][written:end].tolist(),
                "n_ops": numbers["n_ops"][written:end].tolist(),
                "lra_length": lengths.tolist(),
            })
            written = end
        self.texts = self.texts[written:]
        self.numbers = {key: [value[written:]] for key, value in numbers.items()}

    def _close_full_splits(self) -> None:
        while not self.done and self.rows >= self.order[self.position][1]:
            self._write(final=True)
            self.current.close()
            self.position += 1
            self.rows = 0
            if not self.done:
                self.current = self.writer.split(self.order[self.position][0])


def generate(config: ListOpsConfig, out_dir: str | os.PathLike, *, workers: int = 1, fmt: Format = "parquet",
             overwrite: bool = False, progress: bool = False) -> dict[str, Any]:
    """Generate, label and write the three splits; return the manifest.

    With ``workers > 1`` chunks are computed in worker processes started by
    multiprocessing's forkserver, so a calling script needs the usual
    ``if __name__ == "__main__":`` guard.
    """
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
                fresh, repeated = _fresh_rows(chunk.digests, seen, limit=filler.remaining)
                duplicates += repeated
                rows = np.asarray(fresh, dtype=np.int64)
                filler.add([chunk.inputs[i] for i in fresh],
                           {"label": chunk.labels[rows], "depth": chunk.depth[rows],
                            "n_ops": chunk.n_ops[rows], "lra_length": chunk.lra_length[rows]})
                added = len(fresh)
                stalled = 0 if added else stalled + 1
                if stalled >= STALL_CHUNKS:
                    raise ConfigError(
                        f"found only {len(seen)} distinct trees with min_length={config.min_length} < length < "
                        f"max_length={config.max_length} (max_depth={config.max_depth}, max_args={config.max_args}) "
                        f"in {draws} draws, the last {STALL_CHUNKS} chunks adding none, but "
                        f"{config.total_samples} samples were requested; widen the lengths or ask for fewer samples")
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
