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


# --- integration (git po integrate / clean) --------------------------------------------------
#
# Task ids never contain "+" (and "integration" is a reserved id), so the helper branches and
# worktrees below can never be mistaken for a task's, and each is a single path component
# beside the task branches: no ref is ever both a file and a directory (po/<plan>/integration
# is a branch, so nothing may live under po/<plan>/integration/).

VERIFY_NOTES_REF = "refs/notes/po-verify"  # verify results, TOML; apart from refs/notes/po


def integration_branch(plan: str) -> str:
    """Short name of a plan's default integration branch."""
    return f"po/{plan}/integration"


def resolve_branch(plan: str, task: str) -> str:
    """Short name of the branch on which a conflicted merge of a task is resolved."""
    return f"po/{plan}/resolve+{task}"


def resolve_worktree_name(plan: str, task: str) -> str:
    return f"po+{plan}+resolve+{task}"


def resolve_worktree_path(root: Path, plan: str, task: str) -> Path:
    return root / plan / f"resolve+{task}"


def verify_branch(plan: str, label: str) -> str:
    """Short name of the temporary branch of a temporary verify worktree."""
    return f"po/{plan}/verify+{label}"


def verify_worktree_name(plan: str, label: str) -> str:
    return f"po+{plan}+verify+{label}"


def verify_worktree_path(root: Path, plan: str, label: str) -> Path:
    return root / plan / f"verify+{label}"


def radar_cache(common_dir: Path, plan: str) -> Path:
    return plan_dir(common_dir, plan) / "radar-cache.json"


def integrate_lock(common_dir: Path, plan: str) -> Path:
    return plan_dir(common_dir, plan) / "integrate.lock"
