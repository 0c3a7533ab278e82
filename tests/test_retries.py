"""Attempts that fail, and what git po makes of them: each attempt's class (from the exit
status, the stream-json result and the branch), retries with backoff that resume the agent's
session with a continuation prompt, the plan-wide cool-down after 429/529, permanent errors
that are not retried, timeouts, and budgets (the task's across its attempts, the plan's)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import FAKE_CLAUDE_DIR, git, run_po
from tests.helpers import (
    Script,
    change_lines,
    claude_log,
    fake_env,
    start,
    status_json,
    task_state,
    tasks_by_id,
    write_plan,
)
from tests.test_faults import (
    COMPLETE,
    attempts_of,
    event_names,
    fast_config,
    kill_workers,
    launches,
    mark,
    marks,
    run_to_death,
)

WORK: Script = [
    {"write": "{task}.txt", "content": "{task} attempt {attempt}\n"},
    {"commit": "[CHECKPOINT] {task}: first half"},
]


def outcomes(repo: Path, plan: str, task: str) -> list[str]:
    return [a["outcome"] for a in attempts_of(repo, plan, task)]


def one_task(tmp_path: Path, name: str, extra: str = "") -> Path:
    return write_plan(tmp_path, name, f'[tasks.t]\nprompt = "Do the thing."\n{extra}')


# --- workers that hang, exit without work, crash ----------------------------------------------


def test_a_worker_that_hangs_at_start_is_stopped_when_idle_and_retried(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "hang", 'idle_timeout = "1s"\nretries = 1\n')
    env = fake_env(tmp_path, {"t": {"attempts": {"1": [{"hang": True}]}}})

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert outcomes(repo, "hang", "t") == ["idle", "complete"]
    first, second = attempts_of(repo, "hang", "t")
    assert first["exit_code"] == 128 + signal.SIGTERM  # stopped with SIGTERM
    assert "idle for 1s" in first["reason"]
    runs = launches(tmp_path, "t")
    assert len(runs) == 2
    # the retry continues the session, saying why
    assert runs[1]["args"]["resume"] == first["session_id"] == second["session_id"]
    assert "attempt 2" in runs[1]["prompt"]
    assert "idle for 1s" in runs[1]["prompt"]
    assert "Nothing has been committed on your branch yet." in runs[1]["prompt"]
    assert "retry" in event_names(repo, "hang", "t")
    assert tasks_by_id(status_json(repo, "hang"))["t"]["attempt_count"] == 2


def test_a_worker_that_hangs_after_its_complete_commit_times_out_and_is_complete(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "linger", 'timeout = "1.5s"\nretries = 2\n')
    env = fake_env(tmp_path, {"t": [*WORK, COMPLETE, {"hang": True}]})

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    st = task_state(repo, "linger", "t")
    assert st["state"] == "complete"
    assert len(st["attempts"]) == 1  # not retried: the branch says it is done
    assert st["attempts"][0]["exit_code"] == 128 + signal.SIGTERM  # stopped with SIGTERM
    assert len(launches(tmp_path, "t")) == 1
    assert git(repo, "log", "-1", "--format=%s", "po/linger/t").strip() == "[COMPLETE] t done"


def test_an_adopted_worker_past_its_timeout_is_stopped_and_retried(
    repo: Path, tmp_path: Path
) -> None:
    """The timeout counts from the attempt's start, also across a crash: a worker left
    running by a dead orchestrator past its timeout is stopped as soon as it is adopted."""
    fast_config(repo)
    plan = one_task(tmp_path, "late", 'timeout = "2s"\nretries = 1\n')
    env = fake_env(
        tmp_path, {"t": {"attempts": {"1": [*WORK, {"hang": True}]}, "default": [COMPLETE]}}
    )
    try:
        died = run_to_death(
            repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
        )
        assert died.returncode == -signal.SIGKILL, died
        time.sleep(2.2)

        res = run_po(repo, "resume", "late", "--no-live", env=env)

        assert res.code == 0, res
        first, second = attempts_of(repo, "late", "t")
        assert first["adopted"] is True
        assert first["outcome"] == "timeout"
        assert "timed out after 2s" in first["reason"]
        assert second["outcome"] == "complete"
        assert [e["env"]["PO_ATTEMPT"] for e in launches(tmp_path, "t")] == ["1", "2"]
    finally:
        kill_workers(tmp_path)


def test_exit_0_without_work_is_no_progress_retried_then_failed(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "lazy", "retries = 1\n")
    env = fake_env(tmp_path, {"t": [{"say": "All done!"}]})

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    assert outcomes(repo, "lazy", "t") == ["no-progress", "no-progress"]
    t = tasks_by_id(status_json(repo, "lazy"))["t"]
    assert t["state"] == "failed"
    assert t["attempt_count"] == 2
    assert t["last_outcome"] == "no-progress"
    assert "[COMPLETE]" in t["reason"] and "after 2 attempts" in t["reason"]
    assert "after 2 attempts" in run_po(repo, "status", "lazy", env={"COLUMNS": "300"}).out
    assert len(launches(tmp_path, "t")) == 2


def test_a_crashed_worker_is_retried(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "crash", "retries = 1\n")
    env = fake_env(
        tmp_path,
        {"t": {"attempts": {"1": [*WORK, {"write": "wip.txt", "content": "w\n"}, {"crash": 11}]}}},
    )

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    first, second = attempts_of(repo, "crash", "t")
    assert first["outcome"] == "crashed"
    assert first["signal"] == signal.SIGSEGV
    assert "SIGSEGV" in first["reason"]
    assert second["outcome"] == "complete"
    # the crash's uncommitted file was saved, and the retry was told what is done
    assert git(repo, "show", "po/crash/t:wip.txt") == "w\n"
    prompt = launches(tmp_path, "t")[1]["prompt"]
    assert "[CHECKPOINT] t: first half" in prompt
    assert "auto-saved uncommitted work of attempt 1" in prompt


def test_a_retry_resumes_the_session_with_a_prompt_listing_the_checkpoints(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "again", "retries = 2\n")
    env = fake_env(
        tmp_path,
        {
            "t": {
                "attempts": {
                    "1": [*WORK, {"exit": 0}],
                    "2": [{"require": "t.txt"}, COMPLETE],
                }
            }
        },
    )

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    first, second = launches(tmp_path, "t")
    session = attempts_of(repo, "again", "t")[0]["session_id"]
    assert first["args"]["resume"] is None
    assert second["argv"][second["argv"].index("--resume") + 1] == session
    assert second["env"]["PO_ATTEMPT"] == "2"
    prompt = second["prompt"]
    assert "You are resuming git po task `t`" in prompt
    assert "(attempt 2)" in prompt
    assert "- [CHECKPOINT] t: first half" in prompt
    assert "[COMPLETE]" in prompt
    assert task_state(repo, "again", "t")["attempts"][1]["resumed_session"] == session


# --- 429 / 529 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "cls"), [(429, "rate-limited"), (529, "overloaded")])
def test_rate_limit_or_overload_is_retried_and_pauses_other_launches(
    repo: Path, tmp_path: Path, status: int, cls: str
) -> None:
    fast_config(repo)
    git(repo, "config", "po.cooldown", "1.5")
    plan = write_plan(
        tmp_path,
        "busy",
        """
        max_workers = 1
        [defaults]
        retries = 2
        [tasks.x]
        prompt = "first, on the longest path"
        [tasks.z]
        prompt = "after x"
        depends_on = ["x"]
        [tasks.y]
        prompt = "ready at once, but waits for the cool-down"
        """,
    )
    scripts: dict[str, Script] = {
        "x": {
            "attempts": {"1": [mark(tmp_path, "start"), {"api_error": status, "retries": 2}]},
            "default": [mark(tmp_path, "start"), *WORK, COMPLETE],
        },
        "y": [mark(tmp_path, "start"), COMPLETE],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts))

    assert res.code == 0, res
    st = task_state(repo, "busy", "x")
    assert [a["outcome"] for a in st["attempts"]] == [cls, "complete"]
    assert st["attempts"][0]["api_error_status"] == status
    assert st["attempts"][0]["exit_code"] == 1
    events = event_names(repo, "busy", "x")
    assert events.count("running") == 2 and "retry" in events
    # the class is in the state history: the event of attempt 1's end names it
    assert f"after {cls}" in git(repo, "log", "--format=%s", "refs/po/busy/tasks/x")
    assert f"{cls}: no new worker starts for" in res.out
    # nothing started during the cool-down, though a worker slot was free at once
    starts = {(m.task, m.attempt): float(m.value) for m in marks(tmp_path) if m.kind == "start"}
    assert starts[("y", 1)] - starts[("x", 1)] >= 1.4, starts
    assert starts[("x", 2)] - starts[("x", 1)] >= 1.4, starts
    assert all(s["state"] == "complete" for s in status_json(repo, "busy")["tasks"])


def test_a_rate_limit_that_outlasts_the_retries_fails_with_its_class_in_status(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    git(repo, "config", "po.cooldown", "0")
    plan = one_task(tmp_path, "limited", "retries = 1\n")
    env = fake_env(tmp_path, {"t": [{"api_error": 429, "retries": 1}]})

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    t = tasks_by_id(status_json(repo, "limited"))["t"]
    assert t["state"] == "failed"
    assert t["last_outcome"] == "rate-limited"
    assert t["attempt_count"] == 2
    assert "API rate limit (429)" in t["reason"]
    table = run_po(repo, "status", "limited", env={"COLUMNS": "300"}).out
    assert "API rate limit (429)" in table
    assert outcomes(repo, "limited", "t") == ["rate-limited", "rate-limited"]


# --- permanent failures -------------------------------------------------------------------


def test_authentication_errors_are_not_retried(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "auth", "retries = 3\n")
    env = fake_env(tmp_path, {"t": [{"api_error": 401}]})

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    assert outcomes(repo, "auth", "t") == ["permanent"]
    assert len(launches(tmp_path, "t")) == 1
    t = tasks_by_id(status_json(repo, "auth"))["t"]
    assert t["state"] == "failed"
    assert "credentials (401)" in t["reason"]


def test_an_agent_that_refuses_its_flags_is_not_retried(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    wrapper = tmp_path / "claude-with-a-bad-flag"
    wrapper.write_text(f'#!/bin/sh\nexec {FAKE_CLAUDE_DIR / "claude"} --no-such-flag "$@"\n')
    wrapper.chmod(0o755)
    plan = one_task(tmp_path, "flags", "retries = 3\n")

    res = start(repo, plan, "--claude", str(wrapper), env=fake_env(tmp_path))

    assert res.code == 1, res
    assert outcomes(repo, "flags", "t") == ["permanent"]
    assert len(claude_log(tmp_path)) == 1
    t = tasks_by_id(status_json(repo, "flags"))["t"]
    assert "unknown option" in t["reason"] and "--no-such-flag" in t["reason"]


# --- budgets ------------------------------------------------------------------------------------


def test_the_task_budget_spans_its_attempts(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "budget", "budget_usd = 1.0\nretries = 3\n")
    env = fake_env(
        tmp_path,
        {"t": {"attempts": {"1": [*WORK, {"cost": 0.4}, {"exit": 0}]}, "default": [COMPLETE]}},
    )

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    first, second = launches(tmp_path, "t")
    assert first["args"]["max_budget_usd"] == pytest.approx(1.0)
    # attempt 1 spent 0.40: attempt 2 may spend what is left
    assert second["args"]["max_budget_usd"] == pytest.approx(0.6)


def test_a_task_whose_budget_is_spent_is_not_retried(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = one_task(tmp_path, "spent", "budget_usd = 0.5\nretries = 3\n")
    env = fake_env(tmp_path, {"t": [*WORK, {"cost": 0.6}, {"exit": 0}]})

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    assert len(launches(tmp_path, "t")) == 1
    t = tasks_by_id(status_json(repo, "spent"))["t"]
    assert t["state"] == "failed"
    assert t["attempt_count"] == 1
    assert t["cost_usd"] == pytest.approx(0.6)


def test_the_plan_budget_stops_launches_and_running_workers_and_saves_their_work(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "wallet",
        """
        budget_usd = 1.0
        max_workers = 3
        [tasks.a]
        prompt = "cheap but not that cheap"
        [tasks.b]
        prompt = "the same"
        [tasks.slow]
        prompt = "works for a while"
        [tasks.later]
        prompt = "after a and b"
        depends_on = ["a", "b"]
        """,
    )
    spend: Script = [{"sleep": 0.3}, {"cost": 0.6}, *WORK, COMPLETE]
    scripts: dict[str, Script] = {
        "a": spend,
        "b": spend,
        "slow": [
            {"write": "draft.txt", "content": "half done\n"},
            {"sleep": 30},
            COMPLETE,
        ],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts), timeout=40)

    assert res.code == 1, res
    tasks = tasks_by_id(status_json(repo, "wallet"))
    assert tasks["a"]["state"] == tasks["b"]["state"] == "complete"
    # the running worker was stopped, its work saved on its branch
    assert tasks["slow"]["state"] == "interrupted"
    assert "budget" in tasks["slow"]["reason"]
    assert git(repo, "show", "po/wallet/slow:draft.txt") == "half done\n"
    assert attempts_of(repo, "wallet", "slow")[0]["outcome"] == "budget"
    # nothing more was launched
    assert tasks["later"]["state"] == "interrupted"
    assert "plan budget $1.00 spent ($1.20)" in tasks["later"]["reason"]
    assert not launches(tmp_path, "later")
    lines = change_lines(res.out)
    assert ("later", "interrupted — plan budget $1.00 spent ($1.20)") in lines

    # resuming a plan whose budget is spent launches nothing either
    again = run_po(repo, "resume", "wallet", "--no-live", env=fake_env(tmp_path, scripts))

    assert again.code == 1, again
    assert not launches(tmp_path, "later")
    assert len(launches(tmp_path, "slow")) == 1
    tasks = tasks_by_id(status_json(repo, "wallet"))
    assert tasks["later"]["state"] == tasks["slow"]["state"] == "interrupted"


def test_the_clis_repeated_529_text_without_a_status_is_overloaded() -> None:
    """Outside a sandbox Claude Code gives up after three 529s in a row with this text and no
    api_error_status (seen with the real CLI in tests/e2e/test_real_resume.py): retried as
    overloaded, with the cool-down, not as a generic error."""
    from git_po.agents.base import TranscriptSummary
    from git_po.attempts import classify

    text = "API Error: Repeated 529 Overloaded errors. The API is at capacity — try again."
    summary = TranscriptSummary(is_error=True, result_seen=True, last_text=text)
    verdict = classify(code=1, summary=summary, stop_reason=None, kind=None)
    assert verdict.cls == "overloaded", verdict
    other = TranscriptSummary(is_error=True, result_seen=True, last_text="API Error: boom")
    assert classify(code=1, summary=other, stop_reason=None, kind=None).cls == "api-error"
