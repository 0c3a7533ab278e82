"""File ownership, enforced where a worker commits.

A task's `writes` (path globs; a pattern also covers what lies under it) are the files it owns.
When a task has writes, its worktree's own git dir gets a `po-writes` file that git po's commit
hook reads: a commit that changes (adds, modifies, deletes or renames) a file outside those
globs is refused with a message naming each such file and the task that owns it, so the agent
can put it back and commit again; with `writes_policy = "warn"` the commit goes through with the
same message as a warning. Merge commits are not checked (their changes come from other
branches). The hook matches with git's own `:(glob)` pathspecs, so it agrees with git on what a
glob means.

The file, one entry a line (patterns last: they may hold spaces):

    policy enforce|warn
    own <pattern>            one per glob of this task
    task <id> <pattern>      one per glob of every other task that has writes
"""

from __future__ import annotations

from pathlib import Path

from git_po.plan import Plan, Task

WRITES_FILE = "po-writes"


def writes_file(plan: Plan, task: Task) -> str | None:
    """The po-writes text for task (None: it owns no files, so nothing is checked)."""
    if not task.writes:
        return None
    lines = [f"policy {task.writes_policy}"]
    lines += [f"own {w}" for w in task.writes]
    for other in plan.tasks:
        if other.id != task.id:
            lines += [f"task {other.id} {w}" for w in other.writes]
    return "\n".join(lines) + "\n"


def mark(gitdir: Path, plan: Plan, task: Task) -> None:
    """Write (or remove) the worktree's po-writes file."""
    path = gitdir / WRITES_FILE
    text = writes_file(plan, task)
    if text is None:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(WRITES_FILE + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
