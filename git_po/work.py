"""`git po work --remote R` and `git po start --remote R`: drain one plan from many machines
with a git remote as the only coordinator.

The run loop is the one `start` and `resume` use; this module only decides which tasks are this
machine's (a claim won by a compare-and-swap push, see claims.py), takes in what the others
did (their state, branches and notes, fetched and reconciled: never backwards), and pushes the
state and branch of every task it holds as they change, each push with a lease. A task whose
holder stopped renewing is taken over and goes on from its last pushed commit; a machine that
cannot reach the remote keeps its tasks going, claims nothing new and retries with backoff; one
whose lease was taken over stops that task and keeps its work under refs/po-lost/."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace

from git_po import claims, config, layout, remote, share, trust
from git_po.errors import StateConflict
from git_po.plan import Task
from git_po.prepare import Prepared, StartOptions
from git_po.repo import Repo
from git_po.run_base import Observer, TaskView, Waiter
from git_po.scheduler import Orchestrator, RunOutcome
from git_po.state import State, TaskState, now_iso, read_plan_ref
from git_po.worklink import Counters, Link

# a claim ends with the task's state: done where it ended, released where it may go on elsewhere
ENDED_HERE = (State.COMPLETE, State.FAILED, State.SKIPPED, State.BLOCKED, State.NEEDS)
ACTIVE = (State.RUNNING, State.VERIFYING)


@dataclass
class WorkOutcome(RunOutcome):
    counters: Counters | None = None
    remote_error: str | None = None


def lease_seconds(repo: Repo) -> float:
    env = os.environ.get("GIT_PO_LEASE")
    if env:
        return float(env)
    return config.seconds(repo, "po.lease", 60.0)


def fetch_seconds(repo: Repo, lease: float) -> float:
    return config.seconds(repo, "po.fetchInterval", min(5.0, max(0.2, lease / 6)))


class WorkOrchestrator(Orchestrator):
    def __init__(
        self,
        repo: Repo,
        prep: Prepared,
        options: StartOptions,
        observer: Observer,
        stop: threading.Event,
        link: Link,
        *,
        publish: bool,
        hurry: threading.Event | None = None,
        waiter: Waiter | None = None,
    ) -> None:
        super().__init__(
            repo, prep, options, observer, stop, resume=not publish, hurry=hurry, waiter=waiter
        )
        self.link = link
        self.told_lost: set[str] = set()

    # -- beginning: publish the plan, or take it as the remote has it --

    def _begin_start(self) -> None:
        super()._begin_start()
        report = share.push(self.repo, self.link.name, self.plan.name)
        if report.problems:
            c = report.problems[0]
            raise StateConflict(f"could not publish plan {self.plan.name!r}: {c.ref} {c.what}")
        self.link.fetch(self._mine)

    def _begin_resume(self) -> None:
        stored = self.prep.stored
        assert stored is not None
        self.record = stored.run
        self.plan_tip = stored.tip
        from git_po import hookinstall  # local: as the run loop installs it

        self.hooks = hookinstall.install(self.repo)
        for t in self.plan.tasks:
            st = self.store.read(t.id) or TaskState(
                plan=self.plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(self.plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            self.states[t.id] = st
            self.views[t.id] = TaskView(
                t.id, st.state, attempts=len(st.attempts), cost_usd=st.cost_usd, reason=st.reason
            )
            self._refresh_branch_view(t.id)

    def _end(self, interrupted: bool) -> str:
        """Push what is left, give back every claim; the plan ref is shared, so no run record
        is written on it from here."""
        self._hand_over()
        self.link.fetch(self._mine)
        self.link.push_notes()
        if self.resuming:
            if interrupted:
                return "interrupted"
            terminal = (State.COMPLETE, State.FAILED, State.SKIPPED)
            done = all(s.state in terminal for s in self.states.values())
            return "finished" if done else "waiting"
        # the machine that published the plan writes how its run ended, as start does
        state = super()._end(interrupted)
        self.link.push([layout.plan_ref(self.plan.name)])
        return state

    def _hand_over(self) -> None:
        """Push every task this machine holds and give its claim back, retrying with backoff
        while the remote cannot be reached: work that never reached the remote would be done
        again elsewhere. Only an interrupt leaves claims held (they expire after the lease)."""
        link = self.link
        while link.held and not self.stop.is_set():
            for tid in list(link.held):
                if link.push(link.task_refs(tid)) is None:
                    break
                done = self.states[tid].state in ENDED_HERE
                link.give_back(tid, claims.DONE if done else claims.RELEASED)
            if link.held:
                self.waiter.wait(max(0.2, link.retry_at - time.monotonic()))

    # -- which tasks are this machine's --

    def _mine(self, ref: str) -> bool:
        """Refs of the tasks this machine holds (a fetch leaves them as they are)."""
        return any(ref in self.link.task_refs(tid) for tid in self.link.held)

    def _ready(self) -> list[str]:
        if self.link.offline():
            return [t for t in super()._ready() if t in self.link.held]  # nothing new
        out = [
            t
            for t in super()._ready()
            if self.link.decision(t) in (claims.TAKE, claims.TAKE_OVER, claims.MINE)
        ]
        for t in self.plan.tasks:
            st = self.states[t.id]
            if (
                st.state in ACTIVE
                and t.id not in self.workers
                and t.id not in self.verifying
                and all(self.states[d].state is State.COMPLETE for d in t.depends_on)
                and self.link.decision(t.id) == claims.TAKE_OVER
            ):
                out.append(t.id)
        return out

    def _waiting_later(self) -> bool:
        if super()._waiting_later():
            return True
        moving = (State.PENDING, State.RUNNING, State.VERIFYING, State.COMPLETE)
        for t in self.plan.tasks:
            s = self.states[t.id].state
            if s in ACTIVE and t.id not in self.workers:
                return True  # another machine runs it (or will take it over)
            if s is State.PENDING and all(self.states[d].state in moving for d in t.depends_on):
                return True
        return False

    def _propagate_skips(self) -> None:
        """Left to a run on one machine: a skip is a state write, and state is written only
        by a task's holder."""

    def _launch(self, task: Task) -> None:
        tid = task.id
        if tid not in self.link.held:
            before = self.link.holder_of(tid)
            if not self.link.take(tid):
                self.retry_at[tid] = time.monotonic() + self.link.fetch_every
                return
            self._taken(task, before)
        super()._launch(task)
        self._push_task(tid)

    def _taken(self, task: Task, before: claims.Claim | None) -> None:
        """A claim just won: the state goes on from what the remote holds; an attempt that
        ran elsewhere is recorded as lost there, and its worktree and session stay there."""
        tid = task.id
        st = self.store.read(tid) or self.states[tid]
        where = f" from {before.holder}" if before is not None else ""
        if st.attempts and st.worktree and not st.worktree.startswith("elsewhere:"):
            st = replace(st, worktree=f"elsewhere:{st.worktree}")
        if st.state in ACTIVE:
            last = st.attempts[-1] if st.attempts else None
            if last is not None and last.ended_at is None:
                last.ended_at = now_iso()
                verifying = st.state is State.VERIFYING and last.head_after
                last.outcome = "verify-interrupted" if verifying else "lost"
                last.reason = f"its machine stopped renewing the claim{where}"
            self.states[tid] = st
            self._set(tid, State.PENDING, "taken-over", reason=f"taken over{where}")
        else:
            self.states[tid] = st
            self.views[tid].state = st.state
            self.observer.changed(self.views[tid], f"claimed by {self.link.me}")

    # -- once a pass: the remote --

    def _between(self) -> None:
        link = self.link
        for tid in list(link.held):
            if tid not in self.workers and tid not in self.verifying:
                self._push_task(tid)
                st = self.states[tid].state
                if st in ENDED_HERE:
                    link.give_back(tid, claims.DONE)
                elif st is State.INTERRUPTED:
                    link.give_back(tid, claims.RELEASED)
            else:
                self._push_task(tid)
        while link.lost_tasks:
            self._lost(link.lost_tasks.pop())
        due = time.monotonic() >= link.next_fetch and link.can_try()
        if due and link.fetch(self._mine) is not None:
            for tid in list(link.held):
                if link.lost(tid):
                    link.held.pop(tid, None)
                    link.counters.leases_lost += 1
                    self._lost(tid)
            self._take_in()
            link.push_notes()
        for tid in list(self.told_lost):
            if tid not in self.workers:
                self._keep_lost(tid)

    def _push_task(self, tid: str) -> None:
        if tid in self.link.held and self.link.push(self.link.task_refs(tid)) is False:
            self.link.next_fetch = 0.0  # a lease failed: learn why at once

    def _take_in(self) -> None:
        """Others' tasks: their state as the remote has it now."""
        for t in self.plan.tasks:
            tid = t.id
            if tid in self.link.held or tid in self.workers or tid in self.told_lost:
                continue
            st = self.store.read(tid)
            if st is None or st == self.states[tid]:
                continue
            self.states[tid] = st
            view = self.views[tid]
            if view.state is not st.state or view.attempts != len(st.attempts):
                view.state = st.state
                view.attempts = len(st.attempts)
                view.reason = st.reason
                self._refresh_branch_view(tid)
                holder = self.link.holder_of(tid)
                where = f" on {holder.host}" if holder else ""
                self.observer.changed(view, f"{st.state.value}{where}")

    def _lost(self, tid: str) -> None:
        """Another machine took this task over: stop it here; its work is kept."""
        self.told_lost.add(tid)
        w = self.workers.get(tid)
        holder = self.link.holder_of(tid)
        who = holder.holder if holder else "another machine"
        if w is not None:
            w.request_stop(f"lease lost: {who} took the task over")

    def _keep_lost(self, tid: str) -> None:
        self.told_lost.discard(tid)
        kept = self.link.keep_lost(tid)
        st = self.store.read(tid)
        if st is not None:
            self.states[tid] = st
        view = self.views[tid]
        view.state = self.states[tid].state
        where = f"; this machine's work is kept in {', '.join(kept)}" if kept else ""
        self.observer.changed(view, f"lease lost: another machine runs it now{where}")


def run_work(
    repo: Repo,
    prep: Prepared,
    options: StartOptions,
    observer: Observer,
    stop: threading.Event,
    hurry: threading.Event | None = None,
    waiter: Waiter | None = None,
    *,
    remote_name: str,
    publish: bool = False,
) -> WorkOutcome:
    lease = lease_seconds(repo)
    link = Link(repo, remote_name, prep.plan.name, lease, fetch_seconds(repo, lease))
    if not publish:
        trust.require_trusted(repo, prep.plan.name)  # a plan from refs runs only once approved
    orch = WorkOrchestrator(
        repo, prep, options, observer, stop, link, publish=publish, hurry=hurry, waiter=waiter
    )
    link.start_heartbeat()
    try:
        out = orch.run()
    finally:
        link.stop_heartbeat()
    return WorkOutcome(
        out.plan,
        out.states,
        out.interrupted,
        out.wall_seconds,
        out.run_state,
        counters=link.counters,
        remote_error=link.last_error if link.offline() else None,
    )


def before_work(repo: Repo, remote_name: str, plan: str | None) -> str:
    """Fetch the remote's plans and state; the plan to work on."""
    from git_po import lookup  # local: it reads plans through status

    name = remote.check_remote(repo, remote_name)
    for failures in range(1, 6):  # a remote that is away for a moment: tried again, backing off
        try:
            share.fetch(repo, name)
            break
        except remote.Unreachable:
            if failures == 5:
                raise
            time.sleep(claims.backoff(failures))
    return lookup.resolve_plan(repo, plan)


def before_publish(repo: Repo, remote_name: str, plan: str) -> None:
    """Refuse to publish over a run the remote has going."""
    name = remote.check_remote(repo, remote_name)
    share.fetch(repo, name, plan)
    stored = read_plan_ref(repo, plan)
    if stored is not None and stored.run.state == "running":
        raise StateConflict(
            f"plan {plan!r} is running on {name} (run {stored.run.run})",
            hint=f"join it with: git po work {plan} --remote {name}",
        )


def outcome_lines(outcome: RunOutcome) -> list[str]:
    """What a run with a remote adds to its summary."""
    if not isinstance(outcome, WorkOutcome) or outcome.counters is None:
        return []
    c = outcome.counters
    lines = [
        f"claims: {c.taken} taken ({c.takeovers} taken over), {c.races_lost} lost to other "
        f"machines, {c.leases_lost} leases lost"
    ]
    if outcome.remote_error:
        lines.append(f"the remote could not be reached: {outcome.remote_error}")
    return lines
