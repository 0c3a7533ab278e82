"""Whether parallel work pays: not when every item touches the same file, when the items form
one chain, or when there are too few or too small ones."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from git_po.drafting.deps import Edge
from git_po.drafting.extract import Item
from git_po.drafting.grouping import Group
from git_po.graph import Graph

PARALLEL = "parallel"
SEQUENTIAL = "sequential"
MIN_POINTS = 3  # less work than this (three small items) is not worth splitting


@dataclass(frozen=True)
class Assessment:
    verdict: str  # PARALLEL or SEQUENTIAL
    reasons: tuple[str, ...]
    width: int  # most tasks that can run at the same time


def width(groups: list[Group]) -> int:
    """Most tasks at one depth of the graph: how many workers the split can keep busy."""
    graph = Graph({g.id: g.depends_on for g in groups})
    depth: dict[str, int] = {}
    for gid in graph.topo_order:
        depth[gid] = 1 + max((depth[d] for d in graph.deps[gid]), default=0)
    return max(Counter(depth.values()).values(), default=0)


def assess(items: tuple[Item, ...], edges: list[Edge], groups: list[Group]) -> Assessment:
    w = width(groups)
    reasons: list[str] = []
    files = [set(i.scope) for i in items]
    common = set.intersection(*files) if files else set()
    if len(items) > 1 and common:
        reasons.append(f"every item touches {sorted(common)[0]}")
    waits = {e.item for e in edges}
    if len(items) > 1 and len(waits) == len(items) - 1 and len(edges) == len(items) - 1:
        chain = Graph(
            {str(i.number): [str(e.on) for e in edges if e.item == i.number] for i in items}
        )
        if max(chain.path_length.values(), default=0) >= len(items):
            reasons.append("the items form one chain")
    points = sum(i.points for i in items)
    if len(items) < 2:
        reasons.append(f"only {len(items)} item")
    elif points < MIN_POINTS:
        reasons.append(f"{len(items)} small items (size {points} in all)")
    if not reasons and w <= 1:
        reasons.append("the tasks depend on one another, so no two would run at once")
    if reasons:
        return Assessment(SEQUENTIAL, tuple(reasons), 1)
    why = f"{len(groups)} tasks that own their files; up to {w} can run at the same time"
    return Assessment(PARALLEL, (why,), w)
