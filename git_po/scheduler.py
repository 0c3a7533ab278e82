"""The run loop: record the plan, then start ready tasks as soon as a worker slot is free (never
in waves), longest remaining critical path first, and record every change as a commit on the
task's state ref. Attempts that fail for a reason worth retrying are retried with backoff,
resuming the agent's session; NEEDS are delivered by merging the other task's branch; a crashed
run is resumed from refs, branches and the workers it left running. The core never prints: it
reports to an Observer."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from git_po import layout, rerun, secrets
from git_po.errors import PoError, RefLocked
from git_po.local import Inbox, RunLock, Workers, attached_pid
from git_po.prepare import (
    Prepared,
    Schedule,
    ScheduleRow,
    StartOptions,
    prepare,
    prepare_resume,
    schedule,
)
from git_po.repo import Oid, Repo
from git_po.run_base import Observer, TaskView, Waiter
from git_po.run_begin import BeginMixin, NothingToResume
from git_po.run_finish import FinishMixin
from git_po.run_launch import LaunchMixin
from git_po.run_needs import NeedsMixin
from git_po.run_state import StateMixin
from git_po.run_verify import VerifyMixin
from git_po.state import RunRecord, State, StateStore, TaskState, now_iso
from git_po.supervisor import Worker

__all__ = [
    "NothingToResume",
    "Observer",
    "Orchestrator",
    "Prepared",
    "RunLock",
    "RunOutcome",
    "Schedule",
    "ScheduleRow",
    "StartOptions",
    "TaskView",
    "Waiter",
    "prepare",
    "prepare_resume",
    "resume_plan",
    "run_plan",
    "schedule",
]

TERMINAL_FOR_RUN = (State.COMPLETE, State.FAILED, State.SKIPPED)


class _EventWaiter:
    """For callers that set stop from another thread: sleep on the event itself."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def poll(self) -> None:
        pass

    def wait(self, timeout: float) -> None:
        self.stop.wait(timeout)


@dataclass
class RunOutcome:
    plan: str
    states: dict[str, State]
    interrupted: bool
    wall_seconds: float
    run_state: str = "finished"

    @property
    def all_complete(self) -> bool:
        return all(s is State.COMPLETE for s in self.states.values())


class Orchestrator(BeginMixin, LaunchMixin, FinishMixin, VerifyMixin, NeedsMixin, StateMixin):
    def __init__(
        self,
        repo: Repo,
        prep: Prepared,
        options: StartOptions,
        observer: Observer,
        stop: threading.Event,
        *,
        resume: bool = False,
        hurry: threading.Event | None = None,
        waiter: Waiter | None = None,
    ) -> None:
        self.repo = repo
        self.prep = prep
        self.plan = prep.plan
        self.options = options
        self.observer = observer
        self.stop = stop
        self.hurry = hurry or threading.Event()
        self.waiter: Waiter = waiter or _EventWaiter(stop)
        self.resuming = resume
        self.store = StateStore(repo, self.plan.name)
        self.workers_local = Workers(repo, self.plan.name)
        self.inbox = Inbox(repo, self.plan.name)
        self.states: dict[str, TaskState] = {}
        self.views: dict[str, TaskView] = {}
        self.workers: dict[str, Worker] = {}
        self.retry_at: dict[str, float] = {}  # monotonic time a pending retry may start
        self.verifying: dict[str, tuple[threading.Thread, dict[str, object], Oid]] = {}
        self.cooldown_until = 0.0
        self.budget_spent = False
        self._view_tips: dict[str, Oid] = {}
        self.hooks: Path | None = None
        self.record: RunRecord | None = None
        self.plan_tip: Oid | None = None
        # state changes not yet on their task's ref (its lock file stays), in order
        self.unrecorded: dict[str, list[tuple[TaskState, str, str, Mapping[str, object] | None]]]
        self.unrecorded = {}
        self._locks_told: set[str] = set()
        self.lock_notes: dict[str, str] = {}  # what the live view shows of a task that waits
        self._flush_after = 0.0
        self.again: rerun.Rerun | None = None
        self.secret_values = secrets.secret_values(os.environ)

    # -- entry --

    def run(self) -> RunOutcome:
        lock = RunLock(self.repo, self.plan.name)
        lock.acquire(self.plan.name)
        began = time.monotonic()
        try:
            if self.resuming:
                self._begin_resume()
            else:
                self._begin_start()
            interrupted = self._loop()
            state = self._end(interrupted)
        finally:
            lock.release()
        return RunOutcome(
            self.plan.name,
            {t: s.state for t, s in self.states.items()},
            interrupted,
            time.monotonic() - began,
            state,
        )

    # -- the loop --

    def _loop(self) -> bool:
        """Run until nothing more can happen; True when stopped by an interrupt."""
        stopping = False
        while True:
            self.waiter.poll()
            self._between()
            self._flush_unrecorded()
            if self.stop.is_set() and not stopping:
                stopping = True
                for w in self.workers.values():
                    w.request_stop("interrupted")
            if stopping and self.hurry.is_set():
                for w in self.workers.values():
                    if not w.killed:
                        w.kill()
            if not stopping:
                self._take_inbox()
            self._poll_workers()
            self._poll_verifies()
            if not stopping:
                self._deliver_needs()
                self._check_budget()
                self._propagate_skips()
                # launch right after a worker ends: a freed slot is filled in the same pass
                self._launch_ready()
            self.observer.tick(self._view_list())
            if not self.workers and not self.verifying:
                if stopping:
                    self._flush_unrecorded(force=True)
                    return True
                if self._ready() and not self._cooling():
                    continue
                if not self._waiting_later():
                    return False
            self.waiter.wait(self.options.poll_interval)

    def _between(self) -> None:
        """Once a pass, before anything else: where `git po work` talks to its remote."""

    def _cooling(self) -> bool:
        return time.monotonic() < self.cooldown_until

    def _ready(self) -> list[str]:
        if self.budget_spent:
            return []
        now = time.monotonic()
        out = []
        for t in self.plan.tasks:
            if self.states[t.id].state is not State.PENDING:
                continue
            if self.retry_at.get(t.id, 0.0) > now:
                continue
            if t.id in self.unrecorded:
                continue  # its state ref is locked: it starts once that is recorded
            if attached_pid(self.repo, self.plan.name, t.id) is not None:
                continue
            if all(self.states[d].state is State.COMPLETE for d in t.depends_on):
                out.append(t.id)
        return out

    def _waiting_later(self) -> bool:
        """Whether a pending task will become launchable by waiting (retry, cool-down,
        someone attached), or a message waits in the inbox."""
        if self.inbox.pending() or self.unrecorded:
            return True
        if self.budget_spent:
            return False
        for t in self.plan.tasks:
            if self.states[t.id].state is not State.PENDING:
                continue
            if not all(self.states[d].state is State.COMPLETE for d in t.depends_on):
                continue
            return True  # its deps are complete: it waits for a retry, a cool-down or an attach
        return False

    def _propagate_skips(self) -> None:
        for tid in self.plan.graph.topo_order:
            st = self.states[tid]
            if st.state is not State.PENDING:
                continue
            task = self.plan.task(tid)
            bad = [
                d
                for d in task.depends_on
                if self.states[d].state in (State.FAILED, State.SKIPPED)
                or (self.states[d].state is State.INTERRUPTED and self.budget_spent)
            ]
            if bad:
                d = bad[0]
                self._set(
                    tid,
                    State.SKIPPED,
                    "skipped",
                    reason=f"dependency {d} is {self.states[d].state.value}",
                )

    def _launch_ready(self) -> None:
        if self._cooling() or self.budget_spent:
            return
        for tid in self.plan.graph.priority(self._ready()):
            if (
                len(self.workers) + len(self.verifying) >= self.prep.max_workers
                or self.stop.is_set()
            ):
                return
            try:
                self._launch(self.plan.task(tid))
            except RefLocked as exc:
                # a ref of this task is locked: it waits (and says what to remove); the rest goes on
                self.retry_at[tid] = time.monotonic() + 2.0
                self._tell_locked(tid, exc)
            except (PoError, OSError) as exc:
                self._set(tid, State.FAILED, "failed", reason=f"could not start: {exc}")
            else:
                self.lock_notes.pop(tid, None)

    def _view_list(self) -> list[TaskView]:
        return [self.views[t.id] for t in self.plan.tasks]

    def _end(self, interrupted: bool) -> str:
        assert self.record is not None and self.plan_tip is not None
        counts: dict[str, int] = {}
        for s in self.states.values():
            counts[s.state.value] = counts.get(s.state.value, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        if interrupted:
            state = "interrupted"
        elif all(s.state in TERMINAL_FOR_RUN for s in self.states.values()):
            state = "finished"
        else:
            state = "waiting"
        record = replace(self.record, state=state, ended_at=now_iso(), summary=summary)
        self.plan_tip = self.repo.commit_files(
            layout.plan_ref(self.plan.name),
            {"run.toml": record.to_toml().encode()},
            f"po: run {record.run} of plan {self.plan.name} {state}: {summary}\n",
            self.plan_tip,
        )
        self.record = record
        return state


def run_plan(
    repo: Repo,
    prep: Prepared,
    options: StartOptions,
    observer: Observer,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    waiter: Waiter | None = None,
) -> RunOutcome:
    return Orchestrator(repo, prep, options, observer, stop, hurry=hurry, waiter=waiter).run()


def resume_plan(
    repo: Repo,
    prep: Prepared,
    options: StartOptions,
    observer: Observer,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    waiter: Waiter | None = None,
) -> RunOutcome:
    return Orchestrator(
        repo, prep, options, observer, stop, resume=True, hurry=hurry, waiter=waiter
    ).run()
