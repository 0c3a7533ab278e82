"""The dependency graph of a plan: cycles, order, readiness and the critical path."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property


class Graph:
    """Tasks and what each depends on. Insertion order is the plan's order."""

    def __init__(self, deps: Mapping[str, Iterable[str]]) -> None:
        self.deps: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in deps.items()}

    @cached_property
    def dependents(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {k: [] for k in self.deps}
        for k, ds in self.deps.items():
            for d in ds:
                out.setdefault(d, []).append(k)
        return {k: tuple(v) for k, v in out.items()}

    def find_cycle(self) -> list[str] | None:
        """A dependency cycle as a path that returns to its start (a -> b -> a), or None.
        Iterative (a 20,000-task chain is no deeper than a short one for the interpreter)."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.deps, white)
        for root in self.deps:
            if color[root] != white:
                continue
            color[root] = grey
            stack: list[str] = [root]
            todo: list[Iterator[str]] = [iter(self.deps.get(root, ()))]
            while todo:
                d = next(todo[-1], None)
                if d is None:
                    todo.pop()
                    color[stack.pop()] = black
                    continue
                if d not in color:
                    continue
                if color[d] == grey:
                    # read the cycle in the direction of "depends on"
                    return [*stack[stack.index(d) :], d]
                if color[d] == white:
                    color[d] = grey
                    stack.append(d)
                    todo.append(iter(self.deps.get(d, ())))
        return None

    @cached_property
    def ancestors(self) -> dict[str, frozenset[str]]:
        """Every task each task (transitively) depends on. Quadratic in memory on long chains:
        for small graphs only; reaches() answers one question without it."""
        memo: dict[str, frozenset[str]] = {}
        for n in self.topo_order:
            acc: set[str] = set()
            for d in self.deps.get(n, ()):
                acc.add(d)
                acc |= memo.get(d, frozenset())
            memo[n] = frozenset(acc)
        return {n: memo[n] for n in self.deps}

    @cached_property
    def index(self) -> dict[str, int]:
        """Each task's position in topo_order: a dependency always comes first."""
        return {n: i for i, n in enumerate(self.topo_order)}

    @cached_property
    def depth(self) -> dict[str, int]:
        """Tasks on the longest chain from a root to each task, itself excluded."""
        out: dict[str, int] = {}
        for n in self.topo_order:
            out[n] = 1 + max((out[d] for d in self.deps.get(n, ()) if d in out), default=-1)
        return out

    def reaches(self, ancestor: str, task: str) -> bool:
        """Whether task depends on ancestor, directly or not. A search back from task that
        never goes below ancestor's position or depth, so no ancestor set is ever built."""
        if ancestor == task or ancestor not in self.index or task not in self.index:
            return False
        pos, deep = self.index[ancestor], self.depth[ancestor]
        if self.index[task] < pos or self.depth[task] <= deep:
            return False
        seen = {task}
        stack = [task]
        while stack:
            for d in self.deps.get(stack.pop(), ()):
                if d == ancestor:
                    return True
                if d not in seen and self.index.get(d, -1) > pos and self.depth[d] > deep:
                    seen.add(d)
                    stack.append(d)
        return False

    def ordered(self, a: str, b: str) -> bool:
        """Whether one of a, b must finish before the other starts."""
        return self.reaches(a, b) or self.reaches(b, a)

    @cached_property
    def topo_order(self) -> list[str]:
        """Dependencies first; otherwise plan order (a depth-first post-order, iterative)."""
        order: list[str] = []
        seen: set[str] = set()
        for root in self.deps:
            if root in seen:
                continue
            seen.add(root)
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(self.deps.get(root, ())))]
            while stack:
                node, deps = stack[-1]
                d = next(deps, None)
                if d is None:
                    stack.pop()
                    order.append(node)
                elif d not in seen:
                    seen.add(d)
                    stack.append((d, iter(self.deps.get(d, ()))))
        return order

    @cached_property
    def path_length(self) -> dict[str, int]:
        """Tasks on the longest chain from each task to the end of the plan, itself included."""
        out: dict[str, int] = {}
        for n in reversed(self.topo_order):
            out[n] = 1 + max((out[d] for d in self.dependents.get(n, ())), default=0)
        return out

    @cached_property
    def critical_path(self) -> list[str]:
        """The longest dependency chain, first task first."""
        if not self.deps:
            return []
        order = self.plan_order
        start = min(
            (n for n in self.deps if not self.deps[n]),
            key=lambda n: (-self.path_length[n], order[n]),
        )
        path = [start]
        while True:
            nxt = [d for d in self.dependents.get(path[-1], ())]
            if not nxt:
                return path
            path.append(min(nxt, key=lambda n: (-self.path_length[n], order[n])))

    @cached_property
    def plan_order(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.deps)}

    def priority(self, ready: Iterable[str]) -> list[str]:
        """Ready tasks, longest remaining critical path first, then plan order."""
        order = self.plan_order
        return sorted(ready, key=lambda n: (-self.path_length[n], order[n]))

    @property
    def roots(self) -> list[str]:
        return [n for n, ds in self.deps.items() if not ds]
