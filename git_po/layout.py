"""Where git po keeps things: ref names, branch names and private files under the common git
dir. One place, so the README's ref layout and the code cannot drift apart."""

from __future__ import annotations

import hashlib
import re
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


def legacy_worktree_root(common_dir: Path) -> Path:
    """Where worktrees went before 0.2: under the git dir, where Claude Code refuses every file
    edit (a `.git` path component is "sensitive"). Still recognised as git po's own."""
    return private_dir(common_dir) / "worktrees"


def repository_key(common_dir: Path, workdir: Path | None) -> str:
    """A folder name for a repository in a per-user directory: readable (the working tree's
    name) and unique per clone (a hash of the common dir's real path)."""
    real = str(common_dir.resolve())
    digest = hashlib.sha256(real.encode()).hexdigest()[:10]
    stem = (workdir.name if workdir is not None else common_dir.name) or "repo"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-")[:40] or "repo"
    return f"{stem}-{digest}"


def default_worktree_root(data_dir: Path, common_dir: Path, workdir: Path | None) -> Path:
    """Task worktrees by default: a per-user data directory keyed by the repository, outside
    every `.git` directory and outside the user's working tree."""
    return data_dir / "worktrees" / repository_key(common_dir, workdir)


# a file in a repository's worktree root that names the repository it belongs to
ROOT_OWNER_FILE = "repository"


def sensitive_component(path: Path) -> str | None:
    """The path component that makes Claude Code refuse file edits under path, if any."""
    for part in path.parts:
        if part in (".git", ".claude"):
            return part
    return None


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
