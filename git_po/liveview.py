"""The live view of `git po start` / `resume` on a terminal: the task table drawn in place with the
Screen of `status --watch` (only changed lines rewritten, cut to the terminal's width in cells
and to its height with "… N more"), the cursor hidden while it runs and shown again however the
run ends, and notifications rung on the terminal."""

from __future__ import annotations

import os
import time
from typing import TextIO

from git_po import cells, notify, render, watch
from git_po.run_base import TaskView

REDRAW_EVERY = 0.5  # seconds between frames when nothing but the clock changed


class LiveObserver:
    """A table redrawn in place: task, state, checkpoints, elapsed, cost, last subject."""

    def __init__(self, plan: str, stream: TextIO, *, use_color: bool) -> None:
        self.plan = plan
        self.stream = stream
        self.color = use_color
        self.started = time.time()
        self.last_draw = 0.0
        self.views: list[TaskView] = []
        self.screen = watch.Screen()
        self.hidden = False

    def size(self) -> tuple[int, int]:
        try:
            got = os.get_terminal_size(self.stream.fileno())
        except (OSError, ValueError):
            return 80, 24
        if not got.columns or not got.lines:  # a terminal that tells no size
            return 80, 24
        return max(20, got.columns), max(3, got.lines)

    def changed(self, view: TaskView, message: str) -> None:
        self.last_draw = 0.0  # redraw on the next tick

    def tick(self, views: list[TaskView]) -> None:
        self.views = views
        now = time.monotonic()
        if now - self.last_draw < REDRAW_EVERY:
            return
        self.last_draw = now
        self.draw()

    def draw(self) -> None:
        width, height = self.size()
        lines = render.live_lines(
            self.plan, self.views, use_color=self.color, width=width, started=self.started
        )
        self.hidden = True  # every frame starts by hiding the cursor
        self.stream.write(self.screen.frame(lines, width=width, height=height))
        self.stream.flush()

    def alert(self, text: str) -> None:
        self.stream.write(notify.terminal_alert(text))
        self.stream.flush()

    def clear(self) -> None:
        """Take the table off the screen (the run's summary takes its place) and show the
        cursor: the scrollback gets the summary only, no copy of a frame."""
        if self.screen.lines is not None:
            self.stream.write("\x1b[H\x1b[J")
            self.screen.lines = None
        self.close()

    def close(self) -> None:
        """Show the cursor again (idempotent; safe after the terminal went away)."""
        if self.hidden:
            self.hidden = False
            self.stream.write(watch.SHOW_CURSOR)
            self.stream.flush()


class ProgressLine:
    """One line on a terminal rewritten in place for a long phase ("integrating 3/20: api"),
    taken away at the end, as git's progress does on stderr."""

    def __init__(self, stream: TextIO, what: str) -> None:
        self.stream = stream
        self.what = what
        self.shown = False

    def __call__(self, done: int, total: int, item: str) -> None:
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns or 80
        except (OSError, ValueError):
            width = 80
        line = cells.clip(f"{self.what} {done + 1}/{total}: {item}", max(10, width - 1))
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
