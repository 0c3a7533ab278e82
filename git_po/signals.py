"""Ctrl-C, SIGTERM and SIGHUP during a run, taken without a lock.

The handlers only note the time of the delivery and write a byte to a self-pipe; the run loop
reads them (`wait`). Nothing in a handler takes a lock: a handler that set a threading.Event
could be re-entered by a second signal while it held the Event's lock, and wait forever.

One press of Ctrl-C often arrives twice: the terminal sends SIGINT to the whole foreground
process group (git and git-po), and git forwards what it gets to its dashed external. A closed
terminal does the same with SIGHUP. So deliveries within `DUPLICATE_WINDOW` seconds of the last
counted one are the same request: the first request stops the run gracefully (SIGTERM to the
workers, SIGKILL after po.stopGrace), a second one given later kills the workers at once.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import threading
import time
from collections.abc import Iterable
from types import FrameType
from typing import Any

DUPLICATE_WINDOW = 0.5  # seconds
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def count_requests(
    deliveries: Iterable[float], window: float, last: float | None
) -> tuple[int, float | None]:
    """How many separate requests deliveries (times, in order) make, after a request counted at
    last: a delivery within window of the last counted request is the same request.
    Returns the count and the time of the last counted request."""
    count = 0
    for t in deliveries:
        if last is None or t - last > window:
            count += 1
            last = t
    return count, last


class Interrupts:
    """What stop signals asked of a run. `stop` is set on the first request, `hurry` on a
    later one; both are set by `poll`/`wait` in the run loop, never by a handler, so other
    threads (a verify) can watch them."""

    def __init__(self, window: float = DUPLICATE_WINDOW) -> None:
        self.window = window
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.requests = 0
        self._deliveries: collections.deque[float] = collections.deque()
        self._last: float | None = None
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)
        self._previous: dict[int, Any] = {}

    # -- the handler side: append and write, nothing else --

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self._deliveries.append(time.monotonic())
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            os.write(self._write, b"!")

    def install(self) -> None:
        for s in STOP_SIGNALS:
            self._previous[s] = signal.signal(s, self._handler)

    def restore(self) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()

    def close(self) -> None:
        self.restore()
        for fd in (self._read, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)

    # -- the loop side --

    def note(self) -> None:
        """A request that did not come as a signal (the terminal went away)."""
        self._handler(signal.SIGHUP, None)

    def poll(self) -> None:
        """Take the deliveries noted so far and set stop / hurry."""
        taken: list[float] = []
        while self._deliveries:
            taken.append(self._deliveries.popleft())
        with contextlib.suppress(OSError):
            while os.read(self._read, 512):
                pass
        n, self._last = count_requests(taken, self.window, self._last)
        self.requests += n
        if self.requests >= 1:
            self.stop.set()
        if self.requests >= 2:
            self.hurry.set()

    def wait(self, timeout: float) -> None:
        """Sleep up to timeout, waking at once when a signal arrives."""
        if not self._deliveries:
            with contextlib.suppress(OSError, ValueError):
                select.select([self._read], [], [], max(0.0, timeout))
        self.poll()
