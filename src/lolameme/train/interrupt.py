"""Ctrl-C during training: finish the step, write a checkpoint that names it, then stop.

A KeyboardInterrupt raised at an arbitrary bytecode can land between ``optimizer.step()``
and the bookkeeping that counts it; a checkpoint written then names one step and holds
the weights of the next, and the resumed run silently differs from an uninterrupted one.
So while training, the first SIGINT only *requests* a stop, which the loop honours at the
next step boundary; a second SIGINT interrupts at once, and then no checkpoint is written.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class StopRequest:
    """Set by the first SIGINT; read by the training loop between steps."""

    def __init__(self) -> None:
        self.requested = False

    def _handle(self, signum, frame) -> None:
        if self.requested:  # asked twice: stop now, whatever the state
            raise KeyboardInterrupt
        self.requested = True
        print("\n[train] stopping after this step (Ctrl-C again to stop at once, without a checkpoint)", flush=True)


@contextlib.contextmanager
def stop_on_interrupt(enabled: bool = True) -> Iterator[StopRequest]:
    """Route SIGINT to a :class:`StopRequest` for the block (main thread only; otherwise a no-op)."""
    request = StopRequest()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = signal.signal(signal.SIGINT, request._handle)
    try:
        yield request
    finally:
        signal.signal(signal.SIGINT, previous)
