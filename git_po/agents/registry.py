"""Which agents a plan may name: claude and shell (code), the built-in profiles (data), and
profiles of the user's own from git config and the plan, merged key by key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from git_po.agents.builtin import BUILTIN
from git_po.agents.spec import AgentSpec, SpecError, merge, parse_spec
from git_po.protocol import ID_PATTERN

CODE_AGENTS = ("claude", "shell")
BUILTIN_AGENTS = tuple(BUILTIN)


def resolve(
    plan_tables: Mapping[str, Any], config_tables: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, AgentSpec], list[tuple[str, str, str]]]:
    """The profiles by name, and problems as (name, key, message); a name whose profile has a
    problem is left out (tasks naming it are then reported as naming an unknown agent too)."""
    import re

    out: dict[str, AgentSpec] = {}
    problems: list[tuple[str, str, str]] = []
    names = [*BUILTIN_AGENTS]
    for n in [*config_tables, *plan_tables]:
        if n not in names:
            names.append(n)
    for name in names:
        if name in CODE_AGENTS:
            if name in plan_tables or name in config_tables:
                problems.append((name, "", f"agent {name!r} is built into git po; name yours"))
            continue
        if not re.fullmatch(ID_PATTERN, name):
            problems.append((name, "", f"agent name {name!r} is not a valid name"))
            continue
        table = plan_tables.get(name, {})
        if not isinstance(table, Mapping):
            problems.append((name, "", f"[agents.{name}] must be a table"))
            continue
        raw = merge(BUILTIN.get(name, {}), config_tables.get(name, {}), table)
        try:
            out[name] = parse_spec(name, raw)
        except SpecError as exc:
            problems.append((name, exc.key, str(exc)))
    return out, problems


def permission_warnings(
    tasks: Sequence[tuple[str, str, str | None]], specs: Mapping[str, AgentSpec]
) -> list[tuple[str, str, str]]:
    """(task, message, hint) for tasks (id, agent, permission_mode) whose agent cannot write
    files or commit under their permission_mode."""
    out = []
    for tid, agent, mode in tasks:
        spec = specs.get(agent)
        if spec is None or not spec.write_modes or mode in spec.write_modes:
            continue
        out.append(
            (
                tid,
                f"{agent} cannot write files or commit with permission_mode {mode or '(none)'}",
                f"set permission_mode = {spec.write_modes[0]!r} for it (see AGENTS in man git-po)",
            )
        )
    return out
