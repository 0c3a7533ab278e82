"""`git po report`: a run summed up, per task (state, attempts, agent and verify time, cost,
refused tool calls) and in total, with the wall time and the speed-up over running the tasks one
after another."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from git_po import jsonout
from git_po.repo import Repo
from git_po.state import StateStore, parse_iso, read_plan_ref
from git_po.status import plan_status

JSON_VERSION = jsonout.SCHEMA_VERSION


@dataclass
class TaskLine:
    id: str
    state: str
    attempts: int
    duration_s: float  # sum of its attempts' durations: the agent's time
    verify_s: float  # sum of the times the plan's verify command took on its [COMPLETE]s
    cost_usd: float
    input_tokens: int
    output_tokens: int
    reason: str | None
    refused: int = 0  # tool calls the agent's permissions refused
    agents: list[str] = field(default_factory=list)  # the agent of every attempt, oldest first


# how the figures are made, said with them (markdown footnote, "figures" in JSON)
FIGURES = (
    "one after another = every task's agent time plus its verify time, added up; "
    "wall time = the run's start to its end (or now); speed-up = one after another / wall time"
)


@dataclass
class Report:
    plan: str
    run: int
    run_state: str
    started_at: str
    ended_at: str | None
    wall_s: float | None  # started_at -> ended_at (or now, while it runs)
    serial_s: float  # every attempt's agent and verify time added up: one after another
    speedup: float | None  # serial_s / wall_s
    tasks: list[TaskLine] = field(default_factory=list)

    def totals(self) -> dict[str, Any]:
        by_state: dict[str, int] = {}
        for t in self.tasks:
            by_state[t.state] = by_state.get(t.state, 0) + 1
        return {
            "task_count": len(self.tasks),
            "by_state": by_state,
            "attempt_count": sum(t.attempts for t in self.tasks),
            "duration_s": round(sum(t.duration_s for t in self.tasks), 3),
            "verify_s": round(sum(t.verify_s for t in self.tasks), 3),
            "refused_count": sum(t.refused for t in self.tasks),
            "cost_usd": round(sum(t.cost_usd for t in self.tasks), 6),
            "input_tokens": sum(t.input_tokens for t in self.tasks),
            "output_tokens": sum(t.output_tokens for t in self.tasks),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": JSON_VERSION,
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
            "figures": FIGURES,
            "tasks": [_task_json(t) for t in self.tasks],
            "totals": self.totals(),
        }


def _task_json(line: TaskLine) -> dict[str, Any]:
    d = asdict(line)
    out = {"task": d.pop("id")}
    for key, value in d.items():
        out[
            {
                "attempts": "attempt_count",
                "refused": "refused_count",
                "agents": "attempt_agents",
            }.get(key, key)
        ] = value
    return out


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
        kept = st.kept_from if st else None
        duration = 0.0
        ran = [] if kept else attempts  # a kept task's attempts belong to an earlier run
        verified = sum(a.verify_s or 0.0 for a in ran)
        for a in ran:
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
                verify_s=round(verified, 3),
                cost_usd=t.cost_usd,
                input_tokens=t.input_tokens,
                output_tokens=t.output_tokens,
                reason=t.reason or (f"kept from run {kept}" if kept else None),
                refused=t.refused,
                agents=[a.agent for a in attempts],
            )
        )
    run = stored.run
    started = parse_iso(run.started_at)
    ended = parse_iso(run.ended_at) if run.ended_at else None
    wall: float | None = None
    if started is not None:
        wall = max(0.0, (ended if ended is not None else now) - started)
    serial = round(sum(t.duration_s + t.verify_s for t in lines), 3)
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
        "| task | state | attempts | by | agent time | verify | cost | refused | note |",
        "|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for t in r.tasks:
        by = ", ".join(dict.fromkeys(t.agents)) or "-"
        out.append(
            f"| {_cell(t.id)} | {t.state} | {t.attempts} | {by} | {_dur(t.duration_s)} | "
            f"{_dur(t.verify_s)} | ${t.cost_usd:.4f} | {t.refused} | {_cell(t.reason or '')} |"
        )
    states = ", ".join(f"{n} {k}" for k, n in sorted(tot["by_state"].items()))
    out.append(
        f"| **total** | {states} | {tot['attempt_count']} | | {_dur(tot['duration_s'])} | "
        f"{_dur(tot['verify_s'])} | ${tot['cost_usd']:.4f} | {tot['refused_count']} | |"
    )
    out.append("")
    out.append(f"- tasks: {tot['task_count']} ({states})")
    out.append(f"- cost: ${tot['cost_usd']:.4f}")
    out.append(f"- tokens: {tot['input_tokens']} in, {tot['output_tokens']} out")
    if tot["refused_count"]:
        out.append(f"- tool calls refused by the agent's permissions: {tot['refused_count']}")
    out.append(f"- wall time: {_dur(r.wall_s)}")
    out.append(
        f"- one after another: {_dur(r.serial_s)} (agent {_dur(tot['duration_s'])} "
        f"+ verify {_dur(tot['verify_s'])})"
    )
    if r.speedup is not None:
        out.append(f"- speed-up: {r.speedup:.2f}x")
    out += ["", f"How: {FIGURES}."]
    return "\n".join(out)
