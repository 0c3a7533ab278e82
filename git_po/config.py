"""Settings from git config (`po.<camelCase>`), below command-line options and the plan."""

from __future__ import annotations

import os
from pathlib import Path

from git_po import layout
from git_po.errors import UsageError
from git_po.repo import Repo

KEYS = {
    "po.maxWorkers": "most workers running at once (plan max_workers and --max-workers win)",
    "po.claudePath": "the claude executable (--claude wins); default: claude on PATH",
    "po.worktreeDir": "where task worktrees go; default: <git common dir>/po/worktrees",
    "po.stopGrace": "seconds between SIGTERM and SIGKILL when stopping a worker; default 10",
    "po.agent": "agent for tasks whose plan names none (claude, shell)",
    "po.model": "claude --model for tasks whose plan sets none",
    "po.permissionMode": "claude --permission-mode for tasks whose plan sets none",
    "po.timeout": "whole-attempt timeout for tasks whose plan sets none",
    "po.idleTimeout": "idle timeout for tasks whose plan sets none",
    "po.retries": "retries for tasks whose plan sets none",
    "po.budgetUsd": "claude --max-budget-usd for tasks whose plan sets none",
    "po.maxTurns": "claude --max-turns for tasks whose plan sets none",
    "po.integrationBranch": "branch integrate merges into; default po/<plan>/integration",
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
    """[defaults] values from git config, typed as a plan would write them.

    A value that does not convert is passed on as text, so plan validation reports it."""
    out: dict[str, object] = {}
    for key, cfg in PLAN_FALLBACKS.items():
        raw = repo.config(cfg)
        if raw is None:
            continue
        conv = _NUMERIC.get(key)
        if conv is not None:
            try:
                out[key] = conv(raw)
            except ValueError:
                out[key] = raw
        else:
            out[key] = raw
    return out


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


def worktree_root(repo: Repo) -> Path:
    raw = repo.config("po.worktreeDir")
    if not raw:
        return layout.default_worktree_root(repo.common_dir)
    p = Path(os.path.expanduser(raw))
    if not p.is_absolute():
        p = repo.main_workdir() / p
    return p
