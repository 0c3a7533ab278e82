"""A plan's task graph as an SVG picture: one column per depth (a task stands right of everything
it depends on), an arrow per dependency, each task filled with its state's colour, and the
critical path drawn bold. Pure string building."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from html import escape

NODE_W = 132
NODE_H = 34
COL = 184
ROW = 52
PAD = 12

# fill colours of the states (the page's legend uses the same names as CSS classes)
STATE_CLASS = {
    "pending",
    "running",
    "verifying",
    "complete",
    "blocked",
    "needs",
    "failed",
    "skipped",
    "interrupted",
    "paused",
}


def depths(deps: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Each task's column: 0 for a task with no dependency, else one more than its deepest."""
    out: dict[str, int] = {}

    def depth(n: str, seen: frozenset[str]) -> int:
        if n in out:
            return out[n]
        inner = [d for d in deps.get(n, ()) if d in deps and d not in seen]
        out[n] = 1 + max((depth(d, seen | {n}) for d in inner), default=-1)
        return out[n]

    for n in deps:
        depth(n, frozenset())
    return out


def positions(deps: Mapping[str, Sequence[str]]) -> dict[str, tuple[int, int]]:
    """The top-left corner of each task's box, in plan order within a column."""
    col = depths(deps)
    rows: dict[int, int] = {}
    out: dict[str, tuple[int, int]] = {}
    for n in deps:
        r = rows.get(col[n], 0)
        rows[col[n]] = r + 1
        out[n] = (PAD + col[n] * COL, PAD + r * ROW)
    return out


def _label(text: str, limit: int = 17) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def draw(
    deps: Mapping[str, Sequence[str]], states: Mapping[str, str], critical: Sequence[str]
) -> str:
    if not deps:
        return '<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="0" height="0"></svg>'
    pos = positions(deps)
    crit_edges = set(itertools.pairwise(critical))
    crit = set(critical)
    width = max(x for x, _ in pos.values()) + NODE_W + PAD
    height = max(y for _, y in pos.values()) + NODE_H + PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="task graph">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" '
        'markerWidth="9" markerHeight="9" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead"/></marker></defs>',
    ]
    for n, ds in deps.items():
        x2, y2 = pos[n]
        for d in ds:
            if d not in pos:
                continue
            x1, y1 = pos[d]
            sx, sy = x1 + NODE_W, y1 + NODE_H // 2
            ex, ey = x2, y2 + NODE_H // 2
            mid = (sx + ex) // 2
            cls = "edge crit" if (d, n) in crit_edges else "edge"
            parts.append(
                f'<path class="{cls}" d="M {sx} {sy} C {mid} {sy}, {mid} {ey}, {ex - 2} {ey}" '
                f'marker-end="url(#arrow)" data-from="{escape(d)}" data-to="{escape(n)}"/>'
            )
    for n in deps:
        x, y = pos[n]
        state = states.get(n, "pending")
        cls = f"node st-{state if state in STATE_CLASS else 'pending'}"
        if n in crit:
            cls += " crit"
        tid = escape(n)
        parts.append(
            f'<g class="{cls}" data-task="{tid}" tabindex="0">'
            f"<title>{tid}: {escape(state)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="7"/>'
            f'<text x="{x + 10}" y="{y + 15}" class="tid">{escape(_label(n))}</text>'
            f'<text x="{x + 10}" y="{y + 28}" class="tstate">{escape(state)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
