"""Worker processes: start one attempt, watch it (exit, timeouts, idleness), stop it in order.

A worker leads its own process group and writes its output straight to its transcript file, so
it outlives the orchestrator if that dies; a resumed orchestrator adopts it by pid (checked
against the process start time) and watches it the same way, without being its parent. It is
stopped with everything it started (see liveness.Family): its tools run in process groups and
sessions of their own."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from git_po import liveness, proc
from git_po.agents.base import Launch, TranscriptReader
from git_po.local import pid_alive, process_start


@dataclass
class Worker:
    task: str
    attempt: int
    pid: int
    start: str  # process start time (see local.process_start), to tell a reused pid apart
    reader: TranscriptReader
    transcript: Path
    started: float  # time.monotonic()
    started_wall: float  # time.time()
    timeout: float | None
    idle_timeout: float | None
    last_activity: float
    head_seen: str | None
    popen: subprocess.Popen[bytes] | None = None  # None for an adopted worker
    stop_reason: str | None = None  # timeout, idle, interrupted, stopped, budget
    term_sent_at: float | None = None
    killed: bool = False
    exit_code: int | None = None  # known only for workers this process started
    family: liveness.Family | None = None
    done_at: float | None = None  # when its branch got a terminal commit while it still ran
    done_tip: str | None = None  # the branch tip done_at was decided on
    _files: list[IO[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.family is None:
            self.family = liveness.Family(self.pid)

    @property
    def kin(self) -> liveness.Family:
        assert self.family is not None
        return self.family

    @property
    def adopted(self) -> bool:
        return self.popen is None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def poll(self) -> bool:
        """Read new output; True once the process has ended (exit_code set when known)."""
        if self.reader.feed():
            self.last_activity = time.monotonic()
        if self.popen is not None:
            code = self.popen.poll()
            if code is None:
                self.kin.track(every=2.0)
                return False
            self.exit_code = code
        elif pid_alive(self.pid, self.start):
            self.kin.track(every=2.0)
            return False
        self.reader.finish()
        for f in self._files:
            f.close()
        self._files.clear()
        return True

    def saw_commit(self, head: str | None) -> None:
        if head != self.head_seen:
            self.head_seen = head
            self.last_activity = time.monotonic()

    def overdue(self) -> str | None:
        """'timeout' or 'idle' when a limit has passed and no stop was asked yet."""
        if self.stop_reason is not None:
            return None
        now = time.monotonic()
        if self.timeout is not None and now - self.started > self.timeout:
            return "timeout"
        if self.idle_timeout is not None and now - self.last_activity > self.idle_timeout:
            return "idle"
        return None

    def request_stop(self, reason: str) -> None:
        """SIGTERM to the worker's process group and everything it started (found now, while
        the worker still runs); SIGKILL follows after the grace period."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.term_sent_at is None:
            self.term_sent_at = time.monotonic()
            self.kin.signal(proc.TERM)

    def enforce_grace(self, grace: float) -> None:
        started = self.term_sent_at
        if started is not None and not self.killed and time.monotonic() - started >= grace:
            self.kill()

    def stop_group(self, grace: float) -> None:
        """After the worker exited: whatever it left running (in its process group, in other
        groups and sessions) gets SIGTERM, then SIGKILL after grace; returns once all of it is
        gone, so its work is saved after its last write."""
        self.kin.stop(grace)

    def kill(self) -> None:
        self.killed = True
        self.kin.signal(proc.KILL)


def start(
    task: str,
    attempt: int,
    launch: Launch,
    *,
    cwd: Path,
    env: dict[str, str],
    transcript: Path,
    reader: TranscriptReader,
    timeout: float | None,
    idle_timeout: float | None,
    head: str | None,
    plan: str | None = None,
) -> Worker:
    transcript.parent.mkdir(parents=True, exist_ok=True)
    out = transcript.open("ab")
    err = transcript.with_name(transcript.name + ".stderr").open("ab")
    stdin: IO[bytes] | int
    if launch.stdin is not None:
        prompt_file = transcript.with_name(transcript.name + ".prompt")
        prompt_file.write_bytes(launch.stdin)
        stdin = prompt_file.open("rb")
    else:
        stdin = subprocess.DEVNULL
    try:
        popen = proc.spawn(launch.argv, cwd=cwd, env=env, stdout=out, stderr=err, stdin=stdin)
    except OSError:
        out.close()
        err.close()
        if not isinstance(stdin, int):
            stdin.close()
        raise
    files: list[IO[bytes]] = [out, err]
    if not isinstance(stdin, int):
        files.append(stdin)
    now = time.monotonic()
    return Worker(
        task=task,
        attempt=attempt,
        pid=popen.pid,
        start=process_start(popen.pid) or "",
        reader=reader,
        transcript=transcript,
        started=now,
        started_wall=time.time(),
        timeout=timeout,
        idle_timeout=idle_timeout,
        last_activity=now,
        head_seen=head,
        popen=popen,
        family=liveness.Family(popen.pid, plan=plan, task=task, worktree=cwd),
        _files=files,
    )


def adopt(
    task: str,
    attempt: int,
    *,
    pid: int,
    start_time: str,
    transcript: Path,
    reader: TranscriptReader,
    started_wall: float,
    timeout: float | None,
    idle_timeout: float | None,
    head: str | None,
    plan: str | None = None,
    worktree: Path | None = None,
) -> Worker:
    """Watch a worker started by an orchestrator that is gone."""
    now = time.monotonic()
    return Worker(
        task=task,
        attempt=attempt,
        pid=pid,
        start=start_time,
        reader=reader,
        transcript=transcript,
        started=now - max(0.0, time.time() - started_wall),
        started_wall=started_wall,
        timeout=timeout,
        idle_timeout=idle_timeout,
        last_activity=now,
        head_seen=head,
        family=liveness.Family(pid, plan=plan, task=task, worktree=worktree),
    )
