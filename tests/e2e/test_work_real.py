"""Two clones drain one plan through a bare remote with the real Claude Code CLI as workers
(acceptEdits, as the README documents), against the scripted Messages API in fake_api.py."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.e2e.fake_api import FakeAnthropic
from tests.e2e.test_real_cli import PLAN, _diamond_scripts
from tests.helpers import spawn_po
from tests.sharing import wait_published

pytestmark = pytest.mark.e2e


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out + err


def test_two_clones_drain_a_plan_with_the_real_cli(
    repo: Path,
    tmp_path: Path,
    fake_api: FakeAnthropic,
    claude_cli: Path,
    claude_env: dict[str, str],
) -> None:
    for name, turns in _diamond_scripts().items():
        fake_api.add_script(name, turns)
    (repo / "plan.toml").write_text(PLAN)
    git(repo, "add", "plan.toml")
    git(repo, "commit", "-q", "-m", "Add plan")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", bare.as_uri())
    git(repo, "push", "-q", "origin", "HEAD:main")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", bare.as_uri(), str(other))
    env = {**claude_env, "GIT_PO_LEASE": "20"}
    claude = ["--claude", str(claude_cli), "--no-live"]

    first = spawn_po(repo, "start", "plan.toml", "--remote", "origin", *claude, env=env)
    wait_published(bare, "shop")
    assert run_po(other, "fetch", "origin", env=env).code == 0
    assert run_po(other, "trust", "shop", "--yes", env=env).code == 0
    second = spawn_po(other, "work", "shop", "--remote", "origin", *claude, env=env)
    results = [_finish(first), _finish(second)]
    log = fake_api.describe()
    for code, out in results:
        assert code == 0, f"{out}\n{log}"

    for task in ("models", "api", "cli", "docs"):
        state = tomllib.loads(git(bare, "show", f"refs/po/shop/tasks/{task}:state.toml"))
        assert state["state"] == "complete", (task, state)
        assert len(state["attempts"]) == 1, (task, state)
        subjects = git(bare, "log", "--format=%s", f"main..refs/heads/po/shop/{task}").split("\n")
        assert subjects.count(f"[COMPLETE] {task}") == 1, (task, subjects)
        # each task's worker ran once, on one machine: its script was served once
        assert fake_api.turns_served(task)[:3] == [0, 1, 2], (task, log)
    # the dependent task started from its dependencies' pushed branches
    files = git(bare, "ls-tree", "-r", "--name-only", "refs/heads/po/shop/docs").split()
    assert {"shop/models.py", "shop/api.py", "shop/cli.py", "docs/index.md"} <= set(files)
    for clone in (repo, other):
        assert run_po(clone, "sync", "origin", env=env).code == 0
    status = run_po(other, "status", "shop", env=env)
    assert status.code == 0 and "4 tasks: 4 complete" in status.out, status
