"""`git po pause TASK` stops a task's worker with its work saved and keeps the task from being
scheduled — recorded in its state ref, so a later run, another process or a clone sees it —
until `git po unpause TASK`, which resumes the worker's session; with or without a running
orchestrator."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import git, run_po
from tests.helpers import (
    fake_env,
    kill_quietly,
    ref_state,
    spawn_po,
    start,
    status_json,
    tasks_by_id,
    wait_for,
    write_plan,
)
from tests.test_faults import (
    COMPLETE,
    attempts_of,
    event_names,
    fast_config,
    kill_workers,
    launches,
    worktree_of,
)

PLAN = """
[tasks.t]
prompt = "works until paused"
[tasks.after]
prompt = "needs t"
depends_on = ["t"]
[tasks.other]
prompt = "finishes"
"""


def _scripts(tmp_path: Path) -> dict[str, object]:
    return {
        "t": {
            "attempts": {
                "1": [
                    {"write": "draft.txt", "content": "draft\n"},
                    {"commit": "[CHECKPOINT] {task}: draft"},
                    {"write": "more.txt", "content": "uncommitted\n"},
                    {"hang": True},
                ]
            },
            "default": [COMPLETE],
        },
        "other": [{"bash": f"while [ ! -e {tmp_path}/go ]; do sleep 0.1; done"}, COMPLETE],
    }


def test_pause_stops_a_running_worker_saves_its_work_and_unpause_resumes_its_session(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "hold", PLAN)
    env = fake_env(tmp_path, _scripts(tmp_path))
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("t's uncommitted work", (worktree_of(repo, "hold", "t") / "more.txt").exists)
        wait_for("t to be running", lambda: ref_state(repo, "hold", "t") == "running")

        res = run_po(repo, "pause", "t", env=env)

        assert res.code == 0, res
        assert "sent to the orchestrator of hold" in res.out
        wait_for("t to be paused", lambda: ref_state(repo, "hold", "t") == "paused")
        # a paused task is not answered, retried or stopped: it is unpaused
        refused = run_po(repo, "retry", "t", env=env)
        assert refused.code == 5 and "paused" in refused.err, refused
        (tmp_path / "go").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        kill_workers(tmp_path)
    # the run ends with t paused and its dependent waiting; nothing of t's work is lost
    assert proc.returncode == 1, (out, err)
    tasks = tasks_by_id(status_json(repo, "hold"))
    assert tasks["t"]["state"] == "paused"
    assert tasks["after"]["state"] == "pending"
    assert tasks["other"]["state"] == "complete"
    assert git(repo, "show", "po/hold/t:more.txt") == "uncommitted\n"
    assert attempts_of(repo, "hold", "t")[0]["outcome"] == "paused"
    assert not launches(tmp_path, "after")
    kill_quietly(attempts_of(repo, "hold", "t")[0]["pid"])

    # a later run (another process) keeps it paused
    resumed = run_po(repo, "resume", "hold", "--no-live", env=env)
    assert resumed.code == 1, resumed
    assert ref_state(repo, "hold", "t") == "paused"
    assert len(launches(tmp_path, "t")) == 1

    # unpause with nothing running: a run starts, the session resumes, the plan completes
    res = run_po(repo, "unpause", "t", "--no-live", env=env)

    assert res.code == 0, res
    tasks = tasks_by_id(status_json(repo, "hold"))
    assert {t: v["state"] for t, v in tasks.items()} == {
        "t": "complete",
        "after": "complete",
        "other": "complete",
    }
    second = launches(tmp_path, "t")[1]
    first_session = attempts_of(repo, "hold", "t")[0]["session_id"]
    assert second["args"]["resume"] == first_session
    assert "paused this task and has now resumed it" in second["prompt"]
    assert "unpaused" in event_names(repo, "hold", "t")


def test_pause_is_refused_for_a_complete_or_unknown_task(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "done", '[tasks.t]\nprompt = "t"\n')
    env = fake_env(tmp_path)
    assert start(repo, plan, env=env).code == 0
    before = git(repo, "rev-parse", "refs/po/done/tasks/t")

    res = run_po(repo, "pause", "t", env=env)

    assert res.code == 5, res
    assert "done/t is complete; pause applies to running or pending or interrupted" in res.err
    missing = run_po(repo, "pause", "nosuch", env=env)
    assert missing.code == 6 and "no task 'nosuch'" in missing.err, missing
    unpause = run_po(repo, "unpause", "t", env=env)
    assert unpause.code == 5 and "unpause applies to paused" in unpause.err, unpause
    assert git(repo, "rev-parse", "refs/po/done/tasks/t") == before


def test_pause_of_an_interrupted_task_keeps_resume_from_starting_it(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "nap", '[tasks.t]\nprompt = "t"\n')
    env = fake_env(
        tmp_path,
        {"t": {"attempts": {"1": [{"write": "a.txt", "content": "a\n"}, {"hang": True}]}}},
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("t to be running", lambda: ref_state(repo, "nap", "t") == "running")
        wait_for("t's file", (worktree_of(repo, "nap", "t") / "a.txt").exists)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        kill_workers(tmp_path)
    assert ref_state(repo, "nap", "t") == "interrupted"

    res = run_po(repo, "pause", "t", env=env)

    assert res.code == 0, res
    assert "paused" in res.out
    assert ref_state(repo, "nap", "t") == "paused"
    assert "paused" in event_names(repo, "nap", "t")
    # the state ref says so, for any clone
    assert "paused with git po pause" in git(repo, "show", "refs/po/nap/tasks/t:state.toml")
    resumed = run_po(repo, "resume", "nap", "--no-live", env=env)
    assert resumed.code == 1, resumed
    assert len(launches(tmp_path, "t")) == 1
    again = run_po(repo, "pause", "t", env=env)
    assert again.code == 5 and "paused" in again.err, again

    res = run_po(repo, "unpause", "t", "--no-live", env=env)

    assert res.code == 0, res
    assert ref_state(repo, "nap", "t") == "complete"
    assert len(launches(tmp_path, "t")) == 2
