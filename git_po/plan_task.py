"""One task of a plan, and the option keys [defaults] shares with it, read and checked."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from git_po.plan_inputs import PromptFileProblem, PromptReader, model_problem, tools_problem
from git_po.plan_locate import Locator, did_you_mean
from git_po.plan_model import (
    PERMISSION_MODES,
    TASK_KEYS,
    WRITES_POLICIES,
    Task,
    parse_duration,
)

Problem = Callable[..., None]
AgentCheck = Callable[..., str]


class Options:
    """Typed reading of the option keys shared by [defaults] and [tasks.<id>]."""

    def __init__(
        self,
        raw: Mapping[str, Any],
        path: tuple[str, ...],
        loc: Locator,
        problem: Problem,
        check_agent: AgentCheck,
    ) -> None:
        self.raw = raw
        self.path = path
        self.loc = loc
        self.problem = problem
        self.agent = check_agent(raw["agent"], *path, "agent") if "agent" in raw else None
        self.model = self._str("model")
        if self.model is not None:
            why = model_problem(self.model)
            if why:
                self.problem(self._line("model"), why, 'e.g. model = "sonnet"')
                self.model = None
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
                did_you_mean(str(v), choices),
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
        bad = [why for why in (tools_problem(key, x) for x in v) if why]
        for why in bad:
            self.problem(self._line(key), why, "a value never becomes a command-line option")
        return None if bad else tuple(v)

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


def parse_task(
    tid: str,
    raw: Mapping[str, Any],
    loc: Locator,
    problem: Problem,
    check_agent: AgentCheck,
    defaults: Options,
    plan_agent: str,
    read_prompt: PromptReader,
) -> Task | None:
    path = ("tasks", tid)
    for key in raw:
        if key not in TASK_KEYS:
            problem(
                loc.line(*path, key),
                f"unknown key {key!r} in [tasks.{tid}]",
                did_you_mean(key, TASK_KEYS) or f"known keys: {', '.join(TASK_KEYS)}",
            )
    opts = Options(raw, path, loc, problem, check_agent)
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
            refused = False
            try:
                content = read_prompt(prompt_file)
            except PromptFileProblem as exc:
                problem(loc.line(*path, "prompt_file"), f"task {tid!r}: {exc.message}", exc.fix)
                content, refused = "", True
            if refused:
                pass
            elif content is None:
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
