"""The Claude Code sessions of this repository's plans: the session ids recorded in each task's
attempts, joined with the CLI's own session files (`<config>/projects/<cwd>/<session>.jsonl`,
where <config> is CLAUDE_CONFIG_DIR or ~/.claude and <cwd> the worktree path with every
character other than a letter or digit made '-'), so that sessions started in a task's worktree
by hand (`claude` there, `git po attach`) show too. Read-only."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from git_po import liveness
from git_po.local import Workers, attached_pid
from git_po.repo import Repo
from git_po.state import StateStore, TaskState, list_plans, parse_iso
from git_po.status import stored_plan


@dataclass(frozen=True)
class Session:
    plan: str
    task: str
    session_id: str
    attempt: int | None  # the attempt that ran it; None for a session found only on disk
    worktree: str | None
    file: str | None  # the CLI's session file, when found
    last_activity: float | None  # epoch seconds: the session file's, else the attempt's end
    running: bool  # a process of this task runs it now (worker or attach)
    pid: int | None
    state: str  # the task's state

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "task": self.task,
            "session_id": self.session_id,
            "attempt": self.attempt,
            "worktree": self.worktree,
            "file": self.file,
            "last_activity": _iso(self.last_activity),
            "running": self.running,
            "pid": self.pid,
            "state": self.state,
        }


def _iso(ts: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts is not None else None


def config_dir(env: Mapping[str, str]) -> Path:
    """Where the Claude Code CLI keeps its state."""
    given = env.get("CLAUDE_CONFIG_DIR")
    if given:
        return Path(given).expanduser()
    return Path(env.get("HOME") or str(Path.home())) / ".claude"


def project_dir_names(cwd: str) -> list[str]:
    """The folder names the CLI uses for the sessions of cwd (every non-alphanumeric character
    as '-'; older versions replaced only '/' and '.')."""
    names = [re.sub(r"[^A-Za-z0-9]", "-", cwd), cwd.replace("/", "-").replace(".", "-")]
    return list(dict.fromkeys(names))


def _session_files(config: Path, worktree: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name in project_dir_names(worktree):
        folder = config / "projects" / name
        if folder.is_dir():
            for f in folder.glob("*.jsonl"):
                out.setdefault(f.stem, f)
    return out


def _mtime(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _stream_session(transcript: Path) -> str | None:
    """The session id in the first events of a stream-json transcript, if any."""
    try:
        with transcript.open("rb") as f:
            head = [f.readline() for _ in range(20)]
    except OSError:
        return None
    for line in head:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        sid = event.get("session_id") if isinstance(event, dict) else None
        if isinstance(sid, str) and sid:
            return sid
    return None


def _running(repo: Repo, plan: str, st: TaskState, attempt: int | None) -> int | None:
    """The pid of a live process of the task that runs this attempt's session, if any."""
    rec = Workers(repo, plan).read(st.task)
    if rec is not None and rec.alive() and (attempt is None or rec.attempt == attempt):
        return rec.pid
    if st.worktree and st.state.value == "running" and st.attempts:
        last = st.attempts[-1]
        if last.number == attempt and last.pid and liveness.find_worker(st.worktree, plan, st.task):
            return last.pid
    return None


def list_sessions(
    repo: Repo, env: Mapping[str, str] | None = None, *, hours: float | None = None
) -> list[Session]:
    """Every session of every plan, newest activity first; with hours, only those active in
    the last hours."""
    env = os.environ if env is None else env
    config = config_dir(env)
    now = time.time()
    found: list[Session] = []
    for plan in list_plans(repo):
        store = StateStore(repo, plan)
        for task in stored_plan(repo, plan).ids:
            st = store.read(task)
            if st is None:
                continue
            files = _session_files(config, st.worktree) if st.worktree else {}
            attached = attached_pid(repo, plan, task)
            seen: set[str] = set()
            latest = st.session_id
            for a in st.attempts:
                if not a.session_id and a.ended_at is None:
                    # a running attempt: its id is recorded when it ends; its stream has it
                    a.session_id = _stream_session(Path(a.transcript))
                if not a.session_id or a.session_id in seen:
                    continue
                seen.add(a.session_id)
                newest = max(
                    (b.number for b in st.attempts if b.session_id == a.session_id),
                    default=a.number,
                )
                pid = _running(repo, plan, st, newest)
                if pid is None and attached is not None and a.session_id == latest:
                    pid = attached
                ended = parse_iso(a.ended_at) if a.ended_at else None
                started = parse_iso(a.started_at)
                activity = _mtime(files.get(a.session_id)) or ended or started
                found.append(
                    Session(
                        plan,
                        task,
                        a.session_id,
                        newest,
                        st.worktree,
                        str(files[a.session_id]) if a.session_id in files else None,
                        activity,
                        pid is not None,
                        pid,
                        st.state.value,
                    )
                )
            for sid, path in files.items():
                if sid in seen:
                    continue
                pid = attached if attached is not None else None
                found.append(
                    Session(
                        plan,
                        task,
                        sid,
                        None,
                        st.worktree,
                        str(path),
                        _mtime(path),
                        pid is not None,
                        pid,
                        st.state.value,
                    )
                )
    if hours is not None:
        since = now - hours * 3600
        found = [s for s in found if s.running or (s.last_activity or 0) >= since]
    found.sort(key=lambda s: (not s.running, -(s.last_activity or 0), s.plan, s.task))
    return found


def render_table(sessions: list[Session], now: float | None = None) -> str:
    """One line per session: plan/task, session, attempt, last activity, running, worktree."""
    if not sessions:
        return "no sessions"
    now = time.time() if now is None else now
    rows = [["TASK", "SESSION", "ATTEMPT", "ACTIVE", "RUNNING", "WORKTREE"]]
    for s in sessions:
        ago = "-" if s.last_activity is None else _ago(now - s.last_activity)
        rows.append(
            [
                f"{s.plan}/{s.task}",
                s.session_id,
                str(s.attempt) if s.attempt is not None else "-",
                ago,
                f"pid {s.pid}" if s.running else "no",
                s.worktree or "-",
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s ago"
    if s < 3600:
        return f"{s // 60}m ago"
    if s < 86400:
        return f"{s // 3600}h ago"
    return f"{s // 86400}d ago"
