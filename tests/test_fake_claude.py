"""Tests of the fake `claude` used by the fast tier (tests/fake_claude/claude).

The fake is only useful if it behaves like the real CLI where the orchestrator can tell the
difference, so these tests pin its flags, its stream-json and its failure modes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import FAKE_CLAUDE_DIR, git

FAKE = FAKE_CLAUDE_DIR / "claude"
STREAM = ("--output-format", "stream-json", "--verbose")


def fake_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def run_fake(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 20,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FAKE), *args],
        cwd=cwd,
        env=env if env is not None else fake_env(),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def events(out: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object."""
    parsed: list[dict[str, Any]] = []
    for line in out.splitlines():
        obj = json.loads(line)
        assert isinstance(obj, dict)
        parsed.append(obj)
    return parsed


def script(tmp_path: Path, body: object, name: str = "script.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(body))
    return path


def scripted_env(tmp_path: Path, body: object, **extra: str) -> dict[str, str]:
    return fake_env(FAKE_CLAUDE_SCRIPT=str(script(tmp_path, body)), **extra)


def subjects(repo: Path) -> list[str]:
    return git(repo, "log", "--format=%s").splitlines()


def tool_results(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        block
        for ev in evs
        if ev["type"] == "user"
        for block in ev["message"]["content"]
        if block["type"] == "tool_result"
    ]


def test_fake_is_first_on_path() -> None:
    assert shutil.which("claude") == str(FAKE)
    assert os.access(FAKE, os.X_OK)


def test_default_script_makes_protocol_commits_and_streams(repo: Path) -> None:
    env = fake_env(PO_PLAN="p1", PO_TASK="t1", PO_ATTEMPT="1", PO_BRANCH="po/p1/t1")
    proc = run_fake(repo, "-p", "Build the thing\nmore detail", *STREAM, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert subjects(repo) == ["[COMPLETE] t1 done", "[CHECKPOINT] t1: wrote t1.txt", "initial"]
    assert (repo / "t1.txt").read_text() == "t1\nBuild the thing\n"
    assert git(repo, "status", "--porcelain") == ""

    evs = events(proc.stdout)
    init, last = evs[0], evs[-1]
    assert init["type"] == "system" and init["subtype"] == "init"
    assert init["cwd"] == str(repo)
    assert init["claude_code_version"] == "2.1.197"
    assert init["permissionMode"] == "default"
    assert "Bash" in init["tools"]
    session = init["session_id"]
    uuid.UUID(session)
    assert all(ev["session_id"] == session for ev in evs)

    # each tool_use is answered by a tool_result with the same id
    uses = [
        block
        for ev in evs
        if ev["type"] == "assistant"
        for block in ev["message"]["content"]
        if block["type"] == "tool_use"
    ]
    results = tool_results(evs)
    assert [u["name"] for u in uses] == ["Write", "Bash", "Bash"]
    assert [r["tool_use_id"] for r in results] == [u["id"] for u in uses]
    assert not any(r["is_error"] for r in results)
    assert "git commit" in uses[1]["input"]["command"]
    assert evs[-2]["type"] == "assistant"
    assert evs[-2]["message"]["content"][0]["type"] == "text"

    assert last["type"] == "result"
    assert last["subtype"] == "success"
    assert last["is_error"] is False
    assert last["api_error_status"] is None
    assert last["session_id"] == session
    assert last["total_cost_usd"] == pytest.approx(0.03)
    assert last["num_turns"] == 4
    assert last["terminal_reason"] == "completed"
    assert last["permission_denials"] == []
    assert set(last["usage"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert "claude-opus-4-8" in last["modelUsage"]


def test_works_in_a_worktree(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "po/p/t2", str(wt))
    proc = run_fake(wt, "-p", "go", "--output-format", "json", env=fake_env(PO_TASK="t2"))
    assert proc.returncode == 0, proc.stderr
    assert subjects(wt)[:2] == ["[COMPLETE] t2 done", "[CHECKPOINT] t2: wrote t2.txt"]
    assert subjects(repo) == ["initial"]


def test_session_ids(repo: Path) -> None:
    sid = "6b1f4c7e-2f0a-4d8e-9b7a-1c2d3e4f5a6b"
    resumed = events(run_fake(repo, "-p", "go on", *STREAM, "--resume", sid).stdout)
    assert {ev["session_id"] for ev in resumed} == {sid}

    chosen = run_fake(repo, "-p", "x", "--output-format", "json", "--session-id", sid)
    assert json.loads(chosen.stdout)["session_id"] == sid

    bad = run_fake(repo, "-p", "x", "--session-id", "not-a-uuid")
    assert bad.returncode == 1
    assert "Invalid session ID" in bad.stderr

    fresh = [
        json.loads(run_fake(repo, "-p", "x", "--output-format", "json").stdout) for _ in range(2)
    ]
    assert fresh[0]["session_id"] != fresh[1]["session_id"]


def test_cli_errors_like_the_real_one(repo: Path) -> None:
    no_verbose = run_fake(repo, "-p", "x", "--output-format", "stream-json")
    assert no_verbose.returncode == 1
    assert no_verbose.stdout == ""
    assert (
        "Error: When using --print, --output-format=stream-json requires --verbose"
        in no_verbose.stderr
    )

    unknown = run_fake(repo, "-p", "x", "--no-such-flag")
    assert unknown.returncode == 1
    assert "unknown option '--no-such-flag'" in unknown.stderr

    bad_choice = run_fake(repo, "-p", "x", "--permission-mode", "yolo")
    assert bad_choice.returncode == 1

    version = run_fake(repo, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == "2.1.197 (Claude Code)"
    assert subjects(repo) == ["initial"]  # none of these did any work


def test_json_and_text_output(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(tmp_path, [{"say": "all good"}, {"cost": 0.25}])
    as_json = run_fake(repo, "-p", "x", "--output-format", "json", env=env)
    assert as_json.returncode == 0
    result = json.loads(as_json.stdout)
    assert result["type"] == "result"
    assert result["result"] == "all good"
    assert result["total_cost_usd"] == 0.25

    as_text = run_fake(repo, "-p", "x", env=env)
    assert as_text.returncode == 0
    assert as_text.stdout == "all good\n"


def test_prompt_from_stdin(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    env = fake_env(FAKE_CLAUDE_LOG=str(log), PO_TASK="s1")
    proc = run_fake(repo, "-p", *STREAM, env=env, stdin="Prompt on stdin\nline two\n")
    assert proc.returncode == 0, proc.stderr
    assert events(proc.stdout)[-1]["is_error"] is False
    assert (repo / "s1.txt").read_text() == "s1\nPrompt on stdin\n"
    entry = json.loads(log.read_text())
    assert entry["stdin_prompt"] is True
    assert entry["prompt"] == "Prompt on stdin\nline two\n"

    empty = run_fake(repo, "-p", "--output-format", "json", stdin="")
    assert empty.returncode == 1
    assert "Input must be provided" in empty.stderr


def test_log_records_each_invocation(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    env = fake_env(
        FAKE_CLAUDE_LOG=str(log),
        PO_PLAN="p1",
        PO_TASK="t1",
        PO_ATTEMPT="2",
        ANTHROPIC_API_KEY="sk-test",
        UNRELATED_SECRET="nope",
    )
    argv = [
        "-p",
        "the prompt",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "acceptEdits",
        "--allowedTools",
        "Bash(git *)",
        "Edit,Write",
        "--model",
        "sonnet",
        "--max-turns",
        "40",
    ]
    proc = run_fake(repo, *argv, env=env)
    assert proc.returncode == 0, proc.stderr
    run_fake(repo, "-p", "x", "--bogus", env=env)

    first, second = (json.loads(line) for line in log.read_text().splitlines())
    assert first["argv"] == argv
    assert first["cwd"] == str(repo)
    assert first["prompt"] == "the prompt"
    assert first["stdin_prompt"] is False
    assert first["pid"] > 0
    logged_env = first["env"]
    assert {k: v for k, v in logged_env.items() if k.startswith(("PO_", "ANTHROPIC_"))} == {
        "PO_PLAN": "p1",
        "PO_TASK": "t1",
        "PO_ATTEMPT": "2",
        "ANTHROPIC_API_KEY": "sk-test",
    }
    assert logged_env["GIT_CONFIG_NOSYSTEM"] == "1"
    assert "UNRELATED_SECRET" not in logged_env
    assert "HOME" not in logged_env
    assert first["args"]["allowed_tools"] == ["Bash(git *)", "Edit", "Write"]
    assert first["args"]["permission_mode"] == "acceptEdits"
    assert first["args"]["max_turns"] == 40
    assert events(proc.stdout)[0]["model"] == "claude-sonnet-5"
    assert second["argv"] == ["-p", "x", "--bogus"]
    assert "--bogus" in second["error"]


def test_api_error_529(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(tmp_path, [{"api_error": 529, "retries": 2}, {"write": "never.txt"}])
    proc = run_fake(repo, "-p", "x", *STREAM, env=env)
    assert proc.returncode == 1
    assert proc.stderr == ""
    evs = events(proc.stdout)
    assert [ev.get("subtype") for ev in evs if ev["type"] == "system"] == [
        "init",
        "api_retry",
        "api_retry",
    ]
    text = evs[-2]["message"]["content"][0]["text"]
    assert text == (
        'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    )
    result = evs[-1]
    assert result["type"] == "result"
    assert result["subtype"] == "success"  # as the real CLI: trust is_error, not subtype
    assert result["is_error"] is True
    assert result["api_error_status"] == 529
    assert not (repo / "never.txt").exists()


@pytest.mark.parametrize(("crash", "signum"), [("SIGSEGV", signal.SIGSEGV), (9, signal.SIGKILL)])
def test_crash_dies_by_signal(
    repo: Path, tmp_path: Path, crash: str | int, signum: signal.Signals
) -> None:
    env = scripted_env(tmp_path, [{"say": "about to crash"}, {"crash": crash}])
    proc = run_fake(repo, "-p", "x", *STREAM, env=env)
    assert proc.returncode == -signum
    evs = events(proc.stdout)  # what was printed before the crash is complete and flushed
    assert evs[-1]["type"] == "assistant"
    assert not any(ev["type"] == "result" for ev in evs)
    assert git(repo, "status", "--porcelain") == ""  # no core file left in the worktree


def test_hang_is_terminated_by_sigterm(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(tmp_path, [{"say": "working"}, {"hang": True}])
    proc = subprocess.Popen(
        [str(FAKE), "-p", "x", *STREAM],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        init = json.loads(proc.stdout.readline())
        said = json.loads(proc.stdout.readline())  # arrives while the fake is still running
        assert init["subtype"] == "init"
        assert said["message"]["content"][0]["text"] == "working"
        assert proc.poll() is None
        started = time.monotonic()
        proc.terminate()
        assert proc.wait(timeout=5) == 143
        assert time.monotonic() - started < 2
        assert proc.stdout.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        if proc.stderr is not None:
            proc.stderr.close()


def test_sigterm_during_bash_stops_the_command(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(tmp_path, [{"bash": "echo $$ > child.pid; exec sleep 30"}])
    proc = subprocess.Popen(
        [str(FAKE), "-p", "x", *STREAM],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid_file = repo / "child.pid"
        deadline = time.monotonic() + 5
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child = int(pid_file.read_text())
        proc.terminate()
        assert proc.wait(timeout=5) == 143
        deadline = time.monotonic() + 5
        while _alive(child):
            assert time.monotonic() < deadline, "the Bash command outlived the fake"
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def test_commit_rejected_by_hook_is_reported_and_script_goes_on(repo: Path, tmp_path: Path) -> None:
    hook = repo / ".git" / "hooks" / "commit-msg"
    hook.write_text(
        '#!/bin/sh\nif grep -q BAD "$1"; then echo "commit-msg: BAD subject" >&2; exit 1; fi\n'
    )
    hook.chmod(0o755)
    env = scripted_env(
        tmp_path,
        [
            {"write": "a.txt", "content": "a\n"},
            {"commit": "BAD subject"},
            {"commit": "[CHECKPOINT] {task}: fixed subject", "body": "attempt {attempt}"},
        ],
        PO_TASK="t9",
        PO_ATTEMPT="3",
    )
    proc = run_fake(repo, "-p", "x", *STREAM, env=env)
    assert proc.returncode == 0, proc.stderr
    results = tool_results(events(proc.stdout))
    assert [r["is_error"] for r in results] == [False, True, False]
    assert "commit-msg: BAD subject" in results[1]["content"]
    assert results[1]["content"].startswith("Exit code 1")
    assert subjects(repo) == ["[CHECKPOINT] t9: fixed subject", "initial"]
    assert git(repo, "log", "-1", "--format=%b").strip() == "attempt 3"
    assert events(proc.stdout)[-1]["is_error"] is False


def test_scripts_dir_attempts_and_variables(repo: Path, tmp_path: Path) -> None:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    script(
        scripts,
        {
            "attempts": {"1": [{"exit": 1}]},
            "default": [{"write": "{plan}-{task}-{attempt}.txt", "content": "{branch}"}],
        },
        name="t1.json",
    )
    env = fake_env(FAKE_CLAUDE_SCRIPTS=str(scripts), PO_PLAN="p", PO_TASK="t1", PO_BRANCH="b/t1")
    first = run_fake(repo, "-p", "x", *STREAM, env={**env, "PO_ATTEMPT": "1"})
    assert first.returncode == 1
    assert events(first.stdout)[-1]["is_error"] is True
    second = run_fake(repo, "-p", "x", *STREAM, env={**env, "PO_ATTEMPT": "2"})
    assert second.returncode == 0, second.stderr
    assert (repo / "p-t1-2.txt").read_text() == "b/t1"

    # a task without a file in the directory falls back to FAKE_CLAUDE_SCRIPT, then the default
    other = {**env, "PO_TASK": "t2"}
    assert run_fake(repo, "-p", "x", env=other).returncode == 0
    assert subjects(repo)[0] == "[COMPLETE] t2 done"
    single = script(tmp_path, [{"say": "from FAKE_CLAUDE_SCRIPT"}])
    proc = run_fake(repo, "-p", "x", env={**other, "FAKE_CLAUDE_SCRIPT": str(single)})
    assert proc.stdout == "from FAKE_CLAUDE_SCRIPT\n"


def test_require_missing_file_blocks(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(
        tmp_path, [{"require": "README.md"}, {"require": "docs/spec.md"}, {"write": "x.txt"}]
    )
    proc = run_fake(repo, "-p", "x", *STREAM, env=env)
    assert proc.returncode == 0
    assert subjects(repo) == ["[BLOCKED:missing docs/spec.md] cannot start", "initial"]
    assert not (repo / "x.txt").exists()
    result = events(proc.stdout)[-1]
    assert result["is_error"] is False
    assert "docs/spec.md" in result["result"]


def test_files_bash_and_exit(repo: Path, tmp_path: Path) -> None:
    env = scripted_env(
        tmp_path,
        [
            {"write": "d/e/f.txt", "content": "one\n"},
            {"append": "d/e/f.txt", "content": "two\n"},
            {"delete": "README.md"},
            {"bash": "cat d/e/f.txt; echo oops >&2; exit 3"},
            {"write": "../escape.txt", "content": "no"},
            {"exit": 7},
            {"write": "never.txt"},
        ],
    )
    proc = run_fake(repo, "-p", "x", *STREAM, env=env)
    assert proc.returncode == 7
    assert (repo / "d/e/f.txt").read_text() == "one\ntwo\n"
    assert not (repo / "README.md").exists()
    assert not (tmp_path / "escape.txt").exists()
    assert not (repo / "never.txt").exists()
    evs = events(proc.stdout)
    results = tool_results(evs)
    assert [r["is_error"] for r in results] == [False, False, False, True, True]
    assert results[3]["content"] == "Exit code 3\none\ntwo\noops"
    assert evs[-1]["is_error"] is True
    assert evs[-1]["total_cost_usd"] == pytest.approx(0.05)


def test_max_turns(repo: Path) -> None:
    proc = run_fake(repo, "-p", "x", *STREAM, "--max-turns", "2", env=fake_env(PO_TASK="m"))
    assert proc.returncode == 1
    result = events(proc.stdout)[-1]
    assert result["subtype"] == "error_max_turns"
    assert result["is_error"] is True
    assert subjects(repo) == ["[CHECKPOINT] m: wrote m.txt", "initial"]


def test_broken_script_is_a_test_error(repo: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = run_fake(repo, "-p", "x", env=fake_env(FAKE_CLAUDE_SCRIPT=str(bad)))
    assert proc.returncode == 2
    assert "bad script" in proc.stderr
    unknown = run_fake(repo, "-p", "x", env=scripted_env(tmp_path, [{"fly": "away"}]))
    assert unknown.returncode == 2
