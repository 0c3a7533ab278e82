"""The run loop's decisions (git_po.decide), tested on their own: no repository, no process.
Small graphs are enumerated exhaustively (every assignment of states to their tasks)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest

from git_po import attempts, decide
from git_po.events import (
    Action,
    AttemptEnded,
    BudgetCheck,
    ClearRetry,
    CoolDown,
    Deliver,
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
from git_po.graph import Graph
from git_po.plan import Task
from git_po.state import Attempt, State, TaskState


def task(tid: str, *deps: str, retries: int = 2, budget: float | None = None) -> Task:
    return Task(
        id=tid,
        prompt="do it",
        prompt_file=None,
        depends_on=tuple(deps),
        writes=(),
        agent="shell",
        run=None,
        model=None,
        permission_mode=None,
        allowed_tools=(),
        max_turns=None,
        budget_usd=budget,
        timeout=None,
        idle_timeout=None,
        retries=retries,
    )


def tstate(
    tid: str, state: State = State.PENDING, *, attempts_: int = 0, **kw: object
) -> TaskState:
    made = [
        Attempt(
            number=n,
            agent="shell",
            started_at="2026-01-01T00:00:00Z",
            head_before="b" * 40,
            transcript="t",
            head_after="c" * 40,
        )
        for n in range(1, attempts_ + 1)
    ]
    st = TaskState(
        plan="p",
        task=tid,
        state=state,
        branch=f"po/p/{tid}",
        updated_at="2026-01-01T00:00:00Z",
        attempts=made,
    )
    return replace(st, **kw)  # type: ignore[arg-type]


def world(
    tasks: Iterable[Task],
    states: Mapping[str, State | TaskState] | None = None,
    *,
    workers: int = 2,
    verify: str | None = None,
    budget: float | None = None,
    **kw: object,
) -> World:
    ts = {t.id: t for t in tasks}
    given = states or {}
    sts = {}
    for tid in ts:
        s = given.get(tid, State.PENDING)
        sts[tid] = s if isinstance(s, TaskState) else tstate(tid, s)
    running = frozenset(t for t, s in sts.items() if s.state is State.RUNNING)
    defaults: dict[str, object] = {"running": running, "now": 100.0, "wall": 1_800_000_000.0}
    defaults.update(kw)
    return World(
        tasks=ts,
        graph=Graph({t.id: t.depends_on for t in ts.values()}),
        states=sts,
        settings=Settings(max_workers=workers, verify=verify, budget_usd=budget),
        **defaults,  # type: ignore[arg-type]
    )


def sets(actions: list[Action]) -> dict[str, SetState]:
    return {a.task: a for a in actions if isinstance(a, SetState)}


def launches(actions: list[Action]) -> list[str]:
    return [a.task for a in actions if isinstance(a, Launch)]


# -- a pass: skips and launches, every state of small graphs --

GRAPHS = {
    "chain": [task("a"), task("b", "a"), task("c", "b")],
    "diamond": [task("a"), task("b", "a"), task("c", "a"), task("d", "b", "c")],
    "wide": [task("a"), task("b"), task("c"), task("d", "a")],
}
STATES = [
    State.PENDING,
    State.RUNNING,
    State.COMPLETE,
    State.FAILED,
    State.SKIPPED,
    State.INTERRUPTED,
    State.BLOCKED,
]


def _cases() -> Iterable[tuple[str, tuple[State, ...], int, bool]]:
    for name, tasks in GRAPHS.items():
        # blocked is, to its dependents, what interrupted is: left out of the larger graphs
        kinds = STATES if len(tasks) < 4 else [s for s in STATES if s is not State.BLOCKED]
        for combo in itertools.product(kinds, repeat=len(tasks)):
            for workers in (1, 2):
                for spent in (False, True):
                    yield name, combo, workers, spent


def test_tick_is_right_for_every_state_of_small_graphs() -> None:
    checked = 0
    bases = {name: world(tasks) for name, tasks in GRAPHS.items()}
    made = {s: {t: tstate(t, s) for t in "abcd"} for s in STATES}
    for name, combo, workers, spent in _cases():
        ids = list(bases[name].tasks)
        states = {t: made[s][t] for t, s in zip(ids, combo, strict=True)}
        w = replace(
            bases[name],
            states=states,
            running=frozenset(t for t, s in zip(ids, combo, strict=True) if s is State.RUNNING),
            settings=Settings(max_workers=workers),
            budget_spent=spent,
        )
        out = decide.decide(w, Tick())
        skipped = sets(out)
        # what is skipped: exactly the pending tasks with a dependency that failed, was skipped
        # (transitively, in this very pass) or, with the budget spent, was interrupted
        final = {t: s.state for t, s in w.states.items()}
        for tid in w.graph.topo_order:
            deps = [final[d] for d in w.tasks[tid].depends_on]
            bad = {State.FAILED, State.SKIPPED} | ({State.INTERRUPTED} if spent else set())
            if final[tid] is State.PENDING and any(d in bad for d in deps):
                final[tid] = State.SKIPPED
                assert skipped[tid].state is State.SKIPPED, (name, combo)
                reason = skipped[tid].reason
                assert reason is not None and reason.startswith("dependency ")
            else:
                assert tid not in skipped, (name, combo)
        started = launches(out)
        can = [
            t
            for t in w.tasks
            if final[t] is State.PENDING
            and all(final[d] is State.COMPLETE for d in w.tasks[t].depends_on)
        ]
        free = max(0, workers - len(w.running))
        if spent:
            assert started == []
        else:
            # as many as slots allow, each ready, longest remaining path first
            assert set(started) <= set(can)
            assert len(started) == min(free, len(can)), (name, combo, workers)
            assert started == w.graph.priority(can)[: len(started)]
        # launches come after the skips they depend on
        if started and skipped:
            assert out.index(Launch(started[0])) > max(out.index(a) for a in skipped.values())
        checked += 1
    assert checked > 2000


def test_tick_holds_back_while_cooling_locked_attached_retrying_or_stopping() -> None:
    tasks = [task("a"), task("b"), task("c"), task("d")]
    w = world(tasks, workers=4, retry_at={"a": 150.0, "b": 50.0})
    w = replace(w, locked=frozenset({"c"}), attached=frozenset({"d"}))
    assert launches(decide.decide(w, Tick())) == ["b"]  # a's retry is in the future
    assert launches(decide.decide(replace(w, cooldown_until=120.0), Tick())) == []
    assert launches(decide.decide(replace(w, stopping=True), Tick())) == []
    assert decide.next_timer(w) == 150.0
    assert decide.next_timer(replace(w, cooldown_until=120.0)) == 120.0


def test_a_verifying_task_holds_its_slot() -> None:
    w = world([task("a"), task("b")], {"a": State.VERIFYING}, workers=1)
    w = replace(w, verifying=frozenset({"a"}))
    assert launches(decide.decide(w, Tick())) == []


def test_next_step() -> None:
    tasks = [task("a"), task("b", "a")]
    assert decide.next_step(world(tasks, {"a": State.RUNNING}), False) == "wait"
    assert decide.next_step(world(tasks, {"a": State.COMPLETE}), False) == "again"
    done = world(tasks, {"a": State.COMPLETE, "b": State.COMPLETE})
    assert decide.next_step(done, False) == "end"
    assert decide.next_step(done, True) == "wait"  # a message waits in the inbox
    retrying = world(tasks, {"a": State.PENDING}, retry_at={"a": 200.0})
    assert decide.next_step(retrying, False) == "wait"
    assert decide.next_step(replace(retrying, budget_spent=True), False) == "end"
    blocked = world(tasks, {"a": State.BLOCKED})
    assert decide.next_step(blocked, False) == "end"
    assert decide.next_step(replace(blocked, stopping=True), False) == "end"


def test_interrupt_stops_every_worker_and_hurry_kills_the_rest() -> None:
    w = world([task("a"), task("b"), task("c")], {"a": State.RUNNING, "b": State.RUNNING})
    assert sorted(decide.decide(w, Interrupt()), key=str) == [
        StopWorker("a", "interrupted"),
        StopWorker("b", "interrupted"),
    ]
    assert decide.decide(replace(w, killed=frozenset({"a"})), Hurry()) == [KillWorker("b")]


# -- an attempt's end --


def ended(
    cls: str, *, st: TaskState | None = None, t: Task | None = None, **kw: object
) -> tuple[World, list[Action]]:
    t = t or task("a", retries=2)
    st = st or tstate("a", State.RUNNING, attempts_=1)
    w = world([t, task("b")], {"a": st}, **kw)  # type: ignore[arg-type]
    ev = AttemptEnded("a", attempts.Verdict(cls, f"why {cls}"), detail={"attempt": 1})
    return w, decide.decide(w, ev)


def test_an_attempt_that_completes() -> None:
    _, out = ended("complete")
    assert out == [SetState("a", State.COMPLETE, "complete", detail={"attempt": 1})]
    _, out = ended("complete", verify="make test")
    assert out == [StartVerify("a", "c" * 40, {"attempt": 1})]


def test_blocked_and_needs_take_their_reason_from_the_branch() -> None:
    w = world([task("a"), task("b")], {"a": tstate("a", State.RUNNING, attempts_=1)})
    out = decide.decide(w, AttemptEnded("a", attempts.Verdict("blocked", ""), reason="which db?"))
    assert out == [SetState("a", State.BLOCKED, "blocked", reason="which db?", detail={})]
    ev = AttemptEnded(
        "a", attempts.Verdict("needs", ""), reason="b/schema", needs_task="b", needs_tip="f" * 40
    )
    (s,) = decide.decide(w, ev)
    assert isinstance(s, SetState) and s.state is State.NEEDS and s.reason == "b/schema"
    assert s.fields == {"waiting_on": "b", "waiting_tip": "f" * 40}
    ev = replace(ev, needs_task="zz")  # an unknown task: no tip kept
    (s,) = decide.decide(w, ev)
    assert isinstance(s, SetState) and s.fields == {"waiting_on": "zz", "waiting_tip": None}


@pytest.mark.parametrize("cls", [attempts.INTERRUPTED, attempts.STOPPED, attempts.BUDGET])
def test_stopped_attempts_leave_the_task_interrupted(cls: str) -> None:
    _, out = ended(cls)
    assert [(s.state, s.event) for s in sets(out).values()] == [(State.INTERRUPTED, cls)]


def test_a_lost_attempt_does_not_count() -> None:
    _, out = ended("lost", st=tstate("a", State.RUNNING, attempts_=3))
    (s,) = out
    assert isinstance(s, SetState) and s.state is State.PENDING and s.event == "lost"
    assert s.fields == {"retries_from": 3}


@pytest.mark.parametrize("cls", sorted(attempts.RETRYABLE))
@pytest.mark.parametrize("number", [1, 2, 3, 4])
@pytest.mark.parametrize("retries_from", [0, 2])
def test_retryable_attempts_retry_with_backoff_until_retries_are_spent(
    cls: str, number: int, retries_from: int
) -> None:
    if number <= retries_from:
        return  # an attempt after an answer or a delivery is number retries_from + 1 or later
    st = tstate("a", State.RUNNING, attempts_=number, retries_from=retries_from)
    w, out = ended(cls, st=st, jitter=0.0)
    streak = number - retries_from
    if streak <= 2:
        delay = 10.0 * 2 ** (streak - 1) * 0.75
        assert out[0] == RetryAt("a", delay)
        s = out[1]
        assert isinstance(s, SetState) and s.state is State.PENDING and s.event == "retry"
        assert s.reason == f"retry {streak}/2 in {delay:.0f}s after {cls}: why {cls}"
        assert s.fields["message"] == f"The last attempt ended: why {cls}"
        assert s.fields["retry_after"] == decide._iso(w.wall + delay)
        cool = [a for a in out if isinstance(a, CoolDown)]
        assert bool(cool) == (cls in attempts.COOL_DOWN)
    else:
        (s,) = out
        assert isinstance(s, SetState) and s.state is State.FAILED and s.event == cls
        assert s.reason == f"why {cls} (after {streak} attempts)"


def test_a_spent_task_budget_is_not_retried() -> None:
    st = tstate("a", State.RUNNING, attempts_=1)
    st.attempts[0].cost_usd = 2.0
    _, out = ended(attempts.CRASHED, st=st, t=task("a", budget=1.5))
    (s,) = out
    assert isinstance(s, SetState) and s.state is State.FAILED
    assert s.reason == "why crashed; not retried: its budget of $1.50 is spent"


@pytest.mark.parametrize("cls", [attempts.PERMANENT, attempts.REFUSED, "anything-else"])
def test_other_attempts_fail(cls: str) -> None:
    _, out = ended(cls)
    assert out == [SetState("a", State.FAILED, cls, reason=f"why {cls}", detail={"attempt": 1})]


def test_backoff_grows_and_is_capped() -> None:
    assert [decide.backoff(n, 10.0, 0.5) for n in (1, 2, 3)] == [10.0, 20.0, 40.0]
    assert decide.backoff(30, 10.0, 0.999) <= 300.0 * 1.25
    assert decide.backoff(1, 10.0, 0.0) == 7.5


# -- the verify gate --


def verified(outcome: str, *, attempts_: int = 1, **kw: object) -> list[Action]:
    st = tstate("a", State.VERIFYING, attempts_=attempts_)
    w = world([task("a", retries=1)], {"a": st}, verify="make test", **kw)  # type: ignore[arg-type]
    return decide.decide(w, VerifyEnded("a", "c" * 40, outcome, "exit 1", "line\n" * 30))


def test_verify_passed_completes() -> None:
    (s,) = verified("passed")
    assert isinstance(s, SetState) and s.state is State.COMPLETE
    assert s.detail == {"verify": "exit 1", "commit": "c" * 40, "attempt": 1}


@pytest.mark.parametrize("outcome", ["failed", "error"])
def test_verify_failed_sends_the_task_back_until_retries_are_spent(outcome: str) -> None:
    (s,) = verified(outcome)
    assert isinstance(s, SetState) and s.state is State.PENDING and s.event == "verify-failed"
    assert s.attempt == {"outcome": "verify-failed", "reason": "verify exit 1"}
    assert "did not pass the plan's verify command `make test`" in str(s.fields["message"])
    assert s.detail is not None and str(s.detail["output_tail"]).count("line") == 20
    (s,) = verified(outcome, attempts_=2)
    assert isinstance(s, SetState) and s.state is State.FAILED
    (s,) = verified(outcome, stopping=True)
    assert isinstance(s, SetState) and s.state is State.FAILED


def test_verify_interrupted_or_unknown() -> None:
    (s,) = verified("interrupted")
    assert isinstance(s, SetState) and s.state is State.INTERRUPTED
    assert s.attempt == {"outcome": "verify-interrupted"}
    assert verified("unknown") == [StartVerify("a", "c" * 40)]


# -- NEEDS --


def needing(other: str, *, reason: str = "b/schema", **states: State | TaskState) -> World:
    tasks = [task("a"), task("b"), task("c", "a")]
    given: dict[str, State | TaskState] = {
        "a": tstate("a", State.NEEDS, waiting_on=other, reason=reason)
    }
    given.update(states)
    return world(tasks, given)


def facts(**kw: object) -> NeedsFacts:
    base: dict[str, object] = {
        "other_tip": "f" * 40,
        "mine_tip": "e" * 40,
        "arrived": False,
        "other_on_mine": False,
    }
    base.update(kw)
    return NeedsFacts(**base)  # type: ignore[arg-type]


def test_needs_that_can_never_be_met_block() -> None:
    for other, why in [
        ("a", "needs itself (b/schema)"),
        ("zz", "needs unknown task 'zz'"),
        ("c", "needs b/schema, but c depends on a"),
    ]:
        out = decide.decide(needing(other), NeedsCheck({}))
        assert out == [SetState("a", State.BLOCKED, "blocked", reason=why)]


def test_needs_delivered_when_the_other_task_made_progress() -> None:
    w = needing("b", b=State.RUNNING)
    assert decide.decide(w, NeedsCheck({"a": facts()})) == []
    assert decide.decide(w, NeedsCheck({"a": facts(arrived=True)})) == [Deliver("a", "b", "f" * 40)]
    attached = replace(w, attached=frozenset({"a"}))
    assert decide.decide(attached, NeedsCheck({"a": facts(arrived=True)})) == []


@pytest.mark.parametrize("other", [State.FAILED, State.SKIPPED, State.INTERRUPTED])
def test_needs_of_a_task_that_ended_badly_block(other: State) -> None:
    (s,) = decide.decide(needing("b", b=other), NeedsCheck({"a": facts()}))
    assert isinstance(s, SetState) and s.state is State.BLOCKED
    assert s.reason == f"needs b/schema, but b is {other.value}"


def test_needs_of_a_complete_task_already_merged_block() -> None:
    (s,) = decide.decide(
        needing("b", b=State.COMPLETE), NeedsCheck({"a": facts(other_on_mine=True)})
    )
    assert isinstance(s, SetState) and s.reason is not None
    assert "all its work is already on this branch" in s.reason


def test_needs_waiting_on_each_other_block_both_unless_one_is_delivered() -> None:
    b = tstate("b", State.NEEDS, waiting_on="a", reason="a/api")
    w = needing("b", b=b)
    out = decide.decide(w, NeedsCheck({"a": facts(), "b": facts()}))
    assert sets(out).keys() == {"a", "b"}
    assert {s.reason for s in sets(out).values()} == {"NEEDS cycle: a -> b -> a"}
    out = decide.decide(w, NeedsCheck({"a": facts(arrived=True), "b": facts()}))
    assert out == [Deliver("a", "b", "f" * 40)]


# -- the inbox --


def test_answer_a_blocked_or_needs_task() -> None:
    for state in (State.BLOCKED, State.NEEDS):
        st = tstate("a", state, attempts_=2, reason="which db?", waiting_on="b")
        (s,) = decide.decide(world([task("a"), task("b")], {"a": st}), Message("a", "answer", "pg"))
        assert isinstance(s, SetState) and s.state is State.PENDING and s.event == "answered"
        assert s.fields["retries_from"] == 2 and s.fields["waiting_on"] is None
        assert s.fields["message"] == f"A person answered ({state.value}: which db?):\n\npg"
    w = world([task("a")], {"a": State.RUNNING})
    assert decide.decide(w, Message("a", "answer", "pg")) == []
    assert decide.decide(w, Message("zz", "answer", "pg")) == []


def test_retry_a_failed_task_unskips_the_rest() -> None:
    tasks = [task("a"), task("b", "a"), task("c", "b")]
    st = tstate("a", State.FAILED, attempts_=3, reason="crashed")
    w = world(tasks, {"a": st, "b": State.SKIPPED, "c": State.SKIPPED})
    out = decide.decide(w, Message("a", "retry", "try harder"))
    assert out[0] == ClearRetry("a")
    assert [(s.task, s.state, s.event) for s in out[1:] if isinstance(s, SetState)] == [
        ("a", State.PENDING, "retry-requested"),
        ("b", State.PENDING, "unskipped"),
        ("c", State.PENDING, "unskipped"),
    ]
    first = out[1]
    assert isinstance(first, SetState)
    assert first.fields["message"] == (
        "A person asked to run the task again (it was failed: crashed).\n\ntry harder"
    )
    running = world(tasks, {"a": State.RUNNING})
    assert decide.decide(running, Message("a", "retry")) == []


def test_stop_a_running_or_pending_task() -> None:
    w = world([task("a"), task("b"), task("c")], {"a": State.RUNNING, "c": State.COMPLETE})
    assert decide.decide(w, Message("a", "stop")) == [StopWorker("a", "stopped")]
    (s,) = decide.decide(w, Message("b", "stop"))
    assert isinstance(s, SetState) and s.state is State.INTERRUPTED
    assert decide.decide(w, Message("c", "stop")) == []


# -- budgets --


def test_a_spent_plan_budget_stops_workers_and_interrupts_pending_tasks() -> None:
    w = world([task("a"), task("b"), task("c")], {"a": State.RUNNING}, budget=5.0)
    assert decide.decide(w, BudgetCheck(4.99)) == []
    out = decide.decide(w, BudgetCheck(5.0))
    assert out[:2] == [SpendBudget(), StopWorker("a", "budget")]
    assert [(s.task, s.state) for s in out[2:] if isinstance(s, SetState)] == [
        ("b", State.INTERRUPTED),
        ("c", State.INTERRUPTED),
    ]
    # once spent, a task that became pending is interrupted too, without spending again
    again = decide.decide(replace(w, budget_spent=True), BudgetCheck(5.0))
    assert not any(isinstance(a, SpendBudget) for a in again)
    assert decide.decide(world([task("a")]), BudgetCheck(1e9)) == []  # no plan budget


def test_pause_and_unpause() -> None:
    tasks = [task("a"), task("b"), task("c"), task("d")]
    st = tstate("d", State.PAUSED, attempts_=2)
    w = world(tasks, {"a": State.RUNNING, "c": State.INTERRUPTED, "d": st})
    assert decide.decide(w, Message("a", "pause")) == [StopWorker("a", "paused")]
    for tid in ("b", "c"):
        (s,) = decide.decide(w, Message(tid, "pause"))
        assert isinstance(s, SetState) and s.state is State.PAUSED
    (s,) = decide.decide(w, Message("d", "unpause"))
    assert isinstance(s, SetState) and s.state is State.PENDING and s.event == "unpaused"
    assert s.fields["retries_from"] == 2
    assert decide.decide(w, Message("b", "unpause")) == []  # not paused
    _, out = ended(attempts.PAUSED)
    assert [(s.state, s.event) for s in sets(out).values()] == [(State.PAUSED, "paused")]
