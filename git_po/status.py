"""A plan's status, read only from refs and branch logs: it works while a run goes on, after it
ends, after a crash, and in any clone that fetched refs/po/* and the po/* branches."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from git_po import jsonout, layout
from git_po.errors import NotFound, PlanError, UsageError
from git_po.plan import Plan, parse_plan
from git_po.protocol import progress_of
from git_po.repo import Oid, Repo
from git_po.state import State, StateStore, list_plans, parse_iso, read_plan_ref

JSON_VERSION = jsonout.SCHEMA_VERSION


@dataclass
class TaskStatus:
    id: str
    state: str
    branch: str
    base: str | None
    depends_on: list[str]
    agent: str | None
    head: str | None
    checkpoints: int
    commits: int
    last_subject: str | None
    reason: str | None
    attempts: int
    session_id: str | None
    cost_usd: float
    input_tokens: int
    output_tokens: int
    updated_at: str | None
    age_seconds: int | None
    worktree: str | None
    transcript: str | None
    wip: str | None
    last_exit: int | None
    last_outcome: str | None
    # the class of every attempt, oldest first (see attempts.py): overloaded, complete, ...
    attempt_classes: list[str] = field(default_factory=list)
    attempt_agents: list[str] = field(default_factory=list)  # the agent of every attempt
    retry_after: str | None = None  # a pending retry waits until then
    # predicted conflicts with other tasks (the conflict radar): [{"task", "files"}]
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    verify: dict[str, Any] | None = None  # the verify result noted on head, if any
    refused: int = 0  # tool calls the agent's permission system refused, over all attempts
    # those listed by the agent, oldest first: [{"attempt", "tool", "target"}]
    refused_calls: list[dict[str, Any]] = field(default_factory=list)
    # the branch was removed (git po clean --branches): head is the tip its state recorded
    branch_removed: bool = False
    kept_from: int | None = None  # a re-run kept this task's work from that run
    # git po work: the machine whose claim the task carries ("host:pid:nonce (held|done|...)")
    holder: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        out: dict[str, Any] = {"task": d.pop("id")}
        for key, value in d.items():
            out[_TASK_RENAMES.get(key, key)] = value
        if self.holder:  # "<machine> (<claim state>)" -> an object
            name, _, state = self.holder.rpartition(" (")
            out["holder"] = {"name": name or self.holder, "state": state.rstrip(")") or None}
        return out


# attribute -> name in the JSON vocabulary (see jsonout)
_TASK_RENAMES = {
    "checkpoints": "checkpoint_count",
    "commits": "commit_count",
    "attempts": "attempt_count",
    "refused": "refused_count",
    "age_seconds": "age_s",
}


@dataclass
class PlanStatus:
    plan: str
    run: dict[str, Any]
    orchestrator: str | None  # who runs it on this machine, if anyone
    tasks: list[TaskStatus] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        by_state: dict[str, int] = {}
        for t in self.tasks:
            by_state[t.state] = by_state.get(t.state, 0) + 1
        return {
            "task_count": len(self.tasks),
            "by_state": by_state,
            "cost_usd": round(sum(t.cost_usd for t in self.tasks), 6),
            "attempt_count": sum(t.attempts for t in self.tasks),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": JSON_VERSION,
            "plan": self.plan,
            "run": self.run,
            "orchestrator": jsonout.process(self.orchestrator),
            "tasks": [t.to_json() for t in self.tasks],
            "totals": self.totals(),
        }


def stored_plan(repo: Repo, name: str) -> Plan:
    stored = read_plan_ref(repo, name)
    if stored is None:
        raise NotFound(f"no plan named {name!r} in this repository", hint=_known(repo))
    try:
        return parse_plan(
            stored.text,
            f"{layout.plan_ref(name)}:plan.toml",
            lambda rel: None,
            default_name=name,
            prompts=stored.prompts,
        )
    except PlanError as exc:  # a plan recorded by another version of git po
        raise NotFound(
            f"the plan stored in {layout.plan_ref(name)} cannot be read: {exc.problems[0]}"
        ) from None


def _known(repo: Repo) -> str:
    plans = list_plans(repo)
    return f"plans here: {', '.join(plans)}" if plans else "no plan has been started here"


def plan_status(repo: Repo, name: str, *, now: float | None = None) -> PlanStatus:
    stored = read_plan_ref(repo, name)
    if stored is None:
        raise NotFound(f"no plan named {name!r} in this repository", hint=_known(repo))
    plan = stored_plan(repo, name)
    now = time.time() if now is None else now
    store = StateStore(repo, name)
    run = {
        "number": stored.run.run,
        "state": stored.run.state,
        "started_at": stored.run.started_at,
        "ended_at": stored.run.ended_at,
        "base": stored.run.base,
        "base_rev": stored.run.base_rev,
        "max_workers": stored.run.max_workers,
        "host": stored.run.host,
        "pid": stored.run.pid,
    }
    status = PlanStatus(plan=name, run=run, orchestrator=_orchestrator(repo, name))
    for task in plan.tasks:
        st = store.read(task.id)
        branch = layout.branch(name, task.id)
        head = repo.read_ref(layout.branch_ref(name, task.id))
        removed = False
        rec = st.recorded_tip if st else None
        if head is None and rec and repo.resolve(rec) is not None:
            # the branch was removed: what it held is still the recorded tip's history
            head, removed = Oid(rec), True
        base = st.base if st else None
        checkpoints = commits = 0
        last_subject: str | None = None
        last_commit_time: int | None = None
        if head is not None:
            hist = repo.first_parent_history(head, Oid(base) if base else None)
            prog = progress_of([(h.oid, h.message, h.time, h.autosave) for h in hist])
            checkpoints, commits, last_subject = prog.checkpoints, prog.commits, prog.last_subject
            last_commit_time = prog.last_commit_time
        attempts = st.attempts if st else []
        updated = parse_iso(st.updated_at) if st else None
        latest = max((x for x in (updated, last_commit_time) if x is not None), default=None)
        last = attempts[-1] if attempts else None
        status.tasks.append(
            TaskStatus(
                id=task.id,
                state=st.state.value if st else State.PENDING.value,
                branch=branch,
                base=base,
                depends_on=list(task.depends_on),
                agent=(st.agent if st else None) or task.agent,
                head=head,
                checkpoints=checkpoints,
                commits=commits,
                last_subject=last_subject,
                reason=st.reason if st else None,
                attempts=len(attempts),
                session_id=st.session_id if st else None,
                cost_usd=st.cost_usd if st else 0.0,
                input_tokens=sum(a.input_tokens or 0 for a in attempts),
                output_tokens=sum(a.output_tokens or 0 for a in attempts),
                updated_at=st.updated_at if st else None,
                age_seconds=int(now - latest) if latest is not None else None,
                worktree=st.worktree if st else None,
                transcript=last.transcript if last else None,
                wip=repo.read_ref(layout.wip_ref(name, task.id)),
                last_exit=last.exit_code if last else None,
                last_outcome=last.outcome if last else None,
                attempt_classes=[a.outcome or "running" for a in attempts],
                attempt_agents=[a.agent for a in attempts],
                retry_after=st.retry_after if st else None,
                refused=sum(a.permission_denials or 0 for a in attempts),
                refused_calls=[
                    {"attempt": a.number, **c} for a in attempts for c in (a.refused or [])
                ],
                branch_removed=removed,
                kept_from=st.kept_from if st else None,
            )
        )
    _radar_and_verify(repo, name, plan, status)
    from git_po import claims  # local: claims are read only where a plan is shared

    held = claims.holders(repo, name)
    for t in status.tasks:
        claim = held.get(t.id)
        t.holder = f"{claim.holder} ({claim.state})" if claim else None
    return status


def _radar_and_verify(repo: Repo, name: str, plan: Plan, status: PlanStatus) -> None:
    """Verify results noted on each task's head, and the conflicts the radar predicts between
    live and finished tasks."""
    from git_po import integration_branch, radar, verify  # local: they read plans through here

    for t in status.tasks:
        found = verify.latest(repo, Oid(t.head)) if t.head else None
        t.verify = found.to_json() if found else None
    try:
        integrated = repo.read_ref(f"refs/heads/{integration_branch.branch_name(repo, plan)}")
    except UsageError:
        integrated = None
    tips = {t.id: Oid(t.head) for t in status.tasks if t.head and t.state in radar.STATES}
    bases = {t.id: Oid(t.base) for t in status.tasks if t.base and t.id in tips}
    predicted = radar.predict(repo, name, tips, integrated=integrated, bases=bases)
    for t in status.tasks:
        t.conflicts = [c.to_json() for c in predicted.get(t.id, [])]


def _orchestrator(repo: Repo, name: str) -> str | None:
    from git_po.scheduler import RunLock  # local: the lock lives with the run loop

    return RunLock(repo, name).alive_holder()


@dataclass
class PlanSummary:
    plan: str
    state: str
    run: int
    started_at: str
    tasks: int
    complete: int

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "run": {"number": self.run, "state": self.state, "started_at": self.started_at},
            "task_count": self.tasks,
            "complete_count": self.complete,
        }


def plan_summaries(repo: Repo) -> list[PlanSummary]:
    out = []
    for name in list_plans(repo):
        stored = read_plan_ref(repo, name)
        if stored is None:
            continue
        store = StateStore(repo, name)
        try:
            plan = stored_plan(repo, name)
        except NotFound:
            continue
        states = [store.read(t.id) for t in plan.tasks]
        out.append(
            PlanSummary(
                plan=name,
                state=stored.run.state,
                run=stored.run.run,
                started_at=stored.run.started_at,
                tasks=len(plan.tasks),
                complete=sum(1 for s in states if s is not None and s.state is State.COMPLETE),
            )
        )
    return out
