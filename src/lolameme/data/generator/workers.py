"""Chunks in order, made by this process or by a pool of worker processes.

:class:`ChunkRunner` yields the chunks 0, 1, 2... of each split *in that
order*, so the result never depends on which worker finished first. With
several workers it keeps a small bounded window of chunks in flight: first the
chunks the current split still needs, then the first chunks of the following
splits, so workers do not idle at split boundaries. With one worker
everything runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from multiprocessing.pool import AsyncResult

from lolameme.data.generator.chunks import Chunk, Context, make_chunk
from lolameme.data.generator.splits import SplitPlan
from lolameme.machine import init_pool_worker

_context: Context | None = None  # a worker process's own copy


def _init_worker(context: Context, owner: int) -> None:
    global _context
    _context = context
    init_pool_worker(owner)


def _work(plan: SplitPlan, k: int) -> Chunk:
    return make_chunk(_context, plan, k)


class ChunkRunner:
    """Produces the chunks of each split in order; use as a context manager."""

    def __init__(self, context: Context, plans: list[SplitPlan], workers: int = 1):
        self.context = context
        self.plans = plans
        self.window = 2 * workers
        self.pool = None
        self.in_flight: dict[tuple[str, int], AsyncResult] = {}
        if workers > 1:
            # fork starts workers in milliseconds and shares the built context;
            # elsewhere fall back to the platform's default start method
            method = "fork" if sys.platform.startswith("linux") else None
            self.pool = multiprocessing.get_context(method).Pool(workers, _init_worker, (context, os.getpid()))

    def chunks(self, plan: SplitPlan, remaining: Callable[[], int]) -> Iterator[Chunk]:
        """Chunks 0, 1, 2... of ``plan``, in order, for as long as the caller iterates.

        ``remaining()`` (rows the split still needs) decides how many of this
        split's chunks to keep in flight before prefetching the next splits'.
        """
        k = 0
        if self.pool is None:
            while True:
                yield make_chunk(self.context, plan, k)
                k += 1
        index = self.plans.index(plan)
        earlier = {p.name for p in self.plans[:index]}
        self.in_flight = {key: r for key, r in self.in_flight.items() if key[0] not in earlier}
        while True:
            self._fill(index, k, plan.chunks_for(remaining()))
            key = (plan.name, k)
            result = self.in_flight.pop(key, None) or self.pool.apply_async(_work, (plan, k))
            yield result.get()
            k += 1

    def _fill(self, index: int, k: int, wanted: int) -> None:
        """Submit chunks in priority order until the window is full."""
        plan = self.plans[index]
        candidates = [(plan, j) for j in range(k, k + max(1, wanted))]
        for later in self.plans[index + 1:]:
            candidates += [(later, j) for j in range(later.chunks_for(later.size))]
        for candidate, j in candidates:
            if len(self.in_flight) >= self.window:
                return
            if (candidate.name, j) not in self.in_flight:
                self.in_flight[(candidate.name, j)] = self.pool.apply_async(_work, (candidate, j))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None

    def __enter__(self) -> ChunkRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
