"""`git po clean`: remove a plan's worktrees (and with --branches its branches) once their work
is safe, and never anything else.

Work is safe when it is contained in the integration branch or in a snapshot ref under
refs/po/ (`refs/po/*/wip/*`, an earlier run under `refs/po/*/runs/`); a task's commits up to its
base are its dependencies' work, not its own. Anything else (commits that are nowhere else,
uncommitted or untracked files) is listed and the worktree or branch is kept, unless --force:
then uncommitted work is first snapshotted to refs/po/<plan>/wip/<task>, and commits that would
become unreachable are kept reachable from that ref, so even --force loses nothing. Nothing is
removed while a process is alive on one of the plan's tasks (a worker left by a killed run, a
verify, an attach session, anything working in a worktree): clean refuses and names it. Only
directories git po created are removed (under its worktree root, or marked as a task worktree).
Ignored files are not work. With --all, once every task's work is in the integration branch, the
plan's refs (state, bases, snapshots, earlier runs) and private files go too; the integration
branch always stays.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from git_po import config, integration_branch, layout, liveness, verify, worktrees
from git_po.errors import StateConflict
from git_po.local import RunLock
from git_po.repo import Oid, Repo
from git_po.state import StateStore
from git_po.status import stored_plan


@dataclass(frozen=True)
class Options:
    branches: bool = False
    force: bool = False
    all: bool = False
    dry_run: bool = False
    branch: str | None = None  # the integration branch, when not the plan's


@dataclass
class Item:
    what: str  # "worktree" or "branch"
    label: str  # the task (or resolve+<task>, verify+<task>)
    name: str  # the path or the branch
    action: str  # removed, deleted, refused, kept, would remove, would delete
    lost: list[str] = field(default_factory=list)  # what removing it would lose
    saved: Oid | None = None  # where --force kept that (refs/po/<plan>/wip/<label>)
    note: str | None = None
    where: str | None = None  # a kept branch is checked out there


@dataclass
class Report:
    plan: str
    branch: str
    tip: Oid | None
    dry_run: bool
    items: list[Item] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)  # removed (or would be) by --all
    all_refused: list[str] = field(default_factory=list)  # why --all removed no ref

    @property
    def ok(self) -> bool:
        """Everything asked for was removed (or would be): nothing refused or kept."""
        return not any(i.action in ("refused", "kept") for i in self.items) and not self.all_refused


def clean(repo: Repo, plan_name: str, options: Options) -> Report:
    holder = RunLock(repo, plan_name).alive_holder()
    if holder:
        raise StateConflict(
            f"plan {plan_name!r} is running ({holder}); nothing was removed",
            hint="wait for the run to end, or stop it, then clean",
        )
    plan = stored_plan(repo, plan_name)
    branch = integration_branch.branch_name(repo, plan, options.branch)
    live = worktrees.live_in_plan(repo, plan_name, plan.ids)
    if live:
        raise liveness.refuse(
            live, f"cannot clean plan {plan_name!r}, nothing was removed", plan_name
        )
    if options.dry_run:
        return _Clean(repo, plan_name, plan.ids, branch, options).run()
    with integration_branch.plan_lock(repo, plan_name):
        return _Clean(repo, plan_name, plan.ids, branch, options).run()


class _Clean:
    def __init__(
        self, repo: Repo, plan: str, ids: tuple[str, ...], branch: str, options: Options
    ) -> None:
        self.repo = repo
        self.plan = plan
        self.ids = ids
        self.options = options
        self.root = config.worktree_root(repo).resolve()
        self.roots = config.worktree_roots(repo)
        self.integration_ref = f"refs/heads/{branch}"
        tip = repo.read_ref(self.integration_ref)
        self.report = Report(plan, branch, tip, options.dry_run)
        # refs whose history is safe keeping: the integration branch and snapshot refs (for
        # --all only the integration branch and other plans' snapshots: this plan's go too)
        mine = f"refs/po/{plan}/"
        self.holders: list[Oid] = [tip] if tip else []
        for ref in repo.refs_under(layout.PO_REFS):
            parts = ref.split("/")
            if "wip" not in parts[3:] and "runs" not in parts[3:4]:
                continue
            if options.all and ref.startswith(mine):
                continue
            oid = repo.read_ref(ref)
            if oid is not None:
                self.holders.append(oid)
        store = StateStore(repo, plan)
        self.bases: dict[str, Oid] = {}
        for tid in ids:
            st = store.read(tid)
            base = st.base if st and st.base else repo.read_ref(layout.base_ref(plan, tid))
            if base:
                self.bases[tid] = Oid(base)

    def run(self) -> Report:
        for wname in sorted(worktrees.plan_worktrees(self.repo, self.plan)):
            self._worktree(wname)
        if self.options.branches or self.options.all:
            checked = self.repo.checked_out_branches()
            for ref in self.repo.refs_under(f"refs/heads/po/{self.plan}/"):
                if ref != self.integration_ref:
                    self._branch(ref, checked.get(ref))
        if self.options.all:
            self._all()
        return self.report

    # -- what would be lost --

    def _unsafe_commits(self, tip: Oid, label: str) -> list[str]:
        hide = list(self.holders)
        base = self.bases.get(label)
        if base is not None:
            hide.append(base)
        found = self.repo.commits_not_in(tip, hide, limit=6)
        if not found:
            return []
        more = "+" if len(found) > 5 else ""
        lines = [
            f"{min(len(found), 5)}{more} commit{'s' if len(found) != 1 else ''} in neither "
            f"{self.report.branch} nor a snapshot ref:"
        ]
        for h in found[:5]:
            lines.append(f"  {h.oid[:12]} {h.message.splitlines()[0] if h.message else ''}")
        return lines

    @staticmethod
    def _uncommitted(changes: dict[str, str]) -> list[str]:
        if not changes:
            return []
        listed = [f"  {p} ({w})" for p, w in sorted(changes.items())[:10]]
        more = [f"  and {len(changes) - 10} more"] if len(changes) > 10 else []
        return [f"{len(changes)} uncommitted or untracked file(s):", *listed, *more]

    # -- worktrees --

    def _ours(self, wname: str, path: Path, label: str) -> bool:
        """Whether git po created this directory: under its worktree root, or marked as the
        worktree of this very task."""
        try:
            resolved = path.resolve()
        except OSError:
            return False
        if any(root in resolved.parents for root in self.roots):
            return True
        marker = self.repo.worktree_gitdir(wname) / layout.MARKER_FILE
        try:
            return marker.read_text().strip() == f"{self.plan}/{label}"
        except OSError:
            return False

    def _worktree(self, wname: str) -> None:
        label = wname.split("+", 2)[2]
        path = self.repo.worktree_dir(wname)
        dry = self.options.dry_run
        if path is None or not path.is_dir():
            # the directory is gone already: only git's record of it is left
            if not dry:
                worktrees.remove_worktree(self.repo, wname, None, self.root)
                if self._left(wname, path, label):
                    return
            self._add("worktree", label, str(path or wname), "would remove" if dry else "removed")
            return
        if not self._ours(wname, path, label):
            self._add(
                "worktree",
                label,
                str(path),
                "refused",
                note=f"not under git po's worktree root {self.root}: left alone",
            )
            return
        if label.startswith("verify+"):  # a temporary checkout for the verify command
            if not dry:
                worktrees.remove_worktree(self.repo, wname, path, self.root, known_ours=True)
                ref = f"refs/heads/{layout.verify_branch(self.plan, label[len('verify+') :])}"
                verify.discard_temp_worktree(self.repo, wname, path, ref, self.root)
                if self._left(wname, path, label):
                    return
            self._add("worktree", label, str(path), "would remove" if dry else "removed")
            return
        head = self.repo.worktree_head(path)
        changes = self.repo.worktree_changes(path)
        lost = self._uncommitted(changes)
        if head is not None:
            lost += self._unsafe_commits(head, label)
        if lost and not self.options.force:
            self._add("worktree", label, str(path), "refused", lost=lost)
            return
        if dry:
            self._add("worktree", label, str(path), "would remove", lost=lost)
            return
        saved: Oid | None = None
        wip = layout.wip_ref(self.plan, label)
        if changes:
            message = f"po: uncommitted work of {self.plan}/{label} kept by git po clean --force\n"
            saved = self.repo.save_worktree(path, message, snapshot_ref=wip)
        if head is not None and self._unsafe_commits(head, label):
            saved = self.repo.keep_reachable(
                wip, head, f"po: commits of {self.plan}/{label} kept by git po clean --force\n"
            )
        # _ours said it is git po's: under the root, or marked as this task's worktree
        worktrees.remove_worktree(self.repo, wname, path, self.root, known_ours=True)
        if self._left(wname, path, label, saved=saved):
            return
        self._add("worktree", label, str(path), "removed", lost=lost, saved=saved)

    def _left(self, wname: str, path: Path | None, label: str, *, saved: Oid | None = None) -> bool:
        """Whether the worktree is still there after removing it; then it is reported kept."""
        if path is not None and path.exists():
            why = f"{path} is still there"
        elif wname in self.repo.worktree_names():
            why = "git's record of it could not be removed"
        else:
            return False
        self._add("worktree", label, str(path or wname), "kept", saved=saved, note=why)
        return True

    # -- branches --

    def _branch(self, ref: str, checked_out: Path | None) -> None:
        label = ref.rsplit("/", 1)[1]
        name = ref.removeprefix("refs/heads/")
        dry = self.options.dry_run
        tip = self.repo.read_ref(ref)
        if tip is None:
            return
        lost = [] if label.startswith("verify+") else self._unsafe_commits(tip, label)
        if checked_out is not None and not (dry and self._removed_worktree(label)):
            # never deleted, --force or not; say what deleting it would lose all the same
            self._add(
                "branch",
                label,
                name,
                "kept",
                lost=lost,
                note=f"checked out at {checked_out}",
                where=str(checked_out),
            )
            return
        if lost and not self.options.force:
            self._add("branch", label, name, "refused", lost=lost)
            return
        if dry:
            self._add("branch", label, name, "would delete", lost=lost)
            return
        saved: Oid | None = None
        if lost:
            saved = self.repo.keep_reachable(
                layout.wip_ref(self.plan, label),
                tip,
                f"po: branch {name} kept by git po clean --force\n",
            )
        self.repo.delete_ref(ref, tip)
        self._add("branch", label, name, "deleted", lost=lost, saved=saved)

    def _removed_worktree(self, label: str) -> bool:
        return any(
            i.what == "worktree" and i.label == label and i.action == "would remove"
            for i in self.report.items
        )

    # -- the plan's refs --

    def _all(self) -> None:
        rep = self.report
        if rep.tip is None:
            rep.all_refused.append(f"{rep.branch} does not exist: nothing is integrated")
            return
        if not rep.ok:
            rep.all_refused.append("some worktrees or branches were kept (see above)")
            return
        mine = f"refs/po/{self.plan}/"
        for ref in self.repo.refs_under(mine):
            parts = ref[len(mine) :].split("/")
            # work refs: snapshots and archived branches; the rest is bookkeeping
            kind = parts[-2] if len(parts) >= 2 else ""
            if kind not in ("wip", "branches"):
                continue
            tip = self.repo.read_ref(ref)
            if tip is None:
                continue
            hide = [rep.tip]
            base_ref = ref.replace(f"/{kind}/", "/bases/")
            base = self.repo.read_ref(base_ref) if kind == "branches" else None
            if base is not None:
                hide.append(base)
            found = self.repo.commits_not_in(tip, hide, limit=3)
            if found:
                rep.all_refused.append(
                    f"{ref} holds {len(found)}{'+' if len(found) > 2 else ''} commit(s) not in "
                    f"{rep.branch} (newest: {found[0].oid[:12]} "
                    f"{found[0].message.splitlines()[0] if found[0].message else ''})"
                )
        if rep.all_refused:
            return
        branches = [
            r
            for r in self.repo.refs_under(f"refs/heads/po/{self.plan}/")
            if r != self.integration_ref
        ]
        checked = self.repo.checked_out_branches()
        for ref in branches:
            where = checked.get(ref)
            label = ref.rsplit("/", 1)[1]
            if where is not None and not (self.options.dry_run and self._removed_worktree(label)):
                # a checked-out branch is never deleted (someone checked it out meanwhile)
                rep.all_refused.append(
                    f"{ref.removeprefix('refs/heads/')} is checked out at {where}"
                )
        if rep.all_refused:
            return
        everything = self.repo.refs_under(mine) + branches
        for ref in everything:
            oid = self.repo.read_ref(ref)
            if oid is None:
                continue
            if not self.options.dry_run:
                self.repo.delete_ref(ref, oid)
            rep.refs.append(ref)
        if not self.options.dry_run:
            shutil.rmtree(layout.plan_dir(self.repo.common_dir, self.plan), ignore_errors=True)
            folder = self.root / self.plan
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _add(
        self,
        what: str,
        label: str,
        name: str,
        action: str,
        *,
        lost: list[str] | None = None,
        saved: Oid | None = None,
        note: str | None = None,
        where: str | None = None,
    ) -> None:
        self.report.items.append(Item(what, label, name, action, lost or [], saved, note, where))


def report_text(report: Report) -> str:
    tip = report.tip[:12] if report.tip else "does not exist"
    lines = [f"plan {report.plan}: integration branch {report.branch} ({tip})"]
    for i in report.items:
        lines.append(f"  {i.action} {i.what} {i.name}" + (f" ({i.note})" if i.note else ""))
        if i.action == "refused" and i.lost:
            lines.append("    it would lose:")
        elif i.action == "kept" and i.lost:
            lines.append("    deleting it would lose:")
        for line in i.lost:
            lines.append(f"      {line}")
        if i.saved:
            lines.append(f"    kept in refs/po/{report.plan}/wip/{i.label} ({i.saved[:12]})")
    for ref in report.refs:
        lines.append(f"  {'would delete' if report.dry_run else 'deleted'} {ref}")
    for why in report.all_refused:
        lines.append(f"  --all: kept the plan's refs: {why}")
    if not report.items and not report.refs and not report.all_refused:
        lines.append("  nothing to clean")
    if report.dry_run:
        lines.append("dry run: nothing was removed")
    return "\n".join(lines)


def report_hint(report: Report) -> str | None:
    if report.ok:
        return None
    if any(i.action == "refused" for i in report.items):
        return (
            f"integrate first (git po integrate {report.plan}), or use --force to keep the work "
            f"under refs/po/{report.plan}/wip/ and remove the rest"
        )
    where = sorted({i.where for i in report.items if i.action == "kept" and i.where})
    if where:
        work = any(i.lost for i in report.items if i.action == "kept")
        return (
            f"a checked-out branch is never deleted: switch {', '.join(where)} to another "
            "branch, then run clean again"
            + (f" (integrate its work first: git po integrate {report.plan})" if work else "")
        )
    if any(i.action == "kept" for i in report.items):
        return "see why above; remove what is left yourself, or run clean again"
    if report.tip is None:  # only --all was refused: nothing is integrated
        return (
            f"integrate first (git po integrate {report.plan}); if the work was integrated "
            "into another branch, name it with --branch"
        )
    return (
        f"see what is missing with: git log <ref> --not {report.branch}; integrate it, or, "
        "if you do not need it, delete that ref (git update-ref -d <ref>) and run "
        "clean --all again"
    )
