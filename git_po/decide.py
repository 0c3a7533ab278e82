"""The run loop's decisions, as one pure function: `decide(world, event)` takes what is known of
the run (task states, timers, who runs, what the branches say) and something that happened, and
returns the actions to take, in order. It reads no repository, starts nothing and never sleeps;
an executor carries the actions out. The house reads plan -> graph -> decide -> execute -> repo.
(The run loop in git_po/scheduler.py still takes these decisions in its mixins; moving it onto
this function, with its executor, is on branch work of issue 10.)

To teach the loop something new, add an event and the actions it needs to `git_po.events`
(frozen dataclasses, listed in `Event` / `Action`), an `_on_<event>` function and a case in
`decide` here, and one case per new action in the executor."""

from __future__ import annotations

import time
from dataclasses import replace

from git_po import attempts
from git_po.events import (
    _EMPTY,
    Action,
    AttemptEnded,
    BudgetCheck,
    ClearRetry,
    CoolDown,
    Deliver,
    Event,
    Hurry,
    Interrupt,
    KillWorker,
    Launch,
    Message,
    NeedsCheck,
    NeedsFacts,
    RetryAt,
    SetState,
    Settings,
    SpendBudget,
    StartVerify,
    StopWorker,
    Tick,
    VerifyEnded,
    World,
)
from git_po.state import State

__all__ = [
    "Action",
    "AttemptEnded",
    "BudgetCheck",
    "ClearRetry",
    "CoolDown",
    "Deliver",
    "Event",
    "Hurry",
    "Interrupt",
    "KillWorker",
    "Launch",
    "Message",
    "NeedsCheck",
    "NeedsFacts",
    "RetryAt",
    "SetState",
    "Settings",
    "SpendBudget",
    "StartVerify",
    "StopWorker",
    "Tick",
    "VerifyEnded",
    "World",
    "decide",
    "next_step",
    "next_timer",
    "ready",
]

# -- the decision --


def decide(world: World, event: Event) -> list[Action]:
    """The actions `event` calls for, in the order to take them."""
    match event:
        case Interrupt():
            return [StopWorker(t, "interrupted") for t in world.running]
        case Hurry():
            return [KillWorker(t) for t in world.running if t not in world.killed]
        case Message():
            return _on_message(world, event)
        case AttemptEnded():
            return _on_attempt_ended(world, event)
        case VerifyEnded():
            return _on_verify_ended(world, event)
        case NeedsCheck():
            return _on_needs(world, event)
        case BudgetCheck():
            return _on_budget(world, event)
        case Tick():
            return _on_tick(world)
    raise TypeError(f"unknown event {event!r}")  # pragma: no cover


# -- readiness and the end of a run --


def cooling(world: World) -> bool:
    return world.now < world.cooldown_until


def ready(world: World) -> list[str]:
    """Pending tasks that may start now, in plan order."""
    if world.budget_spent:
        return []
    out = []
    for tid, task in world.tasks.items():
        if world.state(tid) is not State.PENDING:
            continue
        if world.retry_at.get(tid, 0.0) > world.now:
            continue
        if tid in world.locked:
            continue  # its state ref is locked: it starts once that is recorded
        if tid in world.attached:
            continue
        if all(world.state(d) is State.COMPLETE for d in task.depends_on):
            out.append(tid)
    return out


def waiting_later(world: World, inbox_pending: bool) -> bool:
    """Whether a pending task will become launchable by waiting (retry, cool-down, someone
    attached), or a message waits in the inbox."""
    if inbox_pending or world.locked:
        return True
    if world.budget_spent:
        return False
    for tid, task in world.tasks.items():
        if world.state(tid) is not State.PENDING:
            continue
        if all(world.state(d) is State.COMPLETE for d in task.depends_on):
            return True  # it waits for a retry, a cool-down or an attach
    return False


def next_step(world: World, inbox_pending: bool) -> str:
    """After a pass: "wait" (for an event or a timer), "again" (a pass right away) or "end"
    (nothing more can happen; with `stopping`, the run was interrupted)."""
    if world.running or world.verifying:
        return "wait"
    if world.stopping:
        return "end"
    if ready(world) and not cooling(world):
        return "again"
    return "wait" if waiting_later(world, inbox_pending) else "end"


def next_timer(world: World) -> float | None:
    """The earliest monotonic time a timer of the loop fires (a retry, the end of a cool-down),
    or None."""
    times = [t for tid, t in world.retry_at.items() if world.state(tid) is State.PENDING]
    if world.cooldown_until > world.now:
        times.append(world.cooldown_until)
    future = [t for t in times if t > world.now]
    return min(future) if future else None


def _on_tick(world: World) -> list[Action]:
    out: list[Action] = []
    states = dict(world.states)
    # what cannot run any more is skipped, in dependency order (a chain is skipped in one pass)
    for tid in world.graph.topo_order:
        if states[tid].state is not State.PENDING:
            continue
        bad = [
            d
            for d in world.tasks[tid].depends_on
            if states[d].state in (State.FAILED, State.SKIPPED)
            or (states[d].state is State.INTERRUPTED and world.budget_spent)
        ]
        if bad:
            d = bad[0]
            reason = f"dependency {d} is {states[d].state.value}"
            out.append(SetState(tid, State.SKIPPED, "skipped", reason=reason))
            states[tid] = replace(states[tid], state=State.SKIPPED)
    if world.stopping or cooling(world) or world.budget_spent:
        return out
    # start ready tasks while slots are free, longest remaining critical path first
    after = replace(world, states=states)
    free = world.settings.max_workers - world.busy
    for tid in world.graph.priority(ready(after))[: max(0, free)]:
        out.append(Launch(tid))
    return out


# -- an attempt's end, a verify's end --


def backoff(retry: int, base: float, jitter: float, cap: float = 300.0) -> float:
    """Seconds before retry number `retry` (1-based): exponential, with jitter in [0, 1)."""
    delay = min(cap, base * float(2 ** max(0, retry - 1)))
    return delay * (0.75 + 0.5 * jitter)


def _on_attempt_ended(world: World, ev: AttemptEnded) -> list[Action]:
    tid = ev.task
    task = world.tasks[tid]
    st = world.states[tid]
    attempt_no = st.attempts[-1].number if st.attempts else 0
    cls, why = ev.verdict.cls, ev.verdict.why
    detail = ev.detail
    if cls == "complete" and world.settings.verify:
        return [StartVerify(tid, st.attempts[-1].head_after or "", detail)]
    if cls == "complete":
        return [SetState(tid, State.COMPLETE, "complete", detail=detail)]
    if cls == "blocked":
        return [SetState(tid, State.BLOCKED, "blocked", reason=ev.reason, detail=detail)]
    if cls == "needs":
        other = ev.needs_task or ""
        tip = ev.needs_tip if other in world.tasks else None
        fields = {"waiting_on": other, "waiting_tip": tip}
        return [SetState(tid, State.NEEDS, "needs", reason=ev.reason, detail=detail, fields=fields)]
    if cls == attempts.PAUSED:
        return [SetState(tid, State.PAUSED, "paused", reason=why, detail=detail)]
    if cls in (attempts.INTERRUPTED, attempts.STOPPED, attempts.BUDGET):
        return [SetState(tid, State.INTERRUPTED, cls, reason=why, detail=detail)]
    if cls == "lost":
        # not the task's fault: continue it, and do not count this attempt
        return [
            SetState(
                tid,
                State.PENDING,
                "lost",
                reason=why,
                detail=detail,
                fields={"retries_from": attempt_no},
            )
        ]
    if cls not in attempts.RETRYABLE:
        return [SetState(tid, State.FAILED, cls, reason=why, detail=detail)]
    streak = attempt_no - st.retries_from
    budget_left = task.budget_usd is None or st.cost_usd < task.budget_usd
    if streak <= task.retries and budget_left:
        delay = backoff(streak, world.settings.retry_delay, world.jitter)
        out: list[Action] = [
            RetryAt(tid, delay),
            SetState(
                tid,
                State.PENDING,
                "retry",
                reason=f"retry {streak}/{task.retries} in {delay:.0f}s after {cls}: {why}",
                detail=detail,
                fields={
                    "retry_after": _iso(world.wall + delay),
                    "message": f"The last attempt ended: {why}",
                },
            ),
        ]
        if cls in attempts.COOL_DOWN and world.settings.cooldown > 0:
            secs = world.settings.cooldown
            out.append(CoolDown(secs, tid, f"{cls}: no new worker starts for {secs:.0f}s"))
        return out
    tries = f" (after {streak} attempt{'s' if streak != 1 else ''})" if streak > 1 else ""
    if not budget_left:
        tries += f"; not retried: its budget of ${task.budget_usd:.2f} is spent"
    return [SetState(tid, State.FAILED, cls, reason=why + tries, detail=detail)]


SHOW_LINES = 20  # lines of a failed verify's output kept in the state ref (verify.SHOW_LINES)


def _iso(wall: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))


def _on_verify_ended(world: World, ev: VerifyEnded) -> list[Action]:
    tid = ev.task
    task = world.tasks[tid]
    st = world.states[tid]
    if ev.outcome == "unknown":  # an adopted verify that left no result: run it again
        return [StartVerify(tid, ev.commit)]
    if ev.outcome == "interrupted":
        # stopped by Ctrl-C: verify again when the run is resumed
        return [
            SetState(
                tid,
                State.INTERRUPTED,
                "interrupted",
                reason="stopped during verify",
                attempt={"outcome": "verify-interrupted"} if st.attempts else _EMPTY,
            )
        ]
    detail: dict[str, object] = {"verify": ev.summary, "commit": ev.commit}
    if st.attempts:
        detail["attempt"] = st.attempts[-1].number
    if ev.outcome == "passed":
        return [SetState(tid, State.COMPLETE, "complete", detail=detail)]
    # its [COMPLETE] did not hold
    attempt = (
        {"outcome": "verify-failed", "reason": f"verify {ev.summary}"} if st.attempts else _EMPTY
    )
    streak = len(st.attempts) - st.retries_from
    reason = f"verify {ev.summary}: {world.settings.verify}"
    if ev.tail:  # kept in the state ref, for `git po show` on any clone
        detail["output_tail"] = "\n".join(ev.tail.splitlines()[-SHOW_LINES:])
    if streak <= task.retries and not world.stopping:
        message = (
            f"Your [COMPLETE] commit {ev.commit[:12]} did not pass the plan's verify command "
            f"`{world.settings.verify}` ({ev.summary}). Its output ended with:\n\n{ev.tail}\n\n"
            "Fix it, commit, and commit [COMPLETE] again."
        )
        return [
            SetState(
                tid,
                State.PENDING,
                "verify-failed",
                reason=reason,
                detail=detail,
                fields={"message": message},
                attempt=attempt,
            )
        ]
    return [
        SetState(tid, State.FAILED, "verify-failed", reason=reason, detail=detail, attempt=attempt)
    ]


# -- NEEDS, the inbox, budgets --


def _on_needs(world: World, ev: NeedsCheck) -> list[Action]:
    out: list[Action] = []
    states = dict(world.states)
    waiting = [tid for tid, st in world.states.items() if st.state is State.NEEDS and st.waiting_on]

    def blocked(tid: str, reason: str) -> None:
        out.append(SetState(tid, State.BLOCKED, "blocked", reason=reason))
        states[tid] = replace(states[tid], state=State.BLOCKED)

    for tid in waiting:
        st = states[tid]
        other = st.waiting_on or ""
        if other == tid:
            blocked(tid, f"needs itself ({st.reason})")
            continue
        if other not in world.tasks:
            blocked(tid, f"needs unknown task {other!r}")
            continue
        if world.graph.reaches(tid, other):
            blocked(tid, f"needs {st.reason}, but {other} depends on {tid}")
            continue
        if tid in world.attached:
            continue  # someone is at work in that worktree: deliver afterwards
        facts = ev.facts.get(tid)
        if facts is None:
            continue
        ost = states[other]
        if facts.other_tip is not None and facts.arrived:
            out.append(Deliver(tid, other, facts.other_tip))
            # it leaves NEEDS either way: pending once merged, blocked when that conflicts
            states[tid] = replace(st, state=State.PENDING)
        elif (
            ost.state is State.COMPLETE
            and facts.other_tip is not None
            and facts.mine_tip is not None
            and facts.other_on_mine
        ):
            blocked(
                tid,
                f"needs {st.reason}, but {other} is complete and all its work is already on "
                "this branch",
            )
        elif ost.state in (State.FAILED, State.SKIPPED, State.INTERRUPTED):
            blocked(tid, f"needs {st.reason}, but {other} is {ost.state.value}")
    # NEEDS that wait on each other can never be met
    for tid in waiting:
        cycle = [tid]
        cur = states[tid]
        while cur.state is State.NEEDS and cur.waiting_on and cur.waiting_on not in cycle:
            cycle.append(cur.waiting_on)
            cur = states[cur.waiting_on]
        if cur.state is State.NEEDS and cur.waiting_on == tid:
            path = " -> ".join([*cycle, tid])
            for member in cycle:
                blocked(member, f"NEEDS cycle: {path}")
    return out


def _on_message(world: World, msg: Message) -> list[Action]:
    tid = msg.task
    if tid not in world.states:
        return []
    st = world.states[tid]
    if msg.command == "answer" and st.state in (State.BLOCKED, State.NEEDS):
        return [
            SetState(
                tid,
                State.PENDING,
                "answered",
                detail={"answer": msg.text},
                fields={
                    "retries_from": len(st.attempts),
                    "waiting_on": None,
                    "waiting_tip": None,
                    "message": f"A person answered ({st.state.value}: {st.reason}):\n\n{msg.text}",
                },
            )
        ]
    if msg.command == "retry" and st.state not in (State.RUNNING, State.VERIFYING):
        note = f"A person asked to run the task again (it was {st.state.value}"
        note += f": {st.reason})." if st.reason else ")."
        if msg.text:
            note += f"\n\n{msg.text}"
        out: list[Action] = [
            ClearRetry(tid),
            SetState(
                tid,
                State.PENDING,
                "retry-requested",
                fields={
                    "retries_from": len(st.attempts),
                    "waiting_on": None,
                    "waiting_tip": None,
                    "message": note,
                },
            ),
        ]
        for other, ost in world.states.items():
            if other != tid and ost.state is State.SKIPPED:
                out.append(SetState(other, State.PENDING, "unskipped"))
        return out
    if msg.command == "stop":
        if tid in world.running:
            return [StopWorker(tid, "stopped")]
        if st.state is State.PENDING:
            return [SetState(tid, State.INTERRUPTED, "stopped", reason="stopped with git po stop")]
    if msg.command == "pause":
        if tid in world.running:
            return [StopWorker(tid, "paused")]  # its work is saved; the attempt ends as paused
        if st.state in (State.PENDING, State.INTERRUPTED):
            return [SetState(tid, State.PAUSED, "paused", reason="paused with git po pause")]
    if msg.command == "unpause" and st.state is State.PAUSED:
        message = "A person paused this task and has now resumed it; go on where you left off."
        return [
            SetState(
                tid,
                State.PENDING,
                "unpaused",
                fields={"retries_from": len(st.attempts), "message": message},
            )
        ]
    return []


def _on_budget(world: World, ev: BudgetCheck) -> list[Action]:
    limit = world.settings.budget_usd
    if limit is None:
        return []
    out: list[Action] = []
    spent_now = world.budget_spent
    if ev.spent >= limit and not spent_now:
        spent_now = True
        out.append(SpendBudget())
        out.extend(StopWorker(t, "budget") for t in world.running)
    if spent_now:
        # also tasks that became pending since (a retry, an answer, a delivery)
        reason = f"plan budget ${limit:.2f} spent (${ev.spent:.2f})"
        for tid, st in world.states.items():
            if st.state is State.PENDING:
                out.append(SetState(tid, State.INTERRUPTED, "budget", reason=reason))
    return out
