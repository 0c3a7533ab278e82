"""Tasks that wait: [NEEDS:other/item] is met by merging the other task's branch once it made
progress, and the waiting worker resumes told what arrived; NEEDS that can never be met
(cycles, needing a task that depends on you) are blocked with a reason; [BLOCKED:reason] waits
for `git po answer`, with or without a running orchestrator; `git po retry` and `git po stop`
give manual control."""

from __future__ import annotations

import signal
import tomllib
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.helpers import (
    Script,
    fake_env,
    kill_quietly,
    ref_state,
    run_record,
    spawn_po,
    start,
    status_json,
    subjects,
    task_state,
    tasks_by_id,
    wait_for,
    write_plan,
)
from tests.test_faults import (
    COMPLETE,
    attempts_of,
    event_names,
    event_records,
    fast_config,
    kill_workers,
    launches,
    worktree_of,
)

WIDE = {"COLUMNS": "300"}


def states(repo: Path, plan: str) -> dict[str, str]:
    return {t: v["state"] for t, v in tasks_by_id(status_json(repo, plan)).items()}


# --- NEEDS ----------------------------------------------------------------------------------


def test_needs_is_met_by_merging_the_other_branch_and_resuming_the_waiting_worker(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "shop",
        """
        [tasks.api]
        prompt = "Write the api on the schema."
        [tasks.schema]
        prompt = "Write the schema."
        """,
    )
    scripts: dict[str, Script] = {
        "api": {
            "attempts": {"1": [{"commit": "[NEEDS:schema/tables] the api needs the tables"}]},
            "default": [
                {"require": "schema.sql"},
                {"write": "api.py", "content": "tables = open('schema.sql').read()\n"},
                {"commit": "[COMPLETE] api on the schema"},
            ],
        },
        "schema": [
            {"sleep": 0.8},
            {"write": "schema.sql", "content": "create table t (x int);\n"},
            {"commit": "[CHECKPOINT] schema: tables"},
            {"sleep": 0.8},
            COMPLETE,
        ],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts))

    assert res.code == 0, res
    assert states(repo, "shop") == {"api": "complete", "schema": "complete"}
    # api's branch holds schema's file, by a merge of schema's branch
    assert git(repo, "show", "po/shop/api:schema.sql") == "create table t (x int);\n"
    assert "po: merge schema into api for [NEEDS:schema/tables]" in subjects(repo, "po/shop/api")
    events = event_names(repo, "shop", "api")
    assert events.index("needs") < events.index("delivered") < len(events) - 1
    delivered = next(r for r in event_records(repo, "shop", "api") if r["event"] == "delivered")
    assert delivered["from"] == "schema"
    # it was delivered at schema's checkpoint, before schema completed
    assert delivered["tip"] != git(repo, "rev-parse", "po/shop/schema").strip()
    # the waiting worker's session resumed, told what arrived
    _first, second = launches(tmp_path, "api")
    assert second["args"]["resume"] == attempts_of(repo, "shop", "api")[0]["session_id"]
    assert "What you needed from `schema` (schema/tables) arrived" in second["prompt"]
    assert "[CHECKPOINT] schema: tables" in second["prompt"]
    assert [a["outcome"] for a in attempts_of(repo, "shop", "api")] == ["needs", "complete"]


@pytest.mark.parametrize("left", [False, True], ids=["clean", "with-leftovers"])
def test_a_chain_of_needs_delivers_only_real_progress(
    repo: Path, tmp_path: Path, left: bool
) -> None:
    """a needs b, b needs c. c's checkpoint reaches b; what git po itself commits on b's branch
    while delivering (an auto-save of b's leftovers, the merge) is not b's progress, so a waits
    until b checkpoints its own work. (Regression: _arrived once took git po's auto-save
    commit on b's branch for b's progress, and a got b's branch before b's work was in it.)"""
    leftovers = [{"write": "b-notes.txt", "content": "notes b left uncommitted\n"}] if left else []
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "chain",
        """
        [tasks.a]
        prompt = "top"
        [tasks.b]
        prompt = "middle"
        [tasks.c]
        prompt = "bottom"
        """,
    )
    scripts: dict[str, Script] = {
        "a": {
            "attempts": {"1": [{"sleep": 0.3}, {"commit": "[NEEDS:b/middle] a needs b"}]},
            "default": [{"require": "b.txt"}, {"require": "c.txt"}, COMPLETE],
        },
        "b": {
            "attempts": {
                "1": [
                    {"commit": "[NEEDS:c/bottom] b needs c"},
                    *leftovers,
                ]
            },
            "default": [
                {"require": "c.txt"},
                {"sleep": 0.5},
                {"write": "b.txt", "content": "b\n"},
                {"commit": "[CHECKPOINT] b: on top of c"},
                COMPLETE,
            ],
        },
        "c": [
            {"sleep": 1.2},
            {"write": "c.txt", "content": "c\n"},
            {"commit": "[CHECKPOINT] c: bottom"},
            COMPLETE,
        ],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts))

    assert states(repo, "chain") == dict.fromkeys("abc", "complete"), res
    assert res.code == 0, res
    assert git(repo, "show", "po/chain/a:c.txt") == "c\n"
    assert git(repo, "show", "po/chain/a:b.txt") == "b\n"
    if left:  # b's leftovers were kept, not lost
        assert git(repo, "show", "po/chain/b:b-notes.txt") == "notes b left uncommitted\n"
    assert len(launches(tmp_path, "a")) == 2


def test_a_needs_cycle_blocks_both_tasks_and_names_the_cycle(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "loop",
        """
        [tasks.a]
        prompt = "a"
        [tasks.b]
        prompt = "b"
        """,
    )
    scripts: dict[str, Script] = {
        "a": [{"commit": "[NEEDS:b/thing] a waits for b"}],
        "b": [{"sleep": 0.3}, {"commit": "[NEEDS:a/other] b waits for a"}],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts), timeout=30)

    assert res.code == 1, res
    tasks = tasks_by_id(status_json(repo, "loop"))
    for t in "ab":
        assert tasks[t]["state"] == "blocked", tasks[t]
        reason = tasks[t]["reason"]
        assert "NEEDS cycle" in reason
        assert "a -> b -> a" in reason or "b -> a -> b" in reason
    assert "NEEDS cycle" in run_po(repo, "status", "loop", env=WIDE).out
    assert len(launches(tmp_path, "a")) == len(launches(tmp_path, "b")) == 1


def test_needing_a_task_that_depends_on_you_is_blocked(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "backwards",
        """
        [tasks.a]
        prompt = "a"
        [tasks.b]
        prompt = "b"
        depends_on = ["a"]
        """,
    )
    scripts: dict[str, Script] = {"a": [{"commit": "[NEEDS:b/output] a waits for b"}]}

    res = start(repo, plan, env=fake_env(tmp_path, scripts), timeout=30)

    assert res.code == 1, res
    tasks = tasks_by_id(status_json(repo, "backwards"))
    assert tasks["a"]["state"] == "blocked"
    assert "b depends on a" in tasks["a"]["reason"]
    assert tasks["b"]["state"] in ("pending", "skipped")
    assert not launches(tmp_path, "b")


@pytest.mark.parametrize("other", ["nosuch", "self"])
def test_needing_an_unknown_task_or_itself_is_blocked(
    repo: Path, tmp_path: Path, other: str
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "odd", '[tasks.self]\nprompt = "s"\n')
    scripts: dict[str, Script] = {"self": [{"commit": f"[NEEDS:{other}/x] waits"}]}

    res = start(repo, plan, env=fake_env(tmp_path, scripts), timeout=30)

    assert res.code == 1, res
    t = tasks_by_id(status_json(repo, "odd"))["self"]
    assert t["state"] == "blocked"
    assert other in t["reason"]


# --- BLOCKED and answers ----------------------------------------------------------------------

ASK: Script = {
    "attempts": {
        "1": [
            {"write": "notes.txt", "content": "started\n"},
            {"commit": "[CHECKPOINT] {task}: notes"},
            {"commit": "[BLOCKED:which database?] cannot choose"},
        ]
    },
    "default": [{"write": "db.txt", "content": "chosen\n"}, {"commit": "[COMPLETE] {task} done"}],
}


def test_blocked_then_answer_starts_an_orchestrator_that_resumes_the_session(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "ask", '[tasks.t]\nprompt = "Pick a database."\n')
    env = fake_env(tmp_path, {"t": ASK})

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    assert "git po answer" in res.err
    t = tasks_by_id(status_json(repo, "ask"))["t"]
    assert t["state"] == "blocked"
    assert t["reason"] == "which database?"
    assert "which database?" in run_po(repo, "status", "ask", env=WIDE).out
    assert run_record(repo, "ask")["state"] == "waiting"

    answer = run_po(repo, "answer", "t", "Use SQLite, it is in the stdlib.", "--no-live", env=env)

    assert answer.code == 0, answer
    st = task_state(repo, "ask", "t")
    assert st["state"] == "complete"
    assert [a["outcome"] for a in st["attempts"]] == ["blocked", "complete"]
    _first, second = launches(tmp_path, "t")
    assert second["args"]["resume"] == st["attempts"][0]["session_id"]
    assert "Use SQLite, it is in the stdlib." in second["prompt"]
    assert "which database?" in second["prompt"]
    answered = [r for r in event_records(repo, "ask", "t") if r["event"] == "answered"]
    assert len(answered) == 1
    assert answered[0]["answer"] == "Use SQLite, it is in the stdlib."
    assert git(repo, "show", "po/ask/t:db.txt") == "chosen\n"
    assert run_record(repo, "ask")["state"] == "finished"


def test_answer_from_a_file_with_plan_slash_task(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "ask2", '[tasks.t]\nprompt = "Pick a database."\n')
    env = fake_env(tmp_path, {"t": ASK})
    assert start(repo, plan, env=env).code == 1
    answer_file = tmp_path / "answer.md"
    answer_file.write_text("Postgres.\nWith a pool of 5.\n")

    res = run_po(repo, "answer", "ask2/t", "--file", str(answer_file), "--no-live", env=env)

    assert res.code == 0, res
    assert "Postgres.\nWith a pool of 5." in launches(tmp_path, "t")[1]["prompt"]


def test_answer_while_the_orchestrator_runs_continues_the_task_in_the_same_run(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "live",
        """
        [tasks.t]
        prompt = "Pick a database."
        [tasks.keeper]
        prompt = "Keeps the run alive for a while."
        """,
    )
    env = fake_env(tmp_path, {"t": ASK, "keeper": [{"sleep": 4}, COMPLETE]})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("t to be blocked", lambda: ref_state(repo, "live", "t") == "blocked")
        pid = proc.pid

        res = run_po(repo, "answer", "t", "SQLite.", env=env)

        assert res.code == 0, res
        assert f"sent to the orchestrator of live (pid {pid} on " in res.out
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, (out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)
    assert states(repo, "live") == {"t": "complete", "keeper": "complete"}
    assert "SQLite." in launches(tmp_path, "t")[1]["prompt"]
    # one run: nobody resumed it
    assert "resume" not in git(repo, "log", "--format=%s", "refs/po/live/plan")
    answered = [r for r in event_records(repo, "live", "t") if r["event"] == "answered"]
    assert [r["answer"] for r in answered] == ["SQLite."]


def test_answer_is_refused_for_a_task_that_is_not_waiting(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "done", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path)
    assert start(repo, plan, env=env).code == 0
    before = git(repo, "for-each-ref")

    res = run_po(repo, "answer", "t", "too late", env=env)

    assert res.code == 5, res
    assert "complete" in res.err
    assert git(repo, "for-each-ref") == before
    assert run_po(repo, "answer", "nosuch", "x", env=env).code == 6


# --- retry and stop by hand ------------------------------------------------------------------


def test_retry_runs_a_failed_task_again_and_its_skipped_dependents(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "again",
        """
        [tasks.t]
        prompt = "flaky"
        [tasks.after]
        prompt = "after t"
        depends_on = ["t"]
        """,
    )
    env = fake_env(
        tmp_path,
        {"t": {"attempts": {"1": [{"say": "nothing to do"}]}, "default": [COMPLETE]}},
    )
    assert start(repo, plan, env=env).code == 1
    assert states(repo, "again") == {"t": "failed", "after": "skipped"}

    res = run_po(repo, "retry", "t", "--note", "Try harder.", "--no-live", env=env)

    assert res.code == 0, res
    assert states(repo, "again") == {"t": "complete", "after": "complete"}
    assert "retry-requested" in event_names(repo, "again", "t")
    prompt = launches(tmp_path, "t")[1]["prompt"]
    assert "Try harder." in prompt
    assert "A person asked to run the task again" in prompt


def test_stop_interrupts_a_running_task_saves_its_work_and_the_run_goes_on(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "halt",
        """
        [tasks.t]
        prompt = "works forever"
        [tasks.other]
        prompt = "finishes"
        [tasks.later]
        prompt = "would start after other"
        depends_on = ["other"]
        """,
    )
    env = fake_env(
        tmp_path,
        {
            "t": [{"write": "draft.txt", "content": "draft\n"}, {"hang": True}],
            # other finishes only once `later` was stopped, however slow the machine
            "other": [{"bash": f"while [ ! -e {tmp_path}/go ]; do sleep 0.1; done"}, COMPLETE],
        },
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("t's draft", (worktree_of(repo, "halt", "t") / "draft.txt").exists)
        wait_for("t to be running", lambda: ref_state(repo, "halt", "t") == "running")
        # a running task cannot be retried
        assert run_po(repo, "retry", "t", env=env).code == 5

        res = run_po(repo, "stop", "t", env=env)

        assert res.code == 0, res
        assert "sent to the orchestrator of halt" in res.out
        # a pending task can be stopped too: it never starts
        assert run_po(repo, "stop", "later", env=env).code == 0
        (tmp_path / "go").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        kill_workers(tmp_path)
    assert proc.returncode == 1, (out, err)
    tasks = tasks_by_id(status_json(repo, "halt"))
    assert tasks["other"]["state"] == "complete"
    assert tasks["t"]["state"] == "interrupted"
    assert "git po stop" in tasks["t"]["reason"]
    assert git(repo, "show", "po/halt/t:draft.txt") == "draft\n"
    assert attempts_of(repo, "halt", "t")[0]["outcome"] == "stopped"
    assert tasks["later"]["state"] == "interrupted"
    assert not launches(tmp_path, "later")
    pid = attempts_of(repo, "halt", "t")[0]["pid"]
    kill_quietly(pid)


def test_stop_without_an_orchestrator_is_refused(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "idle", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path, {"t": ASK})
    assert start(repo, plan, env=env).code == 1

    res = run_po(repo, "stop", "t", env=env)

    assert res.code == 5, res
    assert "blocked" in res.err
    assert tomllib.loads(git(repo, "show", "refs/po/idle/tasks/t:state.toml"))["state"] == "blocked"
