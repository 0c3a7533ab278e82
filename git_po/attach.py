"""`git po attach TASK`: an interactive session of the task's agent on its session, in its
worktree (`claude --resume SESSION`, `codex resume SESSION`, ...), so a person can talk to a
worker.

While the session lasts, <git-common-dir>/po/plans/<plan>/attached/<task> holds
`pid <pid of git po attach> since <time>`: the orchestrator does not start that task while the
file names a live process, and picks the task up again from its branch afterwards. Attaching is
refused while a worker of the task runs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from git_po import config, hookinstall, local, proc
from git_po.agents import profile
from git_po.confine import session_id_ok
from git_po.errors import AgentMissing, StateConflict
from git_po.lookup import TaskRef
from git_po.repo import Repo
from git_po.state import State, StateStore, now_iso
from git_po.status import stored_plan


@dataclass(frozen=True)
class Session:
    repo: Repo
    ref: TaskRef
    session_id: str
    worktree: Path
    argv: list[str]
    env: dict[str, str]
    marker: Path


def worker_alive(repo: Repo, ref: TaskRef) -> int | None:
    """The pid of a live worker of the task on this machine, if its state says it runs."""
    st = StateStore(repo, ref.plan).read(ref.task)
    if st is None or st.state is not State.RUNNING:
        return None
    rec = local.Workers(repo, ref.plan).read(ref.task)
    if rec is not None and rec.alive():
        return rec.pid
    last = st.attempts[-1] if st.attempts else None
    if last is not None and last.ended_at is None and last.pid and local.pid_alive(last.pid):
        return last.pid
    return None


def prepare(repo: Repo, ref: TaskRef, claude_path: str | None = None) -> Session:
    """Check that the task can be attached to and build the command; starts nothing."""
    st = StateStore(repo, ref.plan).read(ref.task)
    if st is None or not st.attempts:
        raise StateConflict(
            f"task {ref} has not run yet: there is no session to attach to",
            hint=f"see git po status {ref.plan}",
        )
    pid = worker_alive(repo, ref)
    if pid is not None:
        raise StateConflict(
            f"a worker of task {ref} is running (pid {pid})",
            hint="wait until it stops, or stop its run (Ctrl-C in the orchestrator's terminal)",
        )
    holder = local.attached_pid(repo, ref.plan, ref.task)
    if holder is not None:
        raise StateConflict(f"someone is already attached to task {ref} (pid {holder})")
    session = st.session_id
    agent = st.agent or "claude"
    if not session:
        raise StateConflict(
            f"task {ref} has no {agent} session to resume",
            hint="only tasks whose agent reported a session can be attached to",
        )
    if not st.worktree or not Path(st.worktree).is_dir():
        raise StateConflict(
            f"the worktree of task {ref} is not on this machine ({st.worktree or 'none'})",
            hint="agents resume a session only in the directory it ran in",
        )
    plan = stored_plan(repo, ref.plan)
    task = plan.task(ref.task)
    path = claude_path or config.claude_path(repo)
    try:
        prof = profile(agent, claude_path=path, specs=plan.agents, gitdir=Path(repo.common_dir))
    except KeyError:
        raise StateConflict(
            f"task {ref} ran agent {agent!r}, which this plan no longer defines"
        ) from None
    if prof.executable() is None:
        where = (path or "claude on PATH") if agent == "claude" else agent
        raise AgentMissing(
            f"the {agent} executable was not found ({where})",
            hint="point --claude or git config po.claudePath at it"
            if agent == "claude"
            else f"install it, or point git config po.agent.{agent}.executable at it",
        )
    if not session_id_ok(session):
        raise StateConflict(
            f"the session id recorded for {ref} ({session!r}) is not a session id",
            hint="its state ref was not written by git po; git po retry runs the task afresh",
        )
    argv = prof.attach_argv(task, session)
    if argv is None:
        raise StateConflict(
            f"the {agent} agent cannot resume a session interactively",
            hint=f"look at its transcript: git po logs {ref}",
        )
    hooks = hookinstall.install(repo)
    env = proc.child_env(hookinstall.worker_git_env(hooks))
    return Session(
        repo=repo,
        ref=ref,
        session_id=session,
        worktree=Path(st.worktree),
        argv=argv,
        env=env,
        marker=local.attached_marker(repo, ref.plan, ref.task),
    )


@contextlib.contextmanager
def attached(session: Session) -> Iterator[None]:
    """The attach marker exists for exactly as long as the block runs."""
    marker = session.marker
    marker.parent.mkdir(parents=True, exist_ok=True)
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.tmp")
    # the process start time tells a reused pid apart after a crash or a reboot
    tmp.write_text(
        f"pid {os.getpid()} since {now_iso()} start {local.process_start(os.getpid()) or ''}\n"
    )
    tmp.replace(marker)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            text = marker.read_text().split()
            if len(text) >= 2 and text[1] == str(os.getpid()):
                marker.unlink()


def run(session: Session) -> int:
    """Run the interactive session in the task's worktree; its exit status."""
    with attached(session):
        # the marker is written first, then the worker checked again: an orchestrator that
        # launched the task in between is seen here, one that looks later sees the marker
        pid = worker_alive(session.repo, session.ref)
        if pid is not None:
            raise StateConflict(f"a worker of task {session.ref} has just started (pid {pid})")
        return proc.run_foreground(session.argv, cwd=session.worktree, env=session.env)
