"""`git po integrate --resolve TASK`: prepare a worktree holding the conflicted merge of a task
into the integration branch, on branch po/<plan>/resolve+<task>, for a person (or, with
`--agent`, a claude worker) to resolve and commit; the next `integrate` picks the resolution up.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from git_po import config, layout, liveness, proc, secrets, trust
from git_po.agents import profile
from git_po.errors import AgentMissing, NotFound, PoError, StateConflict
from git_po.integration_branch import (
    Clash,
    branch_name,
    complete_subject,
    integrated_tasks,
    merge_message,
    plan_lock,
    who_touched,
)
from git_po.local import process_start
from git_po.plan import Plan, Task
from git_po.repo import Oid, Repo
from git_po.state import State, StateStore, read_plan_ref
from git_po.status import stored_plan

_PROMPT_LINES = 30  # of each task's prompt, in a resolver's prompt


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
    if agent:
        trust.require_trusted(repo, plan_name)  # the agent runs with the plan's settings
    if tid not in plan.ids:
        raise NotFound(
            f"plan {plan_name!r} has no task {tid!r}", hint=f"tasks: {', '.join(plan.ids)}"
        )
    integ = branch_name(repo, plan, branch)
    with plan_lock(repo, plan_name):
        # a resolver left by an integrate that died, or anyone at work in the worktree
        path = layout.resolve_worktree_path(config.worktree_root(repo), plan_name, tid)
        live = liveness.on_task(repo, plan_name, tid, [path], roles=("resolver",))
        if live:
            raise liveness.refuse(live, f"cannot prepare the resolution of {tid}", plan_name)
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
    subject = complete_subject(repo, head, st)
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
    touched = who_touched(repo, plan.name, ours, theirs, files)
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
        subject = complete_subject(repo, other_head, store.read(other)) if other_head else None
        parts += [f"### Task `{other}`: {subject or '(no [COMPLETE] subject)'}", ""]
        if other in plan.ids:
            parts += [_quote(plan.task(other).prompt), ""]
    subject = complete_subject(repo, head, store.read(tid))
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
        # recorded like a worker: no second resolver, no removal, while it runs
        store = liveness.TrackedStore(repo, plan.name)
        store.write(
            liveness.Tracked(
                kind="resolver",
                task=task.id,
                pid=child.pid,
                start=process_start(child.pid) or "",
                worktree=str(path),
                started_at=time.time(),
            )
        )
        stack.callback(store.remove, "resolver", task.id)
        # stopped with the tools it started, wherever they run
        family = liveness.Family(child.pid, plan=plan.name, task=task.id, worktree=path)
        grace = config.stop_grace(repo)
        try:
            code = child.wait(timeout=task.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            family.stop(grace)
            code = child.wait()
        except BaseException:
            family.stop(grace)
            child.wait()
            raise
        family.stop(grace)  # what it left running
    secrets.mask_file_in_place(str(transcript), secrets.secret_values(os.environ))
    reader = prof.reader(transcript)
    reader.finish()
    s = reader.summary
    return AgentRun(code, timed_out, s.session_id, s.cost_usd, transcript)
