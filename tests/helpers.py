"""Shared helpers for the fast-tier tests of `git po start` and `git po status`: writing plans and
fake-claude scripts, running git po (to completion or in the background) and reading back what
it wrote, only through what a user can see: exit codes, output, refs, branches, files."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import textwrap
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from tests.conftest import ROOT, PoResult, git, po_cmd, run_po

Action = dict[str, Any]
Script = list[Action] | dict[str, Any]

DIAMOND = """
[tasks.a]
prompt = "Lay the foundation."

[tasks.b]
prompt = "Build the left wall."
depends_on = ["a"]

[tasks.c]
prompt = "Build the right wall."
depends_on = ["a"]

[tasks.d]
prompt = "Put the roof on."
depends_on = ["b", "c"]
"""


def write_plan(tmp_path: Path, name: str, body: str) -> Path:
    """A plan file named <name>.toml (so the plan is called name) outside the repository, so
    the user's checkout stays exactly as it was."""
    folder = tmp_path / "plans"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def fake_env(tmp_path: Path, scripts: Mapping[str, object] | None = None) -> dict[str, str]:
    """Environment for the fake claude: a script per task (others run the default script) and a
    log of every invocation in tmp_path/claude-log.jsonl."""
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    for task, script in (scripts or {}).items():
        (folder / f"{task}.json").write_text(json.dumps(script))
    return {"FAKE_CLAUDE_SCRIPTS": str(folder), "FAKE_CLAUDE_LOG": str(claude_log_path(tmp_path))}


def claude_log_path(tmp_path: Path) -> Path:
    return tmp_path / "claude-log.jsonl"


def claude_log(tmp_path: Path) -> list[dict[str, Any]]:
    """Every fake claude invocation, in order: argv, cwd, prompt, parsed flags, PO_* env."""
    path = claude_log_path(tmp_path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def invocation(tmp_path: Path, task: str) -> dict[str, Any]:
    found = [e for e in claude_log(tmp_path) if e["env"].get("PO_TASK") == task]
    assert len(found) == 1, f"expected one claude run for {task}, got {len(found)}"
    return found[0]


def start(
    cwd: Path, plan: Path | str, *args: str, env: dict[str, str] | None = None, timeout: float = 90
) -> PoResult:
    """`git po start PLAN --no-live ARGS`, to the end."""
    return run_po(cwd, "start", str(plan), "--no-live", *args, env=env, timeout=timeout)


def status_json(cwd: Path, *plan: str) -> dict[str, Any]:
    res = run_po(cwd, "status", "--json", *plan)
    assert res.code == 0, res
    data: dict[str, Any] = json.loads(res.out)
    return data


def tasks_by_id(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["task"]: t for t in status["tasks"]}


def task_state(repo: Path, plan: str, task: str, ref: str | None = None) -> dict[str, Any]:
    """state.toml at the tip of a task's state ref."""
    ref = ref or f"refs/po/{plan}/tasks/{task}"
    return tomllib.loads(git(repo, "show", f"{ref}:state.toml"))


def run_record(repo: Path, plan: str) -> dict[str, Any]:
    """run.toml at the tip of the plan ref."""
    return tomllib.loads(git(repo, "show", f"refs/po/{plan}/plan:run.toml"))


def subjects(
    repo: Path, rev: str, *, since: str | None = None, first_parent: bool = True
) -> list[str]:
    """Commit subjects of rev, newest first (only those not in since)."""
    spec = f"{since}..{rev}" if since else rev
    args = ["log", "--format=%s"]
    if first_parent:
        args.append("--first-parent")
    return git(repo, *args, spec).splitlines()


def tree_files(repo: Path, rev: str) -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", rev).splitlines())


def change_lines(out: str) -> list[tuple[str, str]]:
    """`--no-live` output: one 'HH:MM:SS task: message' line per state change -> (task, msg)."""
    found: list[tuple[str, str]] = []
    for line in out.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2 and len(parts[0]) == 8 and parts[0].count(":") == 2 and ": " in parts[1]:
            task, message = parts[1].split(": ", 1)
            found.append((task, message))
    return found


def index_of(lines: Sequence[tuple[str, str]], task: str, prefix: str) -> int:
    for i, (t, msg) in enumerate(lines):
        if t == task and msg.startswith(prefix):
            return i
    raise AssertionError(f"no line '{task}: {prefix}...' in {lines}")


def checkout_snapshot(repo: Path) -> dict[str, Any]:
    """What the user sees of their checkout: HEAD, index, status, every file, local config."""
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(repo):
        if ".git" in dirnames:
            dirnames.remove(".git")
        for f in filenames:
            full = Path(dirpath) / f
            files[str(full.relative_to(repo))] = full.read_bytes()
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "symbolic_head": git(repo, "symbolic-ref", "-q", "HEAD", check=False),
        "index": git(repo, "ls-files", "--stage"),
        "status": git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored"),
        "files": files,
        "config": git(repo, "config", "--local", "--list"),
    }


def worktree_paths(repo: Path) -> list[Path]:
    """Every linked worktree of the repository (not the main one)."""
    out = git(repo, "worktree", "list", "--porcelain")
    paths = [
        Path(line[len("worktree ") :]) for line in out.splitlines() if line.startswith("worktree ")
    ]
    return paths[1:]


def run_git_po(
    cwd: Path,
    tmp_path: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    git_args: Sequence[str] = (),
) -> PoResult:
    """`git [GIT_ARGS] po ARGS` through git itself, as an installed git-po on PATH is run."""
    folder = tmp_path / "git-po-bin"
    folder.mkdir(exist_ok=True)
    shim = folder / "git-po"
    if not shim.exists():
        shim.write_text(f'#!/bin/sh\nexec {" ".join(po_cmd())} "$@"\n')
        shim.chmod(0o755)
    full = po_env(env)
    full["PATH"] = os.pathsep.join([str(folder), full["PATH"]])
    proc = subprocess.run(
        ["git", *git_args, "po", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    return PoResult(proc)


# --- running in the background --------------------------------------------------------------


def po_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment run_po gives git po."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    if extra:
        env.update(extra)
    return env


def spawn_po(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`git po ARGS` in the background, as a user's shell would start it."""
    return subprocess.Popen(
        [*po_cmd(), *args],
        cwd=cwd,
        env=po_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def ref_state(repo: Path, plan: str, task: str) -> str | None:
    """The state a task's state ref says, or None before it exists. A running task whose
    worker's pid is not recorded yet (the attempt is recorded before its process starts) reads
    as "starting"."""
    proc = subprocess.run(
        ["git", "show", f"refs/po/{plan}/tasks/{task}:state.toml"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    data = tomllib.loads(proc.stdout)
    state: str = data["state"]
    attempts = data.get("attempts") or []
    if state == "running" and attempts and "pid" not in attempts[-1]:
        return "starting"
    return state


def pid_alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:
        return True


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


__all__ = [
    "DIAMOND",
    "Action",
    "Script",
    "change_lines",
    "checkout_snapshot",
    "claude_log",
    "fake_env",
    "index_of",
    "invocation",
    "kill_quietly",
    "pid_alive",
    "po_env",
    "ref_state",
    "run_git_po",
    "run_record",
    "spawn_po",
    "start",
    "status_json",
    "subjects",
    "task_state",
    "tasks_by_id",
    "tree_files",
    "wait_for",
    "worktree_paths",
    "write_plan",
]


def worktree_root(repo: Path) -> Path:
    """Where git po puts this repository's task worktrees (by default a per-user data
    directory keyed by the repository; this test's HOME is sealed, so it is under it)."""
    from git_po.config import worktree_root as root_of
    from git_po.repo import Repo

    return root_of(Repo.discover(repo))
