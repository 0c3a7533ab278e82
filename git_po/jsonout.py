"""The one JSON vocabulary of git po's `--json` outputs (status, show, report, config, doctor,
plan draft), each described by a JSON Schema in git_po/schemas/.

The rules: every object starts with `schema_version`; a plan is `plan` and a task id `task`
(`number` for the object's own number: a run's, an attempt's); a count is `<things>_count` and
a list `<things>`; times are `<what>_at` (ISO 8601, UTC), durations `<what>_s` (seconds);
values are for machines (null when there is none), with a separate `<field>_text` where a person
needs words."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMA_VERSION = 2

# every output and its schema file (git_po/schemas/<name>.json)
OUTPUTS = (
    "status",
    "status-plans",
    "show",
    "report",
    "config",
    "doctor",
    "plan-draft",
    "logs",
    "sessions",
)


def schema(name: str) -> dict[str, Any]:
    """The JSON Schema of an output, as shipped in the package."""
    text = resources.files("git_po.schemas").joinpath(f"{name}.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def process(text: str | None) -> dict[str, Any] | None:
    """ "pid N [on HOST] since TIME ..." (the lock and attach files) -> {"pid", "host",
    "started_at"}; None for nothing or something else."""
    if not text:
        return None
    words = text.split()
    out: dict[str, Any] = {"pid": None, "host": None, "started_at": None}
    for i, word in enumerate(words[:-1]):
        following = words[i + 1]
        if word == "pid" and following.isdigit():
            out["pid"] = int(following)
        elif word == "on":
            out["host"] = following
        elif word == "since":
            out["started_at"] = following
    return out if out["pid"] is not None else None


_ATTEMPT_RENAMES = {"num_turns": "turn_count", "permission_denials": "refused_count"}
ATTEMPT_FIELDS = (
    "number",
    "agent",
    "started_at",
    "ended_at",
    "duration_s",
    "head_before",
    "head_after",
    "transcript",
    "pid",
    "exit_code",
    "signal",
    "outcome",
    "reason",
    "is_error",
    "api_error_status",
    "result_subtype",
    "session_id",
    "resumed_session",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "turn_count",
    "refused_count",
    "refused_calls",
    "verify_s",
    "saved",
    "adopted",
)


def attempt(recorded: dict[str, Any]) -> dict[str, Any]:
    """An attempt as state.toml records it, in the vocabulary: every field present (null when
    unknown), counts named as counts, the refused calls as `refused_calls`."""
    out: dict[str, Any] = dict.fromkeys(ATTEMPT_FIELDS)
    for key, value in recorded.items():
        if key == "refused":
            out["refused_calls"] = list(value or [])
        elif _ATTEMPT_RENAMES.get(key, key) in out:
            out[_ATTEMPT_RENAMES.get(key, key)] = value
    if out["refused_calls"] is None:
        out["refused_calls"] = []
    return out
