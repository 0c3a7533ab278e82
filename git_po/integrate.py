"""`git po integrate`: merge the branches of complete tasks, in dependency order, into the plan's
integration branch with in-process three-way merges, never in anyone's checkout.

- Each task is one merge commit (parents: the integration tip, the task's branch) naming the
  task, with Po-Plan, Po-Task and Po-Session trailers. A task already contained is skipped, so
  running it again merges only what is new.
- With `verify` in the plan, each merge is verified in a temporary worktree before the branch
  moves. The branch moves by compare-and-swap after each good step and never holds a half
  merge: on a conflict or a failing verify it stays at its last good commit, and integration
  stops there, naming the task, every conflicting file and the integrated tasks that changed it.
- `--resolve TASK` prepares a worktree holding the conflicted merge, on branch
  po/<plan>/resolve+<task>, for a person (or a claude worker) to resolve and commit; the next
  `integrate` picks the resolution up (fast-forward when the integration branch has not moved).
- `--into BRANCH` advances BRANCH to the result: fast-forward when possible, else a merge
  commit; a checkout of BRANCH is updated with it when clean, and nothing changes when it is not.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import IO

import filelock

from git_po import config, layout, proc, secrets, verify
from git_po.agents import profile
from git_po.errors import AgentMissing, NotFound, PoError, RefRace, StateConflict, UsageError
from git_po.plan import Plan, Task, branch_problem
from git_po.protocol import progress_of
from git_po.repo import ConflictFile, Oid, Repo
from git_po.state import State, StateStore, TaskState, read_plan_ref
from git_po.status import stored_plan
from git_po.verify import VerifyResult
from git_po.worktrees import remove_worktree

MARKERS = (b"<<<<<<< ", b">>>>>>> ")
_PROMPT_LINES = 30  # of each task's prompt, in a resolver's prompt


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
    NOT_REACHED = "not reached"


FAILURES = frozenset({Kind.CONFLICT, Kind.VERIFY_FAILED, Kind.UNFINISHED})
_WOULD = frozenset({Kind.WOULD_MERGE, Kind.WOULD_RESOLVE})


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
        return not any(
            s.kind in FAILURES
            or (s.named and s.kind in (Kind.NOT_COMPLETE, Kind.NO_BRANCH, Kind.NOT_REACHED))
            for s in self.steps
        )

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
    def problem(self) -> Step | None:
        return next((s for s in self.steps if s.kind in FAILURES), None)


@dataclass(frozen=True)
class Options:
    only: tuple[str, ...] = ()
    dry_run: bool = False
    branch: str | None = None  # overrides the plan's integration_branch and po.integrationBranch


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


def _df_clash(repo: Repo, ref: str) -> str | None:
    """A ref that keeps ref from being created (a file where a folder must be, or the
    reverse), or None."""
    parts = ref.split("/")
    for i in range(3, len(parts)):
        prefix = "/".join(parts[:i])
        if repo.read_ref(prefix) is not None:
            return prefix
    inner = repo.refs_under(ref + "/")
    return inner[0] if inner else None


def _dirty_checkout(
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


def _advance(
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
        clash = _df_clash(repo, ref)
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
    _, dirty = _dirty_checkout(repo, ref, expected, new)
    if dirty:
        raise StateConflict(
            f"{ref.removeprefix('refs/heads/')} is checked out at {where} with uncommitted "
            f"changes ({dirty}); nothing was changed",
            hint="commit or stash them there, then run the command again",
        )
    repo.move_checked_out_branch(where, ref, expected, new, message)
    return where


# --- reading a task ----------------------------------------------------------------------------


def _complete_subject(repo: Repo, head: Oid, st: TaskState | None) -> str | None:
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


def _who_touched(
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


def _markers_left(repo: Repo, commit: Oid, paths: set[str]) -> list[str]:
    out = []
    for p in sorted(paths):
        data = repo.read_blob(commit, p)
        if data is None or b"\0" in data[:8000]:
            continue
        if any(line.startswith(MARKERS) for line in data.splitlines()):
            out.append(p)
    return out


def integrated_tasks(repo: Repo, plan: str, tip: Oid, since: Oid | None) -> list[str]:
    """Tasks whose merges are on tip's first-parent history (not in since's), oldest first."""
    out: list[str] = []
    for h in repo.first_parent_history(tip, since, limit=5000):
        tr = repo.trailers(h.oid)
        task = tr.get("Po-Task")
        if task and tr.get("Po-Plan") == plan and task not in out:
            out.append(task)
    return list(reversed(out))


# --- integrate -----------------------------------------------------------------------------------


def integrate(repo: Repo, plan_name: str, options: Options) -> Report:
    stored = read_plan_ref(repo, plan_name)
    plan = stored_plan(repo, plan_name)
    assert stored is not None
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
        where, dirty = _dirty_checkout(repo, ref, None, None)
        if where is not None and not dirty:
            # its files follow every merge: find what is in the way of any of them (an
            # untracked file a later merge adds) before the first one moves anything
            tip = repo.read_ref(ref)
            preview = _Integration(repo, plan, branch, start, replace(options, dry_run=True))
            done = preview.run()
            stops = [s.commit for s in done.steps if s.commit is not None and s.kind in _WOULD]
            if tip is not None and stops:
                where, dirty = _dirty_checkout(repo, ref, tip, stops[-1], via=stops[:-1])
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
        self.repo.relax_object_checks()
        stopped = False
        for tid in self.plan.graph.topo_order:
            if self.options.only and tid not in self.options.only:
                continue
            named = tid in self.options.only
            if stopped:
                self.report.steps.append(Step(tid, Kind.NOT_REACHED, named=named))
                continue
            step = self._task(tid)
            step.named = named
            self.report.steps.append(step)
            if step.kind in FAILURES:
                stopped = True
        self.report.after = self.tip
        return self.report

    def _task(self, tid: str) -> Step:
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
        subject = _complete_subject(self.repo, head, st)
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
        return self._commit(tid, merged.oid, subject, Kind.MERGED, Kind.WOULD_MERGE)

    def _merged_before(self, tid: str) -> bool:
        if self._integrated is None:
            self._integrated = set(integrated_tasks(self.repo, self.plan.name, self.ours, None))
        return tid in self._integrated

    def _clashes(self, head: Oid, files: tuple[ConflictFile, ...]) -> tuple[Clash, ...]:
        touched = _who_touched(self.repo, self.plan.name, self.ours, head, {c.path for c in files})
        return tuple(Clash(c.path, c.kind, tuple(touched.get(c.path, []))) for c in files)

    def _commit(self, tid: str, new: Oid, subject: str | None, done: Kind, would: Kind) -> Step:
        """Verify new (when the plan says so) and move the integration branch to it."""
        if self.tip is None:
            # the first merge creates the branch: say now (dry run too) when it cannot be
            clash = _df_clash(self.repo, self.ref)
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
            result = verify.run_in_temp_worktree(
                self.repo, self.plan.name, f"{tid}+merge", new, self.plan.verify, root=self.root
            )
            result = verify.record(self.repo, result, self.plan.name, tid)
            if not result.passed:
                return Step(tid, Kind.VERIFY_FAILED, commit=new, subject=subject, verify=result)
        try:
            moved = _advance(
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
        step = self._commit(tid, new, subject, Kind.RESOLVED, Kind.WOULD_RESOLVE)
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


# --- landing on another branch (--into) ---------------------------------------------------------


@dataclass(frozen=True)
class Landing:
    branch: str
    before: Oid
    after: Oid
    how: str  # up to date, fast-forward, merge (with "would " in a dry run)
    checkout: Path | None  # the branch is checked out there; its files were (would be) updated
    verify: VerifyResult | None = None


def land(repo: Repo, plan_name: str, source: Oid, into: str, *, dry_run: bool) -> Landing:
    """Advance branch `into` to source (the integration result), compare-and-swap."""
    check_into(repo, plan_name, into)
    plan = stored_plan(repo, plan_name)
    if dry_run:
        return _land(repo, plan, source, into, dry_run=True)
    with plan_lock(repo, plan_name):
        repo.relax_object_checks()
        return _land(repo, plan, source, into, dry_run=False)


def check_into(repo: Repo, plan_name: str, into: str) -> None:
    """UsageError unless `into` names an existing branch that --into may move."""
    plan = stored_plan(repo, plan_name)
    why = branch_problem(into)
    if why:
        raise UsageError(f"--into: {why}")
    if into.startswith(f"po/{plan_name}/") or into == branch_name(repo, plan):
        raise UsageError(
            f"--into {into}: git po's own branches of plan {plan_name} are not targets"
        )
    ref = f"refs/heads/{into}"
    if repo.read_ref(ref) is None:
        raise UsageError(f"--into {into}: no such branch", hint=f"create it: git branch {into}")


def _land(repo: Repo, plan: Plan, source: Oid, into: str, *, dry_run: bool) -> Landing:
    ref = f"refs/heads/{into}"
    current = repo.read_ref(ref)
    assert current is not None
    if repo.is_ancestor(source, current):
        return Landing(into, current, current, "up to date", None)
    checkout, dirty = _dirty_checkout(repo, ref, current, source)
    if dirty:
        raise StateConflict(
            f"{into} is checked out at {checkout} with uncommitted changes ({dirty}); "
            f"{into} was not changed",
            hint=f"commit or stash them, then run git po integrate --into {into} again",
        )
    if repo.is_ancestor(current, source):
        new, how = source, "fast-forward"
    else:
        integ = branch_name(repo, plan)
        tasks = integrated_tasks(repo, plan.name, source, repo.merge_base(current, source))
        body = f"Tasks: {', '.join(tasks)}\n\n" if tasks else ""
        message = f"Merge {integ} into {into} (plan {plan.name})\n\n{body}Po-Plan: {plan.name}\n"
        merged = repo.merge_pair(current, source, message)
        if not merged.clean:
            files = ", ".join(c.path for c in merged.conflicts)
            raise PoError(
                f"{into} and the integration result conflict in {files}; {into} was not changed",
                hint=f"merge {integ} into {into} yourself",
            )
        assert merged.oid is not None
        new, how = merged.oid, "merge"
    if dry_run:
        return Landing(into, current, new, "would " + how, checkout)
    result: VerifyResult | None = None
    if plan.verify:
        result = verify.latest(repo, new)
        if result is None or result.command != plan.verify or not result.passed:
            result = verify.run_in_temp_worktree(
                repo, plan.name, "land+into", new, plan.verify, root=config.worktree_root(repo)
            )
            result = verify.record(repo, result, plan.name, "into")
        if not result.passed:
            raise VerifyFailed(result, into)
    _advance(repo, ref, current, new, f"po: land plan {plan.name} ({how})")
    return Landing(into, current, new, how, checkout, result)


class VerifyFailed(PoError):
    """The verify command failed on what would have been landed."""

    def __init__(self, result: VerifyResult, into: str) -> None:
        super().__init__(
            f"verify {result.summary()} on {result.commit[:12]}; {into} was not changed\n"
            + _indent(result.output_tail),
            hint=f"see it again with: git notes --ref=po-verify show {result.commit[:12]}",
        )
        self.result = result


# --- resolving a conflict ------------------------------------------------------------------------


@dataclass
class Resolution:
    task: str
    state: str  # prepared, already prepared, committed, merges cleanly, integrated, resolved
    branch: str | None = None
    worktree: Path | None = None
    clashes: tuple[Clash, ...] = ()
    agent: AgentRun | None = None


@dataclass(frozen=True)
class AgentRun:
    exit_code: int
    timed_out: bool
    session_id: str | None
    cost_usd: float | None
    transcript: Path


def resolve(
    repo: Repo,
    plan_name: str,
    tid: str,
    *,
    branch: str | None = None,
    agent: bool = False,
    claude_path: str | None = None,
) -> Resolution:
    """Prepare a worktree holding the conflicted merge of task tid into the integration
    branch, on branch po/<plan>/resolve+<tid>; with agent, run a claude worker to resolve it."""
    stored = read_plan_ref(repo, plan_name)
    plan = stored_plan(repo, plan_name)
    assert stored is not None
    if tid not in plan.ids:
        raise NotFound(
            f"plan {plan_name!r} has no task {tid!r}", hint=f"tasks: {', '.join(plan.ids)}"
        )
    integ = branch_name(repo, plan, branch)
    with plan_lock(repo, plan_name):
        repo.relax_object_checks()
        return _prepare(repo, plan, tid, integ, Oid(stored.run.base), agent, claude_path)


def _prepare(
    repo: Repo,
    plan: Plan,
    tid: str,
    integ: str,
    start: Oid,
    agent: bool,
    claude_path: str | None,
) -> Resolution:
    head = repo.read_ref(layout.branch_ref(plan.name, tid))
    if head is None:
        raise StateConflict(f"task {tid} has no branch {layout.branch(plan.name, tid)}")
    st = StateStore(repo, plan.name).read(tid)
    if st is None or st.state is not State.COMPLETE:
        raise StateConflict(
            f"task {tid} is {st.state.value if st else 'pending'}, not complete: "
            "only complete tasks are integrated",
        )
    ours = repo.read_ref(f"refs/heads/{integ}") or start
    res_branch = layout.resolve_branch(plan.name, tid)
    res_ref = f"refs/heads/{res_branch}"
    root = config.worktree_root(repo)
    wname = layout.resolve_worktree_name(plan.name, tid)
    path = layout.resolve_worktree_path(root, plan.name, tid)
    if repo.is_ancestor(head, ours):
        return Resolution(tid, "integrated")
    existing = repo.read_ref(res_ref)
    if existing is not None:
        have_worktree = wname in repo.worktree_names() and path.is_dir()
        if repo.is_ancestor(head, existing) and not repo.is_ancestor(existing, ours):
            return Resolution(tid, "committed", res_branch, path if have_worktree else None)
        if have_worktree and existing == ours and repo.merge_head(path) == head:
            changes = repo.worktree_changes(path)
            files = {p for p, w in changes.items() if w == "conflicted"}
            again = Resolution(
                tid,
                "already prepared",
                res_branch,
                path,
                _clashes_of(repo, plan, ours, head, files),
            )
            return (
                _resolve_with_agent(repo, plan, again, integ, ours, head, claude_path)
                if agent
                else again
            )
        if have_worktree or not repo.is_ancestor(existing, ours):
            raise StateConflict(
                f"{res_branch} already exists"
                + (f", checked out at {path}" if have_worktree else "")
                + ", and is not a finished resolution of the integration branch's tip",
                hint="finish it there (git commit) and run git po integrate, "
                "or remove it with git po clean --branches",
            )
        repo.delete_ref(res_ref, existing)  # a stale, fully integrated helper branch
    probe = repo.merge_pair(ours, head, None)
    if probe.clean:
        return Resolution(tid, "merges cleanly")
    subject = _complete_subject(repo, head, st)
    message = merge_message(plan.name, tid, subject, st.session_id, note=", conflicts resolved")
    if path.exists() or wname in repo.worktree_names():
        raise StateConflict(
            f"{path} is in the way of the resolve worktree",
            hint="remove it (git po clean) and try again",
        )
    repo.create_ref(res_ref, ours, f"po: resolve {tid} against {integ}")
    try:
        repo.add_worktree(wname, path, res_branch)
    except PoError:
        repo.delete_ref(res_ref, ours)
        raise
    conflicted = repo.start_merge(path, head, message, theirs_ref=layout.branch_ref(plan.name, tid))
    clashes = _clashes_of(repo, plan, ours, head, set(conflicted))
    result = Resolution(tid, "prepared", res_branch, path, clashes)
    if agent:
        return _resolve_with_agent(repo, plan, result, integ, ours, head, claude_path)
    return result


def _resolve_with_agent(
    repo: Repo,
    plan: Plan,
    res: Resolution,
    integ: str,
    ours: Oid,
    head: Oid,
    claude_path: str | None,
) -> Resolution:
    """Run a claude worker in the prepared worktree; resolved when it committed the merge."""
    assert res.worktree is not None and res.branch is not None
    prompt = resolver_prompt(
        repo, plan, res.task, integ, ours, head, res.worktree, res.branch, res.clashes
    )
    res.agent = _run_resolver(
        repo, plan, plan.task(res.task), res.worktree, res.branch, prompt, claude_path
    )
    tip = repo.read_ref(f"refs/heads/{res.branch}")
    if (
        tip is not None
        and tip != ours
        and repo.is_ancestor(head, tip)
        and repo.merge_head(res.worktree) is None
    ):
        res.state = "resolved"
    return res


def _clashes_of(
    repo: Repo, plan: Plan, ours: Oid, theirs: Oid, files: set[str]
) -> tuple[Clash, ...]:
    merged = repo.merge_pair(ours, theirs, None)
    kinds = {c.path: c.kind for c in merged.conflicts}
    touched = _who_touched(repo, plan.name, ours, theirs, files)
    return tuple(
        Clash(p, kinds.get(p, "both-modified"), tuple(touched.get(p, []))) for p in sorted(files)
    )


def resolver_prompt(
    repo: Repo,
    plan: Plan,
    tid: str,
    integ: str,
    ours: Oid,
    head: Oid,
    path: Path,
    res_branch: str,
    clashes: tuple[Clash, ...],
) -> str:
    store = StateStore(repo, plan.name)
    task_branch = layout.branch(plan.name, tid)
    parts = [
        f"You are resolving a merge conflict for git po, plan `{plan.name}`.",
        "",
        f"This worktree ({path}) is on branch `{res_branch}`, which starts at the tip of the "
        f"integration branch `{integ}`. git is in the middle of merging task `{tid}`'s branch "
        f"`{task_branch}` into it: what merged cleanly is staged, and these files hold "
        "conflict markers (`<<<<<<< HEAD` marks the integration branch's side, `>>>>>>>` the "
        "task's side):",
        "",
        *[f"- `{c.path}`: {c.describe()}" for c in clashes],
        "",
        "## The integration branch's side (HEAD, ours)",
        "",
    ]
    done = integrated_tasks(repo, plan.name, ours, None)
    if not done:
        parts += ["The plan's base, with no task integrated yet.", ""]
    for other in done:
        other_head = repo.read_ref(layout.branch_ref(plan.name, other))
        subject = _complete_subject(repo, other_head, store.read(other)) if other_head else None
        parts += [f"### Task `{other}`: {subject or '(no [COMPLETE] subject)'}", ""]
        if other in plan.ids:
            parts += [_quote(plan.task(other).prompt), ""]
    subject = _complete_subject(repo, head, store.read(tid))
    parts += [
        f"## The task's side (`{task_branch}`, theirs)",
        "",
        f"### Task `{tid}`: {subject or '(no [COMPLETE] subject)'}",
        "",
        _quote(plan.task(tid).prompt),
        "",
        "## What to do",
        "",
        "1. Edit each conflicted file so that it keeps what both sides meant to do, and remove "
        "every conflict marker.",
    ]
    if plan.verify:
        parts.append(f"2. Run the plan's check and make it pass: `{plan.verify}`")
    parts += [
        f"{3 if plan.verify else 2}. Stage the files (`git add`) and conclude the merge with "
        "`git commit --no-edit`: the prepared message names the task and carries the trailers "
        "git po needs.",
        "",
        "Do not abort, rebase or reset the merge, do not switch branches, and change nothing "
        "beyond what resolving the conflict needs. Then stop.",
    ]
    return "\n".join(parts) + "\n"


def _quote(text: str) -> str:
    lines = text.strip().splitlines()
    if len(lines) > _PROMPT_LINES:
        lines = [*lines[:_PROMPT_LINES], "…"]
    return "\n".join(f"> {line}" if line else ">" for line in lines)


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())


def _run_resolver(
    repo: Repo,
    plan: Plan,
    task: Task,
    path: Path,
    res_branch: str,
    prompt: str,
    claude_path: str | None,
) -> AgentRun:
    prof = profile("claude", claude_path=claude_path or config.claude_path(repo))
    if prof.executable() is None:
        raise AgentMissing(
            "the claude executable was not found",
            hint="install Claude Code, or point git config po.claudePath at it; "
            f"the conflicted merge is ready for you at {path}",
        )
    launch = prof.launch(task, prompt, None)
    label = f"resolve+{task.id}"
    n = 1
    while layout.transcript_path(
        repo.common_dir, plan.name, label, n, prof.transcript_suffix
    ).exists():
        n += 1
    transcript = layout.transcript_path(
        repo.common_dir, plan.name, label, n, prof.transcript_suffix
    )
    transcript.parent.mkdir(parents=True, exist_ok=True)
    env = proc.child_env(
        {
            "PO_PLAN": plan.name,
            "PO_TASK": task.id,
            "PO_ATTEMPT": f"resolve-{n}",
            "PO_BRANCH": res_branch,
            "PO_WORKTREE": str(path),
        }
    )
    timed_out = False
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(transcript.open("ab"))
        err = stack.enter_context(transcript.with_name(transcript.name + ".stderr").open("ab"))
        stdin: IO[bytes] | int = subprocess.DEVNULL
        if launch.stdin is not None:
            prompt_file = transcript.with_name(transcript.name + ".prompt")
            prompt_file.write_bytes(launch.stdin)
            stdin = stack.enter_context(prompt_file.open("rb"))
        child = proc.spawn(launch.argv, cwd=path, env=env, stdout=out, stderr=err, stdin=stdin)
        try:
            code = child.wait(timeout=task.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.signal_group(child, proc.TERM)
            try:
                code = child.wait(timeout=config.stop_grace(repo))
            except subprocess.TimeoutExpired:
                proc.signal_group(child, proc.KILL)
                code = child.wait()
        except BaseException:
            proc.signal_group(child, proc.TERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=config.stop_grace(repo))
            proc.signal_group(child, proc.KILL)
            raise
    secrets.mask_file_in_place(str(transcript), secrets.secret_values(os.environ))
    reader = prof.reader(transcript)
    reader.finish()
    s = reader.summary
    return AgentRun(code, timed_out, s.session_id, s.cost_usd, transcript)


# --- text for the command line -------------------------------------------------------------------


def report_text(report: Report) -> str:
    head = report.before[:12] if report.before else f"new, from the plan's base {report.start[:12]}"
    lines = [f"plan {report.plan}: integrating into {report.branch} ({head})"]
    waiting: list[str] = []
    for s in report.steps:
        if s.kind is Kind.NOT_COMPLETE and not s.named:
            waiting.append(f"{s.task} ({s.detail})")
            continue
        text = f"  {s.task}: {s.kind.value}"
        if s.commit and s.kind in (
            Kind.MERGED,
            Kind.RESOLVED,
            Kind.WOULD_MERGE,
            Kind.WOULD_RESOLVE,
        ):
            text += f" {s.commit[:12]}"
        if s.subject and s.kind not in (Kind.ALREADY, Kind.NOT_REACHED):
            text += f" — {s.subject}"
        if s.kind is Kind.NOT_COMPLETE and s.detail:
            text += f" (it is {s.detail})"
        lines.append(text)
        if s.verify is not None:
            lines.append(f"      verify {s.verify.summary()}: {s.verify.command}")
            if not s.verify.passed and s.verify.output_tail:
                lines.append(_indent(_indent(s.verify.output_tail)))
        if s.kind is Kind.CONFLICT:
            n = len(s.clashes)
            lines.append(f"      {n} conflicting file{'s' if n != 1 else ''}:")
            width = max(len(c.path) for c in s.clashes) if s.clashes else 0
            for c in s.clashes:
                lines.append(f"        {c.path.ljust(width)}  {c.describe()}")
        if s.detail and s.kind not in (Kind.NOT_COMPLETE,):
            lines.append(f"      {s.detail}")
    if waiting:
        lines.append(f"  not complete, left for later: {', '.join(waiting)}")
    if report.dry_run:
        lines.append("dry run: no branch moved, no file touched")
    elif report.after != report.before:
        assert report.after is not None
        lines.append(f"{report.branch} is now at {report.after[:12]}")
        if report.updated_checkout is not None:
            lines.append(f"(its checkout at {report.updated_checkout} was updated)")
    elif report.after is None:
        lines.append(f"{report.branch} does not exist yet: nothing to integrate")
    else:
        lines.append(f"{report.branch} is unchanged at {report.after[:12]}")
    return "\n".join(lines)


def report_hint(report: Report) -> str | None:
    bad = report.problem
    if bad is None:
        return None
    if bad.kind is Kind.CONFLICT:
        return (
            f"nothing was half-merged; resolve it with: git po integrate {report.plan} "
            f"--resolve {bad.task}   (add --agent to have claude do it)"
        )
    if bad.kind is Kind.VERIFY_FAILED:
        assert bad.commit is not None
        return (
            f"the merge of {bad.task} did not pass verify; the result is noted: "
            f"git notes --ref=po-verify show {bad.commit[:12]}"
        )
    return "finish the resolution, then run git po integrate again"


def landing_text(landing: Landing) -> str:
    if landing.how == "up to date":
        return f"{landing.branch} already contains the integration result"
    text = f"{landing.branch}: {landing.how} {landing.before[:12]} -> {landing.after[:12]}"
    if landing.verify is not None:
        text += f" (verify {landing.verify.summary()})"
    if landing.checkout is not None:
        verb = "would be" if landing.how.startswith("would") else "were"
        text += f"\nthe files of its checkout at {landing.checkout} {verb} updated too"
    return text


def resolution_text(res: Resolution, plan: str) -> str:
    if res.state == "integrated":
        return f"{res.task} is already integrated: nothing to resolve"
    if res.state == "merges cleanly":
        return f"{res.task} merges cleanly: run git po integrate {plan}"
    if res.state == "committed":
        return (
            f"a resolution of {res.task} is committed on {res.branch}: "
            f"git po integrate {plan} picks it up"
        )
    lines = []
    verb = "prepared" if res.state != "already prepared" else "already prepared"
    lines.append(f"{verb}: the merge of {res.task} with its conflicts, at {res.worktree}")
    lines.append(f"  branch {res.branch}")
    for c in res.clashes:
        lines.append(f"  conflict: {c.path} — {c.describe()}")
    if res.agent is not None:
        a = res.agent
        how = "timed out" if a.timed_out else f"exited {a.exit_code}"
        cost = f", ${a.cost_usd:.2f}" if a.cost_usd else ""
        lines.append(f"claude {how} (session {a.session_id or '-'}{cost}; {a.transcript})")
    if res.state == "resolved":
        lines.append(f"resolved and committed on {res.branch}: run git po integrate {plan}")
    else:
        lines.append(
            f"resolve the files there, then git add and git commit; "
            f"git po integrate {plan} picks the resolution up"
        )
    return "\n".join(lines)
