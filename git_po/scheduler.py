"""The run loop: record the plan, then start ready tasks as soon as a worker slot is free (never
in waves), longest remaining critical path first, and record every change as a commit on the
task's state ref. The core never prints: it reports to an Observer."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import filelock

from git_po import __version__, config, hookinstall, layout, prompts
from git_po.agents import AgentProfile, profile
from git_po.errors import (
    AgentMissing,
    PoError,
    RepositoryError,
    StateConflict,
)
from git_po.plan import Plan, Task, load_plan_file
from git_po.proc import child_env
from git_po.protocol import AUTOSAVE_TRAILER, Kind, Progress, progress_of
from git_po.repo import Oid, Repo
from git_po.state import (
    Attempt,
    RunRecord,
    State,
    StateStore,
    TaskState,
    now_iso,
    read_plan_ref,
)
from git_po.supervisor import Worker
from git_po.supervisor import start as start_worker


@dataclass(frozen=True)
class StartOptions:
    max_workers: int | None = None
    claude_path: str | None = None
    restart: bool = False
    poll_interval: float = 0.2


@dataclass(frozen=True)
class Prepared:
    """A validated plan bound to a repository, ready to run or to show as a schedule."""

    plan: Plan
    base: Oid
    max_workers: int
    profiles: dict[str, AgentProfile]
    worktree_root: Path
    grace: float
    warnings: tuple[str, ...] = ()


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


@dataclass
class RunOutcome:
    plan: str
    states: dict[str, State]
    interrupted: bool
    wall_seconds: float

    @property
    def all_complete(self) -> bool:
        return all(s is State.COMPLETE for s in self.states.values())


# --- preparing -----------------------------------------------------------------------------


def prepare(repo: Repo, plan_path: Path, options: StartOptions) -> Prepared:
    """Validate the plan against the repository; check agents. Writes nothing."""

    def repo_check(name: str, base_rev: str) -> list[tuple[str | None, str, str]]:
        found: list[tuple[str | None, str, str]] = []
        if not base_rev.startswith("-") and repo.resolve(base_rev) is None:
            found.append(
                (
                    "base",
                    f"base {base_rev!r} does not resolve to a commit in this repository",
                    "name an existing branch, tag or commit",
                )
            )
        for blocker in ("refs/heads/po", f"refs/heads/po/{name}"):
            if repo.read_ref(blocker) is not None:
                found.append(
                    (
                        None,
                        f"branch {blocker.removeprefix('refs/heads/')} exists, so task branches "
                        f"po/{name}/<task> cannot be created",
                        "rename that branch",
                    )
                )
        return found

    plan = load_plan_file(plan_path, repo_check, config.plan_fallbacks(repo))
    base = repo.resolve(plan.base)
    assert base is not None

    claude_path = options.claude_path or config.claude_path(repo)
    profiles: dict[str, AgentProfile] = {}
    for task in plan.tasks:
        if task.agent in profiles:
            continue
        prof = profile(task.agent, claude_path=claude_path)
        if prof.executable() is None:
            if task.agent == "claude":
                where = claude_path or "claude on PATH"
                raise AgentMissing(
                    f"the claude executable was not found ({where})",
                    hint="install Claude Code (npm install -g @anthropic-ai/claude-code), "
                    "or point --claude / git config po.claudePath at it",
                )
            raise AgentMissing(f"the {task.agent} agent's executable was not found")
        profiles[task.agent] = prof

    if options.max_workers is not None:
        workers = options.max_workers
    elif plan.max_workers_set:
        workers = plan.max_workers
    else:
        workers = config.max_workers(repo) or plan.max_workers
    warnings: list[str] = []
    if plan.verify:
        warnings.append(
            "verify is recorded but not enforced yet: [COMPLETE] counts without running it"
        )
    retrying = [t.id for t in plan.tasks if t.retries > 0]
    if retrying:
        warnings.append(
            f"retries are not applied yet ({', '.join(retrying)}): a failed attempt is final"
        )
    return Prepared(
        plan=plan,
        base=base,
        max_workers=workers,
        profiles=profiles,
        worktree_root=config.worktree_root(repo),
        grace=config.stop_grace(repo),
        warnings=tuple(warnings),
    )


def _line_of(text: str, key: str) -> int | None:
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith(f"{key} ") or line.strip().startswith(f"{key}="):
            return n
    return None


@dataclass(frozen=True)
class ScheduleRow:
    task: str
    waits_for: tuple[str, ...]
    path_length: int
    agent: str


@dataclass(frozen=True)
class Schedule:
    plan: str
    base: Oid
    base_rev: str
    max_workers: int
    first: tuple[str, ...]  # tasks that start at once
    critical_path: tuple[str, ...]
    rows: tuple[ScheduleRow, ...]


def schedule(prep: Prepared) -> Schedule:
    g = prep.plan.graph
    roots = g.priority(g.roots)
    rows = tuple(
        ScheduleRow(t.id, t.depends_on, g.path_length[t.id], t.agent)
        for t in sorted(prep.plan.tasks, key=lambda t: g.topo_order.index(t.id))
    )
    return Schedule(
        plan=prep.plan.name,
        base=prep.base,
        base_rev=prep.plan.base,
        max_workers=prep.max_workers,
        first=tuple(roots[: prep.max_workers]),
        critical_path=tuple(g.critical_path),
        rows=rows,
    )


# --- the orchestrator lock -------------------------------------------------------------------


class RunLock:
    """One orchestrator per plan on this machine: a file lock plus who holds it."""

    def __init__(self, repo: Repo, plan: str) -> None:
        self.folder = layout.plan_dir(repo.common_dir, plan)
        self.info = self.folder / "orchestrator"
        self._lock = filelock.FileLock(str(self.folder / "lock"), timeout=0)

    def acquire(self, plan: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire()
        except filelock.Timeout:
            holder = self.holder() or "another process"
            raise StateConflict(
                f"plan {plan!r} is already running ({holder})",
                hint=f"watch it with: git po status {plan}",
            ) from None
        self.info.write_text(f"pid {os.getpid()} on {socket.gethostname()} since {now_iso()}\n")

    def holder(self) -> str | None:
        try:
            return self.info.read_text().strip() or None
        except OSError:
            return None

    def alive_holder(self) -> str | None:
        """Who runs the plan on this machine, read without touching the lock (never waits)."""
        text = self.holder()
        if not text:
            return None
        parts = text.split()
        try:
            pid, host = int(parts[1]), parts[3]
        except (IndexError, ValueError):
            return None
        if host != socket.gethostname():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return text

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self.info.unlink()
            self._lock.release()


# --- the run ---------------------------------------------------------------------------------


class Orchestrator:
    def __init__(
        self,
        repo: Repo,
        prep: Prepared,
        options: StartOptions,
        observer: Observer,
        stop: threading.Event,
    ) -> None:
        self.repo = repo
        self.prep = prep
        self.plan = prep.plan
        self.options = options
        self.observer = observer
        self.stop = stop
        self.store = StateStore(repo, self.plan.name)
        self.states: dict[str, TaskState] = {}
        self.views: dict[str, TaskView] = {}
        self.workers: dict[str, Worker] = {}
        self._view_tips: dict[str, Oid] = {}
        self.hooks: Path | None = None
        self.record: RunRecord | None = None
        self.plan_tip: Oid | None = None

    # -- entry --

    def run(self) -> RunOutcome:
        lock = RunLock(self.repo, self.plan.name)
        lock.acquire(self.plan.name)
        began = time.monotonic()
        try:
            self._begin()
            interrupted = self._loop()
            self._end(interrupted)
        finally:
            lock.release()
        return RunOutcome(
            self.plan.name,
            {t: s.state for t, s in self.states.items()},
            interrupted,
            time.monotonic() - began,
        )

    # -- recording the plan --

    def _begin(self) -> None:
        plan = self.plan
        stored = read_plan_ref(self.repo, plan.name)
        run_number = 1
        if stored is not None:
            if stored.run.state != "finished" and not self.options.restart:
                raise StateConflict(
                    f"plan {plan.name!r} has a run that did not finish "
                    f"(state {stored.run.state}, started {stored.run.started_at})",
                    hint=f"see git po status {plan.name}; start it over with --restart",
                )
            run_number = stored.run.run + 1
            self._archive(stored.run.run)
        else:
            leftovers = [
                r
                for r in self.repo.refs_under(f"refs/heads/po/{plan.name}/")
                + self.repo.refs_under(f"refs/po/{plan.name}/")
                if not r.startswith(f"refs/po/{plan.name}/runs/")
            ]
            if leftovers:
                if not self.options.restart:
                    raise StateConflict(
                        f"refs of an earlier run of plan {plan.name!r} exist "
                        f"({', '.join(leftovers[:3])}{', ...' if len(leftovers) > 3 else ''})",
                        hint="--restart keeps them under refs/po/"
                        f"{plan.name}/runs/ and starts over",
                    )
                self._archive(self._free_run_number())
                run_number = self._free_run_number()

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
        expected = stored.tip if stored else None
        ref = layout.plan_ref(plan.name)
        tasks = len(plan.tasks)
        msg = (
            f"po: start plan {plan.name} (run {run_number}): "
            f"{tasks} task{'s' if tasks != 1 else ''}, "
            f"base {plan.base} {self.prep.base[:12]}, max {self.prep.max_workers} workers\n"
        )
        self.plan_tip = self.repo.commit_files(ref, files, msg, expected, keep_tree=False)

        self.hooks = hookinstall.install(self.repo)
        for t in plan.tasks:
            st = TaskState(
                plan=plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            waits = ", ".join(t.depends_on) if t.depends_on else "a worker slot"
            self.states[t.id] = self.store.write(
                st, "pending", f"{t.id}: pending, waits for {waits}\n\nPo-Plan: {plan.name}\n"
            )
            self.views[t.id] = TaskView(t.id, State.PENDING)

    def _free_run_number(self) -> int:
        n = 1
        while self.repo.refs_under(layout.archive_prefix(self.plan.name, n)):
            n += 1
        return n

    def _archive(self, run: int) -> None:
        """Keep an earlier run's branches, state and snapshots under refs/po/<plan>/runs/<run>/
        and remove its worktrees once their uncommitted work is saved there."""
        name = self.plan.name
        prefix = layout.archive_prefix(name, run)
        while self.repo.refs_under(prefix):
            run += 1
            prefix = layout.archive_prefix(name, run)
        checked_out = self.repo.checked_out_branches()
        worktrees = {
            w: self.repo.worktree_gitdir(w)
            for w in self.repo.worktree_names()
            if w.startswith(f"po+{name}+")
        }
        for ref in self.repo.refs_under(f"refs/heads/po/{name}/"):
            where = checked_out.get(ref)
            if where is not None and not any(
                where.resolve() == _worktree_path(g) for g in worktrees.values()
            ):
                raise StateConflict(
                    f"branch {ref.removeprefix('refs/heads/')} of an earlier run is checked out "
                    f"at {where}",
                    hint="switch that checkout to another branch first",
                )
        # 1. save what the old worktrees hold, then remove them
        for wname, gitdir in worktrees.items():
            task = wname.split("+", 2)[2]
            path = _worktree_path(gitdir)
            if path is not None and path.is_dir():
                # into the live wip ref (chained to any earlier snapshot); moved below
                self.repo.save_worktree(
                    path,
                    f"po: uncommitted work of {name}/{task} kept when the plan was started again\n",
                    snapshot_ref=layout.wip_ref(name, task),
                )
            self._remove_worktree(wname, path)
        # 2. move the refs
        moves: list[tuple[str, str]] = []
        for ref in self.repo.refs_under(f"refs/heads/po/{name}/"):
            moves.append((ref, f"{prefix}branches/{ref.rsplit('/', 1)[1]}"))
        for ref in self.repo.refs_under(f"refs/po/{name}/"):
            rest = ref.removeprefix(f"refs/po/{name}/")
            if rest == "plan" or rest.startswith("runs/"):
                continue
            moves.append((ref, prefix + rest))
        taken = [new for _old, new in moves if self.repo.read_ref(new) is not None]
        if taken:
            raise StateConflict(
                f"cannot keep the earlier run of {name!r}: {taken[0]} already exists",
                hint=f"look at refs/po/{name}/runs/ with git for-each-ref",
            )
        for old, new in moves:
            oid = self.repo.read_ref(old)
            if oid is None:
                continue
            self.repo.create_ref(new, oid, f"po: keep {old} of an earlier run")
            self.repo.delete_ref(old, oid)

    def _remove_worktree(self, wname: str, path: Path | None) -> None:
        root = self.prep.worktree_root.resolve()
        # only directories git po created, under its worktree root
        if path is not None and path.is_dir() and root in path.resolve().parents:
            hookinstall.remove_tree(path)
        gitdir = self.repo.worktree_gitdir(wname)
        if gitdir.is_dir() and (path is None or not path.exists()):
            hookinstall.remove_tree(gitdir)

    # -- the loop --

    def _loop(self) -> bool:
        """Run until every task is terminal; True when stopped by an interrupt."""
        stopping = False
        while True:
            if self.stop.is_set() and not stopping:
                stopping = True
                for w in self.workers.values():
                    w.request_stop("interrupted")
            self._poll_workers()
            if not stopping:
                # launch right after a worker ends: a freed slot is filled in the same pass
                self._propagate_skips()
                self._launch_ready()
            self.observer.tick(self._view_list())
            if not self.workers:
                if stopping:
                    return True
                if not self._ready() and not any(
                    s.state is State.PENDING for s in self.states.values()
                ):
                    return False
                if not self._ready():  # cannot happen in a DAG; never spin
                    return False
                continue
            self.stop.wait(self.options.poll_interval)

    def _ready(self) -> list[str]:
        out = []
        for t in self.plan.tasks:
            if self.states[t.id].state is not State.PENDING:
                continue
            if all(self.states[d].state is State.COMPLETE for d in t.depends_on):
                out.append(t.id)
        return out

    def _propagate_skips(self) -> None:
        for tid in self.plan.graph.topo_order:
            st = self.states[tid]
            if st.state is not State.PENDING:
                continue
            task = self.plan.task(tid)
            bad = [
                d
                for d in task.depends_on
                if self.states[d].state.terminal and self.states[d].state is not State.COMPLETE
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
        for tid in self.plan.graph.priority(self._ready()):
            if len(self.workers) >= self.prep.max_workers or self.stop.is_set():
                return
            try:
                self._launch(self.plan.task(tid))
            except (PoError, OSError) as exc:
                self._set(tid, State.FAILED, "failed", reason=f"could not start: {exc}")

    def _launch(self, task: Task) -> None:
        plan = self.plan
        st = self.states[task.id]
        branch = layout.branch(plan.name, task.id)
        branch_ref = layout.branch_ref(plan.name, task.id)
        wname = layout.worktree_name(plan.name, task.id)
        path = layout.worktree_path(self.prep.worktree_root, plan.name, task.id)

        head = self.repo.read_ref(branch_ref)
        if head is None:
            base = self._base_for(task)
            if base is None:
                return  # failed and recorded
            self.repo.create_ref(
                layout.base_ref(plan.name, task.id), base, f"po: base of {task.id}"
            )
            self.repo.create_ref(branch_ref, base, f"po: branch for task {task.id}")
            head = base
        else:
            base = (
                Oid(st.base)
                if st.base
                else self.repo.read_ref(layout.base_ref(plan.name, task.id)) or head
            )
        if not path.exists():
            if path.parent.exists() and wname in self.repo.worktree_names():
                self._remove_worktree(wname, None)
            self.repo.add_worktree(wname, path, branch)
        hookinstall.mark_worktree(self.repo, wname, plan.name, task.id)

        number = len(st.attempts) + 1
        prof = self.prep.profiles[task.agent]
        transcript = layout.transcript_path(
            self.repo.common_dir, plan.name, task.id, number, prof.transcript_suffix
        )
        deps = [(d, self._complete_subject(d)) for d in task.depends_on]
        prompt = prompts.kickoff(plan, task, branch, deps)
        launch = prof.launch(task, prompt, None)
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
        if task.agent == "shell":
            env["PO_PROMPT"] = prompt
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
        )
        attempt = Attempt(
            number=number,
            agent=task.agent,
            started_at=now_iso(),
            head_before=head,
            transcript=str(transcript),
            pid=worker.pid,
        )
        self.workers[task.id] = worker
        st = replace(
            st,
            state=State.RUNNING,
            base=str(base),
            worktree=str(path),
            reason=None,
            attempts=[*st.attempts, attempt],
        )
        self.states[task.id] = st
        view = self.views[task.id]
        view.started = worker.started_wall
        view.ended = None
        view.attempts = number
        self._record(
            task.id,
            "running",
            f"attempt {number} ({task.agent}, pid {worker.pid})",
            detail={"attempt": number, "pid": worker.pid, "transcript": str(transcript)},
        )

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

    def _poll_workers(self) -> None:
        for tid, w in list(self.workers.items()):
            code = w.poll()
            if code is None:
                w.saw_commit(self.repo.read_ref(layout.branch_ref(self.plan.name, tid)))
                over = w.overdue()
                if over:
                    w.request_stop(over)
                w.enforce_grace(self.prep.grace)
                view = self.views[tid]
                view.activity = w.reader.summary.last_text
                if w.reader.summary.cost_usd is not None:
                    view.cost_usd = self.states[tid].cost_usd + w.reader.summary.cost_usd
                self._refresh_branch_view(tid)
                continue
            del self.workers[tid]
            w.stop_group(0.0 if w.killed else self.prep.grace)
            self._finish(tid, w, code)

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

    def _finish(self, tid: str, w: Worker, code: int) -> None:
        plan = self.plan
        st = self.states[tid]
        attempt = st.attempts[-1]
        branch_ref = layout.branch_ref(plan.name, tid)
        path = Path(st.worktree) if st.worktree else None

        tip = self.repo.read_ref(branch_ref)
        prog = self._progress(tid, tip) if tip else None
        saved: Oid | None = None
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
                        snapshot_ref=layout.wip_ref(plan.name, tid),
                    )
                else:
                    saved = self.repo.save_worktree(
                        path,
                        f"[CHECKPOINT] git po: auto-saved uncommitted work of attempt "
                        f"{attempt.number}\n\n{trailers}",
                    )
            except (PoError, OSError) as exc:  # never lose the attempt record over this
                attempt.outcome = f"save-failed: {exc}"
            tip = self.repo.read_ref(branch_ref)
            prog = self._progress(tid, tip) if tip else None

        s = w.reader.summary
        ended = time.time()
        attempt.ended_at = now_iso()
        attempt.duration_s = round(ended - w.started_wall, 3)
        if code < 0:
            attempt.signal = -code
        else:
            attempt.exit_code = code
        attempt.is_error = s.is_error
        attempt.api_error_status = s.api_error_status
        attempt.result_subtype = s.result_subtype
        attempt.session_id = s.session_id
        attempt.cost_usd = s.cost_usd
        attempt.input_tokens = s.input_tokens
        attempt.output_tokens = s.output_tokens
        attempt.num_turns = s.num_turns
        attempt.permission_denials = s.permission_denials
        attempt.head_after = str(tip) if tip else None
        attempt.saved = str(saved) if saved else None

        self._annotate(tid, attempt)

        kind = prog.kind if prog else None
        if w.stop_reason == "interrupted" and kind not in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS):
            state, reason, outcome = (
                State.INTERRUPTED,
                "stopped by the user (Ctrl-C)",
                "interrupted",
            )
        elif kind is Kind.COMPLETE:
            state, reason, outcome = State.COMPLETE, None, "complete"
        elif kind is Kind.BLOCKED:
            assert prog is not None and prog.latest is not None
            state, reason, outcome = State.BLOCKED, prog.latest.reason, "blocked"
        elif kind is Kind.NEEDS:
            assert prog is not None and prog.latest is not None
            state, reason, outcome = State.NEEDS, prog.latest.detail, "needs"
        else:
            state, outcome = State.FAILED, w.stop_reason or "no-progress"
            reason = _failure_reason(w, code, s.is_error, s.api_error_status)
        if attempt.outcome is None or not attempt.outcome.startswith("save-failed"):
            attempt.outcome = outcome
        self.views[tid].ended = ended
        if s.cost_usd is not None:
            self.views[tid].cost_usd = st.cost_usd
        detail = {
            "attempt": attempt.number,
            "exit_code": attempt.exit_code,
            "signal": attempt.signal,
            "session_id": attempt.session_id,
            "cost_usd": attempt.cost_usd,
            "saved": attempt.saved,
        }
        self._set(
            tid,
            state,
            outcome if state is not State.COMPLETE else "complete",
            reason=reason,
            detail=detail,
        )

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
            try:
                self.repo.add_note(h.oid, text)
            except Exception:
                continue

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
        view = self.views[tid]
        tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if tip is not None and self.states[tid].base:
            self._refresh_branch_view(tid)
        summary = state.value + (f" — {reason}" if reason else "")
        if state is State.COMPLETE and view.last_subject:
            summary = f"complete — {view.last_subject}"
        self._record(tid, event, summary, detail)

    def _record(
        self, tid: str, event: str, summary: str, detail: Mapping[str, object] | None = None
    ) -> None:
        st = self.states[tid]
        msg = (
            f"{tid}: {summary}\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {tid}\nPo-State: {st.state.value}\n"
        )
        self.states[tid] = self.store.write(st, event, msg, detail)
        view = self.views[tid]
        view.state = st.state
        view.reason = st.reason
        view.attempts = len(st.attempts)
        self.observer.changed(view, summary)

    def _view_list(self) -> list[TaskView]:
        return [self.views[t.id] for t in self.plan.tasks]

    def _end(self, interrupted: bool) -> None:
        assert self.record is not None and self.plan_tip is not None
        counts: dict[str, int] = {}
        for s in self.states.values():
            counts[s.state.value] = counts.get(s.state.value, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        record = replace(
            self.record,
            state="interrupted" if interrupted else "finished",
            ended_at=now_iso(),
            summary=summary,
        )
        verb = "interrupted" if interrupted else "finished"
        ref = layout.plan_ref(self.plan.name)
        self.plan_tip = self.repo.commit_files(
            ref,
            {"run.toml": record.to_toml().encode()},
            f"po: run {record.run} of plan {self.plan.name} {verb}: {summary}\n",
            self.plan_tip,
        )
        self.record = record


def _worktree_path(gitdir: Path) -> Path | None:
    """The working directory of a linked worktree, from its gitdir file."""
    try:
        text = (gitdir / "gitdir").read_text().strip()
    except OSError:
        return None
    return Path(text).parent.resolve()


def _failure_reason(w: Worker, code: int, is_error: bool | None, api_status: int | None) -> str:
    if w.stop_reason == "timeout":
        return f"timed out after {w.timeout:g}s without a [COMPLETE] commit"
    if w.stop_reason == "idle":
        return f"idle for {w.idle_timeout:g}s (no output, no commit)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"worker killed by {name} without a [COMPLETE] commit"
    if api_status:
        return f"API error {api_status}; exited {code} without a [COMPLETE] commit"
    if is_error:
        return f"agent reported an error; exited {code} without a [COMPLETE] commit"
    if code != 0:
        return f"exited with status {code} without a [COMPLETE] commit"
    return "exited without a [COMPLETE], [BLOCKED:...] or [NEEDS:...] commit"


def run_plan(
    repo: Repo,
    prep: Prepared,
    options: StartOptions,
    observer: Observer,
    stop: threading.Event,
) -> RunOutcome:
    return Orchestrator(repo, prep, options, observer, stop).run()


StopHook = Callable[[], None]


def check_repository_writable(repo: Repo) -> None:
    if not os.access(repo.common_dir, os.W_OK):
        raise RepositoryError(f"cannot write to {repo.common_dir}")
