"""One progress reporter for every long job (generation, training, evaluation).

On an interactive stderr it draws a rich progress bar; otherwise (logs, CI,
pipes) it prints a plain line at most every ``every_s`` seconds, so logs stay
readable. Disabled, it does nothing, which keeps library calls quiet.
"""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    def __init__(self, total: int | None, description: str, enabled: bool = True, every_s: float = 10.0):
        self.total = total
        self.description = description
        self.enabled = enabled
        self.done = 0
        self.every_s = every_s
        self._start = time.monotonic()
        self._last_line = self._start
        self._bar = None
        self._task = None
        self._fields: dict[str, Any] = {}
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                console=Console(stderr=True), transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(description, total=total, info="")

    def advance(self, n: int = 1, **fields: Any) -> None:
        """Count ``n`` more units done; ``fields`` (loss=..., tok_s=...) are shown beside the bar."""
        self.done += n
        self._fields.update(fields)
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, advance=n, info=self._info())
            return
        now = time.monotonic()
        if now - self._last_line >= self.every_s:
            self._last_line = now
            self._print_line(now)

    def _info(self) -> str:
        return "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self._fields.items())

    def _print_line(self, now: float) -> None:
        elapsed = now - self._start
        total = f"/{self.total}" if self.total else ""
        eta = ""
        if self.total and self.done:
            eta = f" eta {max(0.0, elapsed * (self.total - self.done) / self.done):.0f}s"
        print(f"[{self.description}] {self.done}{total} {elapsed:.0f}s{eta} {self._info()}".rstrip(), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        elif self.enabled:
            self._print_line(time.monotonic())
        self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:  # the error message that follows says what happened; no closing line
            self.enabled = False
        self.close()
