"""Task state and run records <-> refs.

A task's state ref is a chain of commits, one per state change; its tree holds `state.toml`
(the current snapshot) and `events/` (append-only, one file per change). The plan ref's tree
holds the plan, its prompt files and `run.toml` (the run's own record).
"""

from __future__ import annotations

import random
import time
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import tomli_w

from git_po import confine, faults, layout
from git_po.config import worktree_root
from git_po.errors import StateConflict
from git_po.repo import Oid, Repo


class State(StrEnum):
    PENDING = "pending"  # waiting for dependencies or a worker slot
    RUNNING = "running"
    VERIFYING = "verifying"  # its [COMPLETE] is being judged by the plan's verify command
    COMPLETE = "complete"
    BLOCKED = "blocked"  # [BLOCKED:reason]: needs a human answer
    NEEDS = "needs"  # [NEEDS:task/item]: needs another task's output
    FAILED = "failed"  # exited without a terminal protocol commit, or could not start
    SKIPPED = "skipped"  # a dependency ended without completing
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C
    PAUSED = "paused"  # git po pause: its work saved, not scheduled until git po unpause

    @property
    def terminal(self) -> bool:
        return self not in (State.PENDING, State.RUNNING, State.VERIFYING)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


@dataclass
class Attempt:
    number: int
    agent: str
    started_at: str
    head_before: str
    transcript: str
    pid: int | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    signal: int | None = None
    outcome: str | None = (
        None  # complete, blocked, needs, no-progress, timeout, idle, interrupted, ...
    )
    is_error: bool | None = None
    api_error_status: int | None = None
    result_subtype: str | None = None
    session_id: str | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    num_turns: int | None = None
    permission_denials: int | None = None
    refused: list[dict[str, str]] | None = None  # the refused calls: {"tool", "target"}
    verify_s: float | None = None  # time the plan's verify command took on its [COMPLETE]
    head_after: str | None = None
    saved: str | None = None  # auto-saved commit or wip snapshot, if any
    reason: str | None = None  # why it ended, in words
    adopted: bool | None = None  # its process outlived an orchestrator and was adopted
    resumed_session: str | None = None  # the session it continued, if any

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attempt:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TaskState:
    plan: str
    task: str
    state: State
    branch: str
    updated_at: str
    base: str | None = None
    worktree: str | None = None
    agent: str | None = None
    reason: str | None = None  # blocked reason, needed item, or why it failed
    attempts: list[Attempt] = field(default_factory=list)
    retries_from: int = 0  # attempts up to this number do not count against `retries`
    retry_after: str | None = None  # a pending retry waits until then
    waiting_on: str | None = None  # NEEDS: the task it waits for
    waiting_tip: str | None = None  # NEEDS: that task's branch tip when the wait began
    message: str | None = None  # for the next attempt: an answer, what arrived, a failure
    # the branch tip when this state was written: `retry` restores a removed branch from it,
    # `status` reads checkpoints and the last subject from it when the branch is gone
    tip: str | None = None
    # digests of what defines the task's work (see rerun.definition), recorded when it runs:
    # starting the plan again keeps a complete task whose definition and base are unchanged
    definition: dict[str, str] | None = None
    kept_from: int | None = None  # the run whose work this state keeps (a re-run kept it)

    _OPTIONAL = (
        "base",
        "worktree",
        "agent",
        "reason",
        "retry_after",
        "waiting_on",
        "waiting_tip",
        "message",
        "tip",
        "kept_from",
    )

    def to_toml(self) -> str:
        d: dict[str, Any] = {
            "plan": self.plan,
            "task": self.task,
            "state": self.state.value,
            "branch": self.branch,
            "updated_at": self.updated_at,
        }
        for key in self._OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.retries_from:
            d["retries_from"] = self.retries_from
        if self.definition:
            d["definition"] = dict(self.definition)
        if self.attempts:
            d["attempts"] = [a.to_dict() for a in self.attempts]
        return tomli_w.dumps(d)

    @classmethod
    def from_toml(cls, text: str) -> TaskState:
        d = tomllib.loads(text)
        return cls(
            plan=d["plan"],
            task=d["task"],
            state=State(d["state"]),
            branch=d["branch"],
            updated_at=d["updated_at"],
            base=d.get("base"),
            worktree=d.get("worktree"),
            agent=d.get("agent"),
            reason=d.get("reason"),
            attempts=[Attempt.from_dict(a) for a in d.get("attempts", [])],
            retries_from=int(d.get("retries_from", 0)),
            retry_after=d.get("retry_after"),
            waiting_on=d.get("waiting_on"),
            waiting_tip=d.get("waiting_tip"),
            message=d.get("message"),
            tip=d.get("tip"),
            definition=d.get("definition"),
            kept_from=d.get("kept_from"),
        )

    @property
    def cost_usd(self) -> float:
        return round(sum(a.cost_usd or 0.0 for a in self.attempts), 6)

    @property
    def recorded_tip(self) -> str | None:
        """The branch tip this state last saw (for states written before `tip` was recorded:
        where its last attempt left the branch)."""
        if self.tip:
            return self.tip
        for a in reversed(self.attempts):
            if a.head_after:
                return a.head_after
        return None

    @property
    def session_id(self) -> str | None:
        for a in reversed(self.attempts):
            if a.session_id:
                return a.session_id
        return None


def _fault_state_write() -> None:
    faults.point("during-state-write")


class StateStore:
    """Reads and writes task state refs, each write a compare-and-swap."""

    def __init__(self, repo: Repo, plan: str) -> None:
        self.repo = repo
        self.plan = plan
        self._tips: dict[str, Oid | None] = {}
        self._confinement: confine.Confinement | None = None
        # paths read from state refs that lie outside git po's own places, in words
        self.ignored: list[str] = []

    def read(self, task: str) -> TaskState | None:
        tip = self.repo.read_ref(layout.task_ref(self.plan, task))
        self._tips[task] = tip
        if tip is None:
            return None
        data = self.repo.read_blob(tip, "state.toml")
        if data is None:
            return None
        return self._confined(TaskState.from_toml(data.decode()))

    def _confined(self, st: TaskState) -> TaskState:
        """The state with paths that are not git po's own for this task ignored (a fetched
        state is data: it never names the directory git po snapshots or stops processes in)."""
        if self._confinement is None:
            self._confinement = confine.Confinement(
                self.repo.common_dir, worktree_root(self.repo), self.repo.worktree_dir
            )
        st, notes = confine.sanitize(st, self._confinement)
        for note in notes:
            if note not in self.ignored:
                self.ignored.append(note)
        return st

    def write(
        self, st: TaskState, event: str, message: str, detail: Mapping[str, object] | None = None
    ) -> TaskState:
        """Record a state change: a new commit on the task's state ref.

        Compare-and-swap against the tip this store last saw; when another writer moved the
        ref meanwhile, re-read it and write again on top, so no update is ever lost (events
        have unique names, and the snapshot written is this writer's)."""
        ref = layout.task_ref(self.plan, st.task)
        if st.task not in self._tips:
            self._tips[st.task] = self.repo.read_ref(ref)
        st = replace(st, updated_at=now_iso())
        tip = self.repo.read_ref(layout.branch_ref(self.plan, st.task))
        if tip is not None:  # a removed branch keeps the tip recorded before
            st = replace(st, tip=str(tip))
        ev: dict[str, Any] = {"event": event, "at": st.updated_at, "state": st.state.value}
        if st.reason:
            ev["reason"] = st.reason
        if detail:
            ev.update({k: v for k, v in detail.items() if v is not None})
        deadline = time.monotonic() + 60
        attempt = 0
        while True:
            attempt += 1
            tip = self._tips[st.task]
            seq = len(self.repo.list_tree(tip, "events")) + 1 if tip else 1
            files = {
                "state.toml": st.to_toml().encode(),
                f"events/{seq:04d}-{event}.toml": tomli_w.dumps(ev).encode(),
            }
            try:
                self._tips[st.task] = self.repo.commit_files(
                    ref, files, message, tip, before_ref_update=_fault_state_write
                )
                return st
            except StateConflict:
                if time.monotonic() > deadline:
                    raise StateConflict(f"{ref} kept moving for a minute; gave up") from None
                self._tips[st.task] = self.repo.read_ref(ref)
                time.sleep(random.uniform(0, min(0.05, 0.002 * attempt)))


@dataclass
class RunRecord:
    """run.toml in the plan ref: what this run of the plan is and how it ended."""

    name: str
    source: str
    base_rev: str
    base: str
    state: str  # running, finished, interrupted
    started_at: str
    max_workers: int
    host: str
    pid: int
    version: str
    run: int = 1  # how many times this plan has been started
    ended_at: str | None = None
    summary: str | None = None

    def to_toml(self) -> str:
        return tomli_w.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def from_toml(cls, text: str) -> RunRecord:
        d = tomllib.loads(text)
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True)
class StoredPlan:
    tip: Oid
    text: str
    prompts: dict[str, str]
    run: RunRecord


def read_plan_ref(repo: Repo, plan: str) -> StoredPlan | None:
    tip = repo.read_ref(layout.plan_ref(plan))
    if tip is None:
        return None
    text = repo.read_blob(tip, "plan.toml")
    run = repo.read_blob(tip, "run.toml")
    if text is None or run is None:
        return None
    prompts: dict[str, str] = {}
    for name in repo.list_tree(tip, "prompts"):
        data = repo.read_blob(tip, f"prompts/{name}")
        if data is not None and name.endswith(".md"):
            prompts[name[:-3]] = data.decode()
    return StoredPlan(tip, text.decode(), prompts, RunRecord.from_toml(run.decode()))


def list_plans(repo: Repo) -> list[str]:
    names = []
    for ref in repo.refs_under(layout.PO_REFS):
        parts = ref.split("/")
        if len(parts) == 4 and parts[3] == "plan":
            names.append(parts[2])
    return sorted(names)
