"""Output of a run that survives losing its terminal.

When the terminal of `git po start` is closed, writes to it fail (EIO; EPIPE when a pipe's
reader went away). Such a failure must never end a run with a traceback: the first one switches
output off for good (standard output and error then go to /dev/null) and counts as an
interruption, like the SIGHUP that usually comes with it, so the run stops gracefully, is
recorded `interrupted`, releases its lock and can be resumed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from git_po.scheduler import Observer, TaskView


class Output:
    def __init__(self, on_lost: Callable[[], None]) -> None:
        self.on_lost = on_lost
        self.lost = False

    def switch_off(self) -> None:
        if self.lost:
            return
        self.lost = True
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            for fd in (1, 2):
                with contextlib.suppress(OSError):
                    os.dup2(null, fd)
            os.close(null)
        for stream in (sys.stdout, sys.stderr):
            # drop what the dead terminal did not take: it would fail again on the next flush
            buffer = getattr(stream, "buffer", None)
            with contextlib.suppress(Exception):
                stream.flush()
            with contextlib.suppress(Exception):
                if buffer is not None:
                    buffer.flush()
        self.on_lost()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Run a block of output; an OSError in it switches output off instead of raising."""
        if self.lost:
            with contextlib.suppress(OSError):
                yield
            return
        try:
            yield
        except OSError:
            self.switch_off()

    def observer(self, inner: Observer) -> Observer:
        return _Guarded(inner, self)


class _Guarded:
    def __init__(self, inner: Observer, output: Output) -> None:
        self.inner = inner
        self.output = output

    def changed(self, view: TaskView, message: str) -> None:
        if not self.output.lost:
            with self.output.guard():
                self.inner.changed(view, message)

    def tick(self, views: list[TaskView]) -> None:
        if not self.output.lost:
            with self.output.guard():
                self.inner.tick(views)
