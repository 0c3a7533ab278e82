"""`git po status --watch`: the status table redrawn in place on a terminal without flicker.

Each frame moves the cursor home and rewrites only the lines that changed (each after a
clear-to-end-of-line), then clears whatever is left below; the cursor is hidden meanwhile and
shown again at the end. Lines are cut to the terminal's width in cells (wide characters count
two) and the frame to its height ("… N more"), so nothing ever scrolls. The live view of
`git po start` draws with the same Screen. Pure string building: the CLI writes the strings."""

from __future__ import annotations

import json
import socket
from typing import Any

from git_po import cells
from git_po.status import PlanStatus

HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
CLEAR_SCREEN = "\x1b[H\x1b[2J"


def visible_len(text: str) -> int:
    """Cells text takes on a terminal (colour codes and wide characters counted right)."""
    return cells.width(text)


def clip(text: str, width: int) -> str:
    """Cut a line to width cells, keeping colour codes whole."""
    return cells.clip(text, width)


class Screen:
    """What is on the terminal, and the escape sequences that turn it into the next frame."""

    def __init__(self) -> None:
        self.lines: list[str] | None = None  # None: nothing drawn yet
        self.size: tuple[int, int] | None = None

    def frame(self, lines: list[str], *, width: int, height: int) -> str:
        """The bytes to write so the screen shows lines (clipped to the terminal's size)."""
        fit = [clip(line, max(1, width)) for line in lines]
        if len(fit) > height - 1 > 0:
            hidden = len(fit) - (height - 2)
            fit = [*fit[: height - 2], f"… {hidden} more lines (enlarge the terminal)"]
        out = [HIDE_CURSOR]
        if self.size != (width, height):  # resized: what is on the screen moved, draw it all
            self.lines = None
            self.size = (width, height)
        old = self.lines
        if old is None:
            out.append(CLEAR_SCREEN)
            old = []
        for row, line in enumerate(fit):
            if row < len(old) and old[row] == line:
                continue
            # clear first, then write: a line as wide as the terminal leaves the cursor past its
            # last cell, where a clear-to-end-of-line would erase that cell
            out.append(f"\x1b[{row + 1};1H\x1b[K{line}")
        if len(old) > len(fit) or self.lines is None:
            out.append(f"\x1b[{len(fit) + 1};1H\x1b[J")
        out.append(f"\x1b[{len(fit) + 1};1H")
        self.lines = fit
        return "".join(out)


def change_key(status: PlanStatus) -> str:
    """What a reader of a plain (non-terminal) watch cares about: everything but the clock."""
    data: dict[str, Any] = status.to_json()
    for task in data["tasks"]:
        task.pop("age_s", None)
    data.pop("orchestrator", None)
    return json.dumps(data, sort_keys=True)


def run_over(status: PlanStatus) -> bool:
    """Whether there is nothing more to watch: the run ended, or it runs on this machine with
    no orchestrator left (a crash), so nothing will change until someone acts."""
    run = status.run
    if run.get("state") != "running":
        return True
    return status.orchestrator is None and run.get("host") == socket.gethostname()
