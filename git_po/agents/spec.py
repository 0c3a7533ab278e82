"""Agent profiles as data: a command line with placeholders, an output format with field paths,
a resume form, an attach form and the error texts that tell an attempt's class.

A profile comes from the built-ins (git_po/agents/builtin.py, written in this same form), from
`po.agent.NAME.*` git config, and from an `[agents.NAME]` table in the plan; later sources win
key by key. Everything here is pure: parsing, validation and expansion of command templates.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# what a template may name; {permission} expands to the words mapped from permission_mode
PLACEHOLDERS = ("prompt", "model", "session", "max_turns", "permission", "gitdir", "commondir")
FORMATS = ("text", "jsonl")
FIELDS = (
    "session_id",
    "cost",
    "input_tokens",
    "output_tokens",
    "result",
    "error",
    "text",
)
ERROR_CLASSES = ("rate_limit", "overloaded", "auth")
# the keys of an [agents.NAME] table
KEYS = (
    "command",
    "resume",
    "attach",
    "executable",
    "format",
    "permission",
    "errors",
    "about",
    "write_modes",
    *FIELDS,
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# ids an agent reports for its session: what may be put back on its command line
SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


@dataclass(frozen=True)
class AgentSpec:
    name: str
    command: tuple[str, ...]
    resume: tuple[str, ...] = ()  # empty: a later attempt starts afresh (the branch remembers)
    attach: tuple[str, ...] = ()  # empty: `git po attach` cannot resume it interactively
    executable: str | None = None  # default: the first word of command, looked up on PATH
    format: str = "text"
    # field paths into jsonl events: "a.b" (any event with that field) or "TYPE:a.b" (events
    # whose "type" is TYPE); a leading "+" sums the values over all events instead of the last
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    permission: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)  # class -> regex on error text
    about: str = ""  # which settings let the worker write files and commit
    # the permission_modes under which the worker can write and commit (empty: any)
    write_modes: tuple[str, ...] = ()

    @property
    def program(self) -> str:
        return self.executable or self.command[0]


class SpecError(ValueError):
    """A profile that cannot be used: (key, message)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _words(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise SpecError(key, f"{key} cannot be split into words: {exc}") from None
    elif isinstance(value, list) and all(isinstance(w, str) for w in value):
        words = list(value)
    else:
        raise SpecError(key, f"{key} must be a list of strings (or one string of words)")
    for w in words:
        for name in _PLACEHOLDER.findall(w):
            if name not in PLACEHOLDERS:
                raise SpecError(
                    key,
                    f"{key} names an unknown placeholder {{{name}}}",
                )
    return tuple(words)


def _paths(value: object, key: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
        raise SpecError(key, f"{key} must be a field path or a list of them")
    return tuple(items)


def parse_spec(name: str, raw: Mapping[str, Any]) -> AgentSpec:
    """One profile from its table (keys as in KEYS); SpecError on the first problem."""
    for key in raw:
        if key not in KEYS:
            raise SpecError(key, f"unknown key {key!r} in [agents.{name}]")
    if "command" not in raw:
        raise SpecError("command", f"agent {name!r} has no command")
    command = _words(raw["command"], "command")
    if not command or "{" in command[0]:
        raise SpecError("command", "command must start with the program to run")
    resume = _words(raw.get("resume", []), "resume")
    attach = _words(raw.get("attach", []), "attach")
    for key, words in (("resume", resume), ("attach", attach)):
        if words and not any("{session}" in w for w in words):
            raise SpecError(key, f"{key} must name {{session}}")
    executable = raw.get("executable")
    if executable is not None and (not isinstance(executable, str) or not executable.strip()):
        raise SpecError("executable", "executable must be a path or a program name")
    fmt = raw.get("format", "text")
    if fmt not in FORMATS:
        raise SpecError("format", f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    fields = {k: _paths(raw[k], k) for k in FIELDS if k in raw}
    perm_raw = raw.get("permission", {})
    if not isinstance(perm_raw, Mapping):
        raise SpecError("permission", "permission must be a table: MODE = [words]")
    permission = {str(k): _words(v, f"permission.{k}") for k, v in perm_raw.items()}
    err_raw = raw.get("errors", {})
    if not isinstance(err_raw, Mapping):
        raise SpecError("errors", "errors must be a table: CLASS = regex")
    errors: dict[str, str] = {}
    for k, v in err_raw.items():
        if k not in ERROR_CLASSES:
            raise SpecError("errors", f"errors.{k} is not one of {', '.join(ERROR_CLASSES)}")
        if not isinstance(v, str):
            raise SpecError("errors", f"errors.{k} must be a regular expression")
        try:
            re.compile(v)
        except re.error as exc:
            raise SpecError("errors", f"errors.{k} is not a regular expression: {exc}") from None
        errors[k] = v
    about = raw.get("about", "")
    write_modes = _words(raw.get("write_modes", []), "write_modes")
    return AgentSpec(
        name=name,
        command=command,
        resume=resume,
        attach=attach,
        executable=executable,
        format=fmt,
        fields=fields,
        permission=permission,
        errors=errors,
        about=about if isinstance(about, str) else "",
        write_modes=write_modes,
    )


def merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Tables merged key by key, later layers winning (permission and errors entry by entry)."""
    out: dict[str, Any] = {}
    for layer in layers:
        for k, v in layer.items():
            if k in ("permission", "errors") and isinstance(v, Mapping):
                out[k] = {**out.get(k, {}), **v}
            else:
                out[k] = v
    return out


# git config variable names allow no underscores: po.agent.NAME.session-id or sessionId
_CONFIG_KEYS = {k.replace("_", ""): k for k in KEYS}


def from_git_config(items: Sequence[tuple[str, str]]) -> dict[str, dict[str, Any]]:
    """`po.agent.NAME.KEY = value` entries as tables by NAME. Word lists are one string split
    like a shell would; `permission-MODE` and `errors-CLASS` fill those tables."""
    out: dict[str, dict[str, Any]] = {}
    for full, value in items:
        rest = full[len("po.agent.") :]
        name, _, key = rest.rpartition(".")
        if not name:
            continue
        table = out.setdefault(name, {})
        low = key.lower().replace("-", "").replace("_", "")
        if low.startswith("permission") and low != "permission":
            mode = key.split("-", 1)[1] if "-" in key else key[len("permission") :]
            table.setdefault("permission", {})[_permission_mode(mode)] = value
        elif low.startswith("errors") and low != "errors":
            cls = key.split("-", 1)[1] if "-" in key else key[len("errors") :]
            table.setdefault("errors", {})[cls.replace("-", "_").lower()] = value
        else:
            table[_CONFIG_KEYS.get(low, key)] = value
    return out


def _permission_mode(mode: str) -> str:
    from git_po.plan import PERMISSION_MODES

    for m in PERMISSION_MODES:
        if m.lower() == mode.lower():
            return m
    return mode


# --- expansion ---------------------------------------------------------------------------


class ArgumentRefused(ValueError):
    """A value that would land on the command line as an option."""


def expand(
    template: Sequence[str], values: Mapping[str, str | None], permission: Sequence[str]
) -> list[str]:
    """The argv of a template. A word that names a placeholder without a value is left out,
    with the option word right before it (`--model {model}` goes away when no model is set);
    the word `{permission}` becomes the words mapped from the task's permission_mode.
    A value other than the prompt that starts with '-' is refused (ArgumentRefused)."""
    out: list[str] = []
    literal_option_at: int | None = None  # index in out of the last literal option word
    for word in template:
        if word == "{permission}":
            out.extend(permission)
            literal_option_at = None
            continue
        names = _PLACEHOLDER.findall(word)
        if any(values.get(n) is None for n in names):
            if literal_option_at is not None and literal_option_at == len(out) - 1:
                out.pop()
            literal_option_at = None
            continue
        text = word
        for n in names:
            value = values[n]
            assert value is not None
            if n != "prompt" and value.startswith("-"):
                raise ArgumentRefused(f"{n} {value!r} looks like an option")
            text = text.replace("{" + n + "}", value)
        out.append(text)
        literal_option_at = len(out) - 1 if not names and word.startswith("-") else None
    return out
