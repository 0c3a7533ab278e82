"""A draft as a commented plan file, and its manifest as text and as JSON."""

from __future__ import annotations

from typing import Any

import tomli_w

from git_po import jsonout
from git_po.drafting.model import Draft, item_line

MANIFEST_VERSION = jsonout.SCHEMA_VERSION


def _value(v: object) -> str:
    return tomli_w.dumps({"v": v}, multiline_strings=True).split("=", 1)[1].strip()


def _comment(text: str) -> str:
    return " ".join(text.split())


def plan_toml(draft: Draft, plan_file: str) -> str:
    """The plan, with comments saying where each task comes from and what was left out."""
    out = [
        f"# Drafted by `git po plan draft` from {', '.join(draft.sources)}"
        + (", refined by the agent." if draft.refined_by else "."),
        f"# Verdict: {draft.verdict}: {'; '.join(draft.reasons)}.",
        f"# Review it, check it (git po plan check {plan_file}), then: git po start {plan_file}",
    ]
    if draft.unclear:
        out.append("#")
        out.append("# Needs clarification (not made into tasks):")
        out += [f"#   {_comment(i.title)}  ({i.source}: {i.vague})" for i in draft.unclear]
    unknown = [(i, p) for i in draft.items if not i.done for p in i.unknown_paths]
    if unknown:
        out.append("#")
        out.append("# Named but not in the repository (left out of writes):")
        out += [f"#   {p}  ({i.source})" for i, p in unknown]
    for note in draft.notes:
        out.append(f"# Note: {_comment(note)}")
    out.append("")
    out.append(f"name = {_value(draft.name)}")
    out.append(f"max_workers = {draft.max_workers}")
    by_number = {i.number: i for i in draft.items}
    for t in draft.tasks:
        out.append("")
        for n in t.items:
            item = by_number.get(n)
            if item is not None:
                out.append(f"# #{n} {_comment(item_line(item))}")
        out.append(f"[tasks.{t.id}]")
        out.append(f"description = {_value(t.description)}")
        if t.depends_on:
            out.append(f"depends_on = {_value(list(t.depends_on))}")
        if t.writes:
            out.append(f"writes = {_value(list(t.writes))}")
        out.append(f"prompt = {_value(t.prompt)}")
    return "\n".join(out) + "\n"


def manifest(draft: Draft, plan_file: str) -> dict[str, Any]:
    """What the draft holds, for review and for scripts (schema git_po/schemas/plan-draft.json)."""
    deps: dict[int, list[int]] = {}
    for e in draft.edges:
        deps.setdefault(e.item, []).append(e.on)
    return {
        "schema_version": MANIFEST_VERSION,
        "plan_file": plan_file,
        "plan": draft.name,
        "sources": list(draft.sources),
        "verdict": draft.verdict,
        "reasons": list(draft.reasons),
        "max_workers": draft.max_workers,
        "refined_by": draft.refined_by,
        "tasks": [
            {
                "task": t.id,
                "description": t.description,
                "depends_on": list(t.depends_on),
                "writes": list(t.writes),
                "items": list(t.items),
                "size": t.size,
                "priority": t.priority,
            }
            for t in draft.tasks
        ],
        "items": [
            {
                "number": i.number,
                "title": i.title,
                "source": i.source,
                "kind": i.kind,
                "action": i.action,
                "scope": list(i.scope),
                "unknown_paths": list(i.unknown_paths),
                "priority": i.priority,
                "size": i.size,
                "depends_on": deps.get(i.number, []),
                "task": draft.task_of(i.number),
                "needs_clarification": i.vague is not None,
                "needs_clarification_text": i.vague,
                "done": i.done,
            }
            for i in draft.items
        ],
        "dependencies": [{"item": e.item, "on": e.on, "why": e.why} for e in draft.edges],
        "notes": list(draft.notes),
    }


def manifest_text(draft: Draft, plan_file: str) -> list[str]:
    """The manifest for a person: tasks with their items, what needs clarification, notes."""
    unclear = draft.unclear
    lines = [
        f"{plan_file}: {len(draft.tasks)} task{'s' if len(draft.tasks) != 1 else ''} from "
        f"{len(draft.items)} item{'s' if len(draft.items) != 1 else ''} in "
        f"{', '.join(draft.sources)}" + (" (refined by the agent)" if draft.refined_by else ""),
        f"verdict: {draft.verdict}: {'; '.join(draft.reasons)}",
        "",
    ]
    by_number = {i.number: i for i in draft.items}
    waits = {e.item: [x.on for x in draft.edges if x.item == e.item] for e in draft.edges}
    for t in draft.tasks:
        head = f"{t.id}  [{', '.join(x for x in (t.priority, t.size) if x)}]"
        if t.depends_on:
            head += f"  after {', '.join(t.depends_on)}"
        lines.append(head)
        if t.writes:
            lines.append(f"    writes {', '.join(t.writes)}")
        for n in t.items:
            item = by_number.get(n)
            if item is None:
                continue
            after = f"  (after #{', #'.join(map(str, waits[n]))})" if n in waits else ""
            lines.append(f"    #{n} {item_line(item)}{after}")
    if unclear:
        lines.append("")
        lines.append("needs clarification (not made into tasks):")
        lines += [f"    #{i.number} {i.title} ({i.source}): {i.vague}" for i in unclear]
    unknown = [(i, p) for i in draft.items if not i.done for p in i.unknown_paths]
    if unknown:
        lines.append("")
        lines.append("named but not in the repository:")
        lines += [f"    #{i.number} {p}" for i, p in unknown]
    if draft.notes:
        lines.append("")
        lines += [f"note: {n}" for n in draft.notes]
    return lines
