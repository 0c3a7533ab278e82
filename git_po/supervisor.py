"""Worker processes: start one attempt, watch it (exit, timeouts, idleness), stop it in order."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from git_po import proc
from git_po.agents.base import Launch, TranscriptReader


@dataclass
class Worker:
    task: str
    attempt: int
    popen: subprocess.Popen[bytes]
    reader: TranscriptReader
    transcript: Path
    started: float  # time.monotonic()
    started_wall: float  # time.time()
    timeout: float | None
    idle_timeout: float | None
    last_activity: float
    head_seen: str | None
    stop_reason: str | None = None  # timeout, idle, interrupted
    term_sent_at: float | None = None
    killed: bool = False
    _files: list[IO[bytes]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def poll(self) -> int | None:
        """Read new output; return the exit status once the process has ended."""
        if self.reader.feed():
            self.last_activity = time.monotonic()
        code = self.popen.poll()
        if code is not None:
            self.reader.finish()
            for f in self._files:
                f.close()
            self._files.clear()
        return code

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
        """SIGTERM to the worker's process group; SIGKILL follows after the grace period."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.term_sent_at is None:
            self.term_sent_at = time.monotonic()
            proc.signal_group(self.popen, proc.TERM)

    def enforce_grace(self, grace: float) -> None:
        started = self.term_sent_at
        if started is not None and not self.killed and time.monotonic() - started >= grace:
            self.kill()

    def stop_group(self, grace: float) -> None:
        """After the worker exited: whatever it left running in its process group gets SIGTERM,
        then SIGKILL after grace, so no process of a finished worker lingers."""
        pgid = self.popen.pid
        if not proc.group_alive(pgid):
            return
        proc.signal_pgid(pgid, proc.TERM)
        deadline = time.monotonic() + grace
        while proc.group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.group_alive(pgid):
            proc.signal_pgid(pgid, proc.KILL)

    def kill(self) -> None:
        self.killed = True
        proc.signal_group(self.popen, proc.KILL)


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
        popen=popen,
        reader=reader,
        transcript=transcript,
        started=now,
        started_wall=time.time(),
        timeout=timeout,
        idle_timeout=idle_timeout,
        last_activity=now,
        head_seen=head,
        _files=files,
    )
