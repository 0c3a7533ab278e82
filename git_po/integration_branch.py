"""The integration branch of a plan, shared by `integrate`, `--into`, `--resolve` and `clean`:
its name, the lock that keeps one integrate or clean of a plan at a time, moving a branch by
compare-and-swap (and its checkout with it), and reading task merges back from its history.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import filelock

from git_po import config, layout
from git_po.errors import StateConflict, UsageError
from git_po.plan import Plan, branch_problem
from git_po.protocol import progress_of
from git_po.repo import Oid, Repo
from git_po.state import TaskState


@dataclass(frozen=True)
class Clash:
    """One conflicting file."""

    path: str
    kind: str  # both-modified, both-added, deleted-by-ours, deleted-by-theirs
    tasks: tuple[str, ...]  # integrated tasks that changed it since the merge base, newest first

    def describe(self) -> str:
        what = {
            "both-modified": "changed on both sides",
            "both-added": "added on both sides",
            "deleted-by-ours": "deleted on the integration branch, changed by the task",
            "deleted-by-theirs": "changed on the integration branch, deleted by the task",
        }.get(self.kind, self.kind)
        if self.tasks:
            who = f"last touched by {self.tasks[0]}"
            if len(self.tasks) > 1:
                who += f" (also {', '.join(self.tasks[1:])})"
        else:
            who = "changed on the integration branch outside any task merge"
        return f"{what}; {who}"


# --- where things are ------------------------------------------------------------------------


def branch_name(repo: Repo, plan: Plan, override: str | None = None) -> str:
    """The integration branch: --branch, else the plan's integration_branch, else git config
    po.integrationBranch, else po/<plan>/integration."""
    name = (
        override
        or plan.integration_branch
        or config.integration_branch(repo)
        or layout.integration_branch(plan.name)
    )
    why = branch_problem(name)
    if why:
        raise UsageError(f"integration branch: {why}")
    inside = f"po/{plan.name}/"
    if name.startswith(inside) and name != layout.integration_branch(plan.name):
        rest = name[len(inside) :]
        first = rest.split("/", 1)[0]
        if first in plan.ids or first.startswith(("resolve+", "verify+")):
            raise UsageError(
                f"{name} cannot be the integration branch: po/{plan.name}/{first} belongs to "
                "a task of the plan",
                hint="pick a name outside po/<plan>/, or the default po/<plan>/integration",
            )
    return name


@contextlib.contextmanager
def plan_lock(repo: Repo, plan: str) -> Iterator[None]:
    """One integrate or clean of a plan at a time on this machine."""
    path = layout.integrate_lock(repo.common_dir, plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise StateConflict(
            f"another git po integrate or clean of plan {plan!r} is running",
            hint="wait for it to finish",
        ) from None
    try:
        yield
    finally:
        lock.release()


def df_clash(repo: Repo, ref: str) -> str | None:
    """A ref that keeps ref from being created (a file where a folder must be, or the
    reverse), or None."""
    parts = ref.split("/")
    for i in range(3, len(parts)):
        prefix = "/".join(parts[:i])
        if repo.read_ref(prefix) is not None:
            return prefix
    inner = repo.refs_under(ref + "/")
    return inner[0] if inner else None


def dirty_checkout(
    repo: Repo, ref: str, old: Oid | None, new: Oid | None, *, via: Sequence[Oid] = ()
) -> tuple[Path | None, str]:
    """(where, what is in the way) when ref is checked out in a worktree whose files cannot
    follow the branch: uncommitted changes, or untracked files at paths the move adds (the
    move from old through each commit of via, in order, to new)."""
    where = repo.checked_out_branches().get(ref)
    if where is None:
        return None, ""
    changes = repo.worktree_changes(where)
    tracked = {p: w for p, w in changes.items() if w != "untracked"}
    untracked = {p for p, w in changes.items() if w == "untracked"}
    if untracked and old is not None and new is not None:
        stops = [old, *via, new]
        moved: set[str] = set()
        for a, b in itertools.pairwise(stops):
            if a != b:
                moved |= repo.changed_paths(a, b)
        untracked &= moved
    else:
        untracked = set()
    found = sorted(tracked.items()) + sorted((p, "untracked, in the way") for p in untracked)
    if not found:
        return where, ""
    listed = ", ".join(f"{p} ({w})" for p, w in found[:6])
    if len(found) > 6:
        listed += f" and {len(found) - 6} more"
    return where, listed


def advance(
    repo: Repo,
    ref: str,
    expected: Oid | None,
    new: Oid,
    message: str,
    checked_out: dict[str, Path] | None = None,
) -> Path | None:
    """Move ref to new by compare-and-swap (create it when expected is None). When it is
    checked out in a worktree (checked_out: what Repo.checked_out_branches said, if the caller
    has it), that worktree's files and index follow (it must be clean). Returns that worktree,
    if any."""
    if expected is None:
        clash = df_clash(repo, ref)
        if clash is not None:
            raise StateConflict(
                f"cannot create {ref.removeprefix('refs/heads/')}: {clash} exists",
                hint="choose another integration branch with --branch",
            )
        repo.create_ref(ref, new, message)
        return None
    where = (checked_out if checked_out is not None else repo.checked_out_branches()).get(ref)
    if where is None:
        repo.update_ref(ref, new, expected, message)
        return None
    _, dirty = dirty_checkout(repo, ref, expected, new)
    if dirty:
        raise StateConflict(
            f"{ref.removeprefix('refs/heads/')} is checked out at {where} with uncommitted "
            f"changes ({dirty}); nothing was changed",
            hint="commit or stash them there, then run the command again",
        )
    repo.move_checked_out_branch(where, ref, expected, new, message)
    return where


# --- reading a task ----------------------------------------------------------------------------


def complete_subject(repo: Repo, head: Oid, st: TaskState | None) -> str | None:
    base = Oid(st.base) if st and st.base else None
    hist = repo.first_parent_history(head, base, limit=2000)
    prog = progress_of([(h.oid, h.message, h.time, h.autosave) for h in hist])
    return prog.latest_subject or prog.last_subject


def merge_message(
    plan: str, task: str, subject: str | None, session: str | None, *, note: str = ""
) -> str:
    lines = [f"Merge task {task} of plan {plan} ({layout.branch(plan, task)}){note}", ""]
    if subject:
        lines += [subject, ""]
    lines += [f"Po-Plan: {plan}", f"Po-Task: {task}"]
    if session:
        lines.append(f"Po-Session: {session}")
    return "\n".join(lines) + "\n"


def who_touched(
    repo: Repo, plan: str, ours: Oid, theirs: Oid, paths: set[str]
) -> dict[str, list[str]]:
    """path -> the integrated tasks whose merges changed it since ours and theirs parted,
    newest first."""
    found: dict[str, list[str]] = {p: [] for p in paths}
    base = repo.merge_base(ours, theirs)
    for h in repo.first_parent_history(ours, base, limit=5000):
        tr = repo.trailers(h.oid)
        task = tr.get("Po-Task")
        if not task or tr.get("Po-Plan") != plan:
            continue
        parents = repo.parents(h.oid)
        if not parents:
            continue
        for p in repo.changed_paths(parents[0], h.oid) & paths:
            if task not in found[p]:
                found[p].append(task)
    return found


def integrated_tasks(repo: Repo, plan: str, tip: Oid, since: Oid | None) -> list[str]:
    """Tasks whose merges are on tip's first-parent history (not in since's), oldest first."""
    out: list[str] = []
    for h in repo.first_parent_history(tip, since, limit=5000):
        tr = repo.trailers(h.oid)
        task = tr.get("Po-Task")
        if task and tr.get("Po-Plan") == plan and task not in out:
            out.append(task)
    return list(reversed(out))
