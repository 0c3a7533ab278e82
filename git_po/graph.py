"""The dependency graph of a plan: cycles, order, readiness and the critical path."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
        """A dependency cycle as a path that returns to its start (a -> b -> a), or None."""
        white, grey, black = 0, 1, 2
        color = dict.fromkeys(self.deps, white)
        stack: list[str] = []

        def visit(n: str) -> list[str] | None:
            color[n] = grey
            stack.append(n)
            for d in self.deps.get(n, ()):
                if d not in color:
                    continue
                if color[d] == grey:
                    return [*stack[stack.index(d) :], d]
                if color[d] == white:
                    found = visit(d)
                    if found:
                        return found
            stack.pop()
            color[n] = black
            return None

        for n in self.deps:
            if color[n] == white:
                found = visit(n)
                if found:
                    # read the cycle in the direction of "depends on"
                    return found
        return None

    @cached_property
    def ancestors(self) -> dict[str, frozenset[str]]:
        """Every task each task (transitively) depends on."""
        memo: dict[str, frozenset[str]] = {}

        def anc(n: str) -> frozenset[str]:
            if n in memo:
                return memo[n]
            memo[n] = frozenset()
            acc: set[str] = set()
            for d in self.deps.get(n, ()):
                acc.add(d)
                acc |= anc(d)
            memo[n] = frozenset(acc)
            return memo[n]

        return {n: anc(n) for n in self.deps}

    def ordered(self, a: str, b: str) -> bool:
        """Whether one of a, b must finish before the other starts."""
        return a in self.ancestors.get(b, frozenset()) or b in self.ancestors.get(a, frozenset())

    @cached_property
    def topo_order(self) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()

        def visit(n: str) -> None:
            if n in seen:
                return
            seen.add(n)
            for d in self.deps.get(n, ()):
                visit(d)
            order.append(n)

        for n in self.deps:
            visit(n)
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
        order = {n: i for i, n in enumerate(self.deps)}
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

    def priority(self, ready: Iterable[str]) -> list[str]:
        """Ready tasks, longest remaining critical path first, then plan order."""
        order = {n: i for i, n in enumerate(self.deps)}
        return sorted(ready, key=lambda n: (-self.path_length[n], order[n]))

    @property
    def roots(self) -> list[str]:
        return [n for n, ds in self.deps.items() if not ds]
