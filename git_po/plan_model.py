"""What a plan is: its typed, immutable objects, the keys it may hold, and the checks of a
single value (ids, branch names, durations). Parsing lives in plan.py."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from git_po.graph import Graph
from git_po.protocol import ID_PATTERN

if TYPE_CHECKING:
    from git_po.agents.spec import AgentSpec

_ID = re.compile(rf"^{ID_PATTERN}$")
MAX_ID_LENGTH = 64
RESERVED_TASK_IDS = frozenset({"integration"})
# the agents a plan may name without defining them ([agents.NAME] adds more)
AGENTS = ("claude", "shell", "codex", "gemini", "aider", "opencode")
PERMISSION_MODES = ("default", "acceptEdits", "bypassPermissions", "plan", "dontAsk")

TOP_KEYS = (
    "name",
    "base",
    "max_workers",
    "agent",
    "verify",
    "integration_branch",
    "budget_usd",
    "description",
    "agents",
    "defaults",
    "tasks",
)
# keys a task may set, and which of them [defaults] may set for every task
TASK_KEYS = (
    "prompt",
    "prompt_file",
    "depends_on",
    "writes",
    "writes_policy",
    "agent",
    "run",
    "model",
    "permission_mode",
    "allowed_tools",
    "max_turns",
    "budget_usd",
    "timeout",
    "idle_timeout",
    "retries",
    "description",
)
DEFAULT_KEYS = (
    "agent",
    "model",
    "permission_mode",
    "allowed_tools",
    "max_turns",
    "budget_usd",
    "timeout",
    "idle_timeout",
    "retries",
)

DEFAULT_MAX_WORKERS = 3
CODE_AGENTS = ("claude", "shell")
AGENT_TABLES = "agent tables"  # key of fallbacks holding po.agent.NAME.* tables


@dataclass(frozen=True)
class Task:
    id: str
    prompt: str
    prompt_file: str | None
    depends_on: tuple[str, ...]
    writes: tuple[str, ...]
    agent: str
    run: str | None
    model: str | None
    permission_mode: str | None
    allowed_tools: tuple[str, ...]
    max_turns: int | None
    budget_usd: float | None
    timeout: float | None  # seconds, whole attempt
    idle_timeout: float | None  # seconds without output and without a new commit
    retries: int
    description: str | None = None
    # "enforce": the commit hook refuses a worker's commit that changes files outside writes;
    # "warn": it only warns
    writes_policy: str = "enforce"


WRITES_POLICIES = ("enforce", "warn")


@dataclass(frozen=True)
class Plan:
    name: str
    base: str  # a revision, as written (default HEAD)
    max_workers: int
    agent: str
    verify: str | None
    description: str | None
    tasks: tuple[Task, ...]
    source: str  # file name as the user gave it
    text: str  # the plan file, verbatim
    max_workers_set: bool = False  # whether the plan itself set max_workers
    integration_branch: str | None = None  # branch integrate merges into; None: the default
    budget_usd: float | None = None  # for the whole plan, across tasks and attempts
    graph: Graph = field(compare=False, default_factory=lambda: Graph({}))
    # agent profiles made of data (built-ins, git config po.agent.NAME.*, [agents.NAME])
    agents: Mapping[str, AgentSpec] = field(compare=False, default_factory=dict)

    @cached_property
    def _by_id(self) -> dict[str, Task]:
        return {t.id: t for t in self.tasks}

    def task(self, task_id: str) -> Task:
        return self._by_id[task_id]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tasks)


def id_problem(value: object, what: str) -> str | None:
    """Why value is not a safe id (as a ref component and a path component), or None."""
    if not isinstance(value, str) or not value:
        return f"{what} must be a non-empty string"
    if len(value) > MAX_ID_LENGTH:
        return f"{what} {value!r} is longer than {MAX_ID_LENGTH} characters"
    if not _ID.fullmatch(value):
        return (
            f"{what} {value!r} is not a safe id: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    if ".." in value:
        return f"{what} {value!r} contains '..'"
    if value.endswith(".lock") or value.endswith("."):
        return f"{what} {value!r} must not end with '.lock' or '.'"
    return None


def branch_problem(value: object) -> str | None:
    """Why value is not a usable branch name (git check-ref-format rules), or None."""
    if not isinstance(value, str) or not value.strip():
        return "branch name must be a non-empty string"
    bad = (
        value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "//" in value
        or "@{" in value
        or "/." in value
        or any(c in value for c in " ~^:?*[\\\x7f")
        or any(ord(c) < 32 for c in value)
    )
    return f"{value!r} is not a valid branch name" if bad else None


_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


def parse_duration(value: object) -> float | None:
    """Seconds from 90, 90.5, "90s", "45m", "1h30m"; None if it is not a positive duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if not isinstance(value, str) or not value.strip():
        return None
    m = _DURATION.match(value)
    if not m or not any(m.groups()):
        return None
    h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    total = h * 3600 + mi * 60 + s
    return total if total > 0 else None
