"""Crash recovery: the orchestrator dies by SIGKILL at every fault point of a run (and at random
moments, and by Ctrl-C), then `git po resume` finishes the plan.

After each resume: every task is complete, no task ever had two workers at once (each worker
marks its start and end, with its pid, in a file outside the repository), a worker the dead
orchestrator left running was adopted and not started again, every commit a worker made and
every file it wrote is reachable from a ref, and the attempt the crash cut short is on record.

The helpers at the top are shared with the other test files of issue 4.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PoResult, git, po_cmd, refs, run_po
from tests.helpers import (
    Action,
    Script,
    claude_log,
    fake_env,
    kill_quietly,
    pid_alive,
    po_env,
    ref_state,
    spawn_po,
    start,
    status_json,
    task_state,
    tasks_by_id,
    wait_for,
    worktree_root,
    write_plan,
)

# --- shared helpers -------------------------------------------------------------------------

FAULT_POINTS = (
    "after-plan-write",
    "before-worktree",
    "after-worktree",
    "after-spawn",
    "mid-attempt",
    "during-state-write",
    "during-autosave",
    "after-autosave",
)

COMPLETE: Action = {"commit": "[COMPLETE] {task} done", "allow_empty": True}


def fast_config(repo: Path) -> None:
    """Short delays, so retries, cool-downs and stops take a moment, not minutes."""
    git(repo, "config", "po.retryDelay", "0.2")
    git(repo, "config", "po.cooldown", "1")
    git(repo, "config", "po.stopGrace", "2")


def common_dir(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())


def worktree_of(repo: Path, plan: str, task: str) -> Path:
    return worktree_root(repo) / plan / task


def marks_path(tmp_path: Path) -> Path:
    return tmp_path / "marks.log"


def mark(tmp_path: Path, kind: str) -> Action:
    """A script action: append `<task> <attempt> <pid of the fake claude> <kind> <time>`, and
    an `overlap` line naming any other worker of the same task that is alive at that moment."""
    log = marks_path(tmp_path)
    others = f"awk -v t={{task}} '$1==t && $4==\"start\" {{print $3}}' {log} 2>/dev/null"
    alive = "kill -0 $p 2>/dev/null && ! grep -q '^State:.*[ZX]' /proc/$p/status 2>/dev/null"
    return {
        "bash": f'for p in $({others}); do if [ "$p" != "$PPID" ] && {alive}; then '
        f"echo {{task}} {{attempt}} $PPID overlap $p >> {log}; fi; done; "
        f"echo {{task}} {{attempt}} $PPID {kind} $(date +%s.%N) >> {log}"
    }


def commit_mark(tmp_path: Path) -> Action:
    """A script action: record the commit the worker just made."""
    return {
        "bash": f"echo {{task}} {{attempt}} $PPID commit $(git rev-parse HEAD) >> "
        f"{marks_path(tmp_path)}"
    }


@dataclass(frozen=True)
class Mark:
    task: str
    attempt: int
    pid: int
    kind: str
    value: str


def marks(tmp_path: Path) -> list[Mark]:
    path = marks_path(tmp_path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        task, attempt, pid, kind, value = line.split()
        out.append(Mark(task, int(attempt), int(pid), kind, value))
    return out


def assert_never_twice_at_once(tmp_path: Path) -> None:
    """No two worker processes of one task were alive at once (each checks at its start and
    end), and no attempt number was started twice (an adopted worker is started once)."""
    found = marks(tmp_path)
    assert any(m.kind == "start" for m in found), "the workers left no marks"
    overlaps = [f"{m.task}: {m.pid} and {m.value}" for m in found if m.kind == "overlap"]
    assert not overlaps, f"workers of one task ran at the same time: {overlaps}"
    started = Counter((e["env"]["PO_TASK"], e["env"]["PO_ATTEMPT"]) for e in claude_log(tmp_path))
    twice = {k: n for k, n in started.items() if n > 1}
    assert not twice, f"attempts started more than once: {twice}"


def reachable_commits(repo: Path) -> set[str]:
    return set(git(repo, "rev-list", "--all").split())


def assert_commits_reachable(repo: Path, tmp_path: Path) -> None:
    made = {m.value for m in marks(tmp_path) if m.kind == "commit"}
    assert made, "the workers recorded no commit"
    lost = made - reachable_commits(repo)
    assert not lost, f"commits made by workers are not reachable from any ref: {lost}"


def blob_id(repo: Path, content: str) -> str:
    proc = subprocess.run(
        ["git", "hash-object", "--stdin"],
        cwd=repo,
        input=content,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def files_at_ref_tips(repo: Path) -> set[tuple[str, str]]:
    """(path, blob id) of every file in the tree of every ref's tip."""
    found: set[tuple[str, str]] = set()
    for ref in git(repo, "for-each-ref", "--format=%(refname)").split():
        if git(repo, "cat-file", "-t", ref).strip() != "commit":
            continue
        for line in git(repo, "ls-tree", "-r", ref).splitlines():
            meta, path = line.split("\t", 1)
            found.add((path, meta.split()[2]))
    return found


def assert_files_reachable(repo: Path, files: Mapping[str, str]) -> None:
    """Each file (path -> content) a worker wrote is in the tip of some ref (a task branch, a
    wip snapshot, an archive)."""
    have = files_at_ref_tips(repo)
    missing = [p for p, c in files.items() if (p, blob_id(repo, c)) not in have]
    assert not missing, f"files written by workers are not in any ref: {missing}"


def event_names(repo: Path, plan: str, task: str) -> list[str]:
    """The events of a task's state history, oldest first (`running`, `adopted`, ...)."""
    names = git(repo, "ls-tree", "--name-only", f"refs/po/{plan}/tasks/{task}:events").split()
    return [n.split("-", 1)[1].removesuffix(".toml") for n in sorted(names)]


def event_records(repo: Path, plan: str, task: str) -> list[dict[str, Any]]:
    names = git(repo, "ls-tree", "--name-only", f"refs/po/{plan}/tasks/{task}:events").split()
    return [
        tomllib.loads(git(repo, "show", f"refs/po/{plan}/tasks/{task}:events/{n}"))
        for n in sorted(names)
    ]


def attempts_of(repo: Path, plan: str, task: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = task_state(repo, plan, task).get("attempts", [])
    return found


def launches(tmp_path: Path, task: str) -> list[dict[str, Any]]:
    return [e for e in claude_log(tmp_path) if e["env"].get("PO_TASK") == task]


def run_to_death(
    repo: Path, args: Iterable[str], env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run git po, expecting it to kill itself at a fault point."""
    return subprocess.run(
        [*po_cmd(), *args],
        cwd=repo,
        env=po_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def resume(
    repo: Path, plan: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> PoResult:
    return run_po(repo, "resume", plan, "--no-live", env=dict(env or {}), timeout=timeout)


def kill_workers(tmp_path: Path) -> None:
    """Leave no fake claude behind a failed test."""
    for e in claude_log(tmp_path):
        pid = int(e["pid"])
        if pid_alive(pid):
            kill_quietly(pid)


# --- the plan every fault test runs ---------------------------------------------------------

FAULT_PLAN = """
max_workers = 3

[defaults]
retries = 2

[tasks.a]
prompt = "Lay the foundation."

[tasks.b]
prompt = "Build the wall."

[tasks.c]
prompt = "Put the roof on."
depends_on = ["a"]

[tasks.d]
prompt = "Paint the door."
"""

# what the workers write, and where each file must end up reachable
FILES = {
    "a1.txt": "a one\n",
    "a2.txt": "a two\n",
    "a-left.txt": "left behind after [COMPLETE]\n",
    "b1.txt": "b one\nb again\n",
    "b2.txt": "b two, never committed by b\n",
    "c.txt": "c\n",
    "d.txt": "d\n",
}


def fault_scripts(tmp_path: Path) -> dict[str, Script]:
    """a checkpoints, sleeps with uncommitted work, completes and leaves a file behind; b
    checkpoints, leaves work uncommitted and exits without [COMPLETE] (auto-saved, retried),
    then completes; c (after a) and d are short."""
    start, end, cm = mark(tmp_path, "start"), mark(tmp_path, "end"), commit_mark(tmp_path)
    return {
        "a": [
            start,
            {"write": "a1.txt", "content": FILES["a1.txt"]},
            {"commit": "[CHECKPOINT] a: a1"},
            cm,
            {"write": "a2.txt", "content": FILES["a2.txt"]},
            # long enough to outlive its orchestrator until resume adopts it, even under load
            {"sleep": 2.5},
            {"commit": "[COMPLETE] a done"},
            cm,
            {"write": "a-left.txt", "content": FILES["a-left.txt"]},
            end,
        ],
        "b": {
            "attempts": {
                "1": [
                    start,
                    {"write": "b1.txt", "content": "b one\n"},
                    {"commit": "[CHECKPOINT] b: b1"},
                    cm,
                    {"write": "b2.txt", "content": FILES["b2.txt"]},
                    {"sleep": 0.2},
                    end,
                    {"exit": 0},
                ]
            },
            "default": [
                start,
                {"require": "b2.txt"},
                {"append": "b1.txt", "content": "b again\n"},
                {"commit": "[COMPLETE] b done"},
                cm,
                end,
            ],
        },
        "c": [
            start,
            {"write": "c.txt", "content": FILES["c.txt"]},
            {"commit": "[CHECKPOINT] c"},
            cm,
            {"sleep": 0.2},
            {"commit": "[COMPLETE] c done"},
            cm,
            end,
        ],
        "d": [
            start,
            {"write": "d.txt", "content": FILES["d.txt"]},
            {"commit": "[COMPLETE] d done"},
            cm,
            end,
        ],
    }


def assert_plan_recovered(repo: Path, tmp_path: Path, plan: str) -> None:
    status = status_json(repo, plan)
    tasks = tasks_by_id(status)
    assert {t: v["state"] for t, v in tasks.items()} == dict.fromkeys("abcd", "complete")
    assert status["run"]["state"] == "finished"
    assert_never_twice_at_once(tmp_path)
    assert_commits_reachable(repo, tmp_path)
    assert_files_reachable(repo, FILES)
    # the work sits where a user looks for it
    assert git(repo, "show", f"po/{plan}/b:b1.txt") == FILES["b1.txt"]
    assert git(repo, "show", f"po/{plan}/b:b2.txt") == FILES["b2.txt"]
    assert git(repo, "show", f"po/{plan}/c:a2.txt") == FILES["a2.txt"]
    assert git(repo, "show", f"refs/po/{plan}/wip/a:a-left.txt") == FILES["a-left.txt"]
    # b's first attempt ended without [COMPLETE]: its uncommitted file was auto-saved
    b_subjects = git(repo, "log", "--format=%s", f"po/{plan}/b").splitlines()
    assert "[CHECKPOINT] git po: auto-saved uncommitted work of attempt 1" in b_subjects
    # every attempt that was recorded has ended
    for t in "abcd":
        for a in attempts_of(repo, plan, t):
            assert a.get("outcome"), (t, a)
            assert a.get("ended_at"), (t, a)


# which fault points leave a worker running or finishing when the orchestrator dies
WORKER_ALIVE_AT = {"after-spawn", "mid-attempt"}
WORKER_FINISHING_AT = {"during-autosave", "after-autosave"}


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_kill_9_at_a_fault_point_then_resume_loses_nothing(
    repo: Path, tmp_path: Path, point: str
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", FAULT_PLAN)
    env = fake_env(tmp_path, fault_scripts(tmp_path))
    try:
        died = run_to_death(repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": point})
        assert died.returncode == -signal.SIGKILL, died
        ran_before = len(claude_log(tmp_path))
        if point in WORKER_ALIVE_AT:  # a worker just started may not have logged itself yet
            wait_for("the orphaned worker to log its start", lambda: bool(claude_log(tmp_path)))
        alive = [int(e["pid"]) for e in claude_log(tmp_path) if pid_alive(int(e["pid"]))]

        res = resume(repo, "house", env)

        assert res.code == 0, res
        assert_plan_recovered(repo, tmp_path, "house")
        events = {t: event_names(repo, "house", t) for t in "abcd"}
        if point in WORKER_ALIVE_AT:
            # the worker kept going without its orchestrator; resume adopted it
            assert alive, "no worker outlived the orchestrator"
            adopted = [t for t in "abcd" if "adopted" in events[t]]
            assert adopted, events
            for t in adopted:
                taken = [a for a in attempts_of(repo, "house", t) if a.get("adopted")]
                assert taken, t
                for a in taken:
                    # the adopted attempt's process is the one started for it, and the only one
                    runs = [
                        e
                        for e in launches(tmp_path, t)
                        if e["env"]["PO_ATTEMPT"] == str(a["number"])
                    ]
                    assert [e["pid"] for e in runs] == [a["pid"]], (t, a, runs)
            assert any(f"adopted (pid {p})" in res.out for p in alive), res.out
        if point in WORKER_FINISHING_AT:
            # the attempt being recorded when the orchestrator died is recorded by resume
            assert any("lost" in events[t] or "adopted" in events[t] for t in "abcd"), events
        if point in ("after-plan-write", "during-state-write"):
            assert ran_before == 0  # no worker had started
    finally:
        kill_workers(tmp_path)


@pytest.mark.parametrize("delay", [0.9, 1.6])
def test_kill_9_at_a_random_moment_then_resume_loses_nothing(
    repo: Path, tmp_path: Path, delay: float
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", FAULT_PLAN)
    env = fake_env(tmp_path, fault_scripts(tmp_path))
    try:
        proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        if "refs/po/house/plan" not in refs(repo):
            # killed before anything was recorded: nothing ran, a plain start does it all
            assert not claude_log(tmp_path)
            assert start(repo, plan, env=env).code == 0
            assert_plan_recovered(repo, tmp_path, "house")
            return

        res = resume(repo, "house", env)

        assert res.code == 0, res
        assert_plan_recovered(repo, tmp_path, "house")
    finally:
        kill_workers(tmp_path)


def test_after_ctrl_c_resume_continues_each_session_from_its_branch(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "house", FAULT_PLAN)
    scripts = fault_scripts(tmp_path)
    # a: checkpoint, write more, then hang until Ctrl-C; on its next attempt it finishes
    scripts["a"] = {
        "attempts": {
            "1": [
                mark(tmp_path, "start"),
                {"write": "a1.txt", "content": FILES["a1.txt"]},
                {"commit": "[CHECKPOINT] a: a1"},
                commit_mark(tmp_path),
                {"write": "a2.txt", "content": FILES["a2.txt"]},
                {"hang": True},
            ]
        },
        "default": [
            {"require": "a2.txt"},
            {"commit": "[COMPLETE] a done"},
            commit_mark(tmp_path),
            {"write": "a-left.txt", "content": FILES["a-left.txt"]},
        ],
    }
    env = fake_env(tmp_path, scripts)
    wt = worktree_of(repo, "house", "a")
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("a's uncommitted file", (wt / "a2.txt").exists)
        wait_for("d to complete", lambda: ref_state(repo, "house", "d") == "complete")
        wait_for("b's first attempt to end", lambda: "retry" in event_names(repo, "house", "b"))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 130, (out, err)
        assert tasks_by_id(status_json(repo, "house"))["a"]["state"] == "interrupted"
        first = attempts_of(repo, "house", "a")[0]
        assert first["outcome"] == "interrupted"

        res = resume(repo, "house", env)

        assert res.code == 0, res
        assert_plan_recovered(repo, tmp_path, "house")
        runs = launches(tmp_path, "a")
        assert [r["env"]["PO_ATTEMPT"] for r in runs] == ["1", "2"]
        # the session of attempt 1 is resumed, with a prompt that says what is done
        assert runs[1]["args"]["resume"] == first["session_id"]
        assert "--resume" in runs[1]["argv"]
        prompt = runs[1]["prompt"]
        assert "[CHECKPOINT] a: a1" in prompt
        assert "attempt 2" in prompt
        assert "resumed" in event_names(repo, "house", "a")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)


def test_a_resume_killed_in_its_turn_is_resumed_again(repo: Path, tmp_path: Path) -> None:
    """Two crashes in a row: the run dies mid-attempt, the resume that adopted its workers
    dies the same way, and a third orchestrator finishes the plan."""
    fast_config(repo)
    plan = write_plan(tmp_path, "house", FAULT_PLAN)
    env = fake_env(tmp_path, fault_scripts(tmp_path))
    try:
        died = run_to_death(
            repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
        )
        assert died.returncode == -signal.SIGKILL, died
        again = run_to_death(
            repo, ["resume", "house", "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
        )
        assert again.returncode == -signal.SIGKILL, again

        res = resume(repo, "house", env)

        assert res.code == 0, res
        assert_plan_recovered(repo, tmp_path, "house")
    finally:
        kill_workers(tmp_path)


def test_ctrl_c_during_a_resume_stops_the_adopted_workers_and_saves_their_work(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "adopt", '[tasks.t]\nprompt = "go"\n')
    script: Script = {
        "attempts": {
            "1": [
                {"write": "t1.txt", "content": "one\n"},
                {"commit": "[CHECKPOINT] t one"},
                {"write": "t2.txt", "content": "two, uncommitted\n"},
                {"hang": True},
            ]
        },
        "default": [{"require": "t2.txt"}, COMPLETE],
    }
    env = fake_env(tmp_path, {"t": script})
    proc = None
    try:
        died = run_to_death(
            repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
        )
        assert died.returncode == -signal.SIGKILL, died
        pid = int(claude_log(tmp_path)[0]["pid"])
        wait_for("t2.txt", (worktree_of(repo, "adopt", "t") / "t2.txt").exists)
        proc = spawn_po(repo, "resume", "adopt", "--no-live", env=env)
        wait_for("the adoption", lambda: "adopted" in event_names(repo, "adopt", "t"))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)

        assert proc.returncode == 130, (out, err)
        wait_for("the adopted worker to stop", lambda: not pid_alive(pid), timeout=5)
        st = task_state(repo, "adopt", "t")
        assert st["state"] == "interrupted"
        assert st["attempts"][0]["adopted"] is True
        assert st["attempts"][0]["outcome"] == "interrupted"
        assert git(repo, "show", "po/adopt/t:t2.txt") == "two, uncommitted\n"

        res = resume(repo, "adopt", env)

        assert res.code == 0, res
        assert [a["outcome"] for a in attempts_of(repo, "adopt", "t")] == [
            "interrupted",
            "complete",
        ]
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)


def test_a_worker_that_ends_while_no_orchestrator_runs_is_recorded_on_resume(
    repo: Path, tmp_path: Path
) -> None:
    """The orchestrator dies mid-attempt; the worker finishes alone. Resume finds it gone and
    records the attempt from its branch (complete), without running it again."""
    fast_config(repo)
    plan = write_plan(tmp_path, "solo", '[tasks.t]\nprompt = "go"\n')
    script: Script = [
        mark(tmp_path, "start"),
        {"write": "t.txt", "content": "t\n"},
        {"commit": "[CHECKPOINT] t"},
        commit_mark(tmp_path),
        {"sleep": 0.5},
        {"write": "t2.txt", "content": "t2\n"},
        {"commit": "[COMPLETE] t done"},
        commit_mark(tmp_path),
        {"write": "left.txt", "content": "leftover\n"},
        mark(tmp_path, "end"),
    ]
    env = fake_env(tmp_path, {"t": script})
    try:
        died = run_to_death(
            repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "mid-attempt"}
        )
        assert died.returncode == -signal.SIGKILL, died
        wait_for(
            "the orphaned worker to finish", lambda: any(m.kind == "end" for m in marks(tmp_path))
        )
        pid = int(claude_log(tmp_path)[0]["pid"])
        wait_for("the orphaned worker to exit", lambda: not pid_alive(pid))
        assert ref_state(repo, "solo", "t") == "running"

        res = resume(repo, "solo", env)

        assert res.code == 0, res
        assert len(claude_log(tmp_path)) == 1
        st = task_state(repo, "solo", "t")
        assert st["state"] == "complete"
        assert [a["outcome"] for a in st["attempts"]] == ["complete"]
        assert git(repo, "show", "refs/po/solo/wip/t:left.txt") == "leftover\n"
        assert_commits_reachable(repo, tmp_path)
    finally:
        kill_workers(tmp_path)


REAPER = textwrap.dedent(
    """
    import ctypes, os, subprocess, sys

    # like a container whose first process never reaps: orphans become our children, and
    # nobody waits for them
    assert ctypes.CDLL(None).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    po = [sys.executable, "-m", "git_po"]
    died = subprocess.run(
        [*po, "start", sys.argv[1], "--no-live"], env={**os.environ, "GIT_PO_FAULT": "mid-attempt"}
    )
    print("start", died.returncode, flush=True)
    try:
        res = subprocess.run([*po, "resume", "--no-live"], timeout=float(sys.argv[2]))
        print("resume", res.returncode, flush=True)
    except subprocess.TimeoutExpired:
        print("resume timed out", flush=True)
    """
)


def test_an_adopted_worker_that_exits_unreaped_is_seen_to_end(repo: Path, tmp_path: Path) -> None:
    """An orphaned worker's new parent may never reap it (a container's first process): once
    it exits it is a zombie, which is gone, not running. (Regression: pid_alive took a zombie
    for a live process and resume watched it forever.)"""
    fast_config(repo)
    plan = write_plan(tmp_path, "zombie", '[tasks.t]\nprompt = "go"\n')
    script: Script = [
        {"write": "t.txt", "content": "t\n"},
        {"commit": "[CHECKPOINT] t"},
        {"sleep": 3},  # long enough to outlive its orchestrator and be adopted, even under load
        COMPLETE,
    ]
    env = fake_env(tmp_path, {"t": script})
    try:
        proc = subprocess.run(
            [sys.executable, "-c", REAPER, str(plan), "20"],
            cwd=repo,
            env=po_env(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "start -9" in proc.stdout, proc
        assert "adopted" in proc.stdout, proc
        assert "resume 0" in proc.stdout, proc
        assert ref_state(repo, "zombie", "t") == "complete"
    finally:
        kill_workers(tmp_path)


__all__ = [
    "COMPLETE",
    "FAULT_POINTS",
    "assert_commits_reachable",
    "assert_files_reachable",
    "assert_never_twice_at_once",
    "attempts_of",
    "commit_mark",
    "common_dir",
    "event_names",
    "event_records",
    "fast_config",
    "kill_workers",
    "launches",
    "mark",
    "marks",
    "resume",
    "run_to_death",
    "worktree_of",
]
