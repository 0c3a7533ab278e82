"""Telling the user when a run needs them: a task blocked on a question, a task that failed, the
end of the run.

Two ways, both optional: the live view rings the terminal (OSC 9, which terminals such as
iTerm2, WezTerm, kitty, Windows Terminal and ConEmu turn into a desktop notification, then a
bell), and `po.notifyCommand` from git config is run with the event as one JSON object on its
standard input. Like git's core.pager, the command is a shell command line the user wrote in
their own git config; it never comes from a plan. It runs in the background with a time limit,
so a slow or broken command never holds up the run; its failures are reported after the run.

`event_for` decides (pure); `Notifier` wraps the run's observer and carries events out.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from git_po import proc
from git_po.repo import Repo
from git_po.run_base import Observer, TaskView
from git_po.state import State, now_iso

SCHEMA_VERSION = 1
COMMAND_KEY = "po.notifyCommand"
TERMINAL_KEY = "po.notifyTerminal"
TIMEOUT = 30.0  # seconds a notify command may take

# task states worth interrupting the user for, and the event each is
_EVENTS = {State.BLOCKED: "task_blocked", State.FAILED: "task_failed"}


@dataclass(frozen=True)
class Event:
    kind: str  # task_blocked, task_failed, run_ended
    plan: str
    text: str  # one line for a person
    task: str | None = None
    state: str | None = None
    reason: str | None = None
    run_state: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "event": self.kind,
            "plan": self.plan,
            "task": self.task,
            "state": self.state,
            "reason": self.reason,
            "run_state": self.run_state,
            "text": self.text,
            "time": now_iso(),
        }


def event_for(plan: str, view: TaskView, told: State | None) -> Event | None:
    """The event a task's change makes, if any: only on arriving in a state worth telling
    (told: the state last told for that task, so one state is told once)."""
    kind = _EVENTS.get(view.state)
    if kind is None or view.state is told:
        return None
    why = f": {view.reason}" if view.reason else ""
    verb = "asks for an answer" if view.state is State.BLOCKED else "failed"
    return Event(
        kind,
        plan,
        f"git po: {plan}/{view.id} {verb}{why}",
        task=view.id,
        state=view.state.value,
        reason=view.reason,
    )


def run_ended(plan: str, run_state: str, states: dict[str, State], interrupted: bool) -> Event:
    counts: dict[str, int] = {}
    for s in states.values():
        counts[s.value] = counts.get(s.value, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tasks"
    how = "was interrupted" if interrupted else f"ended ({run_state})"
    state = "interrupted" if interrupted else run_state
    return Event("run_ended", plan, f"git po: run of {plan} {how}: {summary}", run_state=state)


def terminal_wanted(repo: Repo) -> bool:
    """po.notifyTerminal: false turns the live view's OSC 9 and bell off (default on)."""
    raw = (repo.config(TERMINAL_KEY) or "true").strip().lower()
    return raw not in ("false", "no", "off", "0")


def terminal_alert(text: str) -> str:
    """OSC 9 (a desktop notification where the terminal supports it; ignored elsewhere), then
    the bell. Control characters are left out of the text."""
    clean = "".join(ch for ch in text if ch.isprintable())[:200]
    return f"\x1b]9;{clean}\x07\a"


class Notifier:
    """An Observer in front of the run's own: passes everything on, and tells events."""

    def __init__(
        self,
        inner: Observer,
        plan: str,
        *,
        command: str | None,
        cwd: Path,
        alert: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.plan = plan
        self.command = command
        self.cwd = cwd
        self.alert = alert
        self.errors: list[str] = []  # told after the run: stderr would tear the live view
        self.told: dict[str, State] = {}
        self.threads: list[threading.Thread] = []

    def changed(self, view: TaskView, message: str) -> None:
        self.inner.changed(view, message)
        event = event_for(self.plan, view, self.told.get(view.id))
        if view.state in _EVENTS:
            self.told[view.id] = view.state
        else:
            self.told.pop(view.id, None)  # running again: its next block is news
        if event is not None:
            self.tell(event)

    def tick(self, views: list[TaskView]) -> None:
        self.inner.tick(views)

    def tell(self, event: Event) -> None:
        if self.alert is not None:
            self.alert(event.text)
        if self.command:
            thread = threading.Thread(target=self._run, args=(event,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _run(self, event: Event) -> None:
        data = (json.dumps(event.to_json()) + "\n").encode()
        try:
            done = proc.run(
                ["/bin/sh", "-c", self.command or "", "git-po-notify"],
                cwd=self.cwd,
                input=data,
                timeout=TIMEOUT,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            self._error(f"{COMMAND_KEY} did not run: {exc}")
            return
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()
            self._error(
                f"{COMMAND_KEY} exited with {done.returncode}" + (f": {err[-1]}" if err else "")
            )

    def _error(self, text: str) -> None:
        self.errors.append(text)

    def wait(self, timeout: float = TIMEOUT) -> None:
        """Let the commands still running finish (the run's end is told just before exit)."""
        for thread in self.threads:
            thread.join(timeout)
