"""Plan parsing and validation -> typed, immutable plan objects.

Validation reports every problem at once, each with the file, the line where one is known, and
what to do about it. Checks that need the repository (does `base` resolve?) live in the caller;
everything here is pure.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from git_po.errors import PlanError, PlanProblem
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

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)

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


class _Locator:
    """Best-effort line numbers for tables and keys (tomllib gives none)."""

    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
    )

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, ...], int] = {}
        self.keys: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_string: str | None = None  # inside a multi-line string opened by this delimiter
        for n, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            for delim in ('"""', "'''"):
                if line.count(delim) % 2 == 1:
                    in_string = delim
                    break
            h = self._HEADER.match(line)
            if h and not line.lstrip().startswith("[["):
                table = self._split(h.group(1))
                self.tables.setdefault(table, n)
                continue
            k = self._KEY.match(line)
            if k:
                path = table + self._split(k.group(1))
                self.keys.setdefault(path, n)
                for i in range(len(table) + 1, len(path)):
                    self.tables.setdefault(path[:i], n)

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', dotted)
        return tuple(a or b or c for a, b, c in parts)

    def line(self, *path: str) -> int | None:
        while path:
            if path in self.keys:
                return self.keys[path]
            if path in self.tables:
                return self.tables[path]
            path = path[:-1]
        return None


PromptReader = Callable[[str], str | None]
RepoCheck = Callable[[str, str], list[tuple[str | None, str, str]]]


def _did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def parse_plan(
    text: str,
    source: str,
    read_prompt: PromptReader,
    *,
    default_name: str,
    prompts: Mapping[str, str] | None = None,
    repo_check: RepoCheck | None = None,
    fallbacks: Mapping[str, object] | None = None,
) -> Plan:
    """Parse and validate a plan; raise PlanError listing every problem found.

    prompts: prompt texts by task id, as recorded in the plan ref, used instead of reading
    prompt files. repo_check(name, base) returns problems only the repository can see, as
    (key, message, fix), so they are reported together with the rest. fallbacks: values for
    [defaults] keys from git config (po.<camelCase>), used where the plan sets none.
    """
    problems: list[PlanProblem] = []

    def problem(line: int | None, message: str, fix: str | None = None) -> None:
        problems.append(PlanProblem(source, line, message, fix))

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        problem(line, f"malformed TOML: {msg}", "fix the syntax at that line")
        raise PlanError(problems) from None
    loc = _Locator(text)

    for key in data:
        if key not in TOP_KEYS:
            hint = _did_you_mean(key, TOP_KEYS)
            if hint is None and key in TASK_KEYS:
                hint = "task keys go under [tasks.<id>] or [defaults]"
            problem(
                loc.line(key), f"unknown key {key!r}", hint or f"known keys: {', '.join(TOP_KEYS)}"
            )

    name = data.get("name", default_name)
    why = id_problem(name, "plan name")
    if why:
        problem(
            loc.line("name"),
            why,
            'set name = "..." in the plan' if "name" not in data else "choose another name",
        )
        name = "invalid"

    base = data.get("base", "HEAD")
    if not isinstance(base, str) or not base.strip():
        problem(loc.line("base"), "base must be a non-empty revision string", 'e.g. base = "main"')
        base = "HEAD"
    elif base.startswith("-"):
        problem(loc.line("base"), f"base {base!r} looks like an option", "name a branch or commit")

    max_workers = data.get("max_workers", DEFAULT_MAX_WORKERS)
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        problem(
            loc.line("max_workers"),
            "max_workers must be a whole number >= 1",
            "e.g. max_workers = 3",
        )
        max_workers = DEFAULT_MAX_WORKERS

    specs = _agent_specs(data.get("agents", {}), fallbacks or {}, loc, problem)
    known = (*CODE_AGENTS, *specs)

    def check_agent(value: object, *path: str) -> str:
        if not isinstance(value, str) or value not in known:
            problem(
                loc.line(*path),
                f"unknown agent {value!r}",
                _did_you_mean(str(value), known)
                or f"use one of: {', '.join(known)}, or define it in [agents.{value}]",
            )
            return "claude"
        return value

    agent = check_agent(data.get("agent", "claude"), "agent")

    verify = data.get("verify")
    if verify is not None and (not isinstance(verify, str) or not verify.strip()):
        problem(loc.line("verify"), "verify must be a command string", 'e.g. verify = "make test"')
        verify = None
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        problem(loc.line("description"), "description must be a string")
        description = None
    integration_branch = data.get("integration_branch")
    if integration_branch is not None:
        why = branch_problem(integration_branch)
        if why:
            problem(loc.line("integration_branch"), why, 'e.g. integration_branch = "po/shop/next"')
            integration_branch = None
    plan_budget = data.get("budget_usd")
    if plan_budget is not None and (
        isinstance(plan_budget, bool)
        or not isinstance(plan_budget, int | float)
        or not math.isfinite(plan_budget)
        or plan_budget <= 0
    ):
        problem(loc.line("budget_usd"), "budget_usd must be a positive number", "e.g. 20.0")
        plan_budget = None

    defaults_raw = data.get("defaults", {})
    if not isinstance(defaults_raw, dict):
        problem(loc.line("defaults"), "[defaults] must be a table")
        defaults_raw = {}
    for key in defaults_raw:
        if key not in DEFAULT_KEYS:
            hint = _did_you_mean(key, DEFAULT_KEYS)
            if hint is None and key in TASK_KEYS:
                hint = f"{key!r} is set per task, under [tasks.<id>]"
            problem(
                loc.line("defaults", key),
                f"unknown key {key!r} in [defaults]",
                hint or f"known keys: {', '.join(DEFAULT_KEYS)}",
            )
    if fallbacks:
        inherited = {k: v for k, v in fallbacks.items() if k in DEFAULT_KEYS}
        if "agent" in data:
            inherited.pop("agent", None)  # the plan's own agent wins over git config
        defaults_raw = {**inherited, **defaults_raw}
    defaults = _Options(defaults_raw, ("defaults",), loc, problem, check_agent)

    tasks_raw = data.get("tasks")
    if tasks_raw is None or (isinstance(tasks_raw, dict) and not tasks_raw):
        problem(None, "the plan has no tasks", "add at least one [tasks.<id>] table with a prompt")
        tasks_raw = {}
    if not isinstance(tasks_raw, dict):
        problem(loc.line("tasks"), "tasks must be tables: [tasks.<id>]")
        tasks_raw = {}

    tasks: list[Task] = []
    for tid, raw in tasks_raw.items():
        why = id_problem(tid, "task id")
        if why:
            problem(loc.line("tasks", tid), why, "rename the [tasks.<id>] table")
        elif tid in RESERVED_TASK_IDS:
            problem(
                loc.line("tasks", tid), f"task id {tid!r} is reserved by git po", "rename the task"
            )
        if not isinstance(raw, dict):
            problem(loc.line("tasks", tid), f"tasks.{tid} must be a table")
            continue
        reader = read_prompt if prompts is None else _stored_prompt(prompts, tid)
        task = _parse_task(tid, raw, loc, problem, check_agent, defaults, agent, reader)
        if task is not None:
            tasks.append(task)

    ids = [t.id for t in tasks]
    folded: dict[str, str] = {}
    for tid in ids:
        other = folded.setdefault(tid.lower(), tid)
        if other != tid:
            problem(
                loc.line("tasks", tid),
                f"task ids {other!r} and {tid!r} differ only in case",
                "their branches and worktrees would collide on case-insensitive file systems",
            )
    for t in tasks:
        for dep in t.depends_on:
            if dep not in ids:
                problem(
                    loc.line("tasks", t.id, "depends_on"),
                    f"task {t.id!r} depends on unknown task {dep!r}",
                    _did_you_mean(dep, ids) or f"known tasks: {', '.join(ids) or 'none'}",
                )

    graph = Graph({t.id: tuple(d for d in t.depends_on if d in ids) for t in tasks})
    cycle = graph.find_cycle()
    if cycle:
        problem(
            loc.line("tasks", cycle[0], "depends_on"),
            "dependency cycle: " + " -> ".join(cycle),
            "remove one of these depends_on entries",
        )
    else:
        for a, b, pa, pb in _overlapping_writes(tasks, graph):
            problem(
                loc.line("tasks", b.id, "writes"),
                f"tasks {a.id!r} and {b.id!r} may run at the same time and both write {pa!r}"
                + (f" / {pb!r}" if pa != pb else ""),
                f"give the files to one task, or make {b.id!r} depend on {a.id!r}",
            )

    if repo_check is not None and isinstance(name, str) and name != "invalid":
        for rkey, message, fix in repo_check(name, base):
            problem(loc.line(rkey) if rkey else None, message, fix)
    if problems:
        raise PlanError(problems)
    assert isinstance(name, str)
    return Plan(
        name=name,
        base=base,
        max_workers=max_workers,
        agent=agent,
        verify=verify,
        description=description,
        tasks=tuple(tasks),
        source=source,
        text=text,
        max_workers_set="max_workers" in data,
        integration_branch=integration_branch if isinstance(integration_branch, str) else None,
        budget_usd=float(plan_budget) if plan_budget is not None else None,
        graph=graph,
        agents=specs,
    )


def _agent_specs(
    raw: object, fallbacks: Mapping[str, object], loc: _Locator, problem: Problem
) -> dict[str, AgentSpec]:
    from git_po.agents.registry import resolve

    if not isinstance(raw, dict):
        problem(loc.line("agents"), "agents must be tables: [agents.<name>]")
        raw = {}
    tables = fallbacks.get(AGENT_TABLES)
    specs, found = resolve(raw, tables if isinstance(tables, dict) else {})
    for name, key, message in found:
        where = loc.line("agents", name, key) if key else loc.line("agents", name)
        fix = "see AGENTS in man git-po" if name in raw else f"see git config po.agent.{name}.*"
        problem(where, message, fix)
    return specs


def _stored_prompt(prompts: Mapping[str, str], tid: str) -> PromptReader:
    def read(_rel: str) -> str | None:
        return prompts.get(tid)

    return read


Problem = Callable[..., None]
AgentCheck = Callable[..., str]


class _Options:
    """Typed reading of the option keys shared by [defaults] and [tasks.<id>]."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        path: tuple[str, ...],
        loc: _Locator,
        problem: Problem,
        check_agent: AgentCheck,
    ) -> None:
        self.raw = raw
        self.path = path
        self.loc = loc
        self.problem = problem
        self.agent = check_agent(raw["agent"], *path, "agent") if "agent" in raw else None
        self.model = self._str("model")
        self.permission_mode = self._choice("permission_mode", PERMISSION_MODES)
        self.allowed_tools = self._str_list("allowed_tools")
        self.max_turns = self._int("max_turns", 1)
        self.budget_usd = self._positive("budget_usd")
        self.timeout = self._duration("timeout")
        self.idle_timeout = self._duration("idle_timeout")
        self.retries = self._int("retries", 0)

    def _line(self, key: str) -> int | None:
        return self.loc.line(*self.path, key)

    def _str(self, key: str) -> str | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if not isinstance(v, str) or not v.strip():
            self.problem(self._line(key), f"{key} must be a non-empty string")
            return None
        if v.startswith("-"):
            self.problem(
                self._line(key), f"{key} {v!r} looks like an option", "remove the leading '-'"
            )
            return None
        return v

    def _choice(self, key: str, choices: tuple[str, ...]) -> str | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if v not in choices:
            self.problem(
                self._line(key),
                f"{key} {v!r} is not one of {', '.join(choices)}",
                _did_you_mean(str(v), choices),
            )
            return None
        assert isinstance(v, str)
        return v

    def _str_list(self, key: str) -> tuple[str, ...] | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            self.problem(self._line(key), f"{key} must be a list of non-empty strings")
            return None
        return tuple(v)

    def _int(self, key: str, minimum: int) -> int | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            self.problem(self._line(key), f"{key} must be a whole number >= {minimum}")
            return None
        return v

    def _positive(self, key: str) -> float | None:
        v = self.raw.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            self.problem(self._line(key), f"{key} must be a positive number", f"e.g. {key} = 2.5")
            return None
        return float(v)

    def _duration(self, key: str) -> float | None:
        v = self.raw.get(key)
        if v is None:
            return None
        seconds = parse_duration(v)
        if seconds is None:
            self.problem(
                self._line(key),
                f"{key} {v!r} is not a duration",
                'use seconds or a string such as "90s", "45m", "1h30m"',
            )
        return seconds


def _parse_task(
    tid: str,
    raw: Mapping[str, Any],
    loc: _Locator,
    problem: Problem,
    check_agent: AgentCheck,
    defaults: _Options,
    plan_agent: str,
    read_prompt: PromptReader,
) -> Task | None:
    path = ("tasks", tid)
    for key in raw:
        if key not in TASK_KEYS:
            problem(
                loc.line(*path, key),
                f"unknown key {key!r} in [tasks.{tid}]",
                _did_you_mean(key, TASK_KEYS) or f"known keys: {', '.join(TASK_KEYS)}",
            )
    opts = _Options(raw, path, loc, problem, check_agent)
    agent = opts.agent or defaults.agent or plan_agent

    prompt = raw.get("prompt")
    prompt_file = raw.get("prompt_file")
    text = ""
    if prompt is not None and prompt_file is not None:
        problem(
            loc.line(*path, "prompt_file"),
            f"task {tid!r} sets both prompt and prompt_file",
            "keep one",
        )
    if prompt is not None:
        if not isinstance(prompt, str) or not prompt.strip():
            problem(
                loc.line(*path, "prompt"),
                f"task {tid!r} has an empty prompt",
                "write what the task must do",
            )
        else:
            text = prompt
    elif prompt_file is not None:
        if not isinstance(prompt_file, str) or not prompt_file.strip():
            problem(loc.line(*path, "prompt_file"), "prompt_file must be a path string")
            prompt_file = None
        else:
            content = read_prompt(prompt_file)
            if content is None:
                problem(
                    loc.line(*path, "prompt_file"),
                    f"prompt file {prompt_file!r} of task {tid!r} not found",
                    "paths are relative to the plan file",
                )
            elif not content.strip():
                problem(loc.line(*path, "prompt_file"), f"prompt file {prompt_file!r} is empty")
            else:
                text = content

    run = raw.get("run")
    if run is not None and (not isinstance(run, str) or not run.strip()):
        problem(loc.line(*path, "run"), "run must be a command string")
        run = None
    if agent == "shell":
        if run is None:
            problem(
                loc.line(*path),
                f"task {tid!r} uses the shell agent but has no run command",
                'add run = "...", a command run with sh -c in the task\'s worktree',
            )
    else:
        if run is not None:
            problem(
                loc.line(*path, "run"),
                f"task {tid!r} sets run, which only the shell agent uses",
                'set agent = "shell" for this task, or remove run',
            )
        if prompt is None and prompt_file is None:
            problem(
                loc.line(*path),
                f"task {tid!r} has no prompt",
                'add prompt = "..." or prompt_file = "path/relative/to/plan.md"',
            )

    deps_raw = raw.get("depends_on", [])
    deps: list[str] = []
    if isinstance(deps_raw, str):
        deps_raw = [deps_raw]
    if not isinstance(deps_raw, list) or not all(isinstance(d, str) for d in deps_raw):
        problem(loc.line(*path, "depends_on"), "depends_on must be a list of task ids")
    else:
        for d in deps_raw:
            if d == tid:
                problem(
                    loc.line(*path, "depends_on"), f"task {tid!r} depends on itself", "remove it"
                )
            elif d not in deps:
                deps.append(d)

    writes_raw = raw.get("writes", [])
    writes: list[str] = []
    if isinstance(writes_raw, str):
        writes_raw = [writes_raw]
    if not isinstance(writes_raw, list) or not all(isinstance(w, str) for w in writes_raw):
        problem(loc.line(*path, "writes"), "writes must be a list of path globs")
    else:
        for w in writes_raw:
            norm = w.strip()
            while norm.startswith("./"):
                norm = norm[2:]
            parts = w.strip().split("/")
            if (
                not norm
                or w.strip().startswith("/")
                or ".." in parts
                or "." in norm.rstrip("/").split("/")
                or "\\" in norm
                or "\n" in norm
            ):
                problem(
                    loc.line(*path, "writes"),
                    f"writes entry {w!r} must be a relative path glob inside the repository",
                )
            else:
                writes.append(norm.rstrip("/"))

    policy = raw.get("writes_policy", "enforce")
    if policy not in WRITES_POLICIES:
        problem(
            loc.line(*path, "writes_policy"),
            f"writes_policy must be one of {', '.join(repr(p) for p in WRITES_POLICIES)}, "
            f"not {policy!r}",
            'writes_policy = "warn" lets commits outside writes through with a warning',
        )
        policy = "enforce"

    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        problem(loc.line(*path, "description"), "description must be a string")
    return Task(
        id=tid,
        prompt=text,
        prompt_file=prompt_file if isinstance(prompt_file, str) else None,
        depends_on=tuple(deps),
        writes=tuple(writes),
        agent=agent,
        run=run,
        model=opts.model or defaults.model,
        permission_mode=opts.permission_mode or defaults.permission_mode,
        allowed_tools=opts.allowed_tools
        if opts.allowed_tools is not None
        else (defaults.allowed_tools or ()),
        max_turns=opts.max_turns if opts.max_turns is not None else defaults.max_turns,
        budget_usd=opts.budget_usd if opts.budget_usd is not None else defaults.budget_usd,
        timeout=opts.timeout if opts.timeout is not None else defaults.timeout,
        idle_timeout=opts.idle_timeout if opts.idle_timeout is not None else defaults.idle_timeout,
        retries=opts.retries if opts.retries is not None else (defaults.retries or 0),
        description=description if isinstance(description, str) else None,
        writes_policy=str(policy),
    )


# --- overlapping writes -------------------------------------------------------------------


def _tokens(segment: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "[":
            j = segment.find("]", i + 2)
            if j != -1:
                out.append("?")
                i = j + 1
                continue
        out.append(c)
        i += 1
    return out


def _segments_overlap(x: str, y: str) -> bool:
    """Whether some file name matches both single-segment globs (classes treated as '?')."""
    a, b = _tokens(x), _tokens(y)
    memo: dict[tuple[int, int], bool] = {}

    def m(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        memo[key] = False
        res = False
        if (
            (i == len(a) and j == len(b))
            or (i < len(a) and a[i] == "*" and (m(i + 1, j) or (j < len(b) and m(i, j + 1))))
            or (j < len(b) and b[j] == "*" and (m(i, j + 1) or (i < len(a) and m(i + 1, j))))
        ):
            res = True
        elif i < len(a) and j < len(b) and a[i] != "*" and b[j] != "*":
            res = (a[i] == b[j] or a[i] == "?" or b[j] == "?") and m(i + 1, j + 1)
        memo[key] = res
        return res

    return m(0, 0)


def globs_overlap(p: str, q: str) -> bool:
    """Whether some path is matched by both globs; a pattern also covers what lies under it."""
    a = (*tuple(p.split("/")), "**")
    b = (*tuple(q.split("/")), "**")
    memo: dict[tuple[int, int], bool] = {}

    def m(i: int, j: int) -> bool:
        key = (i, j)
        if key in memo:
            return memo[key]
        memo[key] = False
        if i == len(a) or j == len(b):
            rest = a[i:] if j == len(b) else b[j:]
            res = all(s == "**" for s in rest)
        elif a[i] == "**":
            res = m(i + 1, j) or m(i, j + 1)
        elif b[j] == "**":
            res = m(i, j + 1) or m(i + 1, j)
        else:
            res = _segments_overlap(a[i], b[j]) and m(i + 1, j + 1)
        memo[key] = res
        return res

    return m(0, 0)


def _overlapping_writes(tasks: list[Task], graph: Graph) -> list[tuple[Task, Task, str, str]]:
    found: list[tuple[Task, Task, str, str]] = []
    for i, a in enumerate(tasks):
        for b in tasks[i + 1 :]:
            if graph.ordered(a.id, b.id):
                continue
            hit = next(
                ((pa, pb) for pa in a.writes for pb in b.writes if globs_overlap(pa, pb)), None
            )
            if hit:
                found.append((a, b, hit[0], hit[1]))
    return found


def load_plan_file(
    path: Path,
    repo_check: RepoCheck | None = None,
    fallbacks: Mapping[str, object] | None = None,
) -> Plan:
    """Read and validate a plan file from disk; prompt files are relative to it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(
            [PlanProblem(str(path), None, "plan file not found", "check the path")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([PlanProblem(str(path), None, f"cannot read plan file: {exc}")]) from None
    folder = path.parent

    def read_prompt(rel: str) -> str | None:
        p = folder / rel
        try:
            return p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    return parse_plan(
        text,
        str(path),
        read_prompt,
        default_name=path.stem,
        repo_check=repo_check,
        fallbacks=fallbacks,
    )
