"""What will stop a worker from writing files or committing, found before anything runs:
a worktree root under `.git` (Claude Code refuses every edit there), permission settings that
allow no file edits or no `git commit`, a missing or logged-out `claude`.

The checks of a plan and of a worktree root are pure (given the settings files' rules), so
`start` runs them on every plan; `git po doctor` adds the ones that look at the machine."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from git_po import jsonout, layout, proc
from git_po.agents.registry import permission_warnings
from git_po.plan import Plan, Task

OK = "ok"
WARN = "warning"
PROBLEM = "problem"

# Claude Code's tools that edit files
EDIT_TOOLS = ("Edit", "Write", "MultiEdit", "NotebookEdit")
# a Bash rule that lets `git commit …` through: Bash, Bash(*), Bash(git *), Bash(git:*),
# Bash(git commit *), Bash(git commit:*)
_COMMIT_RULE = re.compile(r"^Bash(\((\*|git(\s*\*|:\*|\s+commit\b.*))\))?$")
# credentials Claude Code reads from the environment
_AUTH_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
)


@dataclass(frozen=True)
class Finding:
    level: str  # ok, warning, problem
    topic: str  # what was checked: worktrees, claude, login, plan <name>, task <id>
    message: str
    hint: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "level": self.level,
            "topic": self.topic,
            "message": self.message,
            "hint": self.hint,
        }


def to_json(found: list[Finding]) -> dict[str, Any]:
    """`git po doctor --json` (schema git_po/schemas/doctor.json)."""
    return {
        "schema_version": jsonout.SCHEMA_VERSION,
        "problem_count": sum(1 for f in found if f.level == "problem"),
        "findings": [f.to_json() for f in found],
    }


@dataclass(frozen=True)
class ClaudeSettings:
    """Permission rules and default mode from Claude Code's settings files, which a worker
    reads too (user settings, and the project's, checked out in every worktree)."""

    allow: tuple[str, ...] = ()
    default_mode: str | None = None
    sources: tuple[str, ...] = ()


def read_settings(files: Iterable[Path]) -> ClaudeSettings:
    allow: list[str] = []
    mode: str | None = None
    sources: list[str] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        perms = data.get("permissions") if isinstance(data, dict) else None
        if not isinstance(perms, dict):
            continue
        sources.append(str(f))
        rules = perms.get("allow")
        if isinstance(rules, list):
            allow += [r for r in rules if isinstance(r, str)]
        if isinstance(perms.get("defaultMode"), str):
            mode = perms["defaultMode"]  # later files (the project's) win
    return ClaudeSettings(tuple(allow), mode, tuple(sources))


def settings_files(env: Mapping[str, str], workdir: Path | None) -> list[Path]:
    """User settings first, then the project's (which win)."""
    config = Path(env.get("CLAUDE_CONFIG_DIR") or Path(env.get("HOME", "~")) / ".claude")
    files = [config.expanduser() / "settings.json"]
    if workdir is not None:
        files += [
            workdir / ".claude" / "settings.json",
            workdir / ".claude" / "settings.local.json",
        ]
    return files


def worktree_root_findings(root: Path, modes: Sequence[str | None]) -> list[Finding]:
    """A root with a `.git` (or `.claude`) component makes Claude Code refuse every edit in
    it, unless every worker bypasses permissions."""
    part = layout.sensitive_component(root.resolve() if root.exists() else root.absolute())
    if part is None:
        return [Finding(OK, "worktrees", f"task worktrees go to {root}")]
    if modes and all(m == "bypassPermissions" for m in modes):
        return [
            Finding(
                OK,
                "worktrees",
                f"task worktrees go to {root} (under {part}; workers bypass permissions)",
            )
        ]
    return [
        Finding(
            PROBLEM,
            "worktrees",
            f"task worktrees go to {root}, under a {part} directory: Claude Code refuses every "
            "file edit there (a sensitive path), so workers cannot write",
            hint="git config --unset po.worktreeDir (the default is outside .git), or point it "
            "elsewhere",
        )
    ]


def _commit_allowed(rules: Iterable[str]) -> bool:
    return any(_COMMIT_RULE.match(r.strip()) for r in rules)


def task_findings(task: Task, settings: ClaudeSettings) -> list[Finding]:
    """Whether a claude worker with these settings can edit files and commit."""
    if task.agent != "claude":
        return []
    mode = task.permission_mode or settings.default_mode or "default"
    rules = (*task.allowed_tools, *settings.allow)
    topic = f"task {task.id}"
    if mode == "bypassPermissions":
        return []
    found: list[Finding] = []
    if mode == "plan":
        found.append(
            Finding(
                PROBLEM,
                topic,
                'permission_mode "plan" lets the worker read and plan only: it cannot edit a '
                "file or commit",
                hint='use permission_mode = "acceptEdits" with allowed_tools = ["Bash(git *)", …]',
            )
        )
        return found
    if mode not in ("acceptEdits",) and not any(r.split("(")[0] in EDIT_TOOLS for r in rules):
        found.append(
            Finding(
                PROBLEM,
                topic,
                f'permission_mode "{mode}" with no Edit or Write in allowed_tools: headless '
                "Claude Code refuses every file edit",
                hint='use permission_mode = "acceptEdits", or add "Edit" and "Write" to '
                "allowed_tools",
            )
        )
    if not _commit_allowed(rules):
        found.append(
            Finding(
                PROBLEM,
                topic,
                "allowed_tools lets no `git commit` through (Bash is not allowed by "
                f'permission_mode "{mode}"): the worker cannot report progress',
                hint='add "Bash(git *)" to allowed_tools',
            )
        )
    return found


def plan_findings(plan: Plan, settings: ClaudeSettings) -> list[Finding]:
    out: list[Finding] = []
    for task in plan.tasks:
        out += task_findings(task, settings)
    return out


def login_finding(env: Mapping[str, str], exists: bool | None = None) -> Finding:
    """Whether claude has credentials, as far as can be told without calling the API."""
    for var in _AUTH_VARS:
        if env.get(var):
            return Finding(OK, "login", f"claude has credentials ({var} is set)")
    config = Path(env.get("CLAUDE_CONFIG_DIR") or Path(env.get("HOME", "~")) / ".claude")
    creds = config.expanduser() / ".credentials.json"
    if exists if exists is not None else creds.is_file():
        return Finding(OK, "login", f"claude is logged in ({creds})")
    return Finding(
        WARN,
        "login",
        "found no credentials for claude (no ANTHROPIC_API_KEY, no "
        f"{creds}); on macOS they may be in the keychain",
        hint="run `claude` once and log in with /login, or set ANTHROPIC_API_KEY",
    )


def claude_findings(exe: str | None, where: str) -> list[Finding]:
    if exe is None:
        return [
            Finding(
                PROBLEM,
                "claude",
                f"the claude executable was not found ({where})",
                hint="npm install -g @anthropic-ai/claude-code, or git config po.claudePath PATH",
            )
        ]
    try:
        done = proc.run([exe, "--version"], cwd=Path.cwd(), timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding(PROBLEM, "claude", f"{exe} --version failed: {exc}")]
    text = (done.stdout or done.stderr).decode(errors="replace").strip().splitlines()
    version = text[0] if text else "?"
    if done.returncode != 0:
        return [Finding(PROBLEM, "claude", f"{exe} --version exited {done.returncode}: {version}")]
    return [Finding(OK, "claude", f"{exe}: {version}")]


def as_warning(f: Finding) -> str:
    return f"{f.topic}: {f.message}" + (f" (hint: {f.hint})" if f.hint else "")


def start_warnings(plan: Plan, root: Path, workdir: Path | None) -> tuple[str, ...]:
    """What `start` warns about before running a plan: whatever will stop its workers from
    editing files or committing."""
    settings = read_settings(settings_files(os.environ, workdir))
    modes = [t.permission_mode or settings.default_mode for t in plan.tasks if t.agent == "claude"]
    found = (worktree_root_findings(root, modes) if modes else []) + plan_findings(plan, settings)
    agents = [(t.id, t.agent, t.permission_mode) for t in plan.tasks]
    found += [
        Finding(WARN, f"task {t}", m, h) for t, m, h in permission_warnings(agents, plan.agents)
    ]
    # one line per problem, naming every task it concerns (a plan may have hundreds)
    grouped: dict[tuple[str, str | None], list[str]] = {}
    for f in found:
        if f.level != OK:
            grouped.setdefault((f.message, f.hint), []).append(f.topic)
    out = []
    for (message, hint), topics in grouped.items():
        tasks = [t.removeprefix("task ") for t in topics if t.startswith("task ")]
        topic = f"task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)}" if tasks else topics[0]
        out.append(as_warning(Finding(WARN, topic, message, hint)))
    return tuple(out)


def git_finding() -> Finding:
    try:
        done = proc.run(["git", "--version"], cwd=Path.cwd(), timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Finding(PROBLEM, "git", f"git --version failed: {exc}")
    text = done.stdout.decode(errors="replace").strip()
    m = re.search(r"(\d+)\.(\d+)", text)
    if m and (int(m.group(1)), int(m.group(2))) < (2, 31):
        return Finding(
            PROBLEM,
            "git",
            f"{text}: workers get their commit-msg hook through GIT_CONFIG_COUNT, which needs "
            "git 2.31 or newer",
            hint="upgrade git",
        )
    return Finding(OK, "git", text)


def diagnose(
    root: Path,
    workdir: Path | None,
    plan: Plan | None,
    claude_exe: str | None,
    claude_where: str,
) -> list[Finding]:
    """Everything `git po doctor` checks, in the order it prints them."""
    env = dict(os.environ)
    settings = read_settings(settings_files(env, workdir))
    tasks = [t for t in plan.tasks if t.agent == "claude"] if plan is not None else []
    modes = [t.permission_mode or settings.default_mode for t in tasks]
    found = [git_finding(), *worktree_root_findings(root, modes)]
    if plan is None or tasks:
        found += claude_findings(claude_exe, claude_where)
        found.append(login_finding(env))
    if settings.sources:
        found.append(
            Finding(OK, "settings", "Claude Code settings read: " + ", ".join(settings.sources))
        )
    if plan is not None:
        problems = plan_findings(plan, settings)
        found += problems or [
            Finding(OK, f"plan {plan.name}", "every claude task can edit files and commit")
        ]
    return found
