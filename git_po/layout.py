"""Where git po keeps things: ref names, branch names and private files under the common git
dir. One place, so the README's ref layout and the code cannot drift apart."""

from __future__ import annotations

from pathlib import Path

PO_REFS = "refs/po/"


def plan_ref(plan: str) -> str:
    return f"refs/po/{plan}/plan"


def task_ref(plan: str, task: str) -> str:
    return f"refs/po/{plan}/tasks/{task}"


def base_ref(plan: str, task: str) -> str:
    return f"refs/po/{plan}/bases/{task}"


def wip_ref(plan: str, task: str) -> str:
    return f"refs/po/{plan}/wip/{task}"


def archive_prefix(plan: str, run: int) -> str:
    return f"refs/po/{plan}/runs/{run}/"


def branch(plan: str, task: str) -> str:
    """Short name of a task's branch."""
    return f"po/{plan}/{task}"


def branch_ref(plan: str, task: str) -> str:
    return f"refs/heads/{branch(plan, task)}"


def worktree_name(plan: str, task: str) -> str:
    """libgit2 worktree name: unique, no '/', and '+' never occurs in an id."""
    return f"po+{plan}+{task}"


def private_dir(common_dir: Path) -> Path:
    return common_dir / "po"


def plan_dir(common_dir: Path, plan: str) -> Path:
    return private_dir(common_dir) / "plans" / plan


def transcript_path(common_dir: Path, plan: str, task: str, attempt: int, suffix: str) -> Path:
    return plan_dir(common_dir, plan) / "transcripts" / task / f"attempt-{attempt}{suffix}"


def default_worktree_root(common_dir: Path) -> Path:
    return private_dir(common_dir) / "worktrees"


def worktree_path(root: Path, plan: str, task: str) -> Path:
    return root / plan / task


def hooks_dir(common_dir: Path) -> Path:
    return private_dir(common_dir) / "hooks"


MARKER_FILE = "po-task"  # in a worker worktree's own git dir: "<plan>/<task>"
ORIG_HOOKS_FILE = "po-orig-hooks-dir"  # beside the installed hook: the user's hooks dir
