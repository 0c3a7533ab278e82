"""Refused tool calls are visible (status, show, report) and a [COMPLETE] that changed nothing
while calls were refused fails; figures and states are honest: `verifying` while verify runs,
the tail of a verify that sent a task back, verify time in the report's serial time."""

from __future__ import annotations

import json
import signal
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

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


def _iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def _report(repo: Path) -> dict[str, Any]:
    res = run_po(repo, "report", "--format", "json")
    assert res.code == 0, res
    data: dict[str, Any] = json.loads(res.out)
    return data


# --- refused tool calls -----------------------------------------------------------------------


def test_refused_calls_show_and_a_complete_that_changed_nothing_fails(
    repo: Path, tmp_path: Path
) -> None:
    scripts = {
        # every write refused, then an empty [COMPLETE] goes through (what the real CLI does
        # in a worktree under .git)
        "a": [
            {"refuse": "Write", "file_path": "a.txt"},
            {"refuse": "Bash", "command": "printf 'x\\n' > b.txt\nmore"},
            {"refuse": "Bash", "command": "curl -H token=abcdefghijkl0123 example.com"},
            {"commit": "[COMPLETE] a done", "allow_empty": True},
        ],
        # one call refused, but the work is on the branch: accepted, and still counted
        "b": [
            {"refuse": "Read", "file_path": "/etc/shadow"},
            {"write": "b.txt", "content": "b\n"},
            {"commit": "[COMPLETE] b done"},
        ],
    }
    plan = write_plan(
        tmp_path,
        "perm",
        """
        [tasks.a]
        prompt = "A."
        [tasks.b]
        prompt = "B."
        [tasks.c]
        prompt = "C."
        depends_on = ["a"]
        """,
    )
    res = start(repo, plan, env=fake_env(tmp_path, scripts))
    assert res.code == 1, res

    tasks = tasks_by_id(status_json(repo, "perm"))
    a, b = tasks["a"], tasks["b"]
    assert (a["state"], a["last_outcome"]) == ("failed", "refused")
    assert a["refused_count"] == 3
    assert [(c["attempt"], c["tool"], c["target"]) for c in a["refused_calls"]] == [
        (1, "Write", "a.txt"),
        (1, "Bash", "printf 'x\\n' > b.txt…"),
        (1, "Bash", "curl -H token=*** example.com"),
    ]
    assert "changed no file while 3 tool calls were refused: Write a.txt" in a["reason"]
    assert "git po retry perm/a" in a["reason"]
    assert (b["state"], b["refused_count"]) == ("complete", 1)
    assert tasks["c"]["state"] == "skipped"
    # the secret in a refused command never reaches the state ref users push
    assert "abcdefghijkl0123" not in git(repo, "log", "-p", "refs/po/perm/tasks/a")

    table = run_po(repo, "status", "perm")
    assert table.code == 0, table
    header = next(line for line in table.out.splitlines() if line.startswith("TASK"))
    assert "REFUSED" in header.split()
    col = header.index("REFUSED")
    rows = {line.split()[0]: line for line in table.out.splitlines()[3:] if line.strip()}
    assert rows["a"][col:].split()[0] == "3"
    assert rows["b"][col:].split()[0] == "1"
    assert rows["c"][col:].split()[0] == "-"
    assert "tool calls refused by the agent's permissions: a (3), b (1)" in table.out

    show = run_po(repo, "show", "perm/a")
    assert show.code == 0, show
    assert "3 tool calls refused by the agent's permissions" in show.out
    assert "        Write a.txt\n" in show.out
    assert "        Bash printf 'x\\n' > b.txt…\n" in show.out
    detail = json.loads(run_po(repo, "show", "perm/a", "--json").out)
    assert detail["attempts"][0]["refused_count"] == 3
    assert detail["attempts"][0]["refused_calls"][0] == {"tool": "Write", "target": "a.txt"}

    r = _report(repo)
    assert {t["task"]: t["refused_count"] for t in r["tasks"]} == {"a": 3, "b": 1, "c": 0}
    assert r["totals"]["refused_count"] == 4
    md = run_po(repo, "report", "perm")
    assert (
        "| task | state | attempts | by | agent time | verify | cost | refused | note |" in md.out
    )
    assert "- tool calls refused by the agent's permissions: 4" in md.out


# --- verifying, and what sent a task back -----------------------------------------------------


def test_status_shows_verifying_while_verify_runs(repo: Path, tmp_path: Path) -> None:
    started, release = tmp_path / "verify-started", tmp_path / "release"
    plan = write_plan(
        tmp_path,
        "gate",
        f"""
        verify = "touch '{started}'; while [ ! -e '{release}' ]; do sleep 0.05; done"
        [tasks.a]
        prompt = "Do it"
        """,
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=fake_env(tmp_path))
    try:
        wait_for("verify to start", started.exists)
        wait_for("the verifying state", lambda: ref_state(repo, "gate", "a") == "verifying")
        assert tasks_by_id(status_json(repo, "gate"))["a"]["state"] == "verifying"
        table = run_po(repo, "status", "gate")
        assert table.code == 0, table
        row = next(line for line in table.out.splitlines() if line.startswith("a "))
        assert row.split()[1] == "verifying"
        release.touch()
        proc.communicate(timeout=60)
    finally:
        release.touch()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert ref_state(repo, "gate", "a") == "complete"
    history = json.loads(run_po(repo, "show", "gate/a", "--json").out)["history"]
    assert [e["state"] for e in history][-2:] == ["verifying", "complete"]


def test_a_run_killed_while_verifying_is_resumed_by_verifying(repo: Path, tmp_path: Path) -> None:
    started, release = tmp_path / "verify-started", tmp_path / "release"
    plan = write_plan(
        tmp_path,
        "gate",
        f"""
        verify = "touch '{started}'; while [ ! -e '{release}' ]; do sleep 0.05; done"
        [tasks.a]
        prompt = "Do it"
        """,
    )
    env = fake_env(tmp_path)
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("verify to start", started.exists)
        wait_for("the verifying state", lambda: ref_state(repo, "gate", "a") == "verifying")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        release.touch()  # ends the orphaned verify loop too
        if proc.poll() is None:
            proc.kill()
    assert ref_state(repo, "gate", "a") == "verifying"

    runs = len(claude_log(tmp_path))
    res = run_po(repo, "resume", "gate", "--no-live", env=env, timeout=60)
    assert res.code == 0, res
    assert len(claude_log(tmp_path)) == runs  # judged again, the agent not started again
    assert ref_state(repo, "gate", "a") == "complete"
    assert tasks_by_id(status_json(repo, "gate"))["a"]["verify"]["passed"] is True


def test_show_prints_the_tail_of_the_verify_that_sent_a_task_back(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.retryDelay", "0")
    plan = write_plan(
        tmp_path,
        "gate",
        """
        verify = "seq 1 50; grep -q yes ok.txt"
        [tasks.a]
        prompt = "Write ok.txt"
        retries = 1
        """,
    )
    script = {
        "attempts": {"1": [{"write": "ok.txt", "content": "no\n"}, {"commit": "[COMPLETE] a"}]},
        "default": [{"write": "ok.txt", "content": "yes\n"}, {"commit": "[COMPLETE] a fixed"}],
    }
    assert start(repo, plan, env=fake_env(tmp_path, {"a": script})).code == 0

    show = run_po(repo, "show", "gate/a")
    assert show.code == 0, show
    lines = show.out.splitlines()
    intro = [i for i, line in enumerate(lines) if "the output of verify" in line]
    assert len(intro) == 1, show.out
    at = intro[0]
    assert lines[at].startswith("      the output of verify (failed (exit 1) after ")
    assert lines[at].endswith(") ended with:")
    # under the attempt it judged: the first one, not the second
    first = next(i for i, line in enumerate(lines) if line.startswith("  #1 "))
    second = next(i for i, line in enumerate(lines) if line.startswith("  #2 "))
    assert first < at < second
    assert lines[at + 1 : at + 21] == [f"        | {n}" for n in range(31, 51)]
    assert not lines[at + 21].startswith("        |")
    detail = json.loads(run_po(repo, "show", "gate/a", "--json").out)
    (failure,) = detail["verify_failures"]
    assert failure["attempt"] == 1
    assert failure["output_tail"].splitlines() == [str(n) for n in range(31, 51)]


# --- figures ----------------------------------------------------------------------------------


def test_report_counts_verify_time_in_serial_time(repo: Path, tmp_path: Path) -> None:
    scripts = {t: [{"sleep": 0.2}, {"commit": f"[COMPLETE] {t} done"}] for t in "abc"}
    plan = write_plan(
        tmp_path,
        "fig",
        """
        max_workers = 3
        verify = "sleep 4"
        [tasks.a]
        prompt = "A."
        [tasks.b]
        prompt = "B."
        [tasks.c]
        prompt = "C."
        """,
    )
    assert start(repo, plan, env=fake_env(tmp_path, scripts)).code == 0

    r = _report(repo)
    run = tomllib.loads(git(repo, "show", "refs/po/fig/plan:run.toml"))
    wall = _iso(run["ended_at"]) - _iso(run["started_at"])
    assert r["wall_s"] == wall >= 4
    tasks = {t["task"]: t for t in r["tasks"]}
    for tid, t in tasks.items():
        noted = tomllib.loads(git(repo, "notes", "--ref=po-verify", "show", f"po/fig/{tid}"))
        assert t["verify_s"] == noted["duration_s"] >= 4
        st = task_state(repo, "fig", tid)
        assert t["duration_s"] == st["attempts"][0]["duration_s"] < 4
    agent = sum(t["duration_s"] for t in tasks.values())
    assert r["serial_s"] == round(agent + sum(t["verify_s"] for t in tasks.values()), 3)
    assert agent / wall < 1  # what report said before: slower than serial
    assert r["speedup"] == round(r["serial_s"] / wall, 2) > 1.5
    assert "agent time plus its verify time" in r["figures"]

    md = run_po(repo, "report", "fig")
    assert md.code == 0, md
    assert f"- speed-up: {r['speedup']:.2f}x" in md.out
    assert md.out.splitlines()[-1].startswith(
        "How: one after another = every task's agent time plus its verify time, added up;"
    )
