"""What waits for what: dependencies from explicit phrases and from scope.

"after X", "requires Y", "depends on Z", "blocked by W" name another item by its number or
label ("after 2", "blocked by #3", "requires R1"), by a file it creates, or by words of its
title. An item that uses a file another item creates waits for it. Edges that would close a
cycle are dropped, with a note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from git_po.drafting.extract import Item
from git_po.graph import Graph

_STOP = frozenset(
    re.findall(
        r"\S+",
        "a an the this that these those it its is are be been to of in on for with and or by from "
        "item items step steps task tasks issue issues section finding point number no done is "
        "has have we our you your",
    )
)
# "after 2", "after step 2 is done", "blocked by #3"; not "after 5 minutes"
_REF_NUMBER = re.compile(
    r"^(?:(?:item|step|task|issue|finding|point|no\.?|number)\s*)?#?(\d{1,3})"
    r"(?:\s+(?:is|are|has been|have been)\s+\w+)?\s*$",
    re.I,
)


@dataclass(frozen=True)
class Edge:
    item: int  # the item that waits (its number)
    on: int  # the item it waits for
    why: str  # the phrase, or "uses <file> that #n creates"


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z][a-z0-9_]+", text.lower()) if w not in _STOP}


def _resolve(phrase: str, item: Item, items: tuple[Item, ...]) -> Item | None:
    others = [o for o in items if o.number != item.number]
    p = phrase.strip().strip("`\"'")
    m = _REF_NUMBER.match(p)
    if m:
        # a number refers to the same document's numbered item with that label, else reading order
        n = m.group(1)
        same_doc = item.source.rsplit(":", 1)[0]
        for o in others:
            if o.label and o.label.lstrip("#") == n and o.source.rsplit(":", 1)[0] == same_doc:
                return o
        return next((o for o in others if o.number == int(n)), None)
    first = p.split()[0].strip("`\"'.,:;()") if p.split() else ""
    for o in others:
        label = (o.label or "").lower().lstrip("#")
        if label and not label.isdigit() and label == first.lower().lstrip("#"):
            return o
    for o in others:
        for path in o.creates:
            if path in p or path.rsplit("/", 1)[-1] in p.replace("`", " ").split():
                return o
    want = _words(p)
    if not want:
        return None
    best: tuple[float, Item] | None = None
    for o in others:
        have = _words(o.title)
        names = _words(" ".join(re.findall(r"`([^`]+)`", o.text)))
        shared = want & have
        if not shared or len(shared) / len(want) < 0.5:
            continue
        # a name in code (`GatewayError`) says more than a word of prose
        score = sum(3.0 if w in names else 1.0 for w in shared)
        if best is None or score > best[0]:
            best = (score, o)
    return best[1] if best else None


def find_edges(items: tuple[Item, ...]) -> tuple[list[Edge], list[str]]:
    """Dependency edges among items, and notes on phrases that named nothing or would cycle."""
    edges: list[Edge] = []
    notes: list[str] = []
    actionable = tuple(i for i in items if i.vague is None and not i.done)
    for item in actionable:
        for phrase in item.dep_phrases:
            target = _resolve(phrase, item, actionable)
            if target is None:
                notes.append(f"#{item.number}: {phrase!r} names no other work item; no dependency")
                continue
            edges.append(Edge(item.number, target.number, phrase))
    # a file no item finds in the repository is created by the first item that names it
    creator: dict[str, Item] = {}
    for item in actionable:
        for path in item.creates:
            creator.setdefault(path, item)
    for item in actionable:
        for path in item.scope:
            maker = creator.get(path)
            if maker is not None and maker.number != item.number:
                edges.append(
                    Edge(item.number, maker.number, f"uses {path}, which #{maker.number} creates")
                )
    kept: list[Edge] = []
    deps: dict[str, list[str]] = {str(i.number): [] for i in actionable}
    for e in edges:
        if any(k.item == e.item and k.on == e.on for k in kept):
            continue
        deps[str(e.item)].append(str(e.on))
        if Graph({k: tuple(v) for k, v in deps.items()}).find_cycle():
            deps[str(e.item)].pop()
            notes.append(f"#{e.item} {e.why!r} would make a cycle with #{e.on}; left out")
            continue
        kept.append(e)
    return kept, notes
