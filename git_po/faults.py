"""Fault injection for the crash-recovery tests: with GIT_PO_FAULT=<point> in its environment,
the orchestrator kills itself with SIGKILL when it reaches that point, exactly as a closed
terminal, an OOM kill or a power cut would stop it. A no-op otherwise."""

from __future__ import annotations

import os
import signal

POINTS = (
    "after-plan-write",  # the plan ref is written, no task state yet
    "before-worktree",  # a task's branch exists, its worktree not yet
    "after-worktree",  # the worktree exists, no worker started
    "after-spawn",  # a worker was started, its state not yet recorded
    "mid-attempt",  # a worker has made its first commit and is still running
    "during-state-write",  # a state commit is written but its ref not yet moved
    "during-autosave",  # an auto-save commit exists but the branch has not moved
    "after-autosave",  # work is saved, the attempt not yet recorded
)


def point(name: str) -> None:
    want = os.environ.get("GIT_PO_FAULT")
    if want and want == name:
        os.kill(os.getpid(), signal.SIGKILL)
