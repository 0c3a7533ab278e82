"""Starting a plan again after a finished run, like make: a complete task whose definition and
base are unchanged is kept (its branch, state and worktree stay); a new, changed or unfinished
task runs, and so does every task that depends, directly or not, on one that runs. The branches,
state and snapshots of the tasks that run again are kept under refs/po/<plan>/runs/<n>/.

What defines a task's work is what reaches its agent: the prompt (inline or the prompt file's
contents), the agent options (agent, run, model, permission_mode, allowed_tools, max_turns), its
dependencies and the files it owns. Budgets, timeouts, retries, its description and the plan's
verify command do not change the work of a task that is complete, so changing them keeps it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace

from git_po import config, layout
from git_po.errors import PlanError
from git_po.plan import Plan, Task, parse_plan
from git_po.protocol import Kind, progress_of
from git_po.repo import Oid, Repo
from git_po.state import State, StateStore, StoredPlan, TaskState, read_plan_ref
from git_po.worktrees import free_run_number, leftovers

# the parts of a definition, in the order a change is reported, with how a change reads
PARTS = {
    "prompt": "changed prompt",
    "agent": "changed agent options",
    "depends_on": "changed dependencies",
    "writes": "changed files it owns (writes)",
}


def definition(task: Task) -> dict[str, str]:
    """A digest of each part of what defines a task's work."""
    parts: dict[str, object] = {
        "prompt": task.prompt,
        "agent": [
            task.agent,
            task.run,
            task.model,
            task.permission_mode,
            list(task.allowed_tools),
            task.max_turns,
        ],
        "depends_on": sorted(task.depends_on),
        "writes": list(task.writes),
    }
    return {
        key: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:20]
        for key, value in parts.items()
    }


@dataclass(frozen=True)
class Before:
    """What the last run left of a task, read from refs."""

    state: State
    definition: Mapping[str, str] | None  # None: unknown (recorded by nothing)
    tip: Oid | None  # its work: the branch, or the recorded tip when the branch is gone
    complete: bool  # the newest protocol commit at tip is [COMPLETE]
    base_moved: str | None  # why its recorded base is not what it would start from now


@dataclass(frozen=True)
class Choice:
    task: str
    keep: bool
    why: str


def decide(plan: Plan, before: Mapping[str, Before]) -> dict[str, Choice]:
    """Which tasks keep their work and which run, and why (pure)."""
    out: dict[str, Choice] = {}
    for tid in plan.graph.topo_order:
        out[tid] = _choice(plan.task(tid), before.get(tid), out)
    return out


def _choice(task: Task, b: Before | None, done: Mapping[str, Choice]) -> Choice:
    def run(why: str) -> Choice:
        return Choice(task.id, False, why)

    if b is None:
        return run("new")
    if b.definition is None:
        return run("its definition was not recorded")
    now = definition(task)
    changed = [label for key, label in PARTS.items() if b.definition.get(key) != now[key]]
    if changed:
        return run(", ".join(changed))
    if b.state is not State.COMPLETE:
        return run(f"unfinished ({b.state.value})")
    if b.tip is None:
        return run("its branch is gone and its recorded tip is not in this repository")
    if not b.complete:
        return run("unfinished (its branch does not end in [COMPLETE])")
    again = [d for d in task.depends_on if not done[d].keep]
    if again:
        return run(f"dependency {again[0]} re-runs")
    if b.base_moved:
        return run(b.base_moved)
    return Choice(task.id, True, "unchanged")


@dataclass(frozen=True)
class Rerun:
    """A start of a plan whose earlier run finished: what it keeps and what it runs."""

    plan: str
    after: int  # the earlier run's number
    choices: tuple[Choice, ...]  # in the plan's order
    states: Mapping[str, TaskState]  # the earlier states of tasks that are kept
    integration_stays: bool  # the integration branch holds no work of a task that re-runs

    @property
    def kept(self) -> tuple[str, ...]:
        return tuple(c.task for c in self.choices if c.keep)

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(c.task for c in self.choices if not c.keep)


def recorded_plan(repo: Repo, stored: StoredPlan) -> Plan | None:
    """The plan as the earlier run recorded it (None if this version cannot read it)."""
    try:
        return parse_plan(
            stored.text,
            f"{layout.plan_ref(stored.run.name)}:plan.toml",
            lambda rel: None,
            default_name=stored.run.name,
            prompts=stored.prompts,
            fallbacks=config.plan_fallbacks(repo),
        )
    except PlanError:
        return None


def look_back(repo: Repo, plan: Plan, base: Oid, stored: StoredPlan) -> Rerun:
    """Read what the earlier run left and decide (reads refs; writes nothing)."""
    old = recorded_plan(repo, stored)
    store = StateStore(repo, plan.name)
    before: dict[str, Before] = {}
    states: dict[str, TaskState] = {}
    for tid in plan.graph.topo_order:
        st = store.read(tid)
        if st is None:
            continue
        states[tid] = st
        recorded = st.definition
        if recorded is None and old is not None and tid in old.ids:
            recorded = definition(old.task(tid))  # a run recorded before definitions were
        tip = _tip(repo, plan.name, st)
        complete = False
        if tip is not None:
            hist = repo.first_parent_history(tip, Oid(st.base) if st.base else None)
            prog = progress_of([(h.oid, h.message, h.time, h.autosave) for h in hist])
            complete = prog.kind is Kind.COMPLETE
        before[tid] = Before(
            st.state,
            recorded,
            tip,
            complete,
            _base_moved(repo, plan.task(tid), st, base, before),
        )
    choices = decide(plan, before)
    runs = [tid for tid, c in choices.items() if not c.keep]
    stays = _integration_stays(repo, plan.name, runs, before, states, set(plan.ids))
    return Rerun(
        plan=plan.name,
        after=stored.run.run,
        choices=tuple(choices[t.id] for t in plan.tasks),
        states={t: states[t] for t, c in choices.items() if c.keep},
        integration_stays=stays,
    )


def _tip(repo: Repo, plan: str, st: TaskState) -> Oid | None:
    tip = repo.read_ref(layout.branch_ref(plan, st.task))
    if tip is not None:
        return tip
    rec = st.recorded_tip
    return Oid(rec) if rec and repo.resolve(rec) is not None else None


def _base_moved(
    repo: Repo, task: Task, st: TaskState, base: Oid, before: Mapping[str, Before]
) -> str | None:
    if st.base is None:
        return "it never started"
    if not task.depends_on:
        if st.base != base:
            return f"the plan's base moved ({st.base[:12]} -> {base[:12]})"
        return None
    tips: list[Oid] = []
    for d in task.depends_on:
        b = before.get(d)
        if b is None or b.tip is None:
            return None  # that dependency runs again: the reason given is that
        if b.tip not in tips:
            tips.append(b.tip)
    heads = {h for h in tips if not any(o != h and repo.is_ancestor(h, o) for o in tips)}
    recorded = Oid(st.base)
    if repo.resolve(recorded) is None:
        return "its recorded base is not in this repository"
    if heads == {recorded} or (len(heads) > 1 and set(repo.parents(recorded)) == heads):
        return None
    return "its dependencies' branches moved since it started"


def _integration_stays(
    repo: Repo,
    plan: str,
    runs: list[str],
    before: Mapping[str, Before],
    states: Mapping[str, TaskState],
    ids: set[str],
) -> bool:
    """Whether the plan's own integration branch holds no work of a task that runs again (or
    of a task the plan no longer has): then it stays, and integrate merges what is new."""
    tip = repo.read_ref(f"refs/heads/{layout.integration_branch(plan)}")
    if tip is None:
        return True
    old: list[tuple[Oid, str | None]] = []
    for tid in runs:
        b = before.get(tid)
        if b is not None and b.tip is not None:
            old.append((b.tip, states[tid].base))
    for ref in repo.refs_under(f"refs/heads/po/{plan}/"):
        label = ref.rsplit("/", 1)[1]
        if label not in ids and "+" not in label and label != "integration":
            gone = repo.read_ref(ref)
            if gone is not None:
                old.append((gone, repo.read_ref(layout.base_ref(plan, label))))
    return not any(work != base and repo.is_ancestor(work, tip) for work, base in old)


def kept_state(st: TaskState, task: Task, after: int) -> TaskState:
    """The state a kept task starts the new run with: complete, its definition recorded."""
    return replace(st, definition=definition(task), kept_from=st.kept_from or after)


def restore_problem(repo: Repo, st: TaskState) -> str | None:
    """Why a task whose branch was removed cannot go on from its recorded tip (None: it can,
    or its branch is there)."""
    if repo.read_ref(layout.branch_ref(st.plan, st.task)) is not None:
        return None
    tip = st.recorded_tip
    if tip is None or repo.resolve(tip) is not None:
        return None
    return (
        f"branch {st.branch} was removed and its recorded tip {tip[:12]} is no longer in "
        "this repository (garbage-collected?)"
    )


@dataclass(frozen=True)
class Preview:
    """What `start` would do with an earlier run of the plan (for --dry-run)."""

    plan: str
    after: int  # the earlier run's number
    after_state: str  # finished, interrupted, waiting, running
    restart: bool
    archive: str  # where refs that do not stay go: refs/po/<plan>/runs/<n>/
    rerun: Rerun | None  # a finished run started again without --restart

    @property
    def refused(self) -> bool:
        return self.after_state != "finished" and not self.restart


def preview(repo: Repo, plan: Plan, base: Oid, restart: bool) -> Preview | None:
    """What starting the plan would keep and run, reading refs only (None: a first run)."""
    stored = read_plan_ref(repo, plan.name)
    if stored is None:
        if not leftovers(repo, plan.name):
            return None
        after, state = 1, "left refs behind"
    else:
        after, state = stored.run.run, stored.run.state
    again = None
    if stored is not None and state == "finished" and not restart:
        again = look_back(repo, plan, base, stored)
    archive = layout.archive_prefix(plan.name, free_run_number(repo, plan.name, after))
    return Preview(plan.name, after, state, restart, archive, again)
