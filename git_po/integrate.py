"""`git po integrate`: merge the branches of complete tasks, in dependency order, into the plan's
integration branch with in-process three-way merges, never in anyone's checkout.

- Each task is one merge commit (parents: the integration tip, the task's branch) naming the
  task, with Po-Plan, Po-Task and Po-Session trailers. A task already contained is skipped, so
  running it again merges only what is new.
- With `verify` in the plan, each merge is verified in a temporary worktree before the branch
  moves, unless the same command already passed on the same tree (then that result is noted on
  the merge, "reused"). The branch moves by compare-and-swap after each good step and never
  holds a half merge.
- A task whose merge conflicts or fails verify is set aside with every task that depends on
  it (transitively); every other task is still merged, and the report names each conflict, its
  files and the integrated tasks that last changed them.
- A resolution committed on po/<plan>/resolve+<task> (see integrate_resolve) is taken: a
  fast-forward when the integration branch has not moved, else a merge of it.

Landing on another branch is integrate_land, resolving integrate_resolve, the text the command
prints integrate_text; the integration branch itself (name, lock, moves) integration_branch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path

from git_po import config, layout, trust, verify
from git_po.errors import NotFound, RefRace, StateConflict
from git_po.integration_branch import (
    Clash,
    advance,
    branch_name,
    complete_subject,
    df_clash,
    dirty_checkout,
    integrated_tasks,
    merge_message,
    plan_lock,
    who_touched,
)
from git_po.plan import Plan
from git_po.repo import ConflictFile, Oid, Repo
from git_po.state import State, StateStore, read_plan_ref
from git_po.status import stored_plan
from git_po.verify import VerifyResult
from git_po.worktrees import remove_worktree

MARKERS = (b"<<<<<<< ", b">>>>>>> ")


class Kind(StrEnum):
    MERGED = "merged"
    WOULD_MERGE = "would merge"
    RESOLVED = "resolution taken"
    WOULD_RESOLVE = "would take its resolution"
    ALREADY = "already integrated"
    CONFLICT = "conflict"
    VERIFY_FAILED = "verify failed"
    UNFINISHED = "resolution not finished"
    NOT_COMPLETE = "not complete"
    NO_BRANCH = "no branch"
    SET_ASIDE = "set aside"  # a task it depends on conflicted or failed: it waits for that one


FAILURES = frozenset({Kind.CONFLICT, Kind.VERIFY_FAILED, Kind.UNFINISHED})
HELD = FAILURES | {Kind.SET_ASIDE}  # what a run leaves for later, every other task merged
_WOULD = frozenset({Kind.WOULD_MERGE, Kind.WOULD_RESOLVE})


@dataclass
class Step:
    task: str
    kind: Kind
    commit: Oid | None = None  # the integration tip after this step
    subject: str | None = None  # the task's [COMPLETE] subject
    clashes: tuple[Clash, ...] = ()
    verify: VerifyResult | None = None
    detail: str | None = None
    named: bool = False  # the user asked for this task with --only
    waits_for: tuple[str, ...] = ()  # set aside: the conflicting or failing tasks it depends on

    def why_held(self) -> str:
        """Why this task was not integrated, in a few words."""
        if self.kind is Kind.SET_ASIDE:
            return f"depends on {', '.join(self.waits_for)}"
        return self.kind.value


@dataclass
class Report:
    plan: str
    branch: str
    before: Oid | None  # the branch's tip before (None: it did not exist)
    after: Oid | None
    start: Oid  # what the branch starts from when it does not exist yet (the plan's base)
    dry_run: bool
    steps: list[Step] = field(default_factory=list)
    updated_checkout: Path | None = None  # the branch is checked out there; its files moved

    @property
    def ok(self) -> bool:
        return not self.held

    @property
    def held(self) -> list[Step]:
        """What this run left out although it was asked for: each task set aside (a conflict,
        a failing verify, an unfinished resolution, or depending on one of those), and tasks
        named with --only that are not complete or have no branch."""
        return [
            s
            for s in self.steps
            if s.kind in HELD or (s.named and s.kind in (Kind.NOT_COMPLETE, Kind.NO_BRANCH))
        ]

    @property
    def result(self) -> Oid | None:
        """The integration result: the branch's tip, or in a dry run where it would be."""
        if self.dry_run:
            made = [
                s.commit for s in self.steps if s.kind in (Kind.WOULD_MERGE, Kind.WOULD_RESOLVE)
            ]
            return made[-1] if made and made[-1] else self.before
        return self.after

    @property
    def problems(self) -> list[Step]:
        """Every conflict, failing verify and unfinished resolution, in dependency order."""
        return [s for s in self.steps if s.kind in FAILURES]


@dataclass(frozen=True)
class Options:
    only: tuple[str, ...] = ()
    dry_run: bool = False
    branch: str | None = None  # overrides the plan's integration_branch and po.integrationBranch
    # told (done so far, how many, task) before each task: the CLI's progress line
    progress: Callable[[int, int, str], None] | None = field(default=None, compare=False)


# --- integrate -----------------------------------------------------------------------------------


def integrate(repo: Repo, plan_name: str, options: Options) -> Report:
    stored = read_plan_ref(repo, plan_name)
    plan = stored_plan(repo, plan_name)
    assert stored is not None
    if plan.verify and not options.dry_run:
        trust.require_trusted(repo, plan_name)  # verify is the plan's command
    for t in options.only:
        if t not in plan.ids:
            raise NotFound(
                f"plan {plan_name!r} has no task {t!r}", hint=f"tasks: {', '.join(plan.ids)}"
            )
    branch = branch_name(repo, plan, options.branch)
    ref = f"refs/heads/{branch}"
    start = Oid(stored.run.base)
    if options.dry_run:
        return _Integration(repo, plan, branch, start, options).run()
    with plan_lock(repo, plan_name):
        where, dirty = dirty_checkout(repo, ref, None, None)
        if where is not None and not dirty:
            # its files follow every merge: find what is in the way of any of them (an
            # untracked file a later merge adds) before the first one moves anything
            tip = repo.read_ref(ref)
            preview = _Integration(repo, plan, branch, start, replace(options, dry_run=True))
            done = preview.run()
            stops = [s.commit for s in done.steps if s.commit is not None and s.kind in _WOULD]
            if tip is not None and stops:
                where, dirty = dirty_checkout(repo, ref, tip, stops[-1], via=stops[:-1])
        if dirty:
            raise StateConflict(
                f"the integration branch {branch} is checked out at {where} with uncommitted "
                f"changes ({dirty}); nothing was changed",
                hint="commit, stash or move them there, or check out another branch",
            )
        return _Integration(repo, plan, branch, start, options).run()


class _Integration:
    def __init__(self, repo: Repo, plan: Plan, branch: str, start: Oid, options: Options) -> None:
        self.repo = repo
        self.plan = plan
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self.options = options
        self.dry = options.dry_run
        self.root = config.worktree_root(repo)
        self.store = StateStore(repo, plan.name)
        tip = repo.read_ref(self.ref)
        self.report = Report(plan.name, branch, tip, tip, start, self.dry)
        self.tip = tip  # where the branch is (None: not created yet)
        self.ours = tip or start  # the integration result so far (in memory in a dry run)
        self._integrated: set[str] | None = None
        # read once: whether the branch is checked out somewhere does not change meanwhile
        self.checked_out = repo.checked_out_branches()

    def run(self) -> Report:
        """Every task in dependency order. A task that conflicts or fails is set aside with all
        that depends on it; every other task is still merged."""
        self.repo.relax_object_checks()
        order = self.plan.graph.topo_order
        ancestors = self.plan.graph.ancestors
        held: dict[str, tuple[str, ...]] = {}  # task set aside -> the failed tasks at its root
        todo = [t for t in order if not self.options.only or t in self.options.only]
        for tid in order:
            if self.options.only and tid not in self.options.only:
                continue
            if self.options.progress is not None:
                self.options.progress(todo.index(tid), len(todo), tid)
            waits_for = tuple(
                dict.fromkeys(
                    root for dep in order if dep in ancestors[tid] for root in held.get(dep, ())
                )
            )
            step = self._task(tid, waits_for)
            step.named = tid in self.options.only
            self.report.steps.append(step)
            if step.kind in FAILURES:
                held[tid] = (tid,)
            elif step.kind is Kind.SET_ASIDE:
                held[tid] = waits_for
        self.report.after = self.tip
        return self.report

    def _task(self, tid: str, waits_for: tuple[str, ...] = ()) -> Step:
        st = self.store.read(tid)
        state = st.state if st else State.PENDING
        head = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if state is not State.COMPLETE:
            return Step(tid, Kind.NOT_COMPLETE, detail=state.value)
        if head is not None and self.repo.is_ancestor(head, self.ours):
            return Step(tid, Kind.ALREADY)
        if head is None:
            if self._merged_before(tid):  # its branch was cleaned up after it was integrated
                return Step(tid, Kind.ALREADY)
            return Step(tid, Kind.NO_BRANCH, detail=f"{layout.branch(self.plan.name, tid)} is gone")
        subject = complete_subject(self.repo, head, st)
        if waits_for:
            return Step(tid, Kind.SET_ASIDE, subject=subject, waits_for=waits_for)
        session = st.session_id if st else None
        resolution = self._resolution(tid, head)
        if resolution is not None:
            return self._take_resolution(tid, head, resolution, subject, session)
        message = merge_message(self.plan.name, tid, subject, session)
        merged = self.repo.merge_pair(self.ours, head, message)
        if not merged.clean:
            pending = layout.resolve_worktree_path(self.root, self.plan.name, tid)
            wname = layout.resolve_worktree_name(self.plan.name, tid)
            return Step(
                tid,
                Kind.CONFLICT,
                subject=subject,
                clashes=self._clashes(head, merged.conflicts),
                detail=f"its resolution in {pending} is not committed yet"
                if wname in self.repo.worktree_names()
                else None,
            )
        assert merged.oid is not None
        return self._commit(tid, merged.oid, subject, Kind.MERGED, Kind.WOULD_MERGE, (head,))

    def _merged_before(self, tid: str) -> bool:
        if self._integrated is None:
            self._integrated = set(integrated_tasks(self.repo, self.plan.name, self.ours, None))
        return tid in self._integrated

    def _clashes(self, head: Oid, files: tuple[ConflictFile, ...]) -> tuple[Clash, ...]:
        touched = who_touched(self.repo, self.plan.name, self.ours, head, {c.path for c in files})
        return tuple(Clash(c.path, c.kind, tuple(touched.get(c.path, []))) for c in files)

    def _commit(
        self,
        tid: str,
        new: Oid,
        subject: str | None,
        done: Kind,
        would: Kind,
        same_tree_maybe: tuple[Oid, ...],
    ) -> Step:
        """Verify new (when the plan says so) and move the integration branch to it. A pass of
        the same command on the same tree (noted on it, or on one of same_tree_maybe: the
        task's head, its resolution) stands for new: it is noted on new, not run again."""
        if self.tip is None:
            # the first merge creates the branch: say now (dry run too) when it cannot be
            clash = df_clash(self.repo, self.ref)
            if clash is not None:
                raise StateConflict(
                    f"cannot create {self.branch}: {clash} exists",
                    hint="choose another integration branch with --branch",
                )
        if self.dry:
            self.ours = new
            return Step(tid, would, commit=new, subject=subject)
        result: VerifyResult | None = None
        if self.plan.verify:
            found = verify.passed_on_same_tree(
                self.repo, new, self.plan.verify, also=same_tree_maybe
            )
            if found is not None:
                result = verify.reuse(self.repo, found, new, self.plan.name, tid)
            else:
                result = verify.run_in_temp_worktree(
                    self.repo, self.plan.name, f"{tid}+merge", new, self.plan.verify, root=self.root
                )
                result = verify.record(self.repo, result, self.plan.name, tid)
            if not result.passed:
                return Step(tid, Kind.VERIFY_FAILED, commit=new, subject=subject, verify=result)
        try:
            moved = advance(
                self.repo,
                self.ref,
                self.tip,
                new,
                f"po: integrate {tid} of plan {self.plan.name}",
                self.checked_out,
            )
        except StateConflict as exc:
            if self.tip == self.report.before:
                raise
            # earlier merges of this run did move the branch (and its checkout): say so
            assert self.tip is not None
            moved_by = [s.task for s in self.report.steps if s.kind in (Kind.MERGED, Kind.RESOLVED)]
            raise StateConflict(
                f"{exc.message.removesuffix('; nothing was changed')}; {tid} was not "
                f"integrated, but {', '.join(moved_by)} "
                f"{'was' if len(moved_by) == 1 else 'were'}: "
                f"{self.branch} is now at {self.tip[:12]}"
                + (
                    f" and its checkout at {self.report.updated_checkout} was updated"
                    if self.report.updated_checkout is not None
                    else ""
                ),
                hint=exc.hint,
            ) from None
        if moved is not None:
            self.report.updated_checkout = moved
        self.tip = self.ours = new
        return Step(tid, done, commit=new, subject=subject, verify=result)

    # -- resolutions --

    def _resolution(self, tid: str, head: Oid) -> Oid | None:
        """The tip of tid's resolve branch, when it holds a resolution not integrated yet."""
        res = self.repo.read_ref(f"refs/heads/{layout.resolve_branch(self.plan.name, tid)}")
        if res is None or self.repo.is_ancestor(res, self.ours):
            return None
        return res if self.repo.is_ancestor(head, res) else None

    def _take_resolution(
        self, tid: str, head: Oid, res: Oid, subject: str | None, session: str | None
    ) -> Step:
        res_branch = layout.resolve_branch(self.plan.name, tid)
        path = layout.resolve_worktree_path(self.root, self.plan.name, tid)
        wname = layout.resolve_worktree_name(self.plan.name, tid)
        if wname in self.repo.worktree_names() and path.is_dir():
            if self.repo.merge_head(path) is not None:
                return Step(
                    tid,
                    Kind.UNFINISHED,
                    subject=subject,
                    detail=f"the merge in {path} is not committed yet (git commit there)",
                )
            changes = self.repo.worktree_changes(path)
            if changes:
                listed = ", ".join(f"{p} ({w})" for p, w in sorted(changes.items())[:6])
                return Step(
                    tid,
                    Kind.UNFINISHED,
                    subject=subject,
                    detail=f"{path} holds uncommitted changes: {listed}",
                )
        changed = self.repo.changed_paths(self.ours, res) | self.repo.changed_paths(head, res)
        left = _markers_left(self.repo, res, changed)
        if left:
            return Step(
                tid,
                Kind.UNFINISHED,
                subject=subject,
                detail=f"{res_branch} still has conflict markers in {', '.join(left)}",
            )
        if self.repo.is_ancestor(self.ours, res):
            new = res  # fast-forward to the person's merge
        else:
            message = merge_message(
                self.plan.name, tid, subject, session, note=f", resolved on {res_branch}"
            )
            merged = self.repo.merge_pair(self.ours, res, message)
            if not merged.clean:
                return Step(
                    tid,
                    Kind.CONFLICT,
                    subject=subject,
                    clashes=self._clashes(res, merged.conflicts),
                    detail=f"its resolution on {res_branch} conflicts with what was "
                    "integrated since",
                )
            assert merged.oid is not None
            new = merged.oid
        step = self._commit(tid, new, subject, Kind.RESOLVED, Kind.WOULD_RESOLVE, (res, head))
        if step.kind is Kind.RESOLVED:
            step.detail = self._drop_resolution(tid, res)
        return step

    def _drop_resolution(self, tid: str, res: Oid) -> str | None:
        """Remove the resolve worktree and branch once integrated (their work is in the
        integration branch now); a worktree with anything uncommitted stays."""
        wname = layout.resolve_worktree_name(self.plan.name, tid)
        path = layout.resolve_worktree_path(self.root, self.plan.name, tid)
        if wname in self.repo.worktree_names():
            where = self.repo.worktree_dir(wname)
            if where is not None and where.is_dir() and self.repo.worktree_changes(where):
                return f"kept {where}: it holds uncommitted changes"
            remove_worktree(self.repo, wname, where or path, self.root)
            if where is not None and where.exists():
                return f"kept {where}: it is outside git po's worktree root {self.root}"
        ref = f"refs/heads/{layout.resolve_branch(self.plan.name, tid)}"
        with contextlib.suppress(RefRace):
            if self.repo.read_ref(ref) == res and not self.repo.checked_out_branches().get(ref):
                self.repo.delete_ref(ref, res)
        return None


def _markers_left(repo: Repo, commit: Oid, paths: set[str]) -> list[str]:
    out = []
    for p in sorted(paths):
        data = repo.read_blob(commit, p)
        if data is None or b"\0" in data[:8000]:
            continue
        if any(line.startswith(MARKERS) for line in data.splitlines()):
            out.append(p)
    return out
