"""`git po logs` for agents whose jsonl events are not Claude Code's (codex, gemini,
opencode and profiles of the user's own): one readable line per event that says something."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# where events of the known CLIs keep what a person wants to read, most telling first
_TEXT_PATHS = (
    "item.text",
    "item.command",
    "item.message",
    "part.text",
    "part.tool",
    "content",
    "message",
    "text",
    "tool_name",
    "error.message",
    "error.data.message",
    "status",
)
_SKIP = frozenset({"turn.started", "item.started", "step_start"})
_CHARS = 300


def _dig(ev: Any, path: str) -> object:
    for part in path.split("."):
        if not isinstance(ev, dict) or part not in ev:
            return None
        ev = ev[part]
    return ev


def _first_text(value: object) -> str | None:
    """The first non-empty string in an event (depth first): a profile's own fields."""
    if isinstance(value, str):
        return value.strip() or None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for v in items:
        found = _first_text(v)
        if found:
            return found
    return None


@dataclass
class EventRenderer:
    color: bool = False
    result_seen: bool = False

    def line(self, raw: str) -> list[str]:
        raw = raw.strip()
        if not raw:
            return []
        try:
            ev = json.loads(raw)
        except ValueError:
            return [raw]
        if not isinstance(ev, dict):
            return [raw]
        kind = str(ev.get("type") or "event")
        if kind in _SKIP:
            return []
        item = ev.get("item")
        if isinstance(item, dict) and item.get("type"):
            kind = f"{kind} {item['type']}"
        part = ev.get("part")
        if isinstance(part, dict) and part.get("type") and part.get("type") != ev.get("type"):
            kind = f"{kind} {part['type']}"
        said = ""
        for path in _TEXT_PATHS:
            value = _dig(ev, path)
            if isinstance(value, str) and value.strip():
                said = value.strip()
                break
        if not said:
            said = _first_text({k: v for k, v in ev.items() if k != "type"}) or ""
        usage = ev.get("usage") or _dig(ev, "stats") or _dig(ev, "part.tokens")
        if not said and isinstance(usage, dict):
            said = ", ".join(f"{k} {v}" for k, v in usage.items() if isinstance(v, int | float))
        if kind in ("result", "turn.completed", "step_finish"):
            self.result_seen = True
        lines = said.splitlines() or [""]
        first = lines[0] if len(lines[0]) <= _CHARS else lines[0][: _CHARS - 1] + "…"
        more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
        return [f"[{kind}] {first}{more}".rstrip()]
