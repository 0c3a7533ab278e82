"""`git po show TASK`: everything about one task, read from refs and branches (and, for the
worktree and transcripts, from this machine): state history, attempts, commits, session,
worktree, files owned, conflicts predicted."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from git_po import jsonout, layout, local, verify
from git_po.lookup import TaskRef
from git_po.protocol import parse_subject, subject_of
from git_po.repo import Oid, Repo
from git_po.state import StateStore
from git_po.status import plan_status, stored_plan

JSON_VERSION = jsonout.SCHEMA_VERSION


@dataclass
class Event:
    seq: int
    event: str
    at: str | None
    state: str | None
    reason: str | None
    detail: dict[str, Any]


@dataclass
class Commit:
    oid: str
    subject: str
    at: str
    kind: str | None  # checkpoint, complete, blocked, needs; None: not a protocol commit
    autosave: bool


@dataclass
class TaskDetail:
    plan: str
    task: str
    state: str
    reason: str | None
    branch: str
    base: str | None
    head: str | None
    depends_on: list[str]
    agent: str | None
    writes: list[str]
    prompt: str
    worktree: str | None
    worktree_exists: bool
    session_id: str | None
    cost_usd: float
    checkpoints: int
    last_subject: str | None
    wip: str | None
    attached: str | None  # "pid N since T" while someone is attached (this machine)
    conflicts: Any  # predicted conflicts, when status knows them; None otherwise
    branch_removed: bool = False  # head is the tip the state recorded
    kept_from: int | None = None  # a re-run kept its work from that run
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # verify runs that sent the task back: [{"attempt", "commit", "verify", "output_tail"}]
    verify_failures: list[dict[str, Any]] = field(default_factory=list)
    history: list[Event] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoint_count"] = d.pop("checkpoints")
        d["attached"] = jsonout.process(self.attached)
        d["attempts"] = [jsonout.attempt(a) for a in self.attempts]
        return {"schema_version": JSON_VERSION, **d}


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _events(repo: Repo, ref: TaskRef) -> list[Event]:
    tip = repo.read_ref(layout.task_ref(ref.plan, ref.task))
    if tip is None:
        return []
    out: list[Event] = []
    for name in sorted(repo.list_tree(tip, "events")):
        data = repo.read_blob(tip, f"events/{name}")
        if data is None:
            continue
        try:
            ev = tomllib.loads(data.decode())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        seq_text = name.split("-", 1)[0]
        seq = int(seq_text) if seq_text.isdigit() else len(out) + 1
        kind = str(ev.pop("event", name.split("-", 1)[-1].removesuffix(".toml")))
        at = ev.pop("at", None)
        state = ev.pop("state", None)
        reason = ev.pop("reason", None)
        out.append(
            Event(
                seq,
                kind,
                str(at) if at is not None else None,
                str(state) if state is not None else None,
                str(reason) if reason is not None else None,
                ev,
            )
        )
    return out


def _commits(repo: Repo, head: str | None, base: str | None) -> list[Commit]:
    if head is None:
        return []
    out = []
    for h in repo.first_parent_history(Oid(head), Oid(base) if base else None, limit=1000):
        subject = subject_of(h.message)
        report = parse_subject(subject)
        out.append(
            Commit(h.oid, subject, _iso(h.time), report.kind.value if report else None, h.autosave)
        )
    return out


def _verify_failures(
    repo: Repo, events: list[Event], attempts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each verify that sent the task back, with the tail of its output: from the event in the
    state ref, or (runs recorded before events kept it) the note on the commit it judged."""
    by_head = {a.get("head_after"): a.get("number") for a in attempts if a.get("head_after")}
    out: list[dict[str, Any]] = []
    for e in events:
        if e.event != "verify-failed":
            continue
        commit = str(e.detail.get("commit") or "")
        number = e.detail.get("attempt", by_head.get(commit))
        tail = e.detail.get("output_tail")
        if not isinstance(tail, str) and commit:
            noted = verify.latest(repo, Oid(commit))
            tail = noted.output_tail if noted is not None and not noted.passed else None
        lines = (tail or "").splitlines()[-verify.SHOW_LINES :]
        out.append(
            {
                "attempt": number,
                "commit": commit or None,
                "verify": e.detail.get("verify"),
                "output_tail": "\n".join(lines),
            }
        )
    return out


def task_detail(repo: Repo, ref: TaskRef) -> TaskDetail:
    plan = stored_plan(repo, ref.plan)
    task = plan.task(ref.task)
    status = plan_status(repo, ref.plan)
    ts = next(t for t in status.tasks if t.id == ref.task)
    st = StateStore(repo, ref.plan).read(ref.task)
    attempts = [a.to_dict() for a in st.attempts] if st else []
    marker = local.attached_marker(repo, ref.plan, ref.task)
    attached = None
    if local.attached_pid(repo, ref.plan, ref.task) is not None:
        attached = marker.read_text().strip() or None
    worktree = ts.worktree
    history = _events(repo, ref)
    return TaskDetail(
        plan=ref.plan,
        task=ref.task,
        state=ts.state,
        reason=ts.reason,
        branch=ts.branch,
        base=ts.base,
        head=ts.head,
        depends_on=list(task.depends_on),
        agent=ts.agent,
        writes=list(task.writes),
        prompt=task.prompt,
        worktree=worktree,
        worktree_exists=bool(worktree) and Path(worktree or "").is_dir(),
        session_id=ts.session_id,
        cost_usd=ts.cost_usd,
        checkpoints=ts.checkpoints,
        last_subject=ts.last_subject,
        wip=ts.wip,
        attached=attached,
        conflicts=ts.to_json().get("conflicts"),
        branch_removed=ts.branch_removed,
        kept_from=ts.kept_from,
        attempts=attempts,
        verify_failures=_verify_failures(repo, history, attempts),
        history=history,
        commits=_commits(repo, ts.head, ts.base),
    )


# --- text ---------------------------------------------------------------------------------


def _duration(seconds: object) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f}s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def _attempt_line(a: dict[str, Any]) -> str:
    parts = [f"#{a.get('number')}", str(a.get("agent", "?")), str(a.get("outcome") or "running")]
    parts.append(_duration(a.get("duration_s")))
    if isinstance(a.get("cost_usd"), int | float):
        parts.append(f"${a['cost_usd']:.4f}")
    if a.get("signal") is not None:
        parts.append(f"signal {a['signal']}")
    elif a.get("exit_code") is not None:
        parts.append(f"exit {a['exit_code']}")
    if a.get("is_error"):
        parts.append("is_error")
    if a.get("api_error_status"):
        parts.append(f"API {a['api_error_status']}")
    if a.get("num_turns") is not None:
        parts.append(f"{a['num_turns']} turns")
    if a.get("session_id"):
        parts.append(f"session {a['session_id']}")
    line = "  " + "  ".join(parts)
    line += f"\n      started {a.get('started_at', '?')}"
    if a.get("ended_at"):
        line += f", ended {a['ended_at']}"
    if a.get("reason"):
        line += f"\n      {a['reason']}"
    if a.get("permission_denials"):
        n = a["permission_denials"]
        line += f"\n      {n} tool call{'s' if n != 1 else ''} refused by the agent's permissions"
        calls = a.get("refused") or []
        for c in calls:
            line += f"\n        {c.get('tool', '?')} {c.get('target', '')}".rstrip()
        if n > len(calls):
            line += f"\n        … and {n - len(calls)} more (see the transcript)"
    if a.get("transcript"):
        line += f"\n      transcript {a['transcript']}"
    return line


def _verify_lines(failures: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for f in failures:
        tail = str(f.get("output_tail") or "")
        out.append(f"      the output of verify ({f.get('verify') or 'failed'}) ended with:")
        out += [f"        | {line}" for line in tail.splitlines()] or ["        | (no output)"]
    return out


def render_text(d: TaskDetail) -> str:
    out = [f"task {d.task} of plan {d.plan}: {d.state}" + (f" — {d.reason}" if d.reason else "")]
    out.append("")

    def row(label: str, value: object) -> None:
        out.append(f"{label:<13}{value}")

    if d.branch_removed and d.head:
        row("branch", f"{d.branch} removed; its recorded tip is {d.head[:12]} (retry restores it)")
    else:
        row("branch", f"{d.branch} at {d.head[:12] if d.head else '(not created)'}")
    if d.kept_from is not None:
        row("kept", f"from run {d.kept_from} (complete and unchanged when the plan ran again)")
    row("base", d.base[:12] if d.base else "-")
    row("depends on", ", ".join(d.depends_on) or "-")
    row("agent", d.agent or "-")
    row("writes", ", ".join(d.writes) or "-")
    if d.worktree:
        row("worktree", d.worktree + ("" if d.worktree_exists else " (removed)"))
    else:
        row("worktree", "-")
    row("session", d.session_id or "-")
    row("cost", f"${d.cost_usd:.4f}")
    if d.wip:
        row("wip", f"{d.wip[:12]} (uncommitted work saved after the last protocol commit)")
    if d.attached:
        row("attached", d.attached)
    if d.conflicts:
        row("conflicts", _conflicts_text(d.conflicts))
    first = d.prompt.strip().splitlines()[0] if d.prompt.strip() else ""
    row("prompt", first[:100] + ("…" if len(first) > 100 else ""))
    out.append("")
    out.append(f"attempts ({len(d.attempts)}):")
    for a in d.attempts:
        out.append(_attempt_line(a))
        out += _verify_lines([f for f in d.verify_failures if f.get("attempt") == a.get("number")])
    if not d.attempts:
        out.append("  none yet")
    out.append("")
    out.append(f"commits since base ({len(d.commits)}, newest first):")
    for c in d.commits:
        mark = " (auto-saved)" if c.autosave else ""
        out.append(f"  {c.oid[:12]} {c.at} {c.subject}{mark}")
    if not d.commits:
        out.append("  none")
    out.append("")
    out.append("history:")
    for e in d.history:
        note = f" — {e.reason}" if e.reason else ""
        extra = ", ".join(
            f"{k} {v}"
            for k, v in e.detail.items()
            if k in ("attempt", "pid", "exit_code", "signal")
        )
        what = e.state or e.event
        if e.event != what:
            what += f" ({e.event})"
        out.append(f"  {e.at or '?'}  {what}{note}" + (f" — {extra}" if extra else ""))
    if not d.history:
        out.append("  none")
    return "\n".join(out)


def _conflicts_text(conflicts: Any) -> str:
    if isinstance(conflicts, list):
        parts = []
        for c in conflicts:
            if isinstance(c, dict):
                who = c.get("task") or c.get("with") or ""
                files = c.get("files") or c.get("paths") or []
                names = ", ".join(str(f) for f in files) if isinstance(files, list) else str(files)
                parts.append(f"{who}: {names}" if who else names)
            else:
                parts.append(str(c))
        return "; ".join(parts) or "-"
    return str(conflicts)
