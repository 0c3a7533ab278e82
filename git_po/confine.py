"""State is data, never authority: paths read from refs are kept only when they lie where git
po itself puts such things for that plan and task.

A task's `state.toml` travels by fetch, so the paths in it — the worktree a worker ran in,
each attempt's transcript — may name anything on this machine (a home directory, an ssh
key). git po snapshots, stops processes in, removes, masks and reads those paths, so a state
that names anything else is reported and the path ignored: the worktree is forgotten (git po
makes the task's own one again), a transcript is taken to be where this clone would have
written it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from git_po import layout

if TYPE_CHECKING:
    from git_po.state import TaskState

TRANSCRIPT_SUFFIXES = (".jsonl", ".log")
_SESSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def session_id_ok(value: str) -> bool:
    """Whether a session id read from a state ref looks like one (a UUID, an agent's own id),
    never like an option or anything with a space: it goes on an agent's command line."""
    return bool(_SESSION.fullmatch(value))


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


class Confinement:
    """Where the paths of a plan's task states may point on this machine."""

    def __init__(
        self,
        common_dir: Path,
        worktree_root: Path,
        registered: Callable[[str], Path | None] = lambda _name: None,
    ) -> None:
        self.common_dir = common_dir
        self.roots = (worktree_root, layout.legacy_worktree_root(common_dir))
        # libgit2 worktree name -> its directory, for worktrees this repository registered
        self.registered = registered

    def worktree(self, plan: str, task: str, recorded: str) -> Path | None:
        """recorded, if it is the task's own worktree: where git po puts it (under the
        worktree root of this clone, or the old root under the git dir), or the directory this
        repository registered for the task's worktree; else None."""
        if not recorded or "\x00" in recorded or not Path(recorded).is_absolute():
            return None
        real = _real(Path(recorded))
        for root in self.roots:
            if real == _real(layout.worktree_path(root, plan, task)):
                return Path(recorded)
        mine = self.registered(layout.worktree_name(plan, task))
        if mine is not None and real == _real(mine):
            return Path(recorded)
        return None

    def transcript(self, plan: str, task: str, number: int, recorded: str) -> str:
        """recorded, if it lies under this plan's transcripts of task; else the path this
        clone writes that attempt's transcript to."""
        folder = _real(layout.plan_dir(self.common_dir, plan) / "transcripts" / task)
        if recorded and "\x00" not in recorded and Path(recorded).is_absolute():
            real = _real(Path(recorded))
            if real.parent == folder and real.suffix in TRANSCRIPT_SUFFIXES:
                return recorded
        suffix = next((s for s in TRANSCRIPT_SUFFIXES if recorded.endswith(s)), ".jsonl")
        return str(layout.transcript_path(self.common_dir, plan, task, number, suffix))


def sanitize(state: TaskState, confinement: Confinement) -> tuple[TaskState, list[str]]:
    """A TaskState with every path outside git po's own places dropped (worktree) or put back
    where this clone keeps it (transcripts), and what was ignored, in words."""
    notes: list[str] = []
    st = state
    if st.worktree is not None and confinement.worktree(st.plan, st.task, st.worktree) is None:
        notes.append(
            f"{st.plan}/{st.task}: its state names {st.worktree!r} as its worktree, which is not "
            "where git po keeps the task's worktree on this machine; ignored"
        )
        st = replace(st, worktree=None)
    attempts = []
    changed = False
    for a in st.attempts:
        kept = confinement.transcript(st.plan, st.task, a.number, a.transcript)
        if kept != a.transcript:
            if a.transcript:
                notes.append(
                    f"{st.plan}/{st.task}: attempt {a.number} names {a.transcript!r} as its "
                    "transcript, outside git po's transcripts of the task; ignored"
                )
            a = replace(a, transcript=kept)
            changed = True
        attempts.append(a)
    if changed:
        st = replace(st, attempts=attempts)
    return st, notes
