"""Who is alive on a task, and stopping a process with everything it started.

The one module that inspects other processes (with psutil). A task is live while its worker,
its verify command, a resolver or an attach session runs (each recorded with its pid and process
start time, so a reused pid is never taken for it), or while any process works inside one of its
worktrees. Commands that remove or recreate a worktree ask `on_task` first and refuse (exit 5)
naming who runs.

A worker is stopped together with what it started: Claude Code runs each Bash call in a process
group of its own, and a tool may `setsid` itself, so signalling the worker's process group is
not enough. A `Family` is a leader (a worker, a verify) plus its descendants, tracked while it
runs (after it dies, its children belong to init and ancestry is lost), plus the processes that
carry the task's `PO_PLAN`/`PO_TASK`/`PO_WORKTREE` environment, plus those that started during
its run inside its worktree and have no terminal (a person's shell there is left alone). All of
them get SIGTERM, and SIGKILL after the grace period; the caller saves the work once they are
gone."""

from __future__ import annotations

import contextlib
import os
import time
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import tomli_w

from git_po import layout, proc
from git_po.errors import StateConflict
from git_po.local import Workers, _write_atomic, attached_pid, pid_alive
from git_po.repo import Repo

_COMMAND_CHARS = 60


@dataclass(frozen=True)
class Live:
    """A process that keeps a task's worktree in use."""

    pid: int
    command: str
    role: str  # worker, verify, resolver, attach session, process
    task: str  # plan/task

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command}), {self.role} of {self.task}"


def command_of(pid: int) -> str:
    try:
        p = psutil.Process(pid)
        words = p.cmdline() or [p.name()]
    except psutil.Error:
        return "?"
    text = " ".join(words)
    return text if len(text) <= _COMMAND_CHARS else text[: _COMMAND_CHARS - 1] + "…"


# --- records of the processes git po starts besides workers --------------------------------------


@dataclass(frozen=True)
class Tracked:
    """A verify command or a resolver git po started in a worktree: enough to adopt it after
    its orchestrator died (its output and exit status go to files), or to refuse to touch the
    worktree while it runs."""

    kind: str  # verify, resolver
    task: str
    pid: int
    start: str  # process start time, see local.process_start
    worktree: str
    started_at: float  # time.time()
    commit: str = ""
    command: str = ""
    output: str = ""
    status: str = ""  # its exit status is written there when it ends

    def alive(self) -> bool:
        return pid_alive(self.pid, self.start)


class TrackedStore:
    """<git-common-dir>/po/plans/<plan>/running/<kind>+<task>.toml"""

    def __init__(self, repo: Repo, plan: str) -> None:
        self.folder = layout.plan_dir(repo.common_dir, plan) / "running"

    def file(self, kind: str, task: str, suffix: str = ".toml") -> Path:
        return self.folder / f"{kind}+{task}{suffix}"

    def write(self, rec: Tracked) -> None:
        _write_atomic(self.file(rec.kind, rec.task), tomli_w.dumps(asdict(rec)))

    def read(self, kind: str, task: str) -> Tracked | None:
        try:
            return Tracked(**tomllib.loads(self.file(kind, task).read_text()))
        except (OSError, tomllib.TOMLDecodeError, TypeError):
            return None

    def remove(self, kind: str, task: str) -> None:
        for suffix in (".toml", ".out", ".status"):
            with contextlib.suppress(OSError):
                self.file(kind, task, suffix).unlink()


# --- who is live on a task -----------------------------------------------------------------------


def _mine() -> set[int]:
    """This process and its ancestors: never suspects (git po may be run from a worktree)."""
    me = psutil.Process()
    with contextlib.suppress(psutil.Error):
        return {me.pid, *(p.pid for p in me.parents())}
    return {me.pid}


def _inside(cwd: str | None, root: Path) -> bool:
    if not cwd:
        return False
    path = Path(cwd)
    return path == root or root in path.parents


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def in_directory(*paths: Path) -> list[psutil.Process]:
    """Live processes (other than this one and its ancestors) working inside paths."""
    roots = [p.resolve() for p in paths]
    if not roots:
        return []
    skip = _mine()
    found = []
    for p in psutil.process_iter(["cwd"]):
        if p.pid in skip:
            continue
        cwd = p.info.get("cwd")
        if any(_inside(cwd, r) for r in roots) and _running(p):
            found.append(p)
    return found


ROLES = ("worker", "verify", "resolver", "attach session")


def on_task(
    repo: Repo,
    plan: str,
    task: str,
    worktrees: Iterable[Path] = (),
    roles: Iterable[str] = ROLES,
) -> list[Live]:
    """Everything alive on a task: its recorded worker, verify or resolver, an attach session
    (those of roles), and any process working in one of worktrees."""
    label = f"{plan}/{task}"
    roles = tuple(roles)
    live: dict[int, Live] = {}
    rec = Workers(repo, plan).read(task) if "worker" in roles else None
    if rec is not None and rec.alive():
        live[rec.pid] = Live(rec.pid, command_of(rec.pid), "worker", label)
    store = TrackedStore(repo, plan)
    for kind in ("verify", "resolver"):
        tr = store.read(kind, task) if kind in roles else None
        if tr is not None and tr.alive():
            live.setdefault(tr.pid, Live(tr.pid, command_of(tr.pid), kind, label))
    attached = attached_pid(repo, plan, task) if "attach session" in roles else None
    if attached is not None:
        live.setdefault(attached, Live(attached, command_of(attached), "attach session", label))
    dirs = [p for p in worktrees if p.is_dir()]
    for p in in_directory(*dirs):
        live.setdefault(p.pid, Live(p.pid, command_of(p.pid), "process in the worktree", label))
    return sorted(live.values(), key=lambda x: x.pid)


def refuse(live: list[Live], doing: str, plan: str) -> StateConflict:
    """The error for a command that would pull a worktree from under live processes."""
    shown = "; ".join(str(x) for x in live[:3])
    more = f"; and {len(live) - 3} more" if len(live) > 3 else ""
    return StateConflict(
        f"{doing}: {shown}{more}",
        hint=f"a worker left by a stopped run is adopted by git po resume {plan} (then "
        "git po stop TASK stops it and saves its work); or wait for them to end, or end "
        "them yourself (kill PID)",
    )


def check_directory(path: Path, doing: str, label: str) -> None:
    """Refuse (StateConflict) while a process works inside path."""
    found = in_directory(path) if path.is_dir() else []
    if found:
        live = [Live(p.pid, command_of(p.pid), "process in the worktree", label) for p in found]
        raise refuse(live, doing, label.split("/", 1)[0])


# --- finding an unrecorded worker ----------------------------------------------------------------


def _marks(plan: str, task: str, worktree: str) -> dict[str, str]:
    return {"PO_PLAN": plan, "PO_TASK": task, "PO_WORKTREE": worktree}


def _marked(env: dict[str, str] | None, want: dict[str, str]) -> bool:
    return env is not None and all(env.get(k) == v for k, v in want.items())


def find_worker(worktree: str, plan: str, task: str) -> tuple[int, str] | None:
    """A live worker started for (plan, task) in worktree, found by its environment: the
    fallback for one started just before its orchestrator died, before its record was written.
    Its tools carry the same environment; the worker leads its process group and started
    first. Returns (pid, start time)."""
    from git_po.local import process_start

    want = _marks(plan, task, worktree)
    skip = _mine()
    leaders = []
    for p in psutil.process_iter(["environ", "create_time"]):
        if p.pid in skip or not _marked(p.info.get("environ"), want) or not _running(p):
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(p.pid) == p.pid:
                leaders.append(p)
    for p in sorted(leaders, key=lambda x: x.info.get("create_time") or 0.0):
        start = process_start(p.pid)
        if start is not None:
            return p.pid, start
    return None


VERIFY_MARK = "PO_VERIFY_TASK"  # plan/task, in the environment of a verify the run loop starts


def find_verify(plan: str, task: str) -> tuple[int, str, str] | None:
    """A live verify of (plan, task) found by its environment (the fallback for one started
    just before its orchestrator died, before its record was written): its process group
    leader's (pid, start time, working directory)."""
    from git_po.local import process_start

    want = {VERIFY_MARK: f"{plan}/{task}"}
    skip = _mine()
    for p in psutil.process_iter(["environ", "cwd"]):
        if p.pid in skip or not _marked(p.info.get("environ"), want) or not _running(p):
            continue
        with contextlib.suppress(OSError):
            start = process_start(p.pid)
            if os.getpgid(p.pid) == p.pid and start is not None:
                return p.pid, start, p.info.get("cwd") or ""
    return None


# --- stopping a process with everything it started -----------------------------------------------


class Family:
    """A leader process (it leads its process group) and everything it started."""

    def __init__(
        self,
        pid: int,
        *,
        plan: str | None = None,
        task: str | None = None,
        worktree: Path | None = None,
        since: float | None = None,
    ) -> None:
        self.pid = pid
        self.plan = plan
        self.task = task
        self.worktree = worktree
        self.members: dict[int, psutil.Process] = {}
        self._tracked_at = 0.0
        self.since = since if since is not None else time.time()  # when the family began
        if since is None and pid > 0:
            with contextlib.suppress(psutil.Error):
                self.since = psutil.Process(pid).create_time()

    def track(self, every: float = 0.0) -> None:
        """Remember the leader's descendants (at most once per `every` seconds)."""
        now = time.monotonic()
        if self.pid <= 0 or now - self._tracked_at < every:
            return
        self._tracked_at = now
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.pid).children(recursive=True):
                self.members.setdefault(p.pid, p)

    def gather(self) -> list[psutil.Process]:
        """Everything still running that belongs to the family, leader aside."""
        self.track()
        found: dict[int, psutil.Process] = {}
        for p in list(self.members.values()):
            if not _running(p):
                continue
            found[p.pid] = p
            with contextlib.suppress(psutil.Error):
                for c in p.children(recursive=True):
                    found.setdefault(c.pid, c)
        if self.plan and self.task and self.worktree is not None:
            for p in self._strays():
                found.setdefault(p.pid, p)
        for pid in (*_mine(), self.pid):
            found.pop(pid, None)
        return list(found.values())

    def _strays(self) -> list[psutil.Process]:
        """Processes that left the family tree: by the task's environment, or working in its
        worktree since the leader started, without a terminal."""
        assert self.plan and self.task and self.worktree is not None
        want = _marks(self.plan, self.task, str(self.worktree))
        root = self.worktree.resolve()
        out = []
        for p in psutil.process_iter(["environ", "cwd", "terminal", "create_time"]):
            info = p.info
            ours = _marked(info.get("environ"), want) or (
                _inside(info.get("cwd"), root)
                and info.get("terminal") is None
                and (info.get("create_time") or 0.0) >= self.since - 1.0
            )
            if ours and _running(p):
                out.append(p)
        return out

    def signal(self, sig: int, members: Iterable[psutil.Process] | None = None) -> None:
        """sig to the leader's process group and to every member."""
        if self.pid > 0:
            proc.signal_pgid(self.pid, sig)
        for p in self.gather() if members is None else members:
            with contextlib.suppress(psutil.Error):
                p.send_signal(sig)

    def stop(self, grace: float) -> None:
        """SIGTERM to all of it, SIGKILL to what is left after grace; returns once it is gone
        (or after a few more seconds, for what cannot be killed)."""
        members = self.gather()
        group = self.pid > 0 and proc.group_alive(self.pid)
        if not members and not group:
            return
        self.signal(proc.TERM, members)
        if not self._wait(members, grace):
            members = [p for p in members if _running(p)] + [
                p for p in self.gather() if p not in members
            ]
            self.signal(proc.KILL, members)
            self._wait(members, 5.0)

    def _wait(self, members: list[psutil.Process], seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            group = self.pid > 0 and proc.group_alive(self.pid) and _group_running(self.pid)
            if not group and not any(_running(p) for p in members):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _group_running(pgid: int) -> bool:
    """Whether a process group has a member that is not a zombie."""
    for p in psutil.process_iter():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getpgid(p.pid) == pgid and _running(p):
                return True
    return False
