"""The kickoff prompt a worker starts with."""

from __future__ import annotations

from git_po.plan import Plan, Task
from git_po.protocol import FORMS


def kickoff(plan: Plan, task: Task, branch: str, dependencies: list[tuple[str, str]]) -> str:
    """dependencies: (task id, its [COMPLETE] subject) for every task this one depends on."""
    parts = [
        f"You are a git po worker: task `{task.id}` of plan `{plan.name}`, working in your own "
        f"git worktree on branch `{branch}`. Other workers run in parallel on other tasks.",
        "",
        "## Your task",
        "",
        task.prompt.strip(),
        "",
    ]
    if task.writes:
        parts += [
            "## Files you own",
            "",
            "Other tasks own other files. Change files outside this list only when the task "
            "cannot be done otherwise, and say so in a commit message:",
            "",
            *[f"- `{w}`" for w in task.writes],
            "",
        ]
    if dependencies:
        parts += [
            "## What your dependencies completed",
            "",
            "Your branch starts from the merge of their work, so their files are already here:",
            "",
            *[f"- `{tid}`: {subject}" for tid, subject in dependencies],
            "",
        ]
    parts += [
        "## How to report progress (required)",
        "",
        "You report progress only by committing on your branch with git. Every commit subject "
        "must start with one of these prefixes (a hook rejects any other commit):",
        "",
        *[f"    {f}" for f in FORMS],
        "",
        '- Commit with `git add -A && git commit -m "[CHECKPOINT] <what you did>"` after each '
        "meaningful step, so no work is lost.",
        "- When all of the task is done and committed, make your last commit "
        "`[COMPLETE] <summary>` and stop.",
        "- If you cannot go on without an answer from a person, commit "
        "`[BLOCKED:<reason>] <summary>` and stop.",
        "- If you need something another task produces, commit "
        "`[NEEDS:<task>/<item>] <summary>` and stop.",
        "- Do not push, switch branches, rebase or rewrite history. Stay in this worktree.",
        "- Exiting without a [COMPLETE], [BLOCKED:...] or [NEEDS:...] commit means the task is "
        "not done, whatever you say in your reply.",
    ]
    return "\n".join(parts) + "\n"


def continuation(
    plan: Plan,
    task: Task,
    branch: str,
    *,
    attempt: int,
    why: str,
    done: list[str],
    message: str | None,
) -> str:
    """The prompt of a later attempt: why it runs, what the branch already holds, what to do."""
    parts = [
        f"You are resuming git po task `{task.id}` of plan `{plan.name}` on branch `{branch}` "
        f"(attempt {attempt}), in the same worktree.",
        "",
        f"Why: {why}",
        "",
    ]
    if message:
        parts += [message.strip(), ""]
    if done:
        parts += [
            "Already on your branch (protocol commits, oldest first):",
            "",
            *[f"- {s}" for s in done],
            "",
        ]
    else:
        parts += ["Nothing has been committed on your branch yet.", ""]
    parts += [
        "Look at the branch (`git log --oneline`, `git status`) before you go on. Uncommitted "
        "work of an earlier attempt was committed for you as an auto-saved [CHECKPOINT].",
        "",
        "## Your task",
        "",
        task.prompt.strip(),
        "",
        "## Protocol (reminder)",
        "",
        *[f"    {f}" for f in FORMS],
        "",
        "Finish what remains, commit it, and make your last commit `[COMPLETE] <summary>`; "
        "or commit `[BLOCKED:<reason>] ...` / `[NEEDS:<task>/<item>] ...` and stop.",
    ]
    return "\n".join(parts) + "\n"
