"""`git po logs`: transcripts of the fake agent rendered readably, raw, by attempt, followed live,
and shell transcripts as plain text."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, run_po
from tests.helpers import fake_env, po_env, spawn_po, start, status_json, wait_for, write_plan

SCRIPTS = {
    "a": [
        {"say": "I will count first."},
        {"bash": "seq 1 20"},
        {"bash": "exit 3"},
        {"write": "a.txt", "content": "x\n"},
        {"commit": "[COMPLETE] a done"},
        {"cost": 0.42},
    ],
    "b": [{"say": "Trying."}, {"api_error": 529, "retries": 2}],
}

PLAN = """
[tasks.a]
prompt = "Do a."
writes = ["a.txt"]

[tasks.b]
prompt = "Do b."

[tasks.c]
agent = "shell"
run = "echo hello from shell; echo second line"
"""


def _run(repo: Path, tmp_path: Path) -> None:
    res = start(repo, write_plan(tmp_path, "p", PLAN), env=fake_env(tmp_path, SCRIPTS))
    assert res.code == 1, res  # b fails on purpose


def test_logs_renders_a_claude_transcript(repo: Path, tmp_path: Path) -> None:
    _run(repo, tmp_path)
    res = run_po(repo, "logs", "a")
    assert res.code == 0, res
    lines = res.out.splitlines()
    session = status_json(repo, "p")["tasks"][0]["session_id"]
    assert lines[0].startswith("p/a attempt 1/1 · claude · session " + session)
    assert lines[0].endswith("complete")
    assert lines[1].startswith(f"session {session} · claude-opus-4-8")
    assert "I will count first." in lines
    assert "→ Bash: seq 1 20   # Run command" in lines
    first = lines.index("→ Bash: seq 1 20   # Run command")
    assert lines[first + 1 : first + 7] == ["  ⎿ 1", "    2", "    3", "    4", "    5", "    6"]
    assert lines[first + 7] == "    … (14 more lines)"
    assert "→ Bash: exit 3   # Run command" in lines
    assert "  ⎿ error: Exit code 3" in lines
    assert any(line.startswith("→ Write: ") and line.endswith("/a.txt (1 line)") for line in lines)
    assert any(line.startswith("→ Bash: git add -A && git commit") for line in lines)
    result = [line for line in lines if line.startswith("result: ")]
    assert len(result) == 1 and result[0].startswith("result: done — ")
    assert "$0.4200" in result[0] and "turns" in result[0] and "tokens" in result[0]
    assert "\x1b[" not in res.out  # no colour in a pipe


def test_logs_shows_api_errors_and_retries(repo: Path, tmp_path: Path) -> None:
    _run(repo, tmp_path)
    res = run_po(repo, "logs", "p/b")
    assert res.code == 0, res
    assert "! API retry 1/10: 529 overloaded, next in 0.5s" in res.out
    assert "! API retry 2/10: 529 overloaded, next in 1.0s" in res.out
    assert "API Error: 529" in res.out
    assert "result: error (API 529)" in res.out


def test_logs_raw_attempts_and_errors(repo: Path, tmp_path: Path) -> None:
    _run(repo, tmp_path)
    transcript = Path(status_json(repo, "p")["tasks"][0]["transcript"])
    raw = run_po(repo, "logs", "a", "--raw")
    assert raw.code == 0, raw
    assert raw.out == transcript.read_text()
    assert [json.loads(line)["type"] for line in raw.out.splitlines()][-1] == "result"
    assert run_po(repo, "logs", "a", "--attempt", "1").out == run_po(repo, "logs", "a").out
    missing = run_po(repo, "logs", "a", "--attempt", "2")
    assert missing.code == 6 and "no attempt 2" in missing.err, missing
    unknown = run_po(repo, "logs", "zz")
    assert unknown.code == 6, unknown
    transcript.unlink()  # as in another clone: the state is there, the file is not
    gone = run_po(repo, "logs", "a")
    assert gone.code == 6 and "not on this machine" in gone.err, gone


def test_logs_of_a_shell_task_is_plain_text(repo: Path, tmp_path: Path) -> None:
    _run(repo, tmp_path)
    res = run_po(repo, "logs", "c")
    assert res.code == 0, res
    assert res.out.splitlines()[1:] == ["hello from shell", "second line"]


def test_logs_to_a_closed_pipe_is_quiet(repo: Path, tmp_path: Path) -> None:
    scripts = {"a": [{"bash": "seq 1 40000"}, {"commit": "[COMPLETE] a"}]}
    plan = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan, env=fake_env(tmp_path, scripts)).code == 0
    cmd = f"{sys.executable} -m git_po logs a --raw | head -c 10"
    proc = subprocess.run(
        ["sh", "-c", cmd], cwd=repo, env=po_env(), capture_output=True, text=True, timeout=60
    )
    assert proc.stdout == '{"type":"s'
    assert proc.stderr == "", proc.stderr


def test_logs_follow_tails_a_live_worker_until_it_ends(repo: Path, tmp_path: Path) -> None:
    scripts = {
        "slow": [
            {"say": "step one"},
            {"sleep": 1.5},
            {"say": "step two"},
            {"commit": "[COMPLETE] slow done"},
        ]
    }
    plan = write_plan(
        tmp_path,
        "p",
        '[tasks.first]\nagent = "shell"\n'
        "run = \"sleep 0.5 && git commit -q --allow-empty -m '[COMPLETE] first'\"\n"
        '[tasks.slow]\nprompt = "Take your time."\ndepends_on = ["first"]\n',
    )
    env = fake_env(tmp_path, scripts)
    orchestrator = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("the plan to be recorded", lambda: run_po(repo, "status", "p").code == 0)
        began = time.monotonic()
        res = run_po(repo, "logs", "--follow", "slow", env=env, timeout=60)  # not started yet
        took = time.monotonic() - began
        assert res.code == 0, res
        lines = res.out.splitlines()
        assert lines.index("step one") < lines.index("step two")
        assert lines[-1].startswith("result: done")
        assert took > 1.0  # it waited for the worker
        assert orchestrator.wait(timeout=60) == 0
    finally:
        if orchestrator.poll() is None:
            orchestrator.kill()
            orchestrator.wait()
    # following a finished attempt prints it whole and returns
    again = run_po(repo, "logs", "-f", "slow")
    assert again.code == 0 and again.out == run_po(repo, "logs", "slow").out


def test_logs_is_documented_in_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "git_po", "logs", "-h"],
        cwd=ROOT,
        env=po_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    for opt in ("--plan", "--attempt", "--follow", "--raw"):
        assert opt in proc.stdout
