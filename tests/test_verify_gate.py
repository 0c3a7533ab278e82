"""The verify gate in the run loop: a [COMPLETE] counts once the plan's verify command passes on
that commit; a failure goes back to the worker; Ctrl-C during verify is resumed by verifying."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import git, run_po
from tests.helpers import (
    claude_log,
    fake_env,
    ref_state,
    spawn_po,
    start,
    status_json,
    task_state,
    tasks_by_id,
    wait_for,
    write_plan,
)


def test_a_failing_verify_sends_the_task_back_then_passes(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.retryDelay", "0")
    plan = write_plan(
        tmp_path,
        "gate",
        """
        verify = "grep -q yes ok.txt"
        [tasks.a]
        prompt = "Write ok.txt"
        retries = 1
        """,
    )
    script = {
        "attempts": {"1": [{"write": "ok.txt", "content": "no\n"}, {"commit": "[COMPLETE] a"}]},
        "default": [{"write": "ok.txt", "content": "yes\n"}, {"commit": "[COMPLETE] a fixed"}],
    }
    res = start(repo, plan, env=fake_env(tmp_path, {"a": script}))

    assert res.code == 0, res
    a = tasks_by_id(status_json(repo, "gate"))["a"]
    assert a["state"] == "complete"
    assert a["verify"]["passed"] is True
    # the second attempt resumed the session and was told why
    second = next(e for e in claude_log(tmp_path) if e["env"].get("PO_ATTEMPT") == "2")
    assert "--resume" in second["argv"]
    assert "did not pass the plan's verify command" in second["prompt"]
    note = git(repo, "notes", "--ref=po-verify", "show", "po/gate/a")
    assert "passed = true" in note


def test_ctrl_c_during_verify_is_resumed_by_verifying(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "verify-started"
    plan = write_plan(
        tmp_path,
        "slow",
        f"""
        verify = "touch '{marker}'; sleep 30"
        [tasks.a]
        prompt = "Do it"
        """,
    )
    env = fake_env(tmp_path)
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("verify to start", marker.exists)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert ref_state(repo, "slow", "a") == "interrupted"
    assert task_state(repo, "slow", "a")["reason"] == "stopped during verify"

    # resume judges the recorded [COMPLETE] again, without starting the agent again
    marker.unlink()
    runs_before = len(claude_log(tmp_path))
    proc = spawn_po(repo, "resume", "slow", "--no-live", env=env)
    try:
        wait_for("verify to start again", marker.exists)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(claude_log(tmp_path)) == runs_before  # the agent was not started again
    res = run_po(repo, "status", "slow")
    assert res.code == 0, res
    assert "stopped during verify" in res.out
