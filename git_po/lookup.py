"""Finding a task from what a user types: `TASK`, `PLAN/TASK`, or `TASK` with `--plan PLAN`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from git_po.errors import NotFound, UsageError
from git_po.plan import Plan
from git_po.repo import Repo
from git_po.state import list_plans
from git_po.status import stored_plan


@dataclass(frozen=True)
class TaskRef:
    plan: str
    task: str

    def __str__(self) -> str:
        return f"{self.plan}/{self.task}"


def _task_ids(repo: Repo, plan: str) -> list[str]:
    try:
        return list(stored_plan(repo, plan).ids)
    except NotFound:
        prefix = f"refs/po/{plan}/tasks/"
        return [r[len(prefix) :] for r in repo.refs_under(prefix) if "/" not in r[len(prefix) :]]


def resolve_plan(repo: Repo, plan: str | None) -> str:
    """The plan named, or the only plan of the repository."""
    plans = list_plans(repo)
    if plan is not None:
        if plan not in plans:
            close = difflib.get_close_matches(plan, plans, n=1)
            hint = f"did you mean {close[0]!r}?" if close else _known(plans)
            raise NotFound(f"no plan named {plan!r} in this repository", hint=hint)
        return plan
    if not plans:
        raise NotFound("no plan has been started in this repository", hint="git po start plan.toml")
    if len(plans) > 1:
        raise UsageError(
            f"this repository has several plans ({', '.join(plans)}): name one",
            hint="give the plan as an argument",
        )
    return plans[0]


def resolve_task(repo: Repo, spec: str, plan: str | None) -> TaskRef:
    """TASK, PLAN/TASK, or TASK with plan given; with one plan in the repository (or a task id
    found in only one plan) the plan may be left out."""
    if "/" in spec:
        named, _, task = spec.partition("/")
        if plan is not None and plan != named:
            raise UsageError(f"{spec!r} names plan {named!r} but --plan says {plan!r}")
        plan = named
    else:
        task = spec
    if not task:
        raise UsageError(f"{spec!r} names no task")
    if plan is None:
        plans = list_plans(repo)
        if not plans:
            raise NotFound(
                "no plan has been started in this repository", hint="git po start plan.toml"
            )
        holding = [p for p in plans if task in _task_ids(repo, p)]
        if len(holding) == 1:
            plan = holding[0]
        elif len(plans) == 1:
            plan = plans[0]
        elif holding:
            raise UsageError(
                f"task {task!r} is in several plans ({', '.join(holding)})",
                hint=f"name one: --plan {holding[0]} or {holding[0]}/{task}",
            )
        else:
            raise NotFound(f"no plan of this repository has a task {task!r}", hint=_known(plans))
    plan = resolve_plan(repo, plan)
    ids = _task_ids(repo, plan)
    if task not in ids:
        close = difflib.get_close_matches(task, ids, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"tasks of {plan}: {', '.join(ids)}"
        raise NotFound(f"plan {plan!r} has no task {task!r}", hint=hint)
    return TaskRef(plan, task)


def plan_of(repo: Repo, ref: TaskRef) -> Plan:
    return stored_plan(repo, ref.plan)


def _known(plans: list[str]) -> str:
    return f"plans here: {', '.join(plans)}" if plans else "no plan has been started here"
