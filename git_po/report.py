"""`git po report`: a run summed up, per task (state, attempts, duration, cost) and in total,
with the wall time and the speed-up over running the tasks one after another."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from git_po.repo import Repo
from git_po.state import StateStore, parse_iso, read_plan_ref
from git_po.status import plan_status

JSON_VERSION = 1


@dataclass
class TaskLine:
    id: str
    state: str
    attempts: int
    duration_s: float  # sum of its attempts' durations
    cost_usd: float
    input_tokens: int
    output_tokens: int
    reason: str | None


@dataclass
class Report:
    plan: str
    run: int
    run_state: str
    started_at: str
    ended_at: str | None
    wall_s: float | None  # started_at -> ended_at (or now, while it runs)
    serial_s: float  # every attempt's duration added up: the tasks one after another
    speedup: float | None  # serial_s / wall_s
    tasks: list[TaskLine] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        by_state: dict[str, int] = {}
        for t in self.tasks:
            by_state[t.state] = by_state.get(t.state, 0) + 1
        return {
            "tasks": len(self.tasks),
            "by_state": by_state,
            "attempts": sum(t.attempts for t in self.tasks),
            "duration_s": round(sum(t.duration_s for t in self.tasks), 3),
            "cost_usd": round(sum(t.cost_usd for t in self.tasks), 6),
            "input_tokens": sum(t.input_tokens for t in self.tasks),
            "output_tokens": sum(t.output_tokens for t in self.tasks),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "plan": self.plan,
            "run": {
                "number": self.run,
                "state": self.run_state,
                "started_at": self.started_at,
                "ended_at": self.ended_at,
            },
            "wall_s": self.wall_s,
            "serial_s": self.serial_s,
            "speedup": self.speedup,
            "tasks": [asdict(t) for t in self.tasks],
            "totals": self.totals(),
        }


def build(repo: Repo, plan: str, *, now: float | None = None) -> Report:
    stored = read_plan_ref(repo, plan)
    status = plan_status(repo, plan)  # raises NotFound for an unknown plan
    assert stored is not None
    store = StateStore(repo, plan)
    now = time.time() if now is None else now
    lines: list[TaskLine] = []
    for t in status.tasks:
        st = store.read(t.id)
        attempts = st.attempts if st else []
        duration = 0.0
        for a in attempts:
            if a.duration_s is not None:
                duration += a.duration_s
            elif a.ended_at is None and (begun := parse_iso(a.started_at)) is not None:
                duration += max(0.0, now - begun)  # still running
        lines.append(
            TaskLine(
                id=t.id,
                state=t.state,
                attempts=len(attempts),
                duration_s=round(duration, 3),
                cost_usd=t.cost_usd,
                input_tokens=t.input_tokens,
                output_tokens=t.output_tokens,
                reason=t.reason,
            )
        )
    run = stored.run
    started = parse_iso(run.started_at)
    ended = parse_iso(run.ended_at) if run.ended_at else None
    wall: float | None = None
    if started is not None:
        wall = max(0.0, (ended if ended is not None else now) - started)
    serial = round(sum(t.duration_s for t in lines), 3)
    speedup = round(serial / wall, 2) if wall else None
    return Report(
        plan=plan,
        run=run.run,
        run_state=run.state,
        started_at=run.started_at,
        ended_at=run.ended_at,
        wall_s=wall,
        serial_s=serial,
        speedup=speedup,
        tasks=lines,
    )


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(r: Report) -> str:
    tot = r.totals()
    out = [f"# git po report: plan {r.plan}", ""]
    out.append(
        f"Run {r.run}, {r.run_state}: started {r.started_at}"
        + (f", ended {r.ended_at}" if r.ended_at else " (still running)")
        + "."
    )
    out += [
        "",
        "| task | state | attempts | duration | cost | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for t in r.tasks:
        out.append(
            f"| {_cell(t.id)} | {t.state} | {t.attempts} | {_dur(t.duration_s)} | "
            f"${t.cost_usd:.4f} | {_cell(t.reason or '')} |"
        )
    states = ", ".join(f"{n} {k}" for k, n in sorted(tot["by_state"].items()))
    out.append(
        f"| **total** | {states} | {tot['attempts']} | {_dur(tot['duration_s'])} | "
        f"${tot['cost_usd']:.4f} | |"
    )
    out.append("")
    out.append(f"- tasks: {tot['tasks']} ({states})")
    out.append(f"- cost: ${tot['cost_usd']:.4f}")
    out.append(f"- tokens: {tot['input_tokens']} in, {tot['output_tokens']} out")
    out.append(f"- wall time: {_dur(r.wall_s)}")
    out.append(f"- one after another: {_dur(r.serial_s)} (the attempts' durations added up)")
    if r.speedup is not None:
        out.append(f"- speed-up: {r.speedup:.2f}x")
    return "\n".join(out)
