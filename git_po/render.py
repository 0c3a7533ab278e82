"""Tables, JSON and the live view. Pure string building; the CLI writes them out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from git_po import cells
from git_po.rerun import Preview
from git_po.scheduler import Schedule, TaskView
from git_po.state import State
from git_po.status import PlanStatus, PlanSummary

_COLORS = {
    "complete": "32",
    "running": "36",
    "verifying": "36",
    "pending": "2",
    "blocked": "33",
    "needs": "33",
    "failed": "31",
    "skipped": "2",
    "interrupted": "35",
    "paused": "35",
}


def color(text: str, state: str, enabled: bool) -> str:
    code = _COLORS.get(state)
    if not enabled or not code:
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600:02d}h"


def money(x: float) -> str:
    return f"${x:.2f}" if x else "-"


def _table(
    headers: Sequence[str], rows: list[list[str]], states: list[str], *, use_color: bool, width: int
) -> list[str]:
    """Columns padded in terminal cells (a CJK subject takes two per character); the last column
    is cut to what is left of width."""
    widths = [cells.width(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r[:-1]):
            widths[i] = max(widths[i], cells.width(c))
    lead = sum(w + 2 for w in widths[:-1])
    last_room = max(10, width - lead)
    lines = []
    header = (
        "".join(cells.pad(h, w + 2) for h, w in zip(headers[:-1], widths[:-1], strict=True))
        + headers[-1]
    )
    lines.append(header.rstrip())
    for r, st in zip(rows, states, strict=True):
        last = cells.clip(r[-1], last_room)
        padded = [cells.pad(c, w + 2) for c, w in zip(r[:-1], widths[:-1], strict=True)]
        padded[1] = color(padded[1], st, use_color)
        lines.append(("".join(padded) + last).rstrip())
    return lines


def _tries(n: int, classes: list[str]) -> str:
    """Attempts, with the classes of the failed ones: 3 (529,timeout)."""
    short = {"overloaded": "529", "rate-limited": "429"}
    failed = [short.get(c, c) for c in classes if c not in ("complete", "running")]
    return f"{n} ({','.join(failed)})" if failed else str(n)


def status_table(status: PlanStatus, *, use_color: bool = False, width: int | None = None) -> str:
    """width: the terminal's columns, to shorten the last column; None keeps it whole."""
    width = width or 1_000_000
    run = status.run
    head = f"plan {status.plan}: run {run['number']} {run['state']}, started {run['started_at']}"
    if run.get("ended_at"):
        head += f", ended {run['ended_at']}"
    if status.orchestrator:
        head += f" ({status.orchestrator})"
    elif run["state"] == "running":
        head += " (no orchestrator is running it on this machine)"
    rows = []
    states = []
    for t in status.tasks:
        note = t.reason if t.reason and t.state != "complete" else (t.last_subject or "")
        if t.holder and t.state in ("running", "verifying"):
            note = f"on {t.holder.split(':', 1)[0]}: {note}" if note else f"on {t.holder}"
        rows.append(
            [
                t.id,
                t.state,
                str(t.checkpoints),
                _tries(t.attempts, t.attempt_classes),
                money(t.cost_usd),
                duration(t.age_seconds),
                note,
            ]
        )
        states.append(t.state)
    headers = ["TASK", "STATE", "CKPT", "TRIES", "COST", "AGE", "LAST / REASON"]
    # columns shown only when some task has something in them
    if any(t.verify for t in status.tasks):
        headers.insert(-1, "VERIFY")
        for r, t in zip(rows, status.tasks, strict=True):
            r.insert(-1, verify_cell(t.verify))
    if any(t.refused for t in status.tasks):
        headers.insert(-1, "REFUSED")
        for r, t in zip(rows, status.tasks, strict=True):
            r.insert(-1, str(t.refused) if t.refused else "-")
    if any(t.conflicts for t in status.tasks):
        headers.insert(-1, "CONFLICTS WITH")
        for r, t in zip(rows, status.tasks, strict=True):
            r.insert(-1, conflicts_cell(t.conflicts))
    lines = [head, ""]
    lines += _table(headers, rows, states, use_color=use_color, width=width)
    tot = status.totals()
    parts = [f"{n} {k}" for k, n in sorted(tot["by_state"].items())]
    lines += ["", f"{tot['task_count']} tasks: {', '.join(parts)}; cost {money(tot['cost_usd'])}"]
    refused = [f"{t.id} ({t.refused})" for t in status.tasks if t.refused]
    if refused:
        lines.append(
            f"tool calls refused by the agent's permissions: {', '.join(refused)}; "
            "git po show TASK lists them"
        )
    return "\n".join(lines)


def verify_cell(result: dict[str, Any] | None) -> str:
    if not result:
        return "-"
    if result.get("passed"):
        return "passed"
    if result.get("timed_out"):
        return "timed out"
    return f"failed ({result.get('exit_code')})"


def conflicts_cell(conflicts: list[dict[str, Any]]) -> str:
    """`b:x.py, c:3 files` — the other task and its one file, or how many."""
    if not conflicts:
        return "-"
    parts = []
    for c in conflicts:
        files = c.get("files") or []
        parts.append(f"{c['task']}:{files[0] if len(files) == 1 else f'{len(files)} files'}")
    return ", ".join(parts)


def plans_table(plans: list[PlanSummary]) -> str:
    rows = [[p.plan, p.state, f"{p.complete}/{p.tasks}", str(p.run), p.started_at] for p in plans]
    states = ["complete" if p.state == "finished" else "running" for p in plans]
    return "\n".join(
        _table(
            ["PLAN", "STATE", "COMPLETE", "RUN", "STARTED"],
            rows,
            states,
            use_color=False,
            width=200,
        )
    )


def schedule_text(s: Schedule) -> str:
    lines = [
        f"plan {s.plan}: {len(s.rows)} tasks, base {s.base_rev} ({s.base[:12]}), "
        f"at most {s.max_workers} workers",
        f"starts first: {', '.join(s.first) or '-'}",
        f"critical path ({len(s.critical_path)} tasks): {' -> '.join(s.critical_path)}",
        "",
    ]
    rows = [
        [
            r.task,
            r.agent,
            str(r.path_length),
            ", ".join(r.waits_for) if r.waits_for else "(starts at once)",
        ]
        for r in s.rows
    ]
    lines += _table(
        ["TASK", "AGENT", "PATH", "WAITS FOR"],
        rows,
        ["pending"] * len(rows),
        use_color=False,
        width=200,
    )
    lines += ["", "plan is valid; nothing was written (--dry-run)"]
    return "\n".join(lines)


def rerun_text(p: Preview) -> str:
    """What a start does with the plan's earlier run: refuse, start over, or keep and run."""
    if p.refused:
        return (
            f"run {p.after} of plan {p.plan} did not finish ({p.after_state}): start refuses; "
            f"continue it with git po resume {p.plan}, or --restart runs every task again "
            f"(its refs go to {p.archive})"
        )
    if p.rerun is None:
        return f"every task runs again; the earlier run's refs go to {p.archive}"
    r = p.rerun
    runs = len(r.runs)
    lines = [
        f"run {r.after} finished: {len(r.kept)} task{'s' if len(r.kept) != 1 else ''} kept, "
        f"{runs} to run"
        + (f" (their earlier branches and state go to {p.archive})" if runs else ""),
    ]
    rows = [["keep" if c.keep else "run", c.task, c.why] for c in r.choices]
    lines += _table(
        ["", "TASK", "WHY"],
        rows,
        ["complete" if c.keep else "pending" for c in r.choices],
        use_color=False,
        width=200,
    )
    return "\n".join(lines)


def live_lines(
    plan: str, views: list[TaskView], *, use_color: bool, width: int, started: float
) -> list[str]:
    now = time.time()
    rows = []
    states = []
    for v in views:
        elapsed = duration((v.ended or now) - v.started) if v.started is not None else "-"
        note = v.reason if v.reason and v.state is not State.COMPLETE else (v.last_subject or "")
        if v.state in (State.RUNNING, State.PENDING) and v.activity and not v.last_subject:
            note = v.activity
        if v.state is State.VERIFYING and v.activity:  # the verify's latest output line
            note = v.activity
        rows.append([v.id, v.state.value, str(v.checkpoints), elapsed, money(v.cost_usd), note])
        states.append(v.state.value)
    counts: dict[str, int] = {}
    for v in views:
        counts[v.state.value] = counts.get(v.state.value, 0) + 1
    head = f"git po: plan {plan} — {duration(now - started)} — " + ", ".join(
        f"{n} {k}" for k, n in sorted(counts.items())
    )
    return [
        cells.clip(head, width),
        *_table(
            ["TASK", "STATE", "CKPT", "ELAPSED", "COST", "LAST"],
            rows,
            states,
            use_color=use_color,
            width=width,
        ),
    ]
