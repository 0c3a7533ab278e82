"""`git po status --watch`: the status table redrawn in place on a terminal without flicker.

Each frame moves the cursor home and rewrites only the lines that changed (each followed by
clear-to-end-of-line), then clears whatever is left below; the cursor is hidden meanwhile and
shown again at the end. Pure string building: the CLI writes the strings."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

from git_po.status import PlanStatus

HIDE_CURSOR = "\x1b[?25l"
SHOW_CURSOR = "\x1b[?25h"
CLEAR_SCREEN = "\x1b[H\x1b[2J"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def clip(text: str, width: int) -> str:
    """Cut a line to width visible characters, keeping colour codes whole."""
    if visible_len(text) <= width:
        return text
    out: list[str] = []
    seen = 0
    i = 0
    while i < len(text) and seen < width - 1:
        m = _ANSI.match(text, i)
        if m:
            out.append(m.group())
            i = m.end()
            continue
        out.append(text[i])
        seen += 1
        i += 1
    return "".join(out) + "…" + ("\x1b[0m" if "\x1b[" in text else "")


class Screen:
    """What is on the terminal, and the escape sequences that turn it into the next frame."""

    def __init__(self) -> None:
        self.lines: list[str] | None = None  # None: nothing drawn yet

    def frame(self, lines: list[str], *, width: int, height: int) -> str:
        """The bytes to write so the screen shows lines (clipped to the terminal's size)."""
        fit = [clip(line, max(1, width)) for line in lines]
        if len(fit) > height - 1 > 0:
            hidden = len(fit) - (height - 2)
            fit = [*fit[: height - 2], f"… {hidden} more lines (enlarge the terminal)"]
        out = [HIDE_CURSOR]
        old = self.lines
        if old is None:
            out.append(CLEAR_SCREEN)
            old = []
        for row, line in enumerate(fit):
            if row < len(old) and old[row] == line:
                continue
            out.append(f"\x1b[{row + 1};1H{line}\x1b[K")
        if len(old) > len(fit) or self.lines is None:
            out.append(f"\x1b[{len(fit) + 1};1H\x1b[J")
        out.append(f"\x1b[{len(fit) + 1};1H")
        self.lines = fit
        return "".join(out)


def change_key(status: PlanStatus) -> str:
    """What a reader of a plain (non-terminal) watch cares about: everything but the clock."""
    data: dict[str, Any] = status.to_json()
    for task in data["tasks"]:
        task.pop("age_seconds", None)
    data.pop("orchestrator", None)
    return json.dumps(data, sort_keys=True)


def run_over(status: PlanStatus) -> bool:
    """Whether there is nothing more to watch: the run ended, or it runs on this machine with
    no orchestrator left (a crash), so nothing will change until someone acts."""
    run = status.run
    if run.get("state") != "running":
        return True
    return status.orchestrator is None and run.get("host") == socket.gethostname()
