"""A drafted plan: tasks made from work items, and how it was decided."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from git_po.drafting import assess as assessing
from git_po.drafting.deps import Edge, find_edges
from git_po.drafting.extract import Item, extract
from git_po.drafting.grouping import Group, group, one_group, slug
from git_po.errors import UsageError


@dataclass(frozen=True)
class TaskDraft:
    id: str
    description: str
    prompt: str
    depends_on: tuple[str, ...]
    writes: tuple[str, ...]
    items: tuple[int, ...]  # item numbers
    size: str
    priority: str | None


@dataclass(frozen=True)
class Draft:
    name: str
    sources: tuple[str, ...]
    items: tuple[Item, ...]
    edges: tuple[Edge, ...]
    notes: tuple[str, ...]
    tasks: tuple[TaskDraft, ...]
    verdict: str
    reasons: tuple[str, ...]
    max_workers: int
    refined_by: str | None = None  # "agent" when an agent's answer replaced the prompts

    @property
    def unclear(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.vague)

    def task_of(self, number: int) -> str | None:
        return next((t.id for t in self.tasks if number in t.items), None)

    def refined(self, tasks: tuple[TaskDraft, ...], note: str) -> Draft:
        return replace(self, tasks=tasks, refined_by="agent", notes=(*self.notes, note))


def item_line(item: Item) -> str:
    tags = ", ".join(x for x in (item.priority, item.action, f"size {item.size}") if x)
    return f"{item.title} [{tags}; {item.source}]"


def prompt_for(g: Group) -> str:
    """Kickoff instructions for a task: its items, in order, with their details."""
    out: list[str] = []
    if len(g.items) == 1:
        item = g.items[0]
        out.append(item.text if item.text != item.title else item.title)
    else:
        out.append("Do these work items, in this order:")
        out.append("")
        for n, item in enumerate(g.items, start=1):
            lines = item.text.splitlines() or [item.title]
            out.append(f"{n}. {lines[0]}")
            out += [f"   {line}" for line in lines[1:]]
    if g.writes:
        out.append("")
        out.append("Keep your changes to: " + ", ".join(g.writes) + ".")
    return "\n".join(out).strip() + "\n"


def _description(g: Group) -> str:
    lead = g.items[0]
    if len(g.items) == 1:
        return lead.title
    headings = {i.heading for i in g.items}
    if len(headings) == 1 and lead.heading:
        return f"{lead.heading}: {len(g.items)} items"
    return f"{lead.title} (and {len(g.items) - 1} more)"


def _task(g: Group) -> TaskDraft:
    return TaskDraft(
        id=g.id,
        description=_description(g),
        prompt=prompt_for(g),
        depends_on=g.depends_on,
        writes=g.writes,
        items=tuple(i.number for i in g.items),
        size=g.size,
        priority=g.priority,
    )


def make_draft(
    docs: Iterable[tuple[str, str]], tree: frozenset[str], workers: int, name: str
) -> Draft:
    """The deterministic draft of documents given as (name, text)."""
    docs = list(docs)
    items = extract(docs, tree)
    actionable = tuple(i for i in items if i.vague is None and not i.done)
    if not actionable:
        unclear = sum(1 for i in items if i.vague)
        raise UsageError(
            f"found no work items to act on in {', '.join(n for n, _ in docs)}"
            + (f" ({unclear} too vague)" if unclear else ""),
            hint="write items as a task list (- [ ] ...), a numbered list or bullets, "
            "naming the files they touch",
        )
    edges, notes = find_edges(items)
    groups = group(actionable, edges, workers)
    verdict = assessing.assess(actionable, edges, groups)
    if verdict.verdict == assessing.SEQUENTIAL:
        groups = [one_group(actionable, edges, slug(name))]
        workers = 1
    else:
        workers = min(workers, verdict.width)
    done = [i for i in items if i.done]
    if done:
        notes = [*notes, f"{len(done)} checked item(s) left out as done"]
    return Draft(
        name=name,
        sources=tuple(n for n, _ in docs),
        items=items,
        edges=tuple(edges),
        notes=tuple(notes),
        tasks=tuple(_task(g) for g in groups),
        verdict=verdict.verdict,
        reasons=verdict.reasons,
        max_workers=max(1, workers),
    )
