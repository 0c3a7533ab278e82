"""Settings from git config (`po.<camelCase>`), below command-line options and the plan."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from git_po import layout
from git_po.agents.spec import from_git_config
from git_po.errors import PoError, UsageError
from git_po.plan import AGENT_TABLES, AGENTS, PERMISSION_MODES, parse_duration
from git_po.repo import Repo

KEYS = {
    "po.maxWorkers": "most workers running at once (plan max_workers and --max-workers win)",
    "po.claudePath": "the claude executable (--claude wins); default: claude on PATH",
    "po.worktreeDir": "where task worktrees go; default: a per-user data directory "
    "(~/.local/share/git-po/worktrees/<repo>-<hash>)",
    "po.stopGrace": "seconds between SIGTERM and SIGKILL when stopping a worker; default 10",
    "po.agent": "agent for tasks whose plan names none (claude, shell, codex, gemini, aider, "
    "opencode, or one of po.agent.NAME.*)",
    "po.model": "claude --model for tasks whose plan sets none",
    "po.permissionMode": "claude --permission-mode for tasks whose plan sets none",
    "po.timeout": "whole-attempt timeout for tasks whose plan sets none",
    "po.idleTimeout": "idle timeout for tasks whose plan sets none",
    "po.retries": "retries for tasks whose plan sets none",
    "po.budgetUsd": "claude --max-budget-usd for tasks whose plan sets none",
    "po.maxTurns": "claude --max-turns for tasks whose plan sets none",
    "po.integrationBranch": "branch integrate merges into; default po/<plan>/integration",
    "po.retryDelay": "delay before the first retry of an attempt (then doubling); default 10s",
    "po.cooldown": "pause of new launches plan-wide after a 429 or 529; default 60s",
    "po.notifyCommand": "shell command run with each run event (task blocked or failed, run "
    "ended) as JSON on its standard input",
    "po.notifyTerminal": "false: no OSC 9 notification and bell in the live view; default true",
    "po.lease": "git po work: how long a claim holds without renewal before another machine "
    "may take the task over; default 60s",
    "po.fetchInterval": "git po work: seconds between fetches of the others' progress; "
    "default a sixth of po.lease, at most 5s",
}


# [defaults] keys a user may set once in git config; the plan's own values win over them
PLAN_FALLBACKS = {
    "agent": "po.agent",
    "model": "po.model",
    "permission_mode": "po.permissionMode",
    "timeout": "po.timeout",
    "idle_timeout": "po.idleTimeout",
    "retries": "po.retries",
    "budget_usd": "po.budgetUsd",
    "max_turns": "po.maxTurns",
}
_NUMERIC = {"retries": int, "max_turns": int, "budget_usd": float}


def plan_fallbacks(repo: Repo) -> dict[str, object]:
    """[defaults] values from git config, typed and checked as a plan's would be; a bad value
    is reported against its git config key (exit 2), not against the plan file."""
    out: dict[str, object] = {}
    tables = agent_tables(repo)
    if tables:
        out[AGENT_TABLES] = tables
    for key, cfg in PLAN_FALLBACKS.items():
        raw = repo.config(cfg)
        if raw is None:
            continue
        value = raw.strip()
        conv = _NUMERIC.get(key)
        problem: str | None = None
        if key in ("timeout", "idle_timeout"):
            seconds = parse_duration(value)
            if seconds is None:
                problem = 'is not a duration (seconds, or e.g. "90s", "45m", "1h30m")'
            out[key] = seconds
        elif conv is not None:
            try:
                number = conv(value)
            except ValueError:
                number = -1
            minimum = 0 if key == "retries" else (1 if key == "max_turns" else 0)
            if number < minimum or (key == "budget_usd" and not 0 < number < float("inf")):
                problem = "is not a " + (
                    "positive number" if key == "budget_usd" else f"whole number >= {minimum}"
                )
            out[key] = number
        elif key == "permission_mode" and value not in PERMISSION_MODES:
            problem = f"is not one of {', '.join(PERMISSION_MODES)}"
        elif key == "agent" and value not in (*AGENTS, *tables):
            problem = f"is not one of {', '.join((*AGENTS, *tables))}"
        elif key == "model" and (not value or value.startswith("-")):
            problem = "is not a model name"
        else:
            out[key] = value
        if problem:
            raise UsageError(
                f"git config {cfg} = {raw!r} {problem}",
                hint=f"fix it with: git config {cfg} <value>, or git config --unset {cfg}",
            )
    return out


def agent_tables(repo: Repo) -> dict[str, dict[str, Any]]:
    """Profiles of the user's own (and changes to built-in ones): po.agent.NAME.KEY."""
    return from_git_config(list(repo.config_items("po.agent.")))


def integration_branch(repo: Repo) -> str | None:
    return repo.config("po.integrationBranch")


def _int(repo: Repo, key: str, minimum: int) -> int | None:
    raw = repo.config(key)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"git config {key} = {raw!r} is not a whole number") from None
    if value < minimum:
        raise UsageError(f"git config {key} must be >= {minimum}, not {value}")
    return value


def max_workers(repo: Repo) -> int | None:
    return _int(repo, "po.maxWorkers", 1)


def claude_path(repo: Repo) -> str | None:
    return repo.config("po.claudePath")


def stop_grace(repo: Repo) -> float:
    raw = repo.config("po.stopGrace")
    if raw is None:
        return 10.0
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"git config po.stopGrace = {raw!r} is not a number") from None
    return max(0.0, value)


def seconds(repo: Repo, key: str, default: float) -> float:
    """A duration setting (seconds, or "90s", "5m"); default when unset."""
    raw = repo.config(key)
    if raw is None:
        return default
    try:
        number = float(raw)
    except ValueError:
        number = -1.0
    if number >= 0:
        return number
    value = parse_duration(raw.strip())
    if value is None:
        raise UsageError(f"git config {key} = {raw!r} is not a duration", hint='e.g. "30s"')
    return value


def data_dir() -> Path:
    """git po's per-user data directory ($XDG_DATA_HOME/git-po, ~/Library/Application
    Support/git-po on macOS)."""
    return platformdirs.user_data_path("git-po", appauthor=False)


def worktree_root(repo: Repo) -> Path:
    """Where task worktrees go: po.worktreeDir, else a per-user data directory keyed by the
    repository (never under .git, where Claude Code refuses every edit, nor in your tree)."""
    raw = repo.config("po.worktreeDir")
    if not raw:
        try:
            workdir: Path | None = repo.main_workdir()
        except PoError:
            workdir = None
        return layout.default_worktree_root(data_dir(), repo.common_dir, workdir)
    p = Path(os.path.expanduser(raw))
    if not p.is_absolute():
        p = repo.main_workdir() / p
    return p


def worktree_roots(repo: Repo) -> tuple[Path, ...]:
    """Every root whose worktrees are git po's: the current one and the pre-0.2 location."""
    roots = [worktree_root(repo), layout.legacy_worktree_root(repo.common_dir)]
    return tuple(dict.fromkeys(r.resolve() for r in roots))


# --- listing: `git po config` ---------------------------------------------------------------

# what applies when neither the command line, the plan nor git config says anything
DEFAULTS = {
    "po.maxWorkers": "3",
    "po.claudePath": "claude (on PATH)",
    "po.worktreeDir": "~/.local/share/git-po/worktrees/<repo>-<hash>",
    "po.stopGrace": "10",
    "po.agent": "claude",
    "po.model": "(claude's own default)",
    "po.permissionMode": "(claude's own default)",
    "po.timeout": "(none)",
    "po.idleTimeout": "(none)",
    "po.retries": "0",
    "po.budgetUsd": "(none)",
    "po.maxTurns": "(none)",
    "po.integrationBranch": "po/<plan>/integration",
    "po.lease": "60s",
    "po.fetchInterval": "5s",
}


@dataclass(frozen=True)
class Setting:
    key: str
    value: str  # effective value (the default when nothing is set)
    origin: str  # git config scope (system, global, local, worktree) or "default"
    default: str
    description: str

    def to_json(self) -> dict[str, str | None]:
        machine_default = None if _is_prose(self.default) else self.default
        return {
            "key": self.key,
            "value": machine_default if self.origin == "default" else self.value,
            "origin": self.origin,
            "default": machine_default,
            "default_text": self.default,
            "description": self.description,
        }


def _is_prose(default: str) -> bool:
    """A default that says what happens ("claude (on PATH)", "(none)") rather than a value."""
    return "(" in default or "<" in default


def _default_in(description: str) -> str:
    """The default a key's description states ("...; default 10s"), else "(none)"."""
    _, sep, rest = description.rpartition("default")
    return rest.strip(" :") or "(none)" if sep else "(none)"


def settings(repo: Repo) -> list[Setting]:
    """Every po.* setting with its effective value in git config and where it came from.

    The command line and the plan win over these; they are not known here."""
    out: list[Setting] = []
    for key, description in KEYS.items():
        default = DEFAULTS.get(key) or _default_in(description)
        found = repo.config_origin(key)
        if found is None:
            out.append(Setting(key, default, "default", default, description))
        else:
            out.append(Setting(key, found[0], found[1], default, description))
    return out
