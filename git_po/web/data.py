"""What the dashboard shows, as JSON, read from the same refs as `status`, `show`, `logs` and
`report` through their own functions: so the page works during a run, after a crash and on a
clone that synced. No web framework here."""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from typing import Any

from git_po import layout, report, show, status, transcript, verify
from git_po.errors import NotFound
from git_po.lookup import TaskRef, resolve_task
from git_po.repo import Oid, Repo
from git_po.state import State, StateStore, list_plans
from git_po.web import graph_svg

DIFF_LIMIT = 400_000


def plans(repo: Repo) -> list[dict[str, Any]]:
    return [s.to_json() for s in status.plan_summaries(repo)]


def plan_view(repo: Repo, name: str) -> dict[str, Any]:
    """Everything the page shows of a plan: the status table, the graph, totals, the radar."""
    st = status.plan_status(repo, name)
    plan = status.stored_plan(repo, name)
    rep = report.build(repo, name)
    elapsed = {t.id: t.duration_s for t in rep.tasks}
    data = st.to_json()
    for t in data["tasks"]:
        t["elapsed_s"] = elapsed.get(t["task"])
    states = {t.id: t.state for t in st.tasks}
    critical = plan.graph.critical_path
    totals = data["totals"]
    budget = plan.budget_usd
    totals["budget_usd"] = budget
    totals["budget_left_usd"] = round(budget - totals["cost_usd"], 6) if budget else None
    totals["wall_s"] = rep.wall_s
    totals["serial_s"] = rep.serial_s
    totals["speedup"] = rep.speedup
    data["critical_path"] = critical
    data["graph_svg"] = graph_svg.draw(dict(plan.graph.deps), states, critical)
    radar: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for t in st.tasks:
        for c in t.conflicts:
            pair = (min(t.id, c["task"]), max(t.id, c["task"]))
            if pair not in seen:
                seen.add(pair)
                radar.append({"tasks": list(pair), "files": c.get("files", [])})
    data["radar"] = radar
    data["integration_key"] = integration_key(repo, name)
    return data


def integration_key(repo: Repo, name: str) -> str:
    """A digest of the plan's task branches and states: an integration for real must name the
    key its dry run saw, so it merges what the dry run reported, nothing newer."""
    refs = repo.ref_targets(f"refs/heads/po/{name}/", f"refs/po/{name}/tasks/")
    text = "\n".join(f"{k} {v}" for k, v in sorted(refs.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def task_view(repo: Repo, name: str, task: str) -> dict[str, Any]:
    """A task: what `show --json` says, its diff against its base, and its verify output."""
    detail = show.task_detail(repo, _ref(repo, name, task))
    data = detail.to_json()
    data["diff"], data["diff_cut"] = _diff(repo, detail.base, detail.head)
    data["attach_command"] = f"git po attach {name}/{task}"
    data["verify"] = None
    if detail.head:
        found = verify.latest(repo, Oid(detail.head))
        if found is not None:
            data["verify"] = {**found.to_json(), "output_tail": found.output_tail}
    return data


def _ref(repo: Repo, name: str, task: str) -> TaskRef:
    """The task, checked: an unknown plan or task is NotFound."""
    if "/" in name:
        raise NotFound(f"no plan named {name!r} in this repository")
    return resolve_task(repo, f"{name}/{task}", None)


def _diff(repo: Repo, base: str | None, head: str | None) -> tuple[str, bool]:
    if not base or not head:
        return "", False
    try:
        return repo.diff_patch(Oid(base), Oid(head), DIFF_LIMIT)
    except (KeyError, ValueError):
        return "", False


def log_view(repo: Repo, name: str, task: str, start: int = 0) -> dict[str, Any]:
    """The task's last transcript rendered as `git po logs` renders it (colours as HTML),
    from rendered line start on; next is where the following call starts."""
    ref = _ref(repo, name, task)
    try:
        log = transcript.find_attempt(repo, ref, None)
    except NotFound as exc:
        return {"header": exc.message, "lines": [], "next": 0, "running": False, "stderr": []}
    try:
        raw = transcript.read_lines(log)
    except NotFound as exc:
        return {"header": exc.message, "lines": [], "next": 0, "running": False, "stderr": []}
    renderer = transcript.renderer_for(log.attempt, color=True)
    out = list(transcript.render(raw, renderer))
    start = max(0, min(start, len(out)))
    return {
        "header": log.header(),
        "attempt": log.attempt.number,
        "lines": [ansi_html(x) for x in out[start:]],
        "next": len(out),
        "running": log.attempt.ended_at is None,
        "stderr": transcript.stderr_lines(log) if log.attempt.ended_at else [],
    }


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def ansi_html(text: str) -> str:
    """A line with ANSI colours as escaped HTML with <span class="aN"> for each colour."""
    out: list[str] = []
    open_spans = 0
    pos = 0
    for m in _SGR.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        pos = m.end()
        codes = [c for c in m.group(1).split(";") if c]
        if not codes or codes == ["0"]:
            out.append("</span>" * open_spans)
            open_spans = 0
            continue
        for code in codes:
            if code.isdigit():
                out.append(f'<span class="a{int(code)}">')
                open_spans += 1
    out.append(html.escape(text[pos:]))
    out.append("</span>" * open_spans)
    return "".join(out)


def watch_keys(repo: Repo) -> tuple[dict[str, str], dict[str, Path]]:
    """What the live feed watches: every ref of the plans and their branches, and the
    transcript of each running task (by "plan/task")."""
    refs = repo.ref_targets("refs/po/", "refs/heads/po/", "refs/notes/po")
    running: dict[str, Path] = {}
    for name in list_plans(repo):
        store = StateStore(repo, name)
        prefix = f"refs/po/{name}/tasks/"
        for ref in refs:
            if not ref.startswith(prefix) or "/" in ref[len(prefix) :]:
                continue
            task = ref[len(prefix) :]
            st = store.read(task)
            if st is not None and st.state is State.RUNNING and st.attempts:
                running[f"{name}/{task}"] = Path(st.attempts[-1].transcript)
    return refs, running


def changed_plans(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The plans whose refs (or task branches) differ between two readings."""
    names: set[str] = set()
    for ref in set(before) ^ set(after) | {r for r in before if before[r] != after.get(r)}:
        parts = ref.split("/")
        if ref.startswith("refs/po/") and len(parts) > 2:
            names.add(parts[2])
        elif ref.startswith("refs/heads/po/") and len(parts) > 3:
            names.add(parts[3])
        elif ref.startswith("refs/notes/"):
            names.add("*")
    return sorted(names)


def plan_dir(repo: Repo, name: str) -> Path:
    return layout.plan_dir(repo.common_dir, name)
