"""Path globs of `writes` (and paths prompts name): whether two can match the same path, and
which tasks that may run at the same time hold overlapping ones — found without comparing
every pair of tasks, so a plan of 20,000 tasks is checked in about the time it takes to read.

Globs: `*`, `?`, `[..]` within a segment, `**` across segments; a pattern also covers what lies
under it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from git_po.graph import Graph

_GLOB_CHARS = frozenset("*?[")


def _tokens(segment: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "[":
            j = segment.find("]", i + 2)
            if j != -1:
                out.append("?")
                i = j + 1
                continue
        out.append(c)
        i += 1
    return out


def _segments_overlap(x: str, y: str) -> bool:
    """Whether some file name matches both single-segment globs (classes treated as '?')."""
    if not (_GLOB_CHARS & set(x)) and not (_GLOB_CHARS & set(y)):
        return x == y
    a, b = _tokens(x), _tokens(y)
    memo: dict[tuple[int, int], bool] = {}

    def m(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        memo[key] = False
        res = False
        if (
            (i == len(a) and j == len(b))
            or (i < len(a) and a[i] == "*" and (m(i + 1, j) or (j < len(b) and m(i, j + 1))))
            or (j < len(b) and b[j] == "*" and (m(i, j + 1) or (i < len(a) and m(i + 1, j))))
        ):
            res = True
        elif i < len(a) and j < len(b) and a[i] != "*" and b[j] != "*":
            res = (a[i] == b[j] or a[i] == "?" or b[j] == "?") and m(i + 1, j + 1)
        memo[key] = res
        return res

    return m(0, 0)


def globs_overlap(p: str, q: str) -> bool:
    """Whether some path is matched by both globs; a pattern also covers what lies under it."""
    a = (*tuple(p.split("/")), "**")
    b = (*tuple(q.split("/")), "**")
    memo: dict[tuple[int, int], bool] = {}

    def m(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        memo[key] = False
        if i == len(a) or j == len(b):
            rest = a[i:] if j == len(b) else b[j:]
            res = all(s == "**" for s in rest)
        elif a[i] == "**":
            res = m(i + 1, j) or m(i, j + 1)
        elif b[j] == "**":
            res = m(i, j + 1) or m(i + 1, j)
        else:
            res = _segments_overlap(a[i], b[j]) and m(i + 1, j + 1)
        memo[key] = res
        return res

    return m(0, 0)


def literal_prefix(pattern: str) -> tuple[str, ...]:
    """The leading segments of a glob that hold no glob character: every path it matches
    starts with them. So two globs overlap only if one's prefix is a prefix of the other's."""
    out: list[str] = []
    for seg in pattern.split("/"):
        if "*" in seg or "?" in seg or "[" in seg:
            break
        out.append(seg)
    return tuple(out)


@dataclass(frozen=True)
class Clash:
    """Two tasks that may run at the same time, and a glob of each that overlap."""

    first: str  # the task earlier in dependency order
    second: str
    first_glob: str
    second_glob: str


def clashes(
    entries: Iterable[tuple[str, str]],
    graph: Graph,
    overlap: Callable[[str, str], bool] = globs_overlap,
) -> list[Clash]:
    """Pairs of tasks, neither depending on the other, with overlapping (task, glob) entries.

    Near-linear: globs are indexed by their literal prefix (only globs on one path of that
    trie can overlap), and the tasks sharing a glob (or holding two overlapping globs) are
    checked only in consecutive pairs of dependency order — if each such pair is ordered, the
    whole set is a chain. So every set of tasks that clash is reported by at least one pair,
    not by every pair (a plan where 1,000 tasks write `**` says so in a few lines, not 500,000).
    """
    holders: dict[str, list[str]] = {}
    for tid, glob in entries:
        if tid in graph.index:
            got = holders.setdefault(glob, [])
            if tid not in got:
                got.append(tid)
    found: list[Clash] = []
    seen: set[tuple[str, str]] = set()

    def scan(globs: tuple[str, str]) -> None:
        a, b = globs
        in_a, in_b = set(holders[a]), set(holders[b])
        tasks = sorted(in_a | in_b, key=graph.index.__getitem__)
        for x, y in itertools.pairwise(tasks):
            if a != b and not ((x in in_a and y in in_b) or (x in in_b and y in in_a)):
                continue  # two holders of one glob: that glob's own scan judges them
            if (x, y) in seen or graph.reaches(x, y):
                continue
            seen.add((x, y))
            fx, fy = (a, b) if x in in_a and y in in_b else (b, a)
            found.append(Clash(x, y, fx, fy))

    prefixes = {glob: literal_prefix(glob) for glob in holders}
    trie: dict[tuple[str, ...], list[str]] = {}
    for glob, prefix in prefixes.items():
        trie.setdefault(prefix, []).append(glob)
    for glob, tasks in holders.items():
        if len(tasks) > 1:
            scan((glob, glob))
        prefix = prefixes[glob]
        for cut in range(len(prefix) + 1):
            for other in trie.get(prefix[:cut], ()):
                if other == glob or (cut == len(prefix) and other > glob):
                    continue  # each pair of globs once
                if overlap(other, glob):
                    scan((other, glob))
    return found
