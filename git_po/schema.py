"""`git po schema`: a JSON Schema (draft 2020-12) of the plan format, built from the key lists
of plan.py, so editors with TOML schema support (taplo, Even Better TOML, JetBrains) complete
and check plan keys. The plan parser stays the authority: the schema cannot say everything it
checks (cycles, overlapping writes, prompt files that exist)."""

from __future__ import annotations

from typing import Any

from git_po import plan
from git_po.protocol import ID_PATTERN

SCHEMA_ID = "https://git-po.invalid/plan.schema.json"

_ID = {
    "type": "string",
    "pattern": f"^{ID_PATTERN}$",
    "maxLength": plan.MAX_ID_LENGTH,
    "not": {"pattern": r"(\.\.|\.lock$|\.$)"},
}
_DURATION = {
    "description": 'seconds (90), or hours, minutes and seconds: "90s", "45m", "1h30m"',
    "oneOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {
            "type": "string",
            "pattern": r"^\s*(\d+(\.\d+)?\s*h)?\s*(\d+(\.\d+)?\s*m)?\s*(\d+(\.\d+)?\s*s)?\s*$",
            "minLength": 1,
        },
    ],
}
_STRINGS = {"type": "array", "items": {"type": "string"}}


def _one_or_many(item: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [item, {"type": "array", "items": item}]}


# every key the parser knows, with its type and meaning; tests/test_init.py checks that this
# table and plan.py's key lists agree
KEYS: dict[str, dict[str, Any]] = {
    "name": {**_ID, "description": "plan name, used in refs and branches; default: file stem"},
    "base": {
        "type": "string",
        "minLength": 1,
        "description": "revision root tasks branch from; default HEAD",
    },
    "max_workers": {"type": "integer", "minimum": 1, "description": "most workers at once"},
    "agent": {
        **_ID,
        "examples": list(plan.AGENTS),
        "description": "agent profile (built in, or defined in [agents.NAME]); default claude",
    },
    "agents": {
        "type": "object",
        "description": "[agents.NAME] tables: agent profiles of your own (see man git-po, AGENTS)",
        "additionalProperties": {"type": "object"},
    },
    "verify": {"type": "string", "minLength": 1, "description": "command gating [COMPLETE]"},
    "integration_branch": {
        "type": "string",
        "minLength": 1,
        "description": "branch integrate merges into; default po/<plan>/integration",
    },
    "budget_usd": {
        "type": "number",
        "exclusiveMinimum": 0,
        "description": "claude --max-budget-usd (per task); at the top: for the whole plan",
    },
    "description": {"type": "string", "description": "free text for people"},
    "prompt": {"type": "string", "minLength": 1, "description": "what the task must do"},
    "prompt_file": {
        "type": "string",
        "minLength": 1,
        "description": "file holding the prompt, relative to the plan file",
    },
    "depends_on": {
        **_one_or_many(_ID),
        "description": "tasks that must be complete first",
    },
    "writes": {
        **_one_or_many({"type": "string", "minLength": 1}),
        "description": "path globs the task owns",
    },
    "writes_policy": {
        "enum": list(plan.WRITES_POLICIES),
        "description": "a worker's commit outside writes: refused (enforce) or warned (warn)",
    },
    "run": {"type": "string", "minLength": 1, "description": "the shell agent's command"},
    "model": {"type": "string", "minLength": 1, "description": "claude --model"},
    "permission_mode": {
        "enum": list(plan.PERMISSION_MODES),
        "description": "claude --permission-mode",
    },
    "allowed_tools": {**_STRINGS, "description": "claude --allowedTools"},
    "max_turns": {"type": "integer", "minimum": 1, "description": "claude --max-turns"},
    "timeout": {**_DURATION, "description": "longest time of one attempt"},
    "idle_timeout": {
        **_DURATION,
        "description": "longest time without output and without a new commit",
    },
    "retries": {"type": "integer", "minimum": 0, "description": "attempts after a failed one"},
}


def _props(keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: KEYS[k] for k in keys if k in KEYS}


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of a plan file (as TOML parses it)."""
    top = [k for k in plan.TOP_KEYS if k not in ("defaults", "tasks")]
    task = {
        "type": "object",
        "description": "one task",
        "properties": _props(plan.TASK_KEYS),
        "additionalProperties": False,
        "anyOf": [
            {"required": ["prompt"]},
            {"required": ["prompt_file"]},
            {"required": ["run"]},
        ],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "git po plan",
        "description": "A plan of tasks for git po start (see man git-po, THE PLAN).",
        "type": "object",
        "properties": {
            **_props(tuple(top)),
            "defaults": {
                "type": "object",
                "description": "options for every task that does not set them",
                "properties": _props(plan.DEFAULT_KEYS),
                "additionalProperties": False,
            },
            "tasks": {
                "type": "object",
                "description": "[tasks.<id>] tables",
                "minProperties": 1,
                "propertyNames": _ID,
                "additionalProperties": {"$ref": "#/$defs/task"},
            },
        },
        "required": ["tasks"],
        "additionalProperties": False,
        "$defs": {"task": task},
    }
