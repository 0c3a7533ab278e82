"""Likely collisions in a plan: tasks that may run at the same time (neither depends on the
other, directly or not) and touch the same files: one writes what the other's prompt names, or
both prompts name the same file. Overlapping `writes` are already plan errors."""

from __future__ import annotations

from git_po.drafting.extract import mentioned_paths, resolve_paths
from git_po.globs import clashes
from git_po.plan import Plan, Task, globs_overlap


def named_files(task: Task, tree: frozenset[str]) -> list[str]:
    """Repository paths a task's prompt names (existing ones, or new ones with a folder)."""
    scope, _new, _unknown = resolve_paths(mentioned_paths(task.prompt), tree, True)
    return scope


def collisions(plan: Plan, tree: frozenset[str]) -> list[str]:
    """One line per pair of tasks that may run together and touch the same file. Candidate
    pairs come from an index of every task's paths (git_po.globs.clashes), never from
    comparing every pair of tasks."""
    named = {t.id: named_files(t, tree) for t in plan.tasks}
    order = plan.graph.plan_order
    entries = [(t.id, p) for t in plan.tasks for p in (*t.writes, *named[t.id])]
    pairs = {
        (c.first, c.second) if order[c.first] < order[c.second] else (c.second, c.first)
        for c in clashes(entries, plan.graph)
    }
    out: list[str] = []
    for x, y in sorted(pairs, key=lambda p: (order[p[0]], order[p[1]])):
        a, b = plan.task(x), plan.task(y)
        found: list[str] = []
        for w in a.writes:
            hit = next((p for p in named[b.id] if globs_overlap(w, p)), None)
            if hit:
                found.append(f"{b.id!r} names {hit}, which {a.id!r} writes")
        for w in b.writes:
            hit = next((p for p in named[a.id] if globs_overlap(w, p)), None)
            if hit:
                found.append(f"{a.id!r} names {hit}, which {b.id!r} writes")
        both = [p for p in named[a.id] if any(globs_overlap(p, q) for q in named[b.id])]
        covered = " ".join(found)
        found += [f"both prompts name {p}" for p in both if p not in covered]
        if found:
            out.append(
                f"tasks {a.id!r} and {b.id!r} may run at the same time: "
                + "; ".join(found)
                + " (make one depend on the other, or give the file to one of them)"
            )
    return out
