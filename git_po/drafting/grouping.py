"""Items into tasks: items that share files or form a chain go to one task; the rest are
merged, smallest first, while there are more tasks than workers and two of them could run at
the same time anyway."""

from __future__ import annotations

import re
from dataclasses import dataclass

from git_po.drafting.deps import Edge
from git_po.drafting.extract import ACTION_VERBS, Item, mentioned_paths, without_dependencies
from git_po.graph import Graph
from git_po.plan import MAX_ID_LENGTH, RESERVED_TASK_IDS, globs_overlap

_ID_STOP = frozenset(
    re.findall(r"\S+", "a an the to of in on for with and or by from that this is be it its")
)


@dataclass(frozen=True)
class Group:
    id: str
    items: tuple[Item, ...]  # in dependency order, then reading order
    depends_on: tuple[str, ...]
    writes: tuple[str, ...]

    @property
    def points(self) -> int:
        return sum(i.points for i in self.items)

    @property
    def size(self) -> str:
        p = self.points
        return "S" if p <= 1 else "M" if p <= 3 else "L" if p <= 7 else "XL"

    @property
    def priority(self) -> str | None:
        found = sorted(i.priority for i in self.items if i.priority)
        return found[0] if found else None


class _Union:
    def __init__(self, keys: list[int]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def sets(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for k in self.parent:
            out.setdefault(self.find(k), []).append(k)
        return out


def slug(text: str, action: str | None = None) -> str:
    """A task id from a title: lower-case words joined by '-', at most 40 characters."""
    text = without_dependencies(text)
    for path in mentioned_paths(text):
        text = text.replace(path, " ")
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _ID_STOP]
    if action and len(words) > 1 and words[0] != action and words[0] in ACTION_VERBS:
        words = words[1:]
    words = words[:4]
    if action and (not words or words[0] != action):
        words = [action, *words[:3]]
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > 40:
            break
        out = f"{out}-{w}" if out else w
    out = out or "task"
    return f"{out}-task" if out in RESERVED_TASK_IDS else out


def _group_graph(sets: dict[int, list[int]], uf: _Union, edges: list[Edge]) -> Graph:
    deps: dict[str, set[str]] = {str(r): set() for r in sets}
    for e in edges:
        a, b = uf.find(e.item), uf.find(e.on)
        if a != b:
            deps[str(a)].add(str(b))
    return Graph({k: tuple(sorted(v)) for k, v in deps.items()})


def _levels(graph: Graph) -> dict[int, list[str]]:
    """Tasks by depth: 1 for those that wait for nothing, else one more than their deepest
    dependency."""
    depth: dict[str, int] = {}
    for n in graph.topo_order:
        depth[n] = 1 + max((depth[d] for d in graph.deps[n]), default=0)
    out: dict[int, list[str]] = {}
    for n in sorted(depth, key=int):
        out.setdefault(depth[n], []).append(n)
    return out


def group(items: tuple[Item, ...], edges: list[Edge], workers: int) -> list[Group]:
    """Tasks for actionable items, with depends_on between them and writes from their scope."""
    numbers = [i.number for i in items]
    by_number = {i.number: i for i in items}
    uf = _Union(numbers)
    # items that touch the same files
    for x, a in enumerate(items):
        for b in items[x + 1 :]:
            if any(globs_overlap(p, q) for p in a.scope for q in b.scope):
                uf.join(a.number, b.number)
    # chain links: b waits only for a, and only b waits for a
    waits: dict[int, set[int]] = {n: set() for n in numbers}
    waited: dict[int, set[int]] = {n: set() for n in numbers}
    for e in edges:
        waits[e.item].add(e.on)
        waited[e.on].add(e.item)
    for e in edges:
        if len(waits[e.item]) == 1 and len(waited[e.on]) == 1:
            uf.join(e.item, e.on)
    # merging may have closed a cycle between groups: fold the cycle into one group
    while True:
        sets = uf.sets()
        cycle = _group_graph(sets, uf, edges).find_cycle()
        if not cycle:
            break
        for member in cycle[1:]:
            uf.join(int(cycle[0]), int(member))
    # more tasks at one depth than workers: merge the two smallest there (tasks at one depth
    # never depend on each other, so merging them keeps the graph free of cycles)
    while True:
        sets = uf.sets()
        graph = _group_graph(sets, uf, edges)
        levels = _levels(graph)
        crowded = max(levels.values(), key=len)
        if len(crowded) <= max(1, workers):
            break
        pts = {r: sum(by_number[n].points for n in sets[int(r)]) for r in crowded}
        pairs = [
            (pts[r] + pts[q], int(r), int(q))
            for x, r in enumerate(crowded)
            for q in crowded[x + 1 :]
        ]
        _, r1, r2 = min(pairs)
        uf.join(r1, r2)
    sets = uf.sets()
    graph = _group_graph(sets, uf, edges)
    item_graph = Graph({str(n): tuple(str(o) for o in sorted(waits[n])) for n in numbers})
    order = {int(n): x for x, n in enumerate(item_graph.topo_order)}
    ids: dict[int, str] = {}
    used: set[str] = set()
    for root in sorted(sets, key=lambda r: min(sets[r])):
        lead = by_number[min(sets[root])]
        base = slug(lead.title, lead.action)
        tid, n = base, 2
        while tid in used:
            tid = f"{base[: MAX_ID_LENGTH - 4]}-{n}"
            n += 1
        used.add(tid)
        ids[root] = tid
    groups: list[Group] = []
    for root in sorted(sets, key=lambda r: min(sets[r])):
        members = sorted(sets[root], key=lambda n: (order.get(n, n), n))
        writes = _writes([p for n in members for p in by_number[n].scope])
        groups.append(
            Group(
                id=ids[root],
                items=tuple(by_number[n] for n in members),
                depends_on=tuple(ids[int(d)] for d in graph.deps[str(root)]),
                writes=writes,
            )
        )
    return groups


def _writes(paths: list[str]) -> tuple[str, ...]:
    """Paths once each, less those under a folder also listed."""
    unique = list(dict.fromkeys(paths))
    return tuple(p for p in unique if not any(p.startswith(o + "/") for o in unique))


def one_group(items: tuple[Item, ...], edges: list[Edge], name: str) -> Group:
    """Every item in one task, in dependency order: the sequential draft."""
    groups = group(items, edges, 1)
    if len(groups) == 1:
        return groups[0]
    # ordered groups that could not be merged above: chain them into one
    by_id = {g.id: g for g in groups}
    order = Graph({g.id: g.depends_on for g in groups}).topo_order
    members = tuple(i for gid in order for i in by_id[gid].items)
    writes = _writes([w for gid in order for w in by_id[gid].writes])
    return Group(id=name, items=members, depends_on=(), writes=writes)
