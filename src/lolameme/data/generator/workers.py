"""Chunks in order, made by this process or by a pool of worker processes.

:class:`ChunkRunner` hands out chunk numbers 0, 1, 2... of a split and yields
the finished chunks *in that order*, keeping a small bounded window of chunks
in flight, so memory stays bounded and the result never depends on which
worker finished first. With one worker everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator

from lolameme.data.generator.chunks import Chunk, Context, make_chunk
from lolameme.data.generator.splits import SplitPlan

_context: Context | None = None  # a worker process's own copy


def _init_worker(context: Context) -> None:
    global _context
    _context = context


def _work(plan: SplitPlan, k: int) -> Chunk:
    return make_chunk(_context, plan, k)


class ChunkRunner:
    """Produces the chunks of each split in order; use as a context manager."""

    def __init__(self, context: Context, workers: int = 1):
        self.context = context
        self.workers = workers
        self.pool = None
        if workers > 1:
            # fork starts workers in milliseconds and shares the built context;
            # elsewhere fall back to the platform's default start method
            method = "fork" if sys.platform.startswith("linux") else None
            self.pool = multiprocessing.get_context(method).Pool(workers, _init_worker, (context,))

    def chunks(self, plan: SplitPlan, remaining: Callable[[], int]) -> Iterator[Chunk]:
        """Chunks 0, 1, 2... of ``plan``, in order, for as long as the caller iterates.

        ``remaining()`` (rows the split still needs) keeps the prefetch window
        small near the end of a split, so few chunks are drawn in vain.
        """
        k = 0
        if self.pool is None:
            while True:
                yield make_chunk(self.context, plan, k)
                k += 1
        pending: deque = deque()
        while True:
            wanted = plan.chunks_for(remaining())
            while not pending or len(pending) < min(2 * self.workers, wanted):
                pending.append(self.pool.apply_async(_work, (plan, k)))
                k += 1
            yield pending.popleft().get()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def __enter__(self) -> ChunkRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
