"""`git po status`: the table and the JSON a user reads, from the repository that ran the plan,
from a subdirectory, from a task's worktree, and from another clone that fetched the refs."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, run_po
from tests.helpers import (
    DIAMOND,
    fake_env,
    kill_quietly,
    pid_alive,
    ref_state,
    run_git_po,
    spawn_po,
    start,
    status_json,
    task_state,
    tasks_by_id,
    wait_for,
    write_plan,
)

WIDE = {"COLUMNS": "400"}

TASK_KEYS = {
    "task",
    "state",
    "branch",
    "base",
    "checkpoint_count",
    "last_subject",
    "reason",
    "attempt_count",
    "session_id",
    "cost_usd",
}
# what depends on the machine or the moment, not on the refs
LOCAL_ONLY = ("orchestrator",)
MOMENTARY = ("age_s",)
# where a task's worktree and transcript sit is a path on one machine: a clone names its own
MACHINE_PATHS = ("worktree", "transcript")


@pytest.fixture
def finished(repo: Path, tmp_path: Path) -> Path:
    """Plan "house" ran: a complete, b blocked, c complete, d pending (waits for b)."""
    plan = write_plan(tmp_path, "house", DIAMOND)
    scripts = {
        "b": [
            {"write": "b.txt", "content": "b\n"},
            {"commit": "[CHECKPOINT] b: half a wall"},
            {"commit": "[BLOCKED:brick or wood?] need a decision", "allow_empty": True},
        ]
    }
    res = start(repo, plan, env=fake_env(tmp_path, scripts))
    assert res.code == 1, res
    return repo


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    """Status JSON without what is local to a machine or to the second it was asked."""
    out = {k: v for k, v in status.items() if k not in LOCAL_ONLY}
    out["tasks"] = [{k: v for k, v in t.items() if k not in MOMENTARY} for t in status["tasks"]]
    return out


def test_status_table_shows_each_task_state_and_last_subject(finished: Path) -> None:
    res = run_po(finished, "status", "house", env=WIDE)

    assert res.code == 0, res
    lines = res.out.splitlines()
    assert lines[0].startswith("plan house: run 1 waiting, started ")
    rows = {line.split()[0]: line for line in lines if line.split() and line.split()[0] in "abcd"}
    assert set(rows) == {"a", "b", "c", "d"}
    assert rows["a"].split()[1] == "complete" and "[COMPLETE] a done" in rows["a"]
    assert rows["c"].split()[1] == "complete" and "[COMPLETE] c done" in rows["c"]
    assert rows["b"].split()[1] == "blocked" and "brick or wood?" in rows["b"]
    assert rows["d"].split()[1] == "pending"
    assert "4 tasks: 1 blocked, 2 complete, 1 pending" in res.out

    # with a single plan in the repository, the name can be left out
    unnamed = run_po(finished, "status", env=WIDE)
    assert unnamed.code == 0, unnamed
    assert unnamed.out.splitlines()[0] == lines[0]
    assert [x.split()[:2] for x in unnamed.out.splitlines()[2:7]] == [
        x.split()[:2] for x in lines[2:7]
    ]


def test_status_json_has_the_documented_shape(finished: Path, tmp_path: Path) -> None:
    data = status_json(finished, "house")

    assert set(data) >= {"schema_version", "plan", "run", "tasks", "totals"}
    assert data["schema_version"] == 2
    assert data["plan"] == "house"
    assert data["run"]["number"] == 1
    assert data["run"]["state"] == "waiting"  # a task is blocked: the run waits for an answer
    assert data["run"]["base"] == git(finished, "rev-parse", "main").strip()
    assert [t["task"] for t in data["tasks"]] == ["a", "b", "c", "d"]
    for t in data["tasks"]:
        assert set(t) >= TASK_KEYS, TASK_KEYS - set(t)
    tasks = tasks_by_id(data)

    a = tasks["a"]
    assert a["state"] == "complete"
    assert a["branch"] == "po/house/a"
    assert a["base"] == data["run"]["base"]
    assert a["checkpoint_count"] == 1
    assert a["last_subject"] == "[COMPLETE] a done"
    assert a["reason"] is None
    assert a["attempt_count"] == 1
    assert a["cost_usd"] == pytest.approx(0.03)
    log = [json.loads(x) for x in (tmp_path / "claude-log.jsonl").read_text().splitlines()]
    sessions = {e["env"]["PO_TASK"]: e["session_id"] for e in log}
    assert a["session_id"] == sessions["a"]
    first_event = json.loads(Path(a["transcript"]).read_text().splitlines()[0])
    assert first_event["type"] == "system" and first_event["session_id"] == sessions["a"]

    b = tasks["b"]
    assert b["state"] == "blocked"
    assert b["reason"] == "brick or wood?"
    assert b["checkpoint_count"] == 1
    assert b["last_subject"] == "[BLOCKED:brick or wood?] need a decision"
    assert b["base"] == git(finished, "rev-parse", "po/house/a").strip()
    assert b["session_id"] == sessions["b"]

    d = tasks["d"]
    assert d["state"] == "pending"
    assert d["attempt_count"] == 0
    assert d["session_id"] is None
    assert d["cost_usd"] == 0
    assert d["last_subject"] is None

    totals = data["totals"]
    assert totals["task_count"] == 4
    assert totals["by_state"] == {"complete": 2, "blocked": 1, "pending": 1}
    assert totals["attempt_count"] == 3
    assert totals["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in data["tasks"]))


def test_status_without_a_name_lists_every_plan(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert start(repo, write_plan(tmp_path, "alpha", DIAMOND), env=env).code == 0
    assert start(repo, write_plan(tmp_path, "beta", '[tasks.x]\nprompt = "x"\n'), env=env).code == 0

    table = run_po(repo, "status")
    data = json.loads(run_po(repo, "status", "--json").out)

    assert table.code == 0, table
    rows = {line.split()[0]: line.split() for line in table.out.splitlines()[1:] if line.strip()}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"][1:3] == ["finished", "4/4"]
    assert rows["beta"][1:3] == ["finished", "1/1"]
    plans = {p["plan"]: p for p in data["plans"]}
    assert set(plans) == {"alpha", "beta"}
    assert plans["alpha"]["task_count"] == 4 and plans["alpha"]["complete_count"] == 4
    assert plans["beta"]["run"]["state"] == "finished"
    # and each can still be asked for by name
    assert status_json(repo, "beta")["plan"] == "beta"


def test_status_of_an_unknown_plan_exits_6(finished: Path) -> None:
    res = run_po(finished, "status", "nosuch")

    assert res.code == 6, res
    assert "nosuch" in res.err
    assert "house" in res.err  # the hint names the plans there are
    assert run_po(finished, "status", "--json", "nosuch").code == 6


def test_status_outside_a_repository_exits_4(tmp_path: Path) -> None:
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()

    res = run_po(elsewhere, "status")

    assert res.code == 4, res
    assert "not a git repository" in res.err
    assert run_po(elsewhere, "status", "--json", "house").code == 4


def test_status_with_no_plan_started(repo: Path) -> None:
    data = json.loads(run_po(repo, "status", "--json").out)
    assert data["plans"] == []
    res = run_po(repo, "status")
    assert res.code == 6, res
    assert "no plan has been started" in res.err


def test_status_is_the_same_from_a_subdirectory_and_from_a_task_worktree(
    finished: Path, tmp_path: Path
) -> None:
    here = comparable(status_json(finished, "house"))
    sub = finished / "src" / "deep"
    sub.mkdir(parents=True)
    worktree = Path(task_state(finished, "house", "a")["worktree"])
    assert worktree.is_dir()

    assert comparable(status_json(sub, "house")) == here
    assert comparable(status_json(worktree, "house")) == here
    assert comparable(status_json(worktree)) == here  # the only plan, found from a worktree
    table = run_po(worktree, "status", "house", env=WIDE)
    assert table.code == 0 and "brick or wood?" in table.out
    # and through git itself, as an installed git-po is run
    via_git = run_git_po(worktree, tmp_path, "status", "--json", "house")
    assert via_git.code == 0, via_git
    assert comparable(json.loads(via_git.out)) == here
    via_git = run_git_po(sub, tmp_path, "status", "--json", "house")
    assert comparable(json.loads(via_git.out)) == here


def test_status_in_another_clone_that_fetched_the_refs(finished: Path, tmp_path: Path) -> None:
    here = status_json(finished, "house")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(finished), str(clone))
    assert run_po(clone, "status", "house").code == 6  # not fetched by default

    git(
        clone,
        "fetch",
        "-q",
        "origin",
        "+refs/po/*:refs/po/*",
        "+refs/heads/po/*:refs/heads/po/*",
        "+refs/notes/po:refs/notes/po",
    )
    there = status_json(clone, "house")

    def shared(status: dict[str, Any]) -> dict[str, Any]:
        out = comparable(status)
        out["tasks"] = [
            {k: v for k, v in t.items() if k not in MACHINE_PATHS} for t in out["tasks"]
        ]
        return out

    assert shared(there) == shared(here)
    # the origin's worktrees are not on this machine: no path of theirs is taken from the refs
    assert all(t["worktree"] is None for t in there["tasks"]), there["tasks"]
    assert there["orchestrator"] is None
    table = run_po(clone, "status", "house", env=WIDE)
    assert table.code == 0 and "brick or wood?" in table.out
    # the notes came along: a worker commit says who made it
    tip = git(clone, "rev-parse", "po/house/a").strip()
    assert "po-task: a" in git(clone, "notes", "--ref=po", "show", tip)


def test_status_while_a_plan_runs(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.stopGrace", "2")
    plan = write_plan(tmp_path, "live", '[tasks.quick]\nprompt = "q"\n[tasks.hang]\nprompt = "h"\n')
    env = fake_env(
        tmp_path,
        {"hang": [{"commit": "[CHECKPOINT] started", "allow_empty": True}, {"hang": True}]},
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    pid = 0
    try:
        wait_for(
            "quick to complete and hang to run",
            lambda: (
                ref_state(repo, "live", "quick") == "complete"
                and ref_state(repo, "live", "hang") == "running"
            ),
        )
        pid = int(task_state(repo, "live", "hang")["attempts"][0]["pid"])
        wait_for(
            "the checkpoint",
            lambda: bool(
                git(repo, "log", "--format=%s", "main..po/live/hang", check=False).strip()
            ),
        )

        data = status_json(repo, "live")

        assert data["run"]["state"] == "running"
        assert data["orchestrator"] is not None and data["orchestrator"]["pid"] == proc.pid
        tasks = tasks_by_id(data)
        assert tasks["quick"]["state"] == "complete"
        assert tasks["hang"]["state"] == "running"
        assert tasks["hang"]["checkpoint_count"] == 1
        assert tasks["hang"]["last_subject"] == "[CHECKPOINT] started"
        table = run_po(repo, "status", "live", env=WIDE)
        assert table.code == 0
        assert f"pid {proc.pid}" in table.out.splitlines()[0]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        if pid and pid_alive(pid):
            kill_quietly(pid)


def test_status_table_in_a_pipe_keeps_the_whole_reason(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "pipe", '[tasks.t]\nprompt = "t"\n')
    reason = (
        "the schema in docs/architecture/storage/schema-v2.sql disagrees with the ORM models "
        "in src/models"
    )
    script = [{"commit": f"[BLOCKED:{reason}] stuck", "allow_empty": True}]
    assert start(repo, plan, env=fake_env(tmp_path, {"t": script})).code == 1

    res = run_po(repo, "status", "pipe")  # stdout is a pipe, COLUMNS unset

    assert res.code == 0, res
    assert reason in res.out
