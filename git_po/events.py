"""What the run loop's decisions look at (`World`), the events they take and the actions they
return: plain frozen data, so `git_po.decide` stays a pure function and each colleague's new
event or action is one dataclass here (listed in `Event` / `Action`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from git_po import attempts
from git_po.graph import Graph
from git_po.plan import Task
from git_po.state import State, TaskState

_EMPTY: Mapping[str, object] = MappingProxyType({})

# -- what the decisions look at --


@dataclass(frozen=True)
class Settings:
    max_workers: int
    retry_delay: float = 10.0
    cooldown: float = 60.0
    verify: str | None = None  # the plan's verify command
    budget_usd: float | None = None  # the plan's budget


@dataclass(frozen=True)
class World:
    """What the run loop knows when it decides. `now` is the monotonic clock; `jitter` a number
    in [0, 1) the executor draws for retry backoff."""

    tasks: Mapping[str, Task]  # in plan order
    graph: Graph
    states: Mapping[str, TaskState]
    settings: Settings
    now: float = 0.0
    retry_at: Mapping[str, float] = field(default_factory=dict)
    cooldown_until: float = 0.0
    budget_spent: bool = False
    running: frozenset[str] = frozenset()  # tasks with a worker
    verifying: frozenset[str] = frozenset()  # tasks whose verify runs
    killed: frozenset[str] = frozenset()  # workers already killed
    locked: frozenset[str] = frozenset()  # tasks with state changes not yet on their ref
    attached: frozenset[str] = frozenset()  # tasks someone works on by hand (git po attach)
    stopping: bool = False  # interrupted: nothing new starts
    jitter: float = 0.5
    wall: float = 0.0  # the wall clock (time.time()), for times written into states

    def state(self, tid: str) -> State:
        return self.states[tid].state

    @property
    def busy(self) -> int:
        return len(self.running) + len(self.verifying)


# -- events --


@dataclass(frozen=True)
class Interrupt:
    """Ctrl-C (or SIGTERM): ask every worker to stop."""


@dataclass(frozen=True)
class Hurry:
    """A second interrupt: kill what has not stopped."""


@dataclass(frozen=True)
class Message:
    """A message from the inbox (git po answer / retry / stop)."""

    task: str
    command: str
    text: str = ""


@dataclass(frozen=True)
class AttemptEnded:
    """A worker exited; its attempt was classified (attempts.classify) from its exit and
    branch. For [BLOCKED] and [NEEDS], `reason` and `needs_*` come from the branch's latest
    protocol commit; `needs_tip` is the tip of the task it needs."""

    task: str
    verdict: attempts.Verdict
    reason: str | None = None  # [BLOCKED:reason] / [NEEDS:task/item]'s detail
    needs_task: str | None = None
    needs_tip: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyEnded:
    """The plan's verify command ended on a task's [COMPLETE] commit. `outcome`: passed,
    failed, interrupted (Ctrl-C stopped it), error (it could not run; `summary` says why) or
    unknown (an adopted verify that left no result)."""

    task: str
    commit: str
    outcome: str
    summary: str = ""
    tail: str = ""


@dataclass(frozen=True)
class NeedsFacts:
    """What the branches say about a task waiting on [NEEDS]."""

    other_tip: str | None  # the tip of the task it needs
    mine_tip: str | None
    arrived: bool  # the other branch has complete or new protocol work this one lacks
    other_on_mine: bool  # all of the other branch is already on this one


@dataclass(frozen=True)
class NeedsCheck:
    """A pass over the tasks waiting on [NEEDS]; facts for each whose other task is known."""

    facts: Mapping[str, NeedsFacts]


@dataclass(frozen=True)
class BudgetCheck:
    """The plan's spend so far, finished attempts and running ones."""

    spent: float


@dataclass(frozen=True)
class Tick:
    """A pass of the loop: skip what cannot run, start what is ready."""


Event = Interrupt | Hurry | Message | AttemptEnded | VerifyEnded | NeedsCheck | BudgetCheck | Tick

# -- actions --


@dataclass(frozen=True)
class SetState:
    """Record a task's new state (a commit on its state ref). `fields` are other TaskState
    fields to set with it; `attempt` fields of its last attempt."""

    task: str
    state: State
    event: str
    reason: str | None = None
    detail: Mapping[str, object] | None = None
    fields: Mapping[str, object] = field(default_factory=dict)
    attempt: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Launch:
    task: str


@dataclass(frozen=True)
class StopWorker:
    task: str
    why: str


@dataclass(frozen=True)
class KillWorker:
    task: str


@dataclass(frozen=True)
class StartVerify:
    task: str
    commit: str
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Deliver:
    """Merge what `other` committed into the task's branch ([NEEDS] met)."""

    task: str
    other: str
    tip: str


@dataclass(frozen=True)
class RetryAt:
    task: str
    delay: float  # seconds from now


@dataclass(frozen=True)
class ClearRetry:
    task: str


@dataclass(frozen=True)
class CoolDown:
    """No new worker starts for `seconds` (rate limits); say so on `task`'s line."""

    seconds: float
    task: str
    message: str


@dataclass(frozen=True)
class SpendBudget:
    """The plan's budget is spent: from now on nothing starts."""


Action = (
    SetState
    | Launch
    | StopWorker
    | KillWorker
    | StartVerify
    | Deliver
    | RetryAt
    | ClearRetry
    | CoolDown
    | SpendBudget
)
