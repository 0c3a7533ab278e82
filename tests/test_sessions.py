"""`git po sessions`: the Claude Code sessions of the repository's plans, from the session ids
recorded in the tasks' attempts and the CLI's session files under its config directory."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from git_po.sessions import project_dir_names
from tests.conftest import run_po
from tests.helpers import fake_env, ref_state, spawn_po, start, wait_for, write_plan
from tests.test_faults import attempts_of, fast_config, kill_workers, worktree_of


def _sessions(repo: Path, *args: str, env: dict[str, str]) -> list[dict[str, Any]]:
    res = run_po(repo, "sessions", "--json", *args, env=env)
    assert res.code == 0, res
    data = json.loads(res.out)
    assert data["schema_version"] == 2
    found: list[dict[str, Any]] = data["sessions"]
    return found


def test_sessions_joins_recorded_ids_with_the_cli_session_files(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "shop", '[tasks.a]\nprompt = "a"\n[tasks.b]\nprompt = "b"\n')
    config = tmp_path / "claude-config"
    env = {**fake_env(tmp_path), "CLAUDE_CONFIG_DIR": str(config)}
    assert start(repo, plan, env=env).code == 0
    sid_a = attempts_of(repo, "shop", "a")[0]["session_id"]
    wt_a = str(worktree_of(repo, "shop", "a"))
    folder = config / "projects" / project_dir_names(wt_a)[0]
    folder.mkdir(parents=True)
    (folder / f"{sid_a}.jsonl").write_text('{"type":"user"}\n')
    by_hand = "0f0e0d0c-0000-4000-8000-000000000001"
    (folder / f"{by_hand}.jsonl").write_text('{"type":"user"}\n')
    old = time.time() - 3 * 86400
    os.utime(folder / f"{by_hand}.jsonl", (old, old))

    found = _sessions(repo, env=env)

    by_id = {s["session_id"]: s for s in found}
    assert set(by_id) == {sid_a, attempts_of(repo, "shop", "b")[0]["session_id"], by_hand}
    a = by_id[sid_a]
    assert (a["plan"], a["task"], a["attempt"], a["worktree"]) == ("shop", "a", 1, wt_a)
    assert a["file"] == str(folder / f"{sid_a}.jsonl")
    assert a["running"] is False and a["state"] == "complete"
    hand = by_id[by_hand]
    assert hand["task"] == "a" and hand["attempt"] is None
    assert hand["last_activity"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(old))
    assert found[-1]["session_id"] == by_hand  # newest activity first
    # only what was active in the last hour
    recent = {s["session_id"] for s in _sessions(repo, "--hours", "1", env=env)}
    assert by_hand not in recent and sid_a in recent
    table = run_po(repo, "sessions", env=env)
    assert table.code == 0
    assert table.out.splitlines()[0].split() == [
        "TASK",
        "SESSION",
        "ATTEMPT",
        "ACTIVE",
        "RUNNING",
        "WORKTREE",
    ]
    assert f"shop/a  {sid_a}" in table.out
    bad = run_po(repo, "sessions", "--hours", "0", env=env)
    assert bad.code == 2


def test_sessions_shows_the_process_that_runs_a_session(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "live", '[tasks.t]\nprompt = "t"\n')
    env = fake_env(tmp_path, {"t": [{"write": "w.txt", "content": "w\n"}, {"hang": True}]})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("t running", lambda: ref_state(repo, "live", "t") == "running", 60)
        wait_for("its file", (worktree_of(repo, "live", "t") / "w.txt").exists)

        found = _sessions(repo, env=env)

        assert len(found) == 1
        assert found[0]["running"] is True and found[0]["attempt"] == 1
        assert found[0]["pid"] == attempts_of(repo, "live", "t")[0]["pid"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        kill_workers(tmp_path)
    after = _sessions(repo, env=env)
    assert after[0]["running"] is False
    assert after[0]["session_id"] == found[0]["session_id"]  # the one recorded at its end


def test_sessions_of_a_repository_without_plans(repo: Path) -> None:
    res = run_po(repo, "sessions")
    assert res.code == 0 and res.out.strip() == "no sessions"
