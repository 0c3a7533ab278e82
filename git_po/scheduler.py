"""The run loop: record the plan, then start ready tasks as soon as a worker slot is free (never
in waves), longest remaining critical path first, and record every change as a commit on the
task's state ref. Attempts that fail for a reason worth retrying are retried with backoff,
resuming the agent's session; NEEDS are delivered by merging the other task's branch; a crashed
run is resumed from refs, branches and the workers it left running. The core never prints: it
reports to an Observer."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from git_po import (
    __version__,
    attempts,
    faults,
    hookinstall,
    layout,
    liveness,
    prompts,
    rerun,
    secrets,
    verify,
)
from git_po.agents.base import TranscriptSummary
from git_po.errors import ExitCode, Interrupted, PoError, RefLocked, StateConflict
from git_po.local import Inbox, Message, RunLock, WorkerRecord, Workers, attached_pid
from git_po.plan import Task
from git_po.prepare import (
    Prepared,
    Schedule,
    ScheduleRow,
    StartOptions,
    prepare,
    prepare_resume,
    schedule,
)
from git_po.proc import child_env
from git_po.protocol import AUTOSAVE_TRAILER, Kind, Progress, parse_subject, progress_of
from git_po.repo import Oid, Repo
from git_po.state import (
    Attempt,
    RunRecord,
    State,
    StateStore,
    TaskState,
    now_iso,
    parse_iso,
    read_plan_ref,
)
from git_po.supervisor import Worker, adopt
from git_po.supervisor import start as start_worker
from git_po.worktrees import (
    archive_run,
    free_run_number,
    leftovers,
    prepare_root,
    remove_worktree,
)

__all__ = [
    "Observer",
    "Orchestrator",
    "Prepared",
    "RunLock",
    "RunOutcome",
    "Schedule",
    "ScheduleRow",
    "StartOptions",
    "TaskView",
    "prepare",
    "prepare_resume",
    "resume_plan",
    "run_plan",
    "schedule",
]

TERMINAL_FOR_RUN = (State.COMPLETE, State.FAILED, State.SKIPPED)


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


class NothingToResume(PoError):
    """Resuming a run that finished, with nothing asked of it: not an error."""

    exit_code = ExitCode.OK


class Orchestrator:
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

    # -- starting a run --

    def _begin_start(self) -> None:
        plan = self.plan
        stored = read_plan_ref(self.repo, plan.name)
        root = self.prep.worktree_root
        if stored is not None:
            if stored.run.state != "finished" and not self.options.restart:
                raise StateConflict(
                    f"plan {plan.name!r} has a run that did not finish "
                    f"(run {stored.run.run}, {stored.run.state}, started {stored.run.started_at})",
                    hint=f"continue it with: git po resume {plan.name}; "
                    "or start it over with --restart",
                )
            if not self.options.restart:
                # a finished run: keep what is complete and unchanged, run the rest (like make)
                self.again = rerun.look_back(self.repo, plan, self.prep.base, stored)
            archive_run(
                self.repo,
                plan.name,
                stored.run.run,
                root,
                plan.ids,
                keep=frozenset(self.again.kept) if self.again else frozenset(),
                keep_integration=self.again.integration_stays if self.again else False,
            )
            run_number = stored.run.run + 1
        else:
            left = leftovers(self.repo, plan.name)
            if left:
                if not self.options.restart:
                    raise StateConflict(
                        f"refs of an earlier run of plan {plan.name!r} exist "
                        f"({', '.join(left[:3])}{', ...' if len(left) > 3 else ''})",
                        hint=f"--restart keeps them under refs/po/{plan.name}/runs/ "
                        "and starts over",
                    )
                archive_run(self.repo, plan.name, 1, root, plan.ids)
            run_number = free_run_number(self.repo, plan.name)

        self.record = RunRecord(
            name=plan.name,
            source=plan.source,
            base_rev=plan.base,
            base=self.prep.base,
            state="running",
            started_at=now_iso(),
            max_workers=self.prep.max_workers,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            run=run_number,
        )
        files: dict[str, bytes] = {
            "plan.toml": plan.text.encode(),
            "run.toml": self.record.to_toml().encode(),
        }
        for t in plan.tasks:
            if t.prompt_file:
                files[f"prompts/{t.id}.md"] = t.prompt.encode()
        tasks = len(plan.tasks)
        msg = (
            f"po: start plan {plan.name} (run {run_number}): "
            f"{tasks} task{'s' if tasks != 1 else ''}, "
            f"base {plan.base} {self.prep.base[:12]}, max {self.prep.max_workers} workers\n"
        )
        self.plan_tip = self.repo.commit_files(
            layout.plan_ref(plan.name), files, msg, stored.tip if stored else None, keep_tree=False
        )
        faults.point("after-plan-write")

        self.hooks = hookinstall.install(self.repo)
        for t in plan.tasks:
            if self.again is not None and t.id in self.again.kept:
                self._keep(t, self.again)
                continue
            st = TaskState(
                plan=plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            waits = ", ".join(t.depends_on) if t.depends_on else "a worker slot"
            self.views[t.id] = TaskView(t.id, State.PENDING)
            self.states[t.id] = self._write(
                st, "pending", f"{t.id}: pending, waits for {waits}\n\nPo-Plan: {plan.name}\n"
            )
            if self.again is not None:
                why = next(c.why for c in self.again.choices if c.task == t.id)
                self.observer.changed(self.views[t.id], f"runs: {why}")

    def _keep(self, task: Task, again: rerun.Rerun) -> None:
        """A complete task the earlier run finished, unchanged: it stays complete, on its
        branch (restored from its recorded tip if the branch was removed)."""
        old = again.states[task.id]
        branch_ref = layout.branch_ref(self.plan.name, task.id)
        tip = old.recorded_tip
        if self.repo.read_ref(branch_ref) is None and tip is not None:
            self.repo.create_ref(
                branch_ref, Oid(tip), f"po: branch of {task.id} restored from its recorded tip"
            )
        self.states[task.id] = rerun.kept_state(old, task, again.after)
        self.views[task.id] = TaskView(
            task.id, State.COMPLETE, attempts=len(old.attempts), cost_usd=old.cost_usd
        )
        self._refresh_branch_view(task.id)
        subject = self.views[task.id].last_subject
        self._record(
            task.id,
            "kept",
            f"kept from run {self.states[task.id].kept_from}: unchanged"
            + (f" — {subject}" if subject else ""),
        )

    # -- resuming a run --

    def _begin_resume(self) -> None:
        plan = self.plan
        stored = self.prep.stored
        assert stored is not None
        if stored.run.state == "finished" and self.inbox.pending() == 0:
            raise NothingToResume(
                f"run {stored.run.run} of plan {plan.name!r} finished; nothing to resume",
                hint=f"git po retry {plan.name}/<task> runs a task again",
            )
        self.record = replace(
            stored.run,
            state="running",
            host=socket.gethostname(),
            pid=os.getpid(),
            ended_at=None,
            summary=None,
        )
        self.plan_tip = self.repo.commit_files(
            layout.plan_ref(plan.name),
            {"run.toml": self.record.to_toml().encode()},
            f"po: resume run {self.record.run} of plan {plan.name}\n",
            stored.tip,
        )
        self.hooks = hookinstall.install(self.repo)
        for t in plan.tasks:
            st = self.store.read(t.id) or TaskState(
                plan=plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            self.states[t.id] = st
            self.views[t.id] = TaskView(
                t.id, st.state, attempts=len(st.attempts), cost_usd=st.cost_usd, reason=st.reason
            )
            self._refresh_branch_view(t.id)
            if st.retry_after:
                when = parse_iso(st.retry_after)
                if when is not None:
                    self.retry_at[t.id] = time.monotonic() + max(0.0, when - time.time())
        for t in plan.tasks:
            st = self.states[t.id]
            if st.state is State.RUNNING:
                self._recover(t, st)
            elif st.state is State.VERIFYING and st.attempts and st.attempts[-1].head_after:
                # adopt its verify if that outlived the orchestrator, else judge it again
                self._resume_verify(t, Oid(st.attempts[-1].head_after))
            elif st.state is State.VERIFYING:
                if st.attempts:
                    st.attempts[-1].outcome = "verify-interrupted"
                self._set(t.id, State.PENDING, "resumed", reason=None)
            elif st.state is State.INTERRUPTED:
                self._set(t.id, State.PENDING, "resumed", reason=None)

    def _recover(self, task: Task, st: TaskState) -> None:
        """A task the dead orchestrator left running: adopt its worker if that still runs,
        else record the attempt as lost and let the task continue."""
        if not st.attempts:
            self._set(task.id, State.PENDING, "resumed", reason=None)
            return
        attempt = st.attempts[-1]
        if (
            self.plan.verify
            and attempt.ended_at
            and attempt.outcome == "complete"
            and attempt.head_after
        ):
            # the dead orchestrator was verifying this attempt's [COMPLETE]
            self._resume_verify(task, Oid(attempt.head_after or ""))
            return
        rec = self.workers_local.read(task.id)
        found: tuple[int, str] | None = None
        if rec is not None and rec.attempt == attempt.number and rec.alive():
            found = (rec.pid, rec.start)
        elif st.worktree:
            found = liveness.find_worker(st.worktree, self.plan.name, task.id)
        worktree = Path(st.worktree) if st.worktree else None
        prof = self.prep.profiles[task.agent]
        transcript = Path(attempt.transcript)
        w = adopt(
            task.id,
            attempt.number,
            pid=found[0] if found else 0,
            start_time=found[1] if found else "",
            transcript=transcript,
            reader=prof.reader(transcript),
            started_wall=parse_iso(attempt.started_at) or time.time(),
            timeout=task.timeout,
            idle_timeout=task.idle_timeout,
            head=self.repo.read_ref(layout.branch_ref(self.plan.name, task.id)),
            plan=self.plan.name,
            worktree=worktree,
        )
        if found is None:
            w.reader.finish()
            if worktree is not None:
                # what the gone worker left running stops before its work is saved
                liveness.Family(
                    0,
                    plan=self.plan.name,
                    task=task.id,
                    worktree=worktree,
                    since=parse_iso(attempt.started_at),
                ).stop(self.prep.grace)
            self._finish(task.id, w, lost=True)
            return
        attempt.adopted = True
        attempt.pid = found[0]
        self.workers[task.id] = w
        self.workers_local.write(
            WorkerRecord(
                task=task.id,
                attempt=attempt.number,
                pid=found[0],
                start=found[1],
                transcript=str(transcript),
                started_at=attempt.started_at,
                head_before=attempt.head_before,
            )
        )
        self.views[task.id].started = w.started_wall
        self._record(task.id, "adopted", f"attempt {attempt.number} adopted (pid {found[0]})")

    # -- the loop --

    def _loop(self) -> bool:
        """Run until nothing more can happen; True when stopped by an interrupt."""
        stopping = False
        while True:
            self.waiter.poll()
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

    def _launch(self, task: Task) -> None:
        plan = self.plan
        st = self.states[task.id]
        branch = layout.branch(plan.name, task.id)
        branch_ref = layout.branch_ref(plan.name, task.id)
        wname = layout.worktree_name(plan.name, task.id)
        path = layout.worktree_path(self.prep.worktree_root, plan.name, task.id)
        if st.worktree and Path(st.worktree) != path and Path(st.worktree).is_dir():
            path = Path(st.worktree)  # where an earlier attempt ran (the session lives there)

        spent = st.cost_usd
        if task.budget_usd is not None and spent >= task.budget_usd:
            self._set(
                task.id,
                State.FAILED,
                "failed",
                reason=f"task budget ${task.budget_usd:.2f} spent (${spent:.2f})",
            )
            return

        head = self.repo.read_ref(branch_ref)
        if head is None and st.recorded_tip is not None:
            # an earlier attempt's branch was removed (git po clean --branches): its work is
            # the tip the state recorded; go on from there, never from the base
            problem = rerun.restore_problem(self.repo, st)
            if problem:
                self._set(task.id, State.FAILED, "failed", reason=problem)
                return
            head = Oid(st.recorded_tip)
            self.repo.create_ref(
                branch_ref, head, f"po: branch of {task.id} restored from its recorded tip"
            )
        last = st.attempts[-1] if st.attempts else None
        if (
            self.plan.verify
            and last is not None
            and last.outcome == "verify-interrupted"
            and head is not None
            and last.head_after == head
        ):
            # its [COMPLETE] was never judged (the run stopped during verify): judge it now
            self.states[task.id] = replace(st, state=State.RUNNING, reason=None)
            self._start_verify(task, head, {})
            return
        if head is None:
            base = self._base_for(task)
            if base is None:
                return  # failed and recorded
            base_ref = layout.base_ref(plan.name, task.id)
            if self.repo.read_ref(base_ref) is None:
                self.repo.create_ref(base_ref, base, f"po: base of {task.id}")
            self.repo.create_ref(branch_ref, base, f"po: branch for task {task.id}")
            head = base
            faults.point("before-worktree")
        else:
            base = (
                Oid(st.base)
                if st.base
                else self.repo.read_ref(layout.base_ref(plan.name, task.id)) or head
            )
        if path.is_dir() and self.repo.worktree_head(path) is None:
            # a directory that is no worktree any more: keep its files, then make it again
            self.repo.snapshot_directory(
                path,
                layout.wip_ref(plan.name, task.id),
                head,
                f"po: files of {task.id}'s broken worktree, kept before it was made again\n",
            )
            remove_worktree(self.repo, wname, path, self.prep.worktree_root)
            remove_worktree(self.repo, wname, None, self.prep.worktree_root)
        if not path.is_dir():
            if wname in self.repo.worktree_names():
                # its directory was deleted by hand: drop the stale entry, make it again
                remove_worktree(self.repo, wname, None, self.prep.worktree_root)
            prepare_root(self.prep.worktree_root, self.repo.common_dir)
            self.repo.add_worktree(wname, path, branch)
            faults.point("after-worktree")
        hookinstall.mark_worktree(self.repo, wname, plan.name, task.id)

        number = len(st.attempts) + 1
        prof = self.prep.profiles[task.agent]
        transcript = layout.transcript_path(
            self.repo.common_dir, plan.name, task.id, number, prof.transcript_suffix
        )
        resume = self._session_to_resume(task, st, path)
        if st.attempts:
            prompt = prompts.continuation(
                plan,
                task,
                branch,
                attempt=number,
                why=self._why_again(st),
                done=self._protocol_subjects(task.id, head, base),
                message=st.message,
            )
        else:
            deps = [(d, self._complete_subject(d)) for d in task.depends_on]
            prompt = prompts.kickoff(plan, task, branch, deps)
        run_task = task
        if task.budget_usd is not None:
            run_task = replace(task, budget_usd=round(task.budget_usd - spent, 4))
        launch = prof.launch(run_task, prompt, resume)
        assert self.hooks is not None
        env = child_env(
            {
                "PO_PLAN": plan.name,
                "PO_TASK": task.id,
                "PO_ATTEMPT": str(number),
                "PO_BRANCH": branch,
                "PO_WORKTREE": str(path),
                **hookinstall.worker_git_env(self.hooks),
            }
        )
        env.pop("GIT_PO_FAULT", None)
        if task.agent == "shell":
            env["PO_PROMPT"] = prompt
        # record the attempt before its process exists: a crash from here on leaves the task
        # `running` in refs, so a resumed orchestrator looks for the process (by its record,
        # else by its environment) instead of starting the same attempt beside it
        started_at = now_iso()
        attempt = Attempt(
            number=number,
            agent=task.agent,
            started_at=started_at,
            head_before=head,
            transcript=str(transcript),
            resumed_session=resume,
        )
        self.retry_at.pop(task.id, None)
        self.states[task.id] = replace(
            st,
            state=State.RUNNING,
            definition=rerun.definition(task),
            base=str(base),
            worktree=str(path),
            reason=None,
            retry_after=None,
            message=None,
            waiting_on=None,
            waiting_tip=None,
            attempts=[*st.attempts, attempt],
        )
        how = f"resuming session {resume[:8]}" if resume else task.agent
        try:
            self._record(
                task.id,
                "running",
                f"starting attempt {number} ({how})",
                detail={"attempt": number, "transcript": str(transcript)},
                queue=False,
            )
        except RefLocked:
            self.states[task.id] = st  # nothing was recorded, so nothing starts
            raise
        try:
            worker = start_worker(
                task.id,
                number,
                launch,
                cwd=path,
                env=env,
                transcript=transcript,
                reader=prof.reader(transcript),
                timeout=task.timeout,
                idle_timeout=task.idle_timeout,
                head=head,
                plan=plan.name,
            )
        except OSError as exc:
            attempt.outcome = attempts.PERMANENT
            attempt.reason = f"could not start: {exc}"
            self._set(task.id, State.FAILED, "failed", reason=f"could not start: {exc}")
            return
        faults.point("after-spawn")
        self.workers_local.write(
            WorkerRecord(
                task=task.id,
                attempt=number,
                pid=worker.pid,
                start=worker.start,
                transcript=str(transcript),
                started_at=started_at,
                head_before=head,
            )
        )
        attempt.pid = worker.pid
        self.workers[task.id] = worker
        view = self.views[task.id]
        view.started = worker.started_wall
        view.ended = None
        view.attempts = number
        self._record(
            task.id,
            "started",
            f"running attempt {number} ({how}, pid {worker.pid})",
            detail={"attempt": number, "pid": worker.pid},
        )

    def _session_to_resume(self, task: Task, st: TaskState, path: Path) -> str | None:
        """The session a later attempt continues: the newest one, unless resuming it already
        failed without a single turn (then start afresh, with the branch as the memory)."""
        if task.agent != "claude" or not st.attempts:
            return None
        last = st.attempts[-1]
        if st.worktree and Path(st.worktree) != path:
            return None  # claude resumes a session only from the directory it ran in
        if last.resumed_session and not last.num_turns and last.head_after == last.head_before:
            return None
        return st.session_id

    def _why_again(self, st: TaskState) -> str:
        last = st.attempts[-1]
        if st.message:
            return "there is news for you (below)."
        return f"attempt {last.number} ended: {last.reason or last.outcome or 'unknown'}."

    def _protocol_subjects(self, tid: str, head: Oid, base: Oid) -> list[str]:
        hist = self.repo.first_parent_history(head, base, limit=200)
        subjects = []
        for h in reversed(hist):
            subject = h.message.splitlines()[0] if h.message else ""
            if parse_subject(subject) is not None:
                subjects.append(subject)
        return subjects

    def _complete_subject(self, tid: str) -> str:
        tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if tip is None:
            return "(no branch)"
        prog = self._progress(tid, tip)
        return prog.latest_subject or "(no [COMPLETE] commit)"

    def _base_for(self, task: Task) -> Oid | None:
        if not task.depends_on:
            return self.prep.base
        heads: list[Oid] = []
        for d in task.depends_on:
            tip = self.repo.read_ref(layout.branch_ref(self.plan.name, d))
            if tip is None:
                self._set(
                    task.id, State.FAILED, "failed", reason=f"branch of dependency {d} is missing"
                )
                return None
            heads.append(tip)
        result = self.repo.merge_commits(
            heads,
            f"po: base of {self.plan.name}/{task.id}: merge of {', '.join(task.depends_on)}\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {task.id}\n",
        )
        if result.oid is None:
            files = ", ".join(result.conflicts)
            self._set(
                task.id,
                State.FAILED,
                "failed",
                reason=f"conflict merging its dependencies "
                f"({', '.join(task.depends_on)}) in {files}",
            )
            return None
        return result.oid

    # -- watching workers --

    def _poll_workers(self) -> None:
        for tid, w in list(self.workers.items()):
            if not w.poll():
                tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
                if tip != w.head_seen and tip is not None:
                    faults.point("mid-attempt")
                w.saw_commit(tip)
                self._note_done(tid, w, tip)
                over = w.overdue()
                if over:
                    w.request_stop(over)
                elif w.done_at is not None and time.monotonic() - w.done_at >= self._linger():
                    # the branch says the attempt is over: do not wait on what it left running
                    w.request_stop("finished")
                w.enforce_grace(self.prep.grace)
                view = self.views[tid]
                view.activity = w.reader.summary.last_text
                if w.reader.summary.cost_usd is not None:
                    view.cost_usd = self.states[tid].cost_usd + w.reader.summary.cost_usd
                self._refresh_branch_view(tid)
                continue
            del self.workers[tid]
            w.stop_group(0.0 if w.killed else self.prep.grace)
            self._finish(tid, w)

    def _linger(self) -> float:
        """How long a worker may go on running after its terminal protocol commit."""
        return max(1.0, 3 * self.prep.grace)

    def _note_done(self, tid: str, w: Worker, tip: Oid | None) -> None:
        """Note when the attempt's own [COMPLETE], [BLOCKED] or [NEEDS] reached the branch (a
        later [CHECKPOINT] means it goes on)."""
        if tip is None or tip == w.done_tip:
            return
        w.done_tip = tip
        prog = self._progress(tid, tip)
        before = Oid(self.states[tid].attempts[-1].head_before)
        ended = (
            prog.kind in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS)
            and prog.latest_oid is not None
            and not (before and self.repo.is_ancestor(Oid(prog.latest_oid), before))
        )
        if not ended:
            w.done_at = None
        elif w.done_at is None:
            w.done_at = time.monotonic()

    def _refresh_branch_view(self, tid: str) -> None:
        tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if tip is None or self._view_tips.get(tid) == tip:
            return
        self._view_tips[tid] = tip
        prog = self._progress(tid, tip)
        view = self.views[tid]
        view.checkpoints = prog.checkpoints
        view.last_subject = prog.last_subject

    def _progress(self, tid: str, tip: Oid) -> Progress:
        base = self.states[tid].base
        hist = self.repo.first_parent_history(tip, Oid(base) if base else None)
        return progress_of([(h.oid, h.message, h.time, h.autosave) for h in hist])

    # -- when a worker exits --

    def _finish(self, tid: str, w: Worker, *, lost: bool = False) -> None:
        plan = self.plan
        task = plan.task(tid)
        st = self.states[tid]
        attempt = st.attempts[-1]
        branch_ref = layout.branch_ref(plan.name, tid)
        path = Path(st.worktree) if st.worktree else None

        tip = self.repo.read_ref(branch_ref)
        prog = self._progress(tid, tip) if tip else None
        saved: Oid | None = None
        wip = layout.wip_ref(plan.name, tid)
        if path is not None and path.is_dir():
            try:
                done = self.repo.reattach_worktree(path, branch_ref, wip)
            except PoError:
                # not a worktree any more (its .git entry is gone): keep its files, as files
                saved = self.repo.snapshot_directory(
                    path,
                    wip,
                    tip,
                    f"po: files left in {tid}'s broken worktree after attempt {attempt.number}\n",
                )
                attempt.reason = "its worktree was broken (no .git); its files are kept in wip"
                path = None
            else:
                if done:
                    attempt.reason = done
                    tip = self.repo.read_ref(branch_ref)
                    prog = self._progress(tid, tip) if tip else None
        if path is not None and path.is_dir():
            terminal = prog is not None and prog.kind in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS)
            trailers = (
                f"{AUTOSAVE_TRAILER}: attempt {attempt.number}\n"
                f"Po-Plan: {plan.name}\nPo-Task: {tid}\n"
            )
            try:
                if terminal:
                    # keep the worker's own last protocol commit at the tip; park leftovers
                    saved = self.repo.save_worktree(
                        path,
                        f"po: uncommitted work left by {tid} after attempt "
                        f"{attempt.number}\n\n{trailers}",
                        snapshot_ref=wip,
                        before_ref_update=lambda: faults.point("during-autosave"),
                    )
                else:
                    saved = self.repo.save_worktree(
                        path,
                        f"[CHECKPOINT] git po: auto-saved uncommitted work of attempt "
                        f"{attempt.number}\n\n{trailers}",
                        before_ref_update=lambda: faults.point("during-autosave"),
                    )
            except (PoError, OSError) as exc:  # never lose the attempt record over this
                attempt.reason = f"could not save uncommitted work: {exc}"
            faults.point("after-autosave")
            tip = self.repo.read_ref(branch_ref)
            prog = self._progress(tid, tip) if tip else None

        secrets.mask_file_in_place(attempt.transcript, self.secret_values)
        secrets.mask_file_in_place(attempt.transcript + ".stderr", self.secret_values)
        s = w.reader.summary
        ended = time.time()
        attempt.ended_at = now_iso()
        attempt.duration_s = round(ended - w.started_wall, 3)
        code = w.exit_code
        if code is not None and code < 0:
            attempt.signal = -code
        elif code is not None:
            attempt.exit_code = code
        _fill(attempt, s)
        if attempt.refused:  # commands are committed to state refs too: never a key in them
            attempt.refused = [
                {k: secrets.mask(v, self.secret_values) for k, v in c.items()}
                for c in attempt.refused
            ]
        attempt.head_after = str(tip) if tip else None
        attempt.saved = str(saved) if saved else None
        self._annotate(tid, attempt)

        kind = prog.kind if prog else None
        changed = True  # whether the branch changed any file since the task's base
        if kind is Kind.COMPLETE and s.permission_denials and tip is not None and st.base:
            changed = bool(self.repo.changed_paths(Oid(st.base), tip))
        label = f"{plan.name}/{tid}"
        if lost and kind not in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS):
            verdict = attempts.Verdict("lost", "its orchestrator stopped and the worker is gone")
        elif w.adopted and code is None and kind not in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS):
            verdict = attempts.classify(
                code=0,
                summary=s,
                stop_reason=w.stop_reason,
                kind=kind,
                timeout=w.timeout,
                idle_timeout=w.idle_timeout,
                changed_files=changed,
                task=label,
            )
        else:
            verdict = attempts.classify(
                code=code if code is not None else 0,
                summary=s,
                stop_reason=w.stop_reason,
                kind=kind,
                stderr_tail=_tail(Path(attempt.transcript + ".stderr")),
                timeout=w.timeout,
                idle_timeout=w.idle_timeout,
                changed_files=changed,
                task=label,
            )
        # reasons are committed to state refs, which users push: never a key in them
        verdict = attempts.Verdict(verdict.cls, secrets.mask(verdict.why, self.secret_values))
        if w.stop_reason == "finished" and not attempt.reason:
            attempt.reason = (
                f"still running {self._linger():g}s after its "
                f"{f'[{kind.name}]' if kind else 'last'} commit: stopped, with what it left "
                "running"
            )
        attempt.outcome = verdict.cls
        if verdict.why and not attempt.reason:
            attempt.reason = verdict.why
        self.views[tid].ended = ended
        self.views[tid].cost_usd = st.cost_usd
        detail: dict[str, object] = {
            "attempt": attempt.number,
            "class": verdict.cls,
            "exit_code": attempt.exit_code,
            "signal": attempt.signal,
            "session_id": attempt.session_id,
            "cost_usd": attempt.cost_usd,
            "saved": attempt.saved,
            "permission_denials": attempt.permission_denials or None,
        }
        self._decide(task, verdict, prog, detail)
        self.workers_local.remove(tid)

    def _decide(
        self,
        task: Task,
        verdict: attempts.Verdict,
        prog: Progress | None,
        detail: Mapping[str, object],
    ) -> None:
        tid = task.id
        st = self.states[tid]
        attempt = st.attempts[-1]
        cls = verdict.cls
        if cls == "complete" and self.plan.verify:
            self._start_verify(task, Oid(attempt.head_after or ""), detail)
        elif cls == "complete":
            self._set(tid, State.COMPLETE, "complete", detail=detail)
        elif cls == "blocked":
            assert prog is not None and prog.latest is not None
            self._set(tid, State.BLOCKED, "blocked", reason=prog.latest.reason, detail=detail)
        elif cls == "needs":
            assert prog is not None and prog.latest is not None
            other = prog.latest.needs_task or ""
            other_tip = (
                self.repo.read_ref(layout.branch_ref(self.plan.name, other))
                if other in self.plan.ids
                else None
            )
            self.states[tid] = replace(st, waiting_on=other, waiting_tip=other_tip)
            self._set(tid, State.NEEDS, "needs", reason=prog.latest.detail, detail=detail)
        elif cls in (attempts.INTERRUPTED, attempts.STOPPED, attempts.BUDGET):
            self._set(tid, State.INTERRUPTED, cls, reason=verdict.why, detail=detail)
        elif cls == "lost":
            # not the task's fault: continue it, and do not count this attempt
            self.states[tid] = replace(st, retries_from=attempt.number)
            self._set(tid, State.PENDING, "lost", reason=verdict.why, detail=detail)
        elif cls in attempts.RETRYABLE:
            streak = attempt.number - st.retries_from
            budget_left = task.budget_usd is None or st.cost_usd < task.budget_usd
            if streak <= task.retries and budget_left:
                delay = attempts.backoff(streak, self.prep.retry_delay)
                self.retry_at[tid] = time.monotonic() + delay
                self.states[tid] = replace(
                    st, retry_after=_iso_in(delay), message=f"The last attempt ended: {verdict.why}"
                )
                self._set(
                    tid,
                    State.PENDING,
                    "retry",
                    reason=f"retry {streak}/{task.retries} in {delay:.0f}s after {cls}: "
                    f"{verdict.why}",
                    detail=detail,
                )
                if cls in attempts.COOL_DOWN and self.prep.cooldown > 0:
                    self.cooldown_until = max(
                        self.cooldown_until, time.monotonic() + self.prep.cooldown
                    )
                    self.observer.changed(
                        self.views[tid],
                        f"{cls}: no new worker starts for {self.prep.cooldown:.0f}s",
                    )
            else:
                tries = (
                    f" (after {streak} attempt{'s' if streak != 1 else ''})" if streak > 1 else ""
                )
                if not budget_left:
                    tries += f"; not retried: its budget of ${task.budget_usd:.2f} is spent"
                self._set(tid, State.FAILED, cls, reason=verdict.why + tries, detail=detail)
        else:
            self._set(tid, State.FAILED, cls, reason=verdict.why, detail=detail)

    def _annotate(self, tid: str, attempt: Attempt) -> None:
        """Notes on the commits this attempt made: plan, task, attempt, session."""
        if not attempt.head_after or attempt.head_after == attempt.head_before:
            return
        hist = self.repo.first_parent_history(
            Oid(attempt.head_after), Oid(attempt.head_before), limit=500
        )
        lines = [
            f"po-plan: {self.plan.name}",
            f"po-task: {tid}",
            f"po-attempt: {attempt.number}",
            f"po-agent: {attempt.agent}",
        ]
        if attempt.session_id:
            lines.append(f"po-session: {attempt.session_id}")
        text = "\n".join(lines) + "\n"
        for h in hist:
            with contextlib.suppress(Exception):  # notes annotate; a failure loses no work
                self.repo.add_note(h.oid, text)

    # -- the verify gate --

    def _start_verify(self, task: Task, commit: Oid, detail: Mapping[str, object]) -> None:
        """[COMPLETE] counts only once the plan's verify command passes on that commit. It runs
        in a thread (the loop keeps watching the other workers), in the task's worktree when
        that is clean, else in a temporary worktree of the same commit."""
        command = self.plan.verify
        assert command is not None
        st = self.states[task.id]
        path = Path(st.worktree) if st.worktree else None
        clean = (
            path is not None
            and path.is_dir()
            and self.repo.worktree_head(path) == commit
            and not self.repo.worktree_changes(path)
        )
        box: dict[str, object] = {}
        timeout = task.timeout or 3600.0
        # the thread gets its own handle: a pygit2 repository is not for two threads at once
        repo, plan, root = self.repo.reopen(), self.plan.name, self.prep.worktree_root
        stop = self.stop  # Ctrl-C stops the verify command too
        track = verify.Tracking(liveness.TrackedStore(self.repo, plan), plan, task.id)

        def work() -> None:
            try:
                if clean:
                    assert path is not None
                    box["result"] = verify.run_verify(
                        repo, path, commit, command, timeout=timeout, stop=stop, track=track
                    )
                else:
                    box["result"] = verify.run_in_temp_worktree(
                        repo,
                        plan,
                        task.id,
                        commit,
                        command,
                        root=root,
                        timeout=timeout,
                        stop=stop,
                        track=track,
                    )
            except Exception as exc:
                box["error"] = exc

        # recorded before the verdict, so `status` anywhere shows the task verifying, and
        # before the command starts, so a resumed run looks for it
        self.states[task.id] = replace(self.states[task.id], state=State.VERIFYING, reason=None)
        self._record(
            task.id, "verifying", f"verifying {commit[:12]}: {command}", detail=dict(detail)
        )
        thread = threading.Thread(target=work, name=f"verify-{task.id}", daemon=True)
        thread.start()
        self.verifying[task.id] = (thread, box, commit)

    def _resume_verify(self, task: Task, commit: Oid) -> None:
        """Adopt the verify a dead orchestrator started, if it still runs or left its result;
        else verify again. Never two at once."""
        store = liveness.TrackedStore(self.repo, self.plan.name)
        track = verify.Tracking(store, self.plan.name, task.id)
        rec = store.read("verify", task.id)
        if rec is None:
            found = liveness.find_verify(self.plan.name, task.id)
            if found is not None:  # started just before its orchestrator died
                rec = liveness.Tracked(
                    kind="verify",
                    task=task.id,
                    pid=found[0],
                    start=found[1],
                    worktree=found[2],
                    started_at=time.time(),
                    commit=commit,
                    command=self.plan.verify or "",
                    output=str(store.file("verify", task.id, ".out")),
                    status=str(store.file("verify", task.id, ".status")),
                )
        if rec is None or not (rec.alive() or Path(rec.status).exists()):
            track.store.remove("verify", task.id)
            self._start_verify(task, commit, {})
            return
        box: dict[str, object] = {"again": True}
        repo, plan, root = self.repo.reopen(), self.plan.name, self.prep.worktree_root
        timeout, stop = task.timeout or 3600.0, self.stop

        def work() -> None:
            try:
                found = verify.adopt(
                    repo, plan, rec, root=root, timeout=timeout, stop=stop, track=track
                )
                if found is not None:
                    box.pop("again")
                    box["result"] = found
            except Exception as exc:
                box.pop("again", None)
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"verify-{task.id}", daemon=True)
        thread.start()
        self.verifying[task.id] = (thread, box, Oid(rec.commit))
        self._record(task.id, "verifying", f"verify of {rec.commit[:12]} adopted (pid {rec.pid})")

    def _poll_verifies(self) -> None:
        for tid, (thread, box, commit) in list(self.verifying.items()):
            if thread.is_alive():
                continue
            del self.verifying[tid]
            task = self.plan.task(tid)
            st = self.states[tid]
            if box.get("again"):  # an adopted verify whose outcome is unknown
                self._start_verify(task, commit, {})
                continue
            result = box.get("result")
            if isinstance(result, verify.VerifyResult):
                stored = verify.record(self.repo, result, self.plan.name, tid)
                summary = stored.summary()
                passed = stored.passed
                tail = stored.output_tail
                if st.attempts:  # verify time counts in the task's time (`git po report`)
                    a = st.attempts[-1]
                    a.verify_s = round((a.verify_s or 0.0) + stored.duration_s, 3)
            elif isinstance(box.get("error"), Interrupted):
                # stopped by Ctrl-C: verify again when the run is resumed
                if st.attempts:
                    st.attempts[-1].outcome = "verify-interrupted"
                self._set(tid, State.INTERRUPTED, "interrupted", reason="stopped during verify")
                continue
            else:
                summary = f"could not run: {box.get('error')}"
                passed = False
                tail = ""
            detail: dict[str, object] = {"verify": summary, "commit": commit}
            if st.attempts:
                detail["attempt"] = st.attempts[-1].number
            if passed:
                self._set(tid, State.COMPLETE, "complete", detail=detail)
                continue
            if st.attempts:
                st.attempts[-1].outcome = "verify-failed"  # its [COMPLETE] did not hold
                st.attempts[-1].reason = f"verify {summary}"
            streak = len(st.attempts) - st.retries_from
            reason = f"verify {summary}: {self.plan.verify}"
            if tail:  # kept in the state ref, for `git po show` on any clone
                detail["output_tail"] = "\n".join(tail.splitlines()[-verify.SHOW_LINES :])
            if streak <= task.retries and not self.stop.is_set():
                self.states[tid] = replace(
                    st,
                    message=f"Your [COMPLETE] commit {commit[:12]} did not pass the plan's "
                    f"verify command `{self.plan.verify}` ({summary}). Its output ended "
                    f"with:\n\n{tail}\n\nFix it, commit, and commit [COMPLETE] again.",
                )
                self._set(tid, State.PENDING, "verify-failed", reason=reason, detail=detail)
            else:
                self._set(tid, State.FAILED, "verify-failed", reason=reason, detail=detail)

    # -- NEEDS, the inbox, budgets --

    def _deliver_needs(self) -> None:
        waiting = {
            tid: st for tid, st in self.states.items() if st.state is State.NEEDS and st.waiting_on
        }
        if not waiting:
            return
        for tid, st in waiting.items():
            other = st.waiting_on
            assert other is not None
            if other == tid:
                self._set(tid, State.BLOCKED, "blocked", reason=f"needs itself ({st.reason})")
                continue
            if other not in self.plan.ids:
                self._set(tid, State.BLOCKED, "blocked", reason=f"needs unknown task {other!r}")
                continue
            if tid in self.plan.graph.ancestors.get(other, frozenset()):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} depends on {tid}",
                )
                continue
            if attached_pid(self.repo, self.plan.name, tid) is not None:
                continue  # someone is at work in that worktree: deliver afterwards
            otip = self.repo.read_ref(layout.branch_ref(self.plan.name, other))
            ost = self.states[other]
            mine = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
            if otip is not None and self._arrived(tid, other, otip, st.waiting_tip):
                try:
                    self._deliver(tid, other, otip)
                except PoError as exc:
                    self._set(
                        tid, State.BLOCKED, "blocked", reason=f"could not deliver {other}: {exc}"
                    )
            elif (
                ost.state is State.COMPLETE
                and otip is not None
                and mine is not None
                and self.repo.is_ancestor(otip, mine)
            ):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} is complete and all its work is "
                    "already on this branch",
                )
            elif ost.state in (State.FAILED, State.SKIPPED, State.INTERRUPTED):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} is {ost.state.value}",
                )
        # NEEDS that wait on each other can never be met
        for tid in list(waiting):
            cycle = [tid]
            cur = self.states[tid]
            while cur.state is State.NEEDS and cur.waiting_on and cur.waiting_on not in cycle:
                cycle.append(cur.waiting_on)
                cur = self.states[cur.waiting_on]
            if cur.state is State.NEEDS and cur.waiting_on == tid:
                path = " -> ".join([*cycle, tid])
                for member in cycle:
                    self._set(member, State.BLOCKED, "blocked", reason=f"NEEDS cycle: {path}")

    def _arrived(self, tid: str, other: str, otip: Oid, seen: str | None) -> bool:
        """Whether `other` has something this branch lacks: it is complete, or it made
        protocol progress since the wait began."""
        mine = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if mine is not None and self.repo.is_ancestor(otip, mine):
            return False
        if self.states[other].state is State.COMPLETE:
            return True
        if seen is not None and otip == seen:
            return False
        base = self.states[other].base
        stop = Oid(seen) if seen else (Oid(base) if base else None)
        for h in self.repo.first_parent_history(otip, stop, limit=200):
            if h.autosave:
                continue  # git po's own saves are not the other task's progress
            rep = parse_subject(h.message.splitlines()[0] if h.message else "")
            if rep is not None and rep.kind in (Kind.CHECKPOINT, Kind.COMPLETE):
                return True
        return False

    def _deliver(self, tid: str, other: str, otip: Oid) -> None:
        st = self.states[tid]
        branch_ref = layout.branch_ref(self.plan.name, tid)
        path = Path(st.worktree) if st.worktree else None
        if path is not None and path.is_dir():
            self.repo.save_worktree(
                path,
                f"[CHECKPOINT] git po: auto-saved before {other}'s work was merged in\n\n"
                f"{AUTOSAVE_TRAILER}: delivery\nPo-Plan: {self.plan.name}\nPo-Task: {tid}\n",
            )
        res = self.repo.merge_into_branch(
            branch_ref,
            otip,
            f"po: merge {other} into {tid} for [NEEDS:{st.reason}]\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {tid}\nPo-Needs: {other}\n",
        )
        if res.oid is None:
            self._set(
                tid,
                State.BLOCKED,
                "blocked",
                reason=f"what {other} committed conflicts with this branch in "
                f"{', '.join(res.conflicts)}",
            )
            return
        if path is not None and path.is_dir():
            self.repo.sync_worktree(path)
        base = self.states[other].base
        subjects = self._protocol_subjects(other, otip, Oid(st.waiting_tip or base or otip))
        arrived = "\n".join(f"- {s}" for s in subjects[-10:]) or "- (their latest commits)"
        self.states[tid] = replace(
            st,
            waiting_on=None,
            waiting_tip=None,
            retries_from=len(st.attempts),
            message=f"What you needed from `{other}` ({st.reason}) arrived and is merged into "
            f"your branch:\n\n{arrived}",
        )
        self._set(tid, State.PENDING, "delivered", reason=None, detail={"from": other, "tip": otip})

    def _take_inbox(self) -> None:
        for msg in self.inbox.take():
            if msg.task not in self.states:
                continue
            self._apply(msg)

    def _apply(self, msg: Message) -> None:
        tid = msg.task
        st = self.states[tid]
        if msg.command == "answer" and st.state in (State.BLOCKED, State.NEEDS):
            self.states[tid] = replace(
                st,
                retries_from=len(st.attempts),
                waiting_on=None,
                waiting_tip=None,
                message=f"A person answered ({st.state.value}: {st.reason}):\n\n{msg.text}",
            )
            self._set(tid, State.PENDING, "answered", reason=None, detail={"answer": msg.text})
        elif msg.command == "retry" and st.state not in (State.RUNNING, State.VERIFYING):
            self.retry_at.pop(tid, None)
            note = f"A person asked to run the task again (it was {st.state.value}"
            note += f": {st.reason})." if st.reason else ")."
            if msg.text:
                note += f"\n\n{msg.text}"
            self.states[tid] = replace(
                st, retries_from=len(st.attempts), waiting_on=None, waiting_tip=None, message=note
            )
            self._set(tid, State.PENDING, "retry-requested", reason=None)
            for other, ost in self.states.items():
                if ost.state is State.SKIPPED:
                    self._set(other, State.PENDING, "unskipped", reason=None)
        elif msg.command == "stop":
            w = self.workers.get(tid)
            if w is not None:
                w.request_stop("stopped")
            elif st.state is State.PENDING:
                self._set(tid, State.INTERRUPTED, "stopped", reason="stopped with git po stop")

    def _check_budget(self) -> None:
        limit = self.plan.budget_usd
        if limit is None:
            return
        spent = sum(s.cost_usd for s in self.states.values())
        spent += sum(w.reader.summary.cost_usd or 0.0 for w in self.workers.values())
        if spent >= limit and not self.budget_spent:
            self.budget_spent = True
            for w in self.workers.values():
                w.request_stop("budget")
        if self.budget_spent:
            # also tasks that became pending since (a retry, an answer, a delivery)
            for tid, st in self.states.items():
                if st.state is State.PENDING:
                    self._set(
                        tid,
                        State.INTERRUPTED,
                        "budget",
                        reason=f"plan budget ${limit:.2f} spent (${spent:.2f})",
                    )

    # -- recording --

    def _set(
        self,
        tid: str,
        state: State,
        event: str,
        *,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        self.states[tid] = replace(self.states[tid], state=state, reason=reason)
        if state is not State.PENDING:
            self.retry_at.pop(tid, None)
            if self.states[tid].retry_after:
                self.states[tid] = replace(self.states[tid], retry_after=None)
        view = self.views[tid]
        if self.states[tid].base:
            self._refresh_branch_view(tid)
        summary = state.value + (f" — {reason}" if reason else "")
        if state is State.COMPLETE and view.last_subject:
            summary = f"complete — {view.last_subject}"
        self._record(tid, event, summary, detail)

    def _record(
        self,
        tid: str,
        event: str,
        summary: str,
        detail: Mapping[str, object] | None = None,
        *,
        queue: bool = True,
    ) -> None:
        st = self.states[tid]
        msg = (
            f"{tid}: {summary}\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {tid}\nPo-State: {st.state.value}\n"
        )
        self.states[tid] = self._write(st, event, msg, detail, queue=queue)
        view = self.views[tid]
        view.state = st.state
        view.reason = st.reason or self.lock_notes.get(tid)
        view.attempts = len(st.attempts)
        self.observer.changed(view, summary)

    def _write(
        self,
        st: TaskState,
        event: str,
        msg: str,
        detail: Mapping[str, object] | None = None,
        *,
        queue: bool = True,
    ) -> TaskState:
        """Write a state change on the task's ref. While that ref's lock file stays (a writer
        died holding it), keep the change, in order, and say what to remove: only this task
        waits. With queue=False (an attempt about to start) RefLocked is raised instead."""
        tid = st.task
        queued = self.unrecorded.get(tid)
        if queued is None:
            try:
                return self.store.write(st, event, msg, detail)
            except RefLocked as exc:
                if not queue:
                    raise
                queued = self.unrecorded[tid] = []
                self._tell_locked(tid, exc)
        elif not queue:
            self._flush_unrecorded(force=True)
            if tid not in self.unrecorded:
                return self.store.write(st, event, msg, detail)
            self.store.write(st, event, msg, detail)  # raises RefLocked while it stays
        queued.append((st, event, msg, detail))
        return st

    def _flush_unrecorded(self, *, force: bool = False) -> None:
        """Write the kept state changes of tasks whose ref was locked (about once a second)."""
        if not self.unrecorded or (not force and time.monotonic() < self._flush_after):
            return
        self._flush_after = time.monotonic() + 1.0
        for tid, queued in list(self.unrecorded.items()):
            while queued:
                st, event, msg, detail = queued[0]
                try:
                    self.store.write(st, event, msg, detail)
                except RefLocked:
                    break
                queued.pop(0)
            if not queued:
                del self.unrecorded[tid]
                self.lock_notes.pop(tid, None)
                self.views[tid].reason = self.states[tid].reason
                self.observer.changed(self.views[tid], "its state ref is free again; recorded")

    def _tell_locked(self, tid: str, exc: RefLocked) -> None:
        if exc.lock in self._locks_told:
            return
        self._locks_told.add(exc.lock)
        self.lock_notes[tid] = f"waits: {exc.message}; {exc.hint}"
        self.views[tid].reason = self.lock_notes[tid]
        self.observer.changed(self.views[tid], self.lock_notes[tid])

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


def _fill(attempt: Attempt, s: TranscriptSummary) -> None:
    attempt.is_error = s.is_error
    attempt.api_error_status = s.api_error_status
    attempt.result_subtype = s.result_subtype
    attempt.session_id = s.session_id or attempt.session_id
    attempt.cost_usd = s.cost_usd
    attempt.input_tokens = s.input_tokens
    attempt.output_tokens = s.output_tokens
    attempt.num_turns = s.num_turns
    attempt.permission_denials = s.permission_denials
    attempt.refused = list(s.refused) or None


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _iso_in(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


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
