"""Binding a plan to a repository before anything runs: validation against the repository,
agent executables, worker counts and settings. Writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from git_po import config, doctor, trust
from git_po.agents import AgentProfile, profile
from git_po.errors import AgentMissing, NotFound, PlanError, PoError
from git_po.plan import Plan, load_plan_file, parse_plan
from git_po.repo import Oid, Repo
from git_po.state import StateStore, StoredPlan, read_plan_ref


@dataclass(frozen=True)
class StartOptions:
    max_workers: int | None = None
    claude_path: str | None = None
    restart: bool = False
    poll_interval: float = 0.2


@dataclass(frozen=True)
class Prepared:
    """A validated plan bound to a repository, ready to run or to show as a schedule."""

    plan: Plan
    base: Oid
    max_workers: int
    profiles: dict[str, AgentProfile]
    worktree_root: Path
    grace: float
    retry_delay: float = 10.0
    cooldown: float = 60.0
    warnings: tuple[str, ...] = ()
    stored: StoredPlan | None = None  # set when resuming a recorded run


def _repo_check(repo: Repo, name: str, base_rev: str) -> list[tuple[str | None, str, str]]:
    found: list[tuple[str | None, str, str]] = []
    if not base_rev.startswith("-") and repo.resolve(base_rev) is None:
        found.append(
            (
                "base",
                f"base {base_rev!r} does not resolve to a commit in this repository",
                "name an existing branch, tag or commit",
            )
        )
    for blocker in ("refs/heads/po", f"refs/heads/po/{name}"):
        if repo.read_ref(blocker) is not None:
            found.append(
                (
                    None,
                    f"branch {blocker.removeprefix('refs/heads/')} exists, so task branches "
                    f"po/{name}/<task> cannot be created",
                    "rename that branch",
                )
            )
    return found


def _profiles(repo: Repo, plan: Plan, claude_path: str | None) -> dict[str, AgentProfile]:
    path = claude_path or config.claude_path(repo)
    profiles: dict[str, AgentProfile] = {}
    for task in plan.tasks:
        if task.agent in profiles:
            continue
        prof = profile(
            task.agent, claude_path=path, specs=plan.agents, gitdir=Path(repo.common_dir)
        )
        if prof.executable() is None:
            if task.agent == "claude":
                where = path or "claude on PATH"
                raise AgentMissing(
                    f"the claude executable was not found ({where})",
                    hint="install Claude Code (npm install -g @anthropic-ai/claude-code), "
                    "or point --claude / git config po.claudePath at it",
                )
            spec = plan.agents.get(task.agent)
            if spec is None:
                raise AgentMissing(f"the {task.agent} agent's executable was not found")
            raise AgentMissing(
                f"the {task.agent} executable was not found ({spec.program}"
                + (" on PATH)" if "/" not in spec.program else ")"),
                hint=f"install {task.agent}, or point git config "
                f"po.agent.{task.agent}.executable at it",
            )
        profiles[task.agent] = prof
    return profiles


def _workers(repo: Repo, plan: Plan, options: StartOptions) -> int:
    if options.max_workers is not None:
        return options.max_workers
    if plan.max_workers_set:
        return plan.max_workers
    return config.max_workers(repo) or plan.max_workers


def _workdir(repo: Repo) -> Path | None:
    """The repository's working tree (prompt files may live there), if it has one."""
    try:
        return repo.main_workdir()
    except PoError:
        return None


def prepare(repo: Repo, plan_path: Path, options: StartOptions) -> Prepared:
    """Validate a plan file against the repository; check agents."""
    plan = load_plan_file(
        plan_path,
        lambda name, base: _repo_check(repo, name, base),
        config.plan_fallbacks(repo),
        _workdir(repo),
    )
    base = repo.resolve(plan.base)
    assert base is not None  # checked by _repo_check
    root = config.worktree_root(repo)
    try:
        workdir: Path | None = repo.main_workdir()
    except PoError:
        workdir = None
    return Prepared(
        plan=plan,
        base=base,
        max_workers=_workers(repo, plan, options),
        profiles=_profiles(repo, plan, options.claude_path),
        worktree_root=root,
        warnings=doctor.start_warnings(plan, root, workdir),
        grace=config.stop_grace(repo),
        retry_delay=config.seconds(repo, "po.retryDelay", 10.0),
        cooldown=config.seconds(repo, "po.cooldown", 60.0),
    )


def prepare_resume(repo: Repo, name: str, options: StartOptions) -> Prepared:
    """The recorded plan of a run, to continue it: the plan and prompts as recorded in
    refs/po/<plan>/plan (not the file, which may have changed), its recorded base commit."""
    stored = read_plan_ref(repo, name)
    if stored is None:
        raise NotFound(f"no plan named {name!r} has been started in this repository")
    trust.require_trusted(repo, name)  # a fetched revision runs nothing until approved here
    try:
        plan = parse_plan(
            stored.text,
            f"refs/po/{name}/plan:plan.toml",
            lambda rel: None,
            default_name=name,
            prompts=stored.prompts,
            fallbacks=config.plan_fallbacks(repo),
        )
    except PlanError as exc:
        raise NotFound(
            f"the plan recorded for {name!r} cannot be read: {exc.problems[0]}",
        ) from None
    store = StateStore(repo, name)
    for tid in plan.ids:  # a fetched state that names paths not git po's own: say so
        store.read(tid)
    warnings: list[str] = list(store.ignored)
    now = repo.resolve(stored.run.base_rev)
    if now is not None and now != stored.run.base:
        warnings.append(
            f"base {stored.run.base_rev} moved since the run started "
            f"({stored.run.base[:12]} -> {now[:12]}); tasks keep {stored.run.base[:12]}"
        )
    base = Oid(stored.run.base)
    if repo.resolve(base) is None:
        raise NotFound(f"the recorded base {base[:12]} of plan {name!r} is not in this repository")
    return Prepared(
        plan=plan,
        base=base,
        max_workers=(
            options.max_workers
            if options.max_workers is not None
            else stored.run.max_workers or _workers(repo, plan, options)
        ),
        profiles=_profiles(repo, plan, options.claude_path),
        worktree_root=config.worktree_root(repo),
        grace=config.stop_grace(repo),
        retry_delay=config.seconds(repo, "po.retryDelay", 10.0),
        cooldown=config.seconds(repo, "po.cooldown", 60.0),
        warnings=tuple(warnings),
        stored=stored,
    )


@dataclass(frozen=True)
class ScheduleRow:
    task: str
    waits_for: tuple[str, ...]
    path_length: int
    agent: str


@dataclass(frozen=True)
class Schedule:
    plan: str
    base: Oid
    base_rev: str
    max_workers: int
    first: tuple[str, ...]  # tasks that start at once
    critical_path: tuple[str, ...]
    rows: tuple[ScheduleRow, ...]


def schedule(prep: Prepared, kept: frozenset[str] = frozenset()) -> Schedule:
    """The schedule; kept: tasks a re-run keeps (complete already, they start no worker)."""
    g = prep.plan.graph
    roots = g.priority(
        t.id for t in prep.plan.tasks if t.id not in kept and all(d in kept for d in t.depends_on)
    )
    rows = tuple(
        ScheduleRow(t.id, t.depends_on, g.path_length[t.id], t.agent)
        for t in sorted(prep.plan.tasks, key=lambda t: g.index[t.id])
    )
    return Schedule(
        plan=prep.plan.name,
        base=prep.base,
        base_rev=prep.plan.base,
        max_workers=prep.max_workers,
        first=tuple(roots[: prep.max_workers]),
        critical_path=tuple(g.critical_path),
        rows=rows,
    )


def diagnose(repo: Repo, plan_path: Path | None, claude_path: str | None) -> list[doctor.Finding]:
    """`git po doctor`: what would stop workers from writing files or committing."""
    plan: Plan | None = None
    if plan_path is not None:
        plan = load_plan_file(
            plan_path,
            lambda name, base: _repo_check(repo, name, base),
            config.plan_fallbacks(repo),
            _workdir(repo),
        )
    path = claude_path or config.claude_path(repo)
    try:
        workdir: Path | None = repo.main_workdir()
    except PoError:
        workdir = None
    exe = profile("claude", claude_path=path).executable()
    return doctor.diagnose(config.worktree_root(repo), workdir, plan, exe, path or "claude on PATH")
