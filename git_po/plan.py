"""Plan parsing and validation -> typed, immutable plan objects (plan_model.py).

Validation reports every problem at once, each with the file, the line where one is known, and
what to do about it, and every check is near-linear in the size of the plan. Checks that need
the repository (does `base` resolve?) live in the caller; everything here is pure but reading
the plan file and its prompt files (plan_inputs.py confines those).
"""

from __future__ import annotations

import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from git_po.errors import PlanError, PlanProblem
from git_po.globs import clashes, globs_overlap
from git_po.graph import Graph
from git_po.plan_inputs import PromptReader, file_reader
from git_po.plan_locate import Locator, did_you_mean
from git_po.plan_model import (
    AGENT_TABLES,
    AGENTS,
    CODE_AGENTS,
    DEFAULT_KEYS,
    DEFAULT_MAX_WORKERS,
    MAX_ID_LENGTH,
    PERMISSION_MODES,
    RESERVED_TASK_IDS,
    TASK_KEYS,
    TOP_KEYS,
    WRITES_POLICIES,
    Plan,
    Task,
    branch_problem,
    id_problem,
    parse_duration,
)
from git_po.plan_task import Options, Problem, parse_task

__all__ = [
    "AGENTS",
    "AGENT_TABLES",
    "CODE_AGENTS",
    "DEFAULT_KEYS",
    "DEFAULT_MAX_WORKERS",
    "MAX_ID_LENGTH",
    "PERMISSION_MODES",
    "RESERVED_TASK_IDS",
    "TASK_KEYS",
    "TOP_KEYS",
    "WRITES_POLICIES",
    "Plan",
    "PromptReader",
    "Task",
    "branch_problem",
    "globs_overlap",
    "id_problem",
    "load_plan_file",
    "parse_duration",
    "parse_plan",
]

if TYPE_CHECKING:
    from git_po.agents.spec import AgentSpec

RepoCheck = Callable[[str, str], list[tuple[str | None, str, str]]]
MAX_PLAN_BYTES = 50_000_000  # a 20,000-task plan is ~2 MB


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
    loc = Locator(text)

    for key in data:
        if key not in TOP_KEYS:
            hint = did_you_mean(key, TOP_KEYS)
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
                did_you_mean(str(value), known)
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
            hint = did_you_mean(key, DEFAULT_KEYS)
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
    defaults = Options(defaults_raw, ("defaults",), loc, problem, check_agent)

    tasks_raw = data.get("tasks")
    if tasks_raw is None or (isinstance(tasks_raw, dict) and not tasks_raw):
        problem(
            loc.line("tasks"),
            "the plan has no tasks",
            "add at least one [tasks.<id>] table with a prompt",
        )
        tasks_raw = {}
    if not isinstance(tasks_raw, dict):
        problem(
            loc.line("tasks"),
            "tasks must be tables: [tasks.<id>]",
            "write [tasks.<id>] for each task, not [[tasks]] or tasks = ...",
        )
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
        task = parse_task(tid, raw, loc, problem, check_agent, defaults, agent, reader)
        if task is not None:
            tasks.append(task)

    ids = [t.id for t in tasks]
    known_ids = set(ids)
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
            if dep not in known_ids:
                problem(
                    loc.line("tasks", t.id, "depends_on"),
                    f"task {t.id!r} depends on unknown task {dep!r}",
                    did_you_mean(dep, ids) or f"known tasks: {', '.join(ids) or 'none'}",
                )

    graph = Graph({t.id: tuple(d for d in t.depends_on if d in known_ids) for t in tasks})
    plan_tasks = {t.id: t for t in tasks}
    cycle = graph.find_cycle()
    if cycle:
        problem(
            loc.line("tasks", cycle[0], "depends_on"),
            "dependency cycle: " + " -> ".join(cycle),
            "remove one of these depends_on entries",
        )
    else:
        for a, b, pa, pb in _overlapping_writes(plan_tasks, graph):
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
    raw: object, fallbacks: Mapping[str, object], loc: Locator, problem: Problem
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


def _overlapping_writes(
    tasks: Mapping[str, Task], graph: Graph
) -> list[tuple[Task, Task, str, str]]:
    """Tasks that may run at the same time and write overlapping globs, in plan order."""
    order = graph.plan_order
    found: list[tuple[Task, Task, str, str]] = []
    entries = ((t.id, w) for t in tasks.values() for w in t.writes)
    for c in clashes(entries, graph):
        a, b, pa, pb = c.first, c.second, c.first_glob, c.second_glob
        if order[a] > order[b]:
            a, b, pa, pb = b, a, pb, pa
        found.append((tasks[a], tasks[b], pa, pb))
    found.sort(key=lambda f: (order[f[1].id], order[f[0].id]))
    return found


def _read_plan_text(path: Path) -> str:
    """The plan file's text: a regular file, of a sane size, UTF-8 (never a FIFO or a device
    read until memory runs out)."""

    def fail(message: str, fix: str | None = None) -> PlanError:
        return PlanError([PlanProblem(str(path), None, message, fix)])

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise fail("plan file not found", "check the path") from None
    except OSError as exc:
        raise fail(f"cannot read plan file: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise fail("the plan file is not a regular file", "name a TOML file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_PLAN_BYTES:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_PLAN_BYTES:
        raise fail(f"the plan file is larger than {MAX_PLAN_BYTES // 1_000_000} MB")
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(
            f"the plan file is not UTF-8 text (byte {exc.start})", "save it as UTF-8"
        ) from None


def load_plan_file(
    path: Path,
    repo_check: RepoCheck | None = None,
    fallbacks: Mapping[str, object] | None = None,
    repo_root: Path | None = None,
) -> Plan:
    """Read and validate a plan file from disk; prompt files are relative to it, and must lie
    in its folder or in repo_root (the repository's working tree)."""
    text = _read_plan_text(path)
    return parse_plan(
        text,
        str(path),
        file_reader(path.parent, repo_root),
        default_name=path.stem,
        repo_check=repo_check,
        fallbacks=fallbacks,
    )
