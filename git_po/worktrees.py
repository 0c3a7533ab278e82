"""Task worktrees: where they are, removing the ones git po made (never anything else, and never
from under a live process), and keeping an earlier run's branches and work when a plan is
started again."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from git_po import layout, liveness
from git_po.errors import StateConflict
from git_po.repo import Repo


def worktree_path(gitdir: Path) -> Path | None:
    """The working directory of a linked worktree, from its gitdir file."""
    try:
        text = (gitdir / "gitdir").read_text().strip()
    except OSError:
        return None
    return Path(text).parent.resolve()


def remove_worktree(
    repo: Repo, wname: str, path: Path | None, root: Path, *, known_ours: bool = False
) -> None:
    """Remove a task worktree: its directory only if git po created it (under root, or
    known_ours: the caller has checked that it is git po's, say by its marker, wherever it is),
    and its administrative files once the directory is gone. Callers save its work first.
    Refused (StateConflict) while a process works inside it."""
    roots = (root.resolve(), layout.legacy_worktree_root(repo.common_dir).resolve())
    if (
        path is not None
        and path.is_dir()
        and (known_ours or any(r in path.resolve().parents for r in roots))
    ):
        label = "/".join(wname.split("+", 2)[1:])
        liveness.check_directory(path, f"cannot remove {path}", label)
        shutil.rmtree(path)
    gitdir = repo.worktree_gitdir(wname)
    if gitdir.is_dir() and (path is None or not path.exists()):
        shutil.rmtree(gitdir)


def prepare_root(root: Path, common_dir: Path) -> None:
    """Create a worktree root, naming in it the repository it belongs to (for people looking
    at a per-user directory full of them, and for `git po doctor`)."""
    root.mkdir(parents=True, exist_ok=True)
    owner = root / layout.ROOT_OWNER_FILE
    if not owner.exists():
        with contextlib.suppress(OSError):
            owner.write_text(f"{common_dir.resolve()}\n")


def plan_worktrees(repo: Repo, plan: str) -> dict[str, Path]:
    """libgit2 worktree name -> its git dir, for the worktrees of a plan's tasks."""
    return {
        w: repo.worktree_gitdir(w) for w in repo.worktree_names() if w.startswith(f"po+{plan}+")
    }


def live_in_plan(
    repo: Repo,
    plan: str,
    tasks: tuple[str, ...],
    scan: Callable[[str], bool] = lambda label: True,
) -> list[liveness.Live]:
    """Every process alive on a task of plan: recorded workers, verifies, resolvers and attach
    sessions, and whatever works in one of the plan's worktrees (task, resolve, verify; those
    whose label scan accepts)."""
    dirs: dict[str, list[Path]] = {t: [] for t in tasks}
    for wname, gitdir in plan_worktrees(repo, plan).items():
        label = wname.split("+", 2)[2]
        task = label.split("+")[-1]  # t, resolve+t, verify+t
        path = worktree_path(gitdir)
        if path is not None and scan(label):
            dirs.setdefault(task, []).append(path)
    live: dict[int, liveness.Live] = {}
    for task, paths in dirs.items():
        for x in liveness.on_task(repo, plan, task, paths):
            live.setdefault(x.pid, x)
    return sorted(live.values(), key=lambda x: x.pid)


def free_run_number(repo: Repo, plan: str, start: int = 1) -> int:
    n = max(1, start)
    while repo.refs_under(layout.archive_prefix(plan, n)):
        n += 1
    return n


def _stays(label: str, keep: frozenset[str], keep_integration: bool) -> bool:
    """Whether the branch, refs and worktree of a label (a task id, `integration`, or a helper
    such as resolve+<task>) stay where they are when a plan is started again."""
    if label in keep:
        return True
    if label == "integration":
        return keep_integration
    if "+" in label:
        return keep_integration and label.split("+", 1)[1] in keep
    return False


def archive_run(
    repo: Repo,
    plan: str,
    run: int,
    root: Path,
    tasks: tuple[str, ...] = (),
    *,
    keep: frozenset[str] = frozenset(),
    keep_integration: bool = False,
) -> int:
    """Keep an earlier run's branches, state and snapshots under refs/po/<plan>/runs/<n>/ and
    remove its worktrees once their uncommitted work is saved there. Returns n.

    The tasks in keep (their branch, refs and worktree) stay, and with keep_integration so do
    the integration branch and the helper branches of kept tasks: a re-run keeps them.

    Refused (StateConflict) while a process is alive on one of the tasks (tasks: the plan's)
    whose worktree would go, or while a worker, verify or resolver of a kept one runs."""
    recorded = [r.rsplit("/", 1)[1] for r in repo.refs_under(f"refs/po/{plan}/tasks/")]
    live = live_in_plan(
        repo,
        plan,
        tuple(dict.fromkeys([*tasks, *recorded])),
        scan=lambda label: not _stays(label, keep, keep_integration),
    )
    if live:
        raise liveness.refuse(live, f"cannot start plan {plan!r} over, nothing was changed", plan)
    run = free_run_number(repo, plan, run)
    prefix = layout.archive_prefix(plan, run)
    checked_out = repo.checked_out_branches()
    worktrees = {
        w: g
        for w, g in plan_worktrees(repo, plan).items()
        if not _stays(w.split("+", 2)[2], keep, keep_integration)
    }
    ours = {p for p in (worktree_path(g) for g in worktrees.values()) if p is not None}
    for ref in repo.refs_under(f"refs/heads/po/{plan}/"):
        if _stays(ref.rsplit("/", 1)[1], keep, keep_integration):
            continue
        where = checked_out.get(ref)
        if where is not None and where.resolve() not in ours:
            raise StateConflict(
                f"branch {ref.removeprefix('refs/heads/')} of an earlier run is checked out "
                f"at {where}",
                hint="switch that checkout to another branch first",
            )
    # 1. save what the old worktrees hold (into the live wip ref, chained to any earlier
    #    snapshot, and moved with the rest below), then remove them
    for wname, gitdir in worktrees.items():
        task = wname.split("+", 2)[2]
        path = worktree_path(gitdir)
        if path is not None and path.is_dir():
            wip = layout.wip_ref(plan, task)
            branch_tip = repo.read_ref(layout.branch_ref(plan, task))
            head = repo.worktree_head(path)
            if head is None:  # not a worktree any more: keep its files as files
                repo.snapshot_directory(
                    path, wip, branch_tip, f"po: files of {plan}/{task}'s broken worktree\n"
                )
            else:
                if branch_tip is None or not repo.is_ancestor(head, branch_tip):
                    # commits on a detached HEAD: only this worktree holds them
                    repo.keep_reachable(wip, head, f"po: HEAD of {plan}/{task} kept\n")
                repo.save_worktree(
                    path,
                    f"po: uncommitted work of {plan}/{task} kept when the plan was started again\n",
                    snapshot_ref=wip,
                )
        remove_worktree(repo, wname, path, root)
    # 2. move the refs
    moves: list[tuple[str, str]] = []
    for ref in repo.refs_under(f"refs/heads/po/{plan}/"):
        label = ref.rsplit("/", 1)[1]
        if not _stays(label, keep, keep_integration):
            moves.append((ref, f"{prefix}branches/{label}"))
    for ref in repo.refs_under(f"refs/po/{plan}/"):
        rest = ref.removeprefix(f"refs/po/{plan}/")
        if rest == "plan" or rest.startswith("runs/"):
            continue
        parts = rest.split("/")
        if len(parts) == 2 and _stays(parts[1], keep, keep_integration):
            continue
        moves.append((ref, prefix + rest))
    for old, new in moves:
        oid = repo.read_ref(old)
        if oid is None:
            continue
        repo.create_ref(new, oid, f"po: keep {old} of an earlier run")
        repo.delete_ref(old, oid)
    return run


def leftovers(repo: Repo, plan: str) -> list[str]:
    """Refs of a plan other than its plan ref and archived runs."""
    return [
        r
        for r in repo.refs_under(f"refs/heads/po/{plan}/") + repo.refs_under(f"refs/po/{plan}/")
        if not r.startswith(f"refs/po/{plan}/runs/") and r != layout.plan_ref(plan)
    ]
