"""Never two processes on one task, never a worker's work lost (issue 14, cases 1-4 and 8).

A worker outlives a SIGKILLed orchestrator by design (resume adopts it). Commands that remove
or recreate its worktree must see it and refuse; a stopped worker is stopped with the tools it
started in other sessions, before its work is saved; a verify is tracked like a worker; and a
worker that committed [COMPLETE] is not waited on for what it left running.

The fake claude records when each of its runs starts and ends (FAKE_CLAUDE_SPANS), and its
`spawn` action starts a background tool in a session of its own, as `setsid cmd &` does.
"""

from __future__ import annotations

import itertools
import signal
import time
from pathlib import Path

import psutil

from tests.conftest import git, run_po
from tests.helpers import (
    Script,
    claude_log,
    fake_env,
    spawn_po,
    task_state,
    wait_for,
    write_plan,
)
from tests.test_faults import (
    commit_mark,
    fast_config,
    kill_workers,
    marks,
    resume,
    run_to_death,
    worktree_of,
)

ONE = '[tasks.t]\nprompt = "go"\n'


def spans_env(tmp_path: Path, scripts: dict[str, Script]) -> dict[str, str]:
    return {**fake_env(tmp_path, scripts), "FAKE_CLAUDE_SPANS": str(tmp_path / "spans.log")}


def intervals(log: Path) -> list[tuple[str, float, float]]:
    """(who, start, end) per process from a log of `<key...> <pid> start|end <time>` lines;
    a process with no end yet runs until now."""
    opened: dict[str, float] = {}
    done: list[tuple[str, float, float]] = []
    for line in log.read_text().splitlines() if log.exists() else []:
        *key, kind, when = line.split()
        who = " ".join(key)
        if kind == "start":
            opened[who] = float(when)
        elif kind == "end" and who in opened:
            done.append((who, opened.pop(who), float(when)))
    done += [(who, t, time.time()) for who, t in opened.items()]
    return sorted(done, key=lambda s: s[1])


def assert_no_overlap(log: Path) -> None:
    spans = intervals(log)
    assert spans, f"nothing was recorded in {log}"
    for (a, _, end), (b, start, _) in itertools.pairwise(spans):
        assert start >= end, f"{a} and {b} ran at the same time: {spans}"


def running(marker: str) -> list[int]:
    """Pids of live processes whose command line holds marker."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if marker in cmd and p.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(p.pid)
    return found


def worker_pid(tmp_path: Path) -> int:
    return int(claude_log(tmp_path)[0]["pid"])


def orphaned_worker(repo: Path, tmp_path: Path, plan: Path, env: dict[str, str]) -> int:
    """Start plan and SIGKILL its orchestrator at the worker's first commit; the worker goes on."""
    died = run_to_death(
        repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
    )
    assert died.returncode == -signal.SIGKILL, died
    pid = worker_pid(tmp_path)
    assert psutil.pid_exists(pid)
    return pid


def go_file(tmp_path: Path) -> Path:
    return tmp_path / "go"


def slow_worker(tmp_path: Path) -> Script:
    """Commits, then goes on working until the test creates go_file, and commits twice more."""
    cm = commit_mark(tmp_path)
    return [
        {"write": "t1.txt", "content": "one\n"},
        {"commit": "[CHECKPOINT] t one"},
        cm,
        {"bash": f"while [ ! -e '{go_file(tmp_path)}' ]; do sleep 0.1; done"},
        {"write": "t2.txt", "content": "two\n"},
        {"commit": "[CHECKPOINT] t two"},
        cm,
        {"commit": "[COMPLETE] t done"},
        cm,
    ]


# --- 1. clean --force under a live worker -----------------------------------------------------


def test_clean_force_refuses_under_a_live_worker_and_resume_keeps_every_commit(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", ONE)
    env = spans_env(tmp_path, {"t": slow_worker(tmp_path)})
    try:
        pid = orphaned_worker(repo, tmp_path, plan, env)

        res = run_po(repo, "clean", "house", "--force")

        assert res.code == 5, res
        assert f"pid {pid}" in res.err and "house/t" in res.err, res.err
        assert worktree_of(repo, "house", "t").is_dir()

        go_file(tmp_path).touch()
        again = resume(repo, "house", env)

        assert again.code == 0, again
        assert task_state(repo, "house", "t")["state"] == "complete"
        made = [m.value for m in marks(tmp_path) if m.kind == "commit"]
        assert len(made) == 3, made
        for oid in made:
            git(repo, "merge-base", "--is-ancestor", oid, "po/house/t")
        assert len(claude_log(tmp_path)) == 1  # adopted, never started twice
    finally:
        kill_workers(tmp_path)


def test_clean_refuses_while_a_process_runs_in_a_task_worktree(repo: Path, tmp_path: Path) -> None:
    """Not only recorded workers: any process whose working directory is inside the worktree."""
    plan = write_plan(tmp_path, "house", ONE)
    env = fake_env(tmp_path, {})
    assert run_po(repo, "start", str(plan), "--no-live", env=env).code == 0
    wt = worktree_of(repo, "house", "t")
    sleeper = psutil.Popen(["sleep", "60.25"], cwd=wt)
    try:
        res = run_po(repo, "clean", "house", "--force")

        assert res.code == 5, res
        assert f"pid {sleeper.pid}" in res.err and "sleep" in res.err, res.err
        assert wt.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert run_po(repo, "clean", "house", "--force").code == 0
    assert not wt.exists()


# --- 2. start --restart under a live worker ---------------------------------------------------


def test_start_restart_refuses_under_a_live_worker(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", ONE)
    env = spans_env(tmp_path, {"t": slow_worker(tmp_path)})
    try:
        pid = orphaned_worker(repo, tmp_path, plan, env)

        res = run_po(repo, "start", str(plan), "--no-live", "--restart", env=env)

        assert res.code == 5, res
        assert f"pid {pid}" in res.err, res.err
        assert len(claude_log(tmp_path)) == 1  # no second worker for the task
        assert worktree_of(repo, "house", "t").is_dir()

        go_file(tmp_path).touch()
        again = resume(repo, "house", env)

        assert again.code == 0, again
        assert_no_overlap(tmp_path / "spans.log")
        for m in marks(tmp_path):
            git(repo, "merge-base", "--is-ancestor", m.value, "po/house/t")
    finally:
        kill_workers(tmp_path)


# --- 3. a stopped worker's tools ----------------------------------------------------------------


def test_a_stopped_workers_tool_in_its_own_session_is_stopped_before_the_work_is_saved(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", '[tasks.t]\nprompt = "go"\ntimeout = "2s"\n')
    tool_pid = tmp_path / "tool.pid"
    script: Script = [
        {"write": "t1.txt", "content": "one\n"},
        {"commit": "[CHECKPOINT] t one"},
        # a tool in a session of its own (Claude Code's Bash calls are not in its group)
        {"spawn": f"echo $$ > {tool_pid}; sleep 4.5; echo late > late.txt"},
        {"hang": True},
    ]
    env = spans_env(tmp_path, {"t": script})
    try:
        res = run_po(repo, "start", str(plan), "--no-live", env=env, timeout=60)

        assert res.code == 1, res
        st = task_state(repo, "house", "t")
        assert st["attempts"][0]["outcome"] == "timeout", st
        pid = int(tool_pid.read_text())
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
        time.sleep(5)  # past the moment the tool would have written
        late = worktree_of(repo, "house", "t") / "late.txt"
        if late.exists():  # written before the save: then it is in the saved work
            assert git(repo, "show", "po/house/t:late.txt") == "late\n"
    finally:
        kill_workers(tmp_path)


# --- 4. verify is tracked like a worker ---------------------------------------------------------


def test_verify_is_not_run_twice_after_the_orchestrator_dies_during_it(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    log = tmp_path / "verify.log"

    def stamp(kind: str) -> str:
        return f"echo verify $$ {kind} $(date +%s.%N) >> '{log}'"

    plan = write_plan(
        tmp_path,
        "gate",
        f"""
        verify = "{stamp("start")}; sleep 6; {stamp("end")}"
        [tasks.t]
        prompt = "go"
        """,
    )
    env = fake_env(tmp_path, {})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("verify to start", lambda: log.exists() and "start" in log.read_text())
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)

        res = resume(repo, "gate", env)

        assert res.code == 0, res
        assert task_state(repo, "gate", "t")["state"] == "complete"
        assert_no_overlap(log)
        assert log.read_text().count(" start ") == 1  # the running verify was adopted
        assert "passed = true" in git(repo, "notes", "--ref=po-verify", "show", "po/gate/t")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# --- 8. leftovers of a worker that committed [COMPLETE] ------------------------------------------


def test_resume_does_not_wait_for_what_a_complete_worker_left_running(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", ONE)
    leftover = "sleep 31.25"
    script: Script = [
        {"write": "t.txt", "content": "t\n"},
        {"commit": "[COMPLETE] t done"},
        {"bash": f"setsid {leftover} &"},  # holds the tool's output open: the call never returns
    ]
    env = spans_env(tmp_path, {"t": script})
    try:
        orphaned_worker(repo, tmp_path, plan, env)
        wait_for("the leftover", lambda: bool(running(leftover)))

        began = time.monotonic()
        res = resume(repo, "house", env)
        took = time.monotonic() - began

        assert res.code == 0, res
        assert took < 20, f"resume waited {took:.0f}s for a leftover process"
        assert task_state(repo, "house", "t")["state"] == "complete"
        assert git(repo, "log", "-1", "--format=%s", "po/house/t").strip() == "[COMPLETE] t done"
        assert not running(leftover)
    finally:
        for pid in running(leftover):
            psutil.Process(pid).kill()
        kill_workers(tmp_path)
