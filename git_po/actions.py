"""What `answer`, `retry`, `stop`, `pause` and `unpause` do to a task, whoever asks (the command
line or the web dashboard): check the request against the task's state, then hand it to the
plan's running orchestrator through its inbox, or say that a run must start to carry it out, or
(pause, with nothing running) record it on the task's state ref directly."""

from __future__ import annotations

from dataclasses import dataclass, replace

from git_po import layout, liveness, rerun, status, trust
from git_po.errors import NotFound, StateConflict, UsageError
from git_po.local import Inbox, RunLock
from git_po.repo import Repo
from git_po.state import State, StateStore, TaskState, list_plans, now_iso

COMMANDS = ("answer", "retry", "stop", "pause", "unpause")

ALLOWED: dict[str, tuple[State, ...]] = {
    "answer": (State.BLOCKED, State.NEEDS),
    "retry": (
        State.FAILED,
        State.BLOCKED,
        State.NEEDS,
        State.INTERRUPTED,
        State.SKIPPED,
        State.COMPLETE,
    ),
    "stop": (State.RUNNING, State.PENDING),
    "pause": (State.RUNNING, State.PENDING, State.INTERRUPTED),
    "unpause": (State.PAUSED,),
}

PAUSED_REASON = "paused with git po pause"


@dataclass(frozen=True)
class Outcome:
    """What became of a request. holder: the orchestrator it was sent to; run_needed: no
    orchestrator runs and one must start (`git po resume PLAN`) to carry it out; recorded:
    written on the state ref directly (pause with nothing running)."""

    plan: str
    task: str
    command: str
    holder: str | None = None
    run_needed: bool = False
    recorded: bool = False


def one_plan(repo: Repo, plan: str | None) -> str:
    plans = list_plans(repo)
    if plan is not None:
        if plan not in plans:
            raise NotFound(f"no plan named {plan!r} in this repository", hint=plans_hint(plans))
        return plan
    if len(plans) == 1:
        return plans[0]
    if not plans:
        raise NotFound("no plan has been started in this repository", hint="git po start plan.toml")
    raise UsageError(f"several plans here ({', '.join(plans)}): name one")


def plans_hint(plans: list[str]) -> str:
    return f"plans here: {', '.join(plans)}" if plans else "no plan has been started here"


def task_arg(repo: Repo, spec: str, plan: str | None) -> tuple[str, str]:
    """TASK or PLAN/TASK -> (plan, task), checked against the recorded plan."""
    if "/" in spec:
        plan, _, task = spec.partition("/")
    else:
        task = spec
    name = one_plan(repo, plan)
    ids = status.stored_plan(repo, name).ids
    if task not in ids:
        raise NotFound(f"plan {name!r} has no task {task!r}", hint=f"tasks: {', '.join(ids)}")
    return name, task


def request(
    repo: Repo, command: str, spec: str, text: str = "", plan: str | None = None
) -> Outcome:
    """Carry out command on the task spec names, as far as it can be without running a plan."""
    name, task = task_arg(repo, spec, plan)
    store = StateStore(repo, name)
    st = store.read(task)
    state = st.state if st else State.PENDING
    allowed = ALLOWED[command]
    if state not in allowed:
        raise StateConflict(
            f"{name}/{task} is {state.value}; {command} applies to "
            + " or ".join(s.value for s in allowed)
            + " tasks",
            hint=f"git po unpause {name}/{task} first" if state is State.PAUSED else None,
        )
    if command == "retry" and st is not None:
        problem = rerun.restore_problem(repo, st)
        if problem:
            raise StateConflict(
                f"cannot retry {name}/{task}: {problem}",
                hint=f"git po start --restart runs the plan again from scratch, or look for "
                f"the work under refs/po/{name}/",
            )
    holder = RunLock(repo, name).alive_holder()
    if command == "stop" and not holder:
        raise StateConflict(
            f"no orchestrator runs plan {name!r}",
            hint=f"nothing is running; git po resume {name} continues it",
        )
    if not holder and command in ("retry", "pause", "unpause"):
        # a process of the task outlived its run: never a second worker beside it, and a
        # pause must stop it, which only an orchestrator that adopts it can do
        live = liveness.on_task(repo, name, task)
        if live:
            raise liveness.refuse(live, f"cannot {command} {name}/{task}", name)
    if command == "pause" and not holder:
        _record_pause(store, st, name, task)
        if RunLock(repo, name).alive_holder():  # one started meanwhile: tell it too
            Inbox(repo, name).post(command, task, text)
        return Outcome(name, task, command, recorded=True)
    if not holder:  # this command starts a run of the recorded plan: only of a trusted one
        trust.require_trusted(repo, name)
    Inbox(repo, name).post(command, task, text)
    if holder:
        return Outcome(name, task, command, holder=holder)
    return Outcome(name, task, command, run_needed=True)


def _record_pause(store: StateStore, st: TaskState | None, plan: str, task: str) -> None:
    base = st or TaskState(
        plan=plan,
        task=task,
        state=State.PENDING,
        branch=layout.branch(plan, task),
        updated_at=now_iso(),
    )
    paused = replace(base, state=State.PAUSED, reason=PAUSED_REASON, retry_after=None)
    store.write(
        paused,
        "paused",
        f"{task}: paused — {PAUSED_REASON}\n\n"
        f"Po-Plan: {plan}\nPo-Task: {task}\nPo-State: {State.PAUSED.value}\n",
    )
