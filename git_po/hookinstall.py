"""The protocol hook for worker worktrees.

Workers get `core.hooksPath=<common>/po/hooks` through their environment (GIT_CONFIG_COUNT), so
the user's repository configuration is never changed. That directory holds git po's commit-msg
hook, which checks the protocol only in worktrees marked as git po's and then chains to the
user's own commit-msg hook, plus a pass-through shim for every other hook the user has, so their
pre-commit and friends keep running for workers too.
"""

from __future__ import annotations

import os
import shutil
import stat
from importlib import resources
from pathlib import Path

from git_po import gitenv, layout, ownership
from git_po.plan import Plan, Task
from git_po.repo import Repo

_SHIM = """#!/bin/sh
# git po pass-through: runs the repository's own hook of the same name
orig=$(cat "${0%/*}/po-orig-hooks-dir" 2>/dev/null) || exit 0
name=${0##*/}
[ -n "$orig" ] && [ -x "$orig/$name" ] && exec "$orig/$name" "$@"
exit 0
"""


def hook_source() -> bytes:
    """The commit-msg hook shipped with git po (hooks/commit-msg in the source tree)."""
    packaged = resources.files("git_po").joinpath("_hooks/commit-msg")
    if packaged.is_file():
        return packaged.read_bytes()
    return (Path(__file__).resolve().parent.parent / "hooks" / "commit-msg").read_bytes()


def install(repo: Repo) -> Path:
    """Write (or refresh) the worker hooks directory; return it."""
    target = layout.hooks_dir(repo.common_dir)
    target.mkdir(parents=True, exist_ok=True)
    orig = repo.hooks_dir()
    if orig.resolve() == target.resolve():
        orig = repo.common_dir / "hooks"
    _write(target / layout.ORIG_HOOKS_FILE, (str(orig) + "\n").encode(), executable=False)
    _write(target / "commit-msg", hook_source(), executable=True)
    wanted = {"commit-msg", layout.ORIG_HOOKS_FILE}
    if orig.is_dir():
        for entry in orig.iterdir():
            name = entry.name
            if name.endswith(".sample") or name == "commit-msg" or not entry.is_file():
                continue
            if not os.access(entry, os.X_OK):
                continue
            _write(target / name, _SHIM.encode(), executable=True)
            wanted.add(name)
    for stale in target.iterdir():
        if stale.name not in wanted and stale.is_file():
            stale.unlink()
    return target


def _write(path: Path, data: bytes, *, executable: bool) -> None:
    if not (path.exists() and path.read_bytes() == data):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    mode = path.stat().st_mode
    if executable:
        path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def worker_git_env(hooks: Path) -> dict[str, str]:
    """Environment that points git at the worker hooks, keeping any GIT_CONFIG_* the user set."""
    try:
        count = int(os.environ.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    env = {
        "GIT_CONFIG_COUNT": str(count + 1),
        f"GIT_CONFIG_KEY_{count}": "core.hooksPath",
        f"GIT_CONFIG_VALUE_{count}": str(hooks),
    }
    if os.environ.get(gitenv.PARAMETERS):
        # git reads GIT_CONFIG_PARAMETERS (`git -c`) after GIT_CONFIG_COUNT: a `git -c
        # core.hooksPath=…` given to git po must not take the worker hooks away
        env[gitenv.PARAMETERS] = gitenv.append_parameter(os.environ, "core.hooksPath", str(hooks))
    return env


def mark_worktree(repo: Repo, worktree_name: str, plan: Plan, task: Task) -> None:
    """Mark a worker's worktree as git po's (the protocol check applies) and tell the commit
    hook which files the task owns (git_po.ownership)."""
    gitdir = repo.worktree_gitdir(worktree_name)
    (gitdir / layout.MARKER_FILE).write_text(f"{plan.name}/{task.id}\n")
    ownership.mark(gitdir, plan, task)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path)
