"""What every part of the run loop shares: the live view of a task, the observer it reports
to, and the attributes of the Orchestrator its mixins use."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from git_po import rerun
from git_po.local import Inbox, Workers
from git_po.plan import Plan, Task
from git_po.prepare import Prepared, StartOptions
from git_po.protocol import Progress
from git_po.repo import Oid, Repo
from git_po.state import RunRecord, State, StateStore, TaskState
from git_po.supervisor import Worker


@dataclass
class TaskView:
    """What the live view shows of a task."""

    id: str
    state: State
    attempts: int = 0
    checkpoints: int = 0
    last_subject: str | None = None
    reason: str | None = None
    cost_usd: float = 0.0
    started: float | None = None  # wall clock of the current or last attempt
    ended: float | None = None
    activity: str | None = None  # the agent's latest line, for the live view


class Observer(Protocol):
    def changed(self, view: TaskView, message: str) -> None:
        """A task changed state (one line in non-interactive output)."""

    def tick(self, views: list[TaskView]) -> None:
        """Called about every poll interval with every task (the live view redraws)."""


class Waiter(Protocol):
    """How the run loop learns of interruptions between passes (see git_po.signals)."""

    def poll(self) -> None:
        """Take what arrived since the last call (sets stop / hurry)."""

    def wait(self, timeout: float) -> None:
        """Sleep up to timeout, waking early when an interruption arrives; then poll."""


class _RunBase:
    """The attributes of the Orchestrator (set in its __init__) that its mixins use."""

    repo: Repo
    prep: Prepared
    plan: Plan
    options: StartOptions
    observer: Observer
    stop: threading.Event
    hurry: threading.Event
    waiter: Waiter
    resuming: bool
    store: StateStore
    workers_local: Workers
    inbox: Inbox
    states: dict[str, TaskState]
    views: dict[str, TaskView]
    workers: dict[str, Worker]
    retry_at: dict[str, float]
    verifying: dict[str, tuple[threading.Thread, dict[str, object], Oid]]
    cooldown_until: float
    budget_spent: bool
    _view_tips: dict[str, Oid]
    hooks: Path | None
    record: RunRecord | None
    plan_tip: Oid | None
    unrecorded: dict[str, list[tuple[TaskState, str, str, Mapping[str, object] | None]]]
    _locks_told: set[str]
    lock_notes: dict[str, str]
    _flush_after: float
    again: rerun.Rerun | None
    secret_values: list[str]

    if TYPE_CHECKING:  # defined by the mixins; declared here so each type-checks alone

        def _set(
            self,
            tid: str,
            state: State,
            event: str,
            *,
            reason: str | None = None,
            detail: Mapping[str, object] | None = None,
        ) -> None: ...

        def _record(
            self,
            tid: str,
            event: str,
            summary: str,
            detail: Mapping[str, object] | None = None,
            *,
            queue: bool = True,
        ) -> None: ...

        def _write(
            self,
            st: TaskState,
            event: str,
            msg: str,
            detail: Mapping[str, object] | None = None,
            *,
            queue: bool = True,
        ) -> TaskState: ...

        def _finish(self, tid: str, w: Worker, *, lost: bool = False) -> None: ...

        def _progress(self, tid: str, tip: Oid) -> Progress: ...

        def _protocol_subjects(self, tid: str, head: Oid, base: Oid) -> list[str]: ...

        def _refresh_branch_view(self, tid: str) -> None: ...

        def _view_list(self) -> list[TaskView]: ...

        def _start_verify(self, task: Task, commit: Oid, detail: Mapping[str, object]) -> None: ...

        def _resume_verify(self, task: Task, commit: Oid) -> None: ...
