"""`git po diff TASK`: the task's change against its base, shown by git's own diff (so it pages,
colours and formats exactly as `git diff` does, with the user's diff and pager settings).

The base is the commit the task branched from (for a dependent task, the merge of its
dependencies' branches); the other end is the task's branch, or the tip its state recorded when
the branch was removed."""

from __future__ import annotations

from dataclasses import dataclass

from git_po.errors import NotFound
from git_po.lookup import TaskRef
from git_po.repo import Repo
from git_po.status import plan_status


@dataclass(frozen=True)
class DiffRange:
    base: str
    head: str


def diff_range(repo: Repo, ref: TaskRef) -> DiffRange:
    task = next((t for t in plan_status(repo, ref.plan).tasks if t.id == ref.task), None)
    if task is None or not task.base or not task.head:
        raise NotFound(
            f"task {ref} has no branch yet: it has not started",
            hint=f"git po status {ref.plan}",
        )
    return DiffRange(task.base, task.head)


def git_argv(repo: Repo, span: DiffRange, *, options: list[str]) -> list[str]:
    """The git command that shows it (options: --stat, --name-only, --color=WHEN, ...)."""
    return [
        "git",
        f"--git-dir={repo.common_dir}",
        "diff",
        *options,
        span.base,
        span.head,
        "--",
    ]
