"""`git po attach TASK`: an interactive `claude --resume SESSION` in the task's worktree, with the
attach marker held exactly as long as it runs; refused while a worker of the task runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_po
from tests.helpers import (
    claude_log,
    fake_env,
    po_env,
    spawn_po,
    start,
    status_json,
    wait_for,
    write_plan,
)

PLAN = """
[tasks.a]
prompt = "Do a."
model = "sonnet"

[tasks.sh]
agent = "shell"
run = "git commit -q --allow-empty -m '[COMPLETE] sh'"
"""


def _marker(repo: Path, task: str = "a") -> Path:
    return repo / ".git" / "po" / "plans" / "p" / "attached" / task


def _attach(
    repo: Path, env: dict[str, str], stdin: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "git_po", "attach", *args],
        cwd=repo,
        env=po_env(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_attach_resumes_the_session_in_the_worktree(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert start(repo, write_plan(tmp_path, "p", PLAN), env=env).code == 0
    task = status_json(repo, "p")["tasks"][0]
    marker = _marker(repo)
    proc = _attach(repo, env, f"hello worker\n/sh cat {marker}\n", "a")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == (
        f"fake claude 2.1.197: resumed session {task['session_id']} in {task['worktree']}"
    )
    assert "claude: you said 'hello worker'" in out
    assert re.fullmatch(
        r"pid \d+ since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ start [\d.]+", out[2]
    )  # meanwhile
    assert out[-1] == "fake claude: bye"
    assert not marker.exists()  # and gone afterwards
    assert f"attaching to p/a (session {task['session_id']})" in proc.stderr
    call = claude_log(tmp_path)[-1]
    assert call["interactive"] is True
    assert call["argv"] == ["--resume", task["session_id"], "--model", "sonnet"]
    assert call["cwd"] == task["worktree"]


def test_attach_is_refused_while_a_worker_runs(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path, {"a": [{"say": "working"}, {"hang": True}]})
    orchestrator = spawn_po(
        repo, "start", str(write_plan(tmp_path, "p", PLAN)), "--no-live", env=env
    )
    try:
        wait_for(
            "task a to run",
            lambda: (
                run_po(repo, "status", "p", "--json").code == 0
                and status_json(repo, "p")["tasks"][0]["state"] == "running"
            ),
        )
        proc = _attach(repo, env, "", "p/a")
        assert proc.returncode == 5, proc.stderr
        assert "a worker of task p/a is running" in proc.stderr
        assert not _marker(repo).exists()
    finally:
        os.kill(orchestrator.pid, signal.SIGINT)
        orchestrator.wait(timeout=60)


def test_attach_needs_a_session_of_the_agent(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert start(repo, write_plan(tmp_path, "p", PLAN), env=env).code == 0
    shell = _attach(repo, env, "", "sh")
    assert shell.returncode == 5 and "no shell session" in shell.stderr, shell.stderr
    assert _attach(repo, env, "", "nosuch").returncode == 6
    missing = _attach(repo, env, "", "a", "--claude", str(tmp_path / "no-claude"))
    assert missing.returncode == 3, missing.stderr


def test_ctrl_c_goes_to_claude_and_the_marker_is_removed(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert start(repo, write_plan(tmp_path, "p", PLAN), env=env).code == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "git_po", "attach", "a"],
        cwd=repo,
        env=po_env(env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        wait_for("the attach marker", _marker(repo).exists)
        wait_for("claude to start", lambda: len(claude_log(tmp_path)) >= 2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C on the terminal does
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err  # claude's status: killed by Ctrl-C
    assert "detached from p/a" in err
    assert not _marker(repo).exists()
