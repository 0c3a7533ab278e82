"""One orchestrator per plan, a stale lock taken over, `status` that never waits, and state refs
written by many processes at once without losing an update."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.conftest import ROOT, git, run_po
from tests.helpers import (
    Script,
    fake_env,
    kill_quietly,
    ref_state,
    spawn_po,
    status_json,
    tasks_by_id,
    wait_for,
    write_plan,
)
from tests.test_faults import COMPLETE, common_dir, fast_config, kill_workers, run_to_death

HOLDER = re.compile(
    r"already running \(pid (\d+) on (\S+) since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\)"
)


def test_a_second_start_or_resume_of_a_running_plan_is_refused_and_names_the_holder(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "busy", '[tasks.t]\nprompt = "hangs"\n')
    env = fake_env(tmp_path, {"t": [{"hang": True}]})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("the worker to run", lambda: ref_state(repo, "busy", "t") == "running")
        before = git(repo, "for-each-ref")

        for args in (["start", str(plan)], ["start", str(plan), "--restart"], ["resume", "busy"]):
            res = run_po(repo, *args, "--no-live", env=env, timeout=30)
            assert res.code == 5, (args, res)
            found = HOLDER.search(res.err)
            assert found, res.err
            assert int(found.group(1)) == proc.pid
            assert found.group(2) == socket.gethostname()
        assert git(repo, "for-each-ref") == before

        # status reads refs only: it answers at once, and says who runs the plan
        began = time.monotonic()
        data = status_json(repo, "busy")
        assert time.monotonic() - began < 5
        assert data["orchestrator"]["pid"] == proc.pid
        assert data["orchestrator"]["host"] == socket.gethostname()
        assert data["run"]["state"] == "running"

        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)


def test_the_lock_of_a_killed_orchestrator_is_taken_over_by_resume(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "stale", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path, {"t": [{"sleep": 0.3}, COMPLETE]})
    try:
        died = run_to_death(
            repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "after-plan-write"}
        )
        assert died.returncode == -signal.SIGKILL
        holder = (common_dir(repo) / "po" / "plans" / "stale" / "orchestrator").read_text()
        assert holder.startswith("pid ")  # the dead one is still written down
        header = run_po(repo, "status", "stale").out.splitlines()[0]
        assert "no orchestrator is running it on this machine" in header
        assert status_json(repo, "stale")["orchestrator"] is None

        res = run_po(repo, "resume", "stale", "--no-live", env=env)

        assert res.code == 0, res
        assert tasks_by_id(status_json(repo, "stale"))["t"]["state"] == "complete"
        assert status_json(repo, "stale")["run"]["state"] == "finished"
    finally:
        kill_workers(tmp_path)


def test_a_stale_orchestrator_file_naming_a_reused_pid_is_not_trusted(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "reuse",
        """
        [tasks.t]
        prompt = "asks"
        [tasks.keeper]
        prompt = "keeps the run alive"
        """,
    )
    ask: Script = {
        "attempts": {"1": [{"commit": "[BLOCKED:which?] asks"}]},
        "default": [COMPLETE],
    }
    keeper: Script = {"attempts": {"1": [{"hang": True}]}, "default": [COMPLETE]}
    env = fake_env(tmp_path, {"t": ask, "keeper": keeper})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    other: subprocess.Popen[bytes] | None = None
    try:
        wait_for("t to be blocked", lambda: ref_state(repo, "reuse", "t") == "blocked")
        proc.send_signal(signal.SIGKILL)  # the orchestrator dies and leaves its file behind
        proc.communicate()
        kill_workers(tmp_path)
        other = subprocess.Popen(["sleep", "60"])
        info = common_dir(repo) / "po" / "plans" / "reuse" / "orchestrator"
        # the dead orchestrator's pid now belongs to another process
        info.write_text(info.read_text().replace(f"pid {proc.pid} ", f"pid {other.pid} "))
        assert status_json(repo, "reuse")["orchestrator"] is None

        res = run_po(repo, "answer", "t", "this one", "--no-live", env=env, timeout=30)

        assert "sent to the orchestrator" not in res.out, res
        assert res.code == 0, res
        assert ref_state(repo, "reuse", "t") == "complete"
    finally:
        if other is not None:
            other.kill()
            other.communicate()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from git_po.repo import Repo
    from git_po.state import State, StateStore, TaskState

    path, plan, who, count, go = sys.argv[1:6]
    repo = Repo.discover(Path(path))
    store = StateStore(repo, plan)
    while not Path(go).exists():
        time.sleep(0.001)
    for i in range(int(count)):
        st = TaskState(
            plan=plan, task="t", state=State.RUNNING, branch=f"po/{plan}/t",
            updated_at="", reason=f"{who} {i}",
        )
        store.write(st, f"{who}-{i}", f"t: write {i} of {who}\\n")
    """
)


def test_eight_concurrent_state_writers_lose_no_update(repo: Path, tmp_path: Path) -> None:
    """8 processes write the same task's state ref 12 times each, all at once; three rounds
    (a new ref, then existing ones), as a race is a matter of chance. (Regression: libgit2's
    own compare-and-swap failure, "old reference value does not match", once escaped
    Repo.update_ref instead of becoming a RefRace that StateStore.write retries.)"""
    writers, count = 8, 12
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for rnd in range(3):
        plan, go = f"race{rnd}", tmp_path / f"go{rnd}"
        seed = 0
        if rnd:
            first = subprocess.run(
                [sys.executable, "-c", WRITER, str(repo), plan, "seed", "1", str(repo)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            assert first.returncode == 0, first.stderr
            seed = 1
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(repo), plan, f"w{k}", str(count), str(go)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in range(writers)
        ]
        try:
            time.sleep(0.5)  # let them all import and wait at the line
            go.write_text("go\n")
            results = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    kill_quietly(p.pid)
                    p.communicate()
        for p, (_, err) in zip(procs, results, strict=True):
            assert p.returncode == 0, err

        ref = f"refs/po/{plan}/tasks/t"
        names = git(repo, "ls-tree", "--name-only", f"{ref}:events").split()
        expected = writers * count + seed
        assert len(names) == expected
        # one event per write, numbered 1..N without a gap or a repeat
        assert sorted(int(n.split("-", 1)[0]) for n in names) == list(range(1, expected + 1))
        written = {n.split("-", 1)[1].removesuffix(".toml") for n in names}
        assert written >= {f"w{k}-{i}" for k in range(writers) for i in range(count)}
        # and one commit per write, in one chain
        assert len(git(repo, "rev-list", ref).split()) == expected
