"""Machine-local bookkeeping under <git-common-dir>/po/plans/<plan>/: the orchestrator lock, the
processes of running workers (pid and process start time, so a reused pid is never mistaken for
a worker), attach markers, and the inbox through which `answer`, `retry` and `stop` reach a
running orchestrator. None of it is state: the truth is in refs and branches."""

from __future__ import annotations

import contextlib
import os
import socket
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

import filelock
import psutil
import tomli_w

from git_po import layout
from git_po.errors import StateConflict
from git_po.repo import Repo
from git_po.state import now_iso


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except (psutil.Error, ValueError):
        return None


def _legacy_ticks(p: psutil.Process) -> str | None:
    """The start time as git po < 0.3 recorded it on Linux (clock ticks since boot), so a record
    a previous version wrote still identifies its process."""
    if not hasattr(os, "sysconf") or "SC_CLK_TCK" not in os.sysconf_names:
        return None
    try:
        since_boot = p.create_time() - psutil.boot_time()
    except psutil.Error:
        return None
    return str(round(since_boot * os.sysconf("SC_CLK_TCK")))


def process_start(pid: int) -> str | None:
    """pid's start time (seconds since the epoch, to the hundredth, as the kernel keeps it; the
    same on Linux and macOS), or None if it is gone."""
    p = _process(pid)
    if p is None:
        return None
    try:
        return f"{p.create_time():.2f}"
    except psutil.Error:
        return None


def _same_start(p: psutil.Process, recorded: str) -> bool:
    now = process_start(p.pid)
    if now is None or now == recorded:
        return True
    if recorded.isdigit():  # clock ticks, as recorded before
        ticks = _legacy_ticks(p)
        return ticks is None or abs(int(ticks) - int(recorded)) <= 1
    try:  # the boot time psutil derives may move by a rounding step between reads
        return abs(float(now) - float(recorded)) < 0.02
    except ValueError:
        return False


def pid_alive(pid: int, start: str | None = None) -> bool:
    """Whether pid runs (a zombie has ended), and is the process that started at start."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    p = _process(pid)
    if p is None:
        return True  # there, but not readable: as kill(2) says
    try:
        if p.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return False
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        pass
    return start is None or _same_start(p, start)


class RunLock:
    """One orchestrator per plan on this machine: a file lock plus who holds it. The kernel
    drops the lock when its holder dies, so a stale lock is taken over by itself."""

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
        # the process start time tells a reused pid apart once this process is gone
        _write_atomic(
            self.info,
            f"pid {os.getpid()} on {socket.gethostname()} since {now_iso()}\n"
            f"start {process_start(os.getpid()) or ''}\n",
        )

    def holder(self) -> str | None:
        """Who holds (or held) the lock: "pid N on HOST since TIME"."""
        try:
            return self.info.read_text().splitlines()[0].strip() or None
        except (OSError, IndexError):
            return None

    def _holder_start(self) -> str | None:
        try:
            lines = self.info.read_text().splitlines()
        except OSError:
            return None
        for line in lines[1:]:
            if line.startswith("start "):
                return line[6:].strip() or None
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
        if host != socket.gethostname() or not pid_alive(pid, self._holder_start()):
            return None
        return text

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self.info.unlink()
            self._lock.release()


@dataclass(frozen=True)
class WorkerRecord:
    task: str
    attempt: int
    pid: int
    start: str  # process start time, see process_start
    transcript: str
    started_at: str
    head_before: str
    stop_reason: str = ""

    def alive(self) -> bool:
        return pid_alive(self.pid, self.start)


class Workers:
    """Files naming the worker processes of a plan, written when one starts and removed when
    its attempt is recorded: what a resumed orchestrator adopts or stops."""

    def __init__(self, repo: Repo, plan: str) -> None:
        self.folder = layout.plan_dir(repo.common_dir, plan) / "workers"

    def write(self, rec: WorkerRecord) -> None:
        _write_atomic(self.folder / f"{rec.task}.toml", tomli_w.dumps(asdict(rec)))

    def read(self, task: str) -> WorkerRecord | None:
        try:
            data = tomllib.loads((self.folder / f"{task}.toml").read_text())
            return WorkerRecord(**data)
        except (OSError, tomllib.TOMLDecodeError, TypeError):
            return None

    def remove(self, task: str) -> None:
        with contextlib.suppress(OSError):
            (self.folder / f"{task}.toml").unlink()


def attached_marker(repo: Repo, plan: str, task: str) -> Path:
    return layout.plan_dir(repo.common_dir, plan) / "attached" / task


def attached_pid(repo: Repo, plan: str, task: str) -> int | None:
    """The pid of a live `git po attach` session on task, if any."""
    try:
        text = attached_marker(repo, plan, task).read_text().split()
        pid = int(text[1])
    except (OSError, IndexError, ValueError):
        return None
    start = text[text.index("start") + 1] if "start" in text[:-1] else None
    return pid if pid_alive(pid, start) else None


@dataclass(frozen=True)
class Message:
    """A request to the orchestrator of a plan: answer, retry or stop a task."""

    command: str  # answer, retry, stop
    task: str
    text: str = ""
    at: str = ""
    name: str = ""  # file name in the inbox


class Inbox:
    def __init__(self, repo: Repo, plan: str) -> None:
        self.folder = layout.plan_dir(repo.common_dir, plan) / "inbox"

    def post(self, command: str, task: str, text: str = "") -> Path:
        at = now_iso()
        name = f"{at.replace(':', '')}-{os.getpid()}-{task}-{command}.toml"
        path = self.folder / name
        _write_atomic(
            path, tomli_w.dumps({"command": command, "task": task, "text": text, "at": at})
        )
        return path

    def take(self) -> list[Message]:
        """Every waiting message, oldest first; each is removed as it is read."""
        if not self.folder.is_dir():
            return []
        out: list[Message] = []
        for path in sorted(self.folder.glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text())
                path.unlink()
            except (OSError, tomllib.TOMLDecodeError):
                continue
            out.append(
                Message(
                    command=str(data.get("command", "")),
                    task=str(data.get("task", "")),
                    text=str(data.get("text", "")),
                    at=str(data.get("at", "")),
                    name=path.name,
                )
            )
        return out

    def pending(self) -> int:
        return len(list(self.folder.glob("*.toml"))) if self.folder.is_dir() else 0
