"""`git po logs` and `git po show` on a transcript of the real Claude Code CLI: one task run by
`git po start` against the scripted Messages API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, run_po
from tests.e2e.fake_api import FINAL_TEXT, FakeAnthropic, Reply, bash, text

pytestmark = pytest.mark.e2e

PLAN = """\
name = "one"

[defaults]
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Edit", "Write", "Read"]

[tasks.notes]
prompt = "Write notes.md and commit it [script:notes]"
writes = ["notes.md"]
"""


def test_logs_and_show_read_a_real_transcript(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    fake_api.add_script(
        "notes",
        [
            Reply(
                [
                    text("Writing the notes now."),
                    bash(
                        "printf 'one\\ntwo\\n' > notes.md && git add -A"
                        " && git commit -q -m '[COMPLETE] notes written'"
                    ),
                ]
            )
        ],
    )
    (repo / "plan.toml").write_text(PLAN)
    started = run_po(
        repo,
        "start",
        "plan.toml",
        "--no-live",
        "--claude",
        str(claude_cli),
        env=claude_env,
        timeout=90,
    )
    assert started.code == 0, f"{started}\n{fake_api.describe()}"

    shown = run_po(repo, "show", "notes", "--json", env=claude_env)
    assert shown.code == 0, shown
    d: dict[str, Any] = json.loads(shown.out)
    assert d["state"] == "complete"
    assert d["session_id"]
    (attempt,) = d["attempts"]
    assert attempt["outcome"] == "complete" and attempt["exit_code"] == 0
    assert attempt["cost_usd"] > 0 and attempt["session_id"] == d["session_id"]
    assert [c["subject"] for c in d["commits"]] == ["[COMPLETE] notes written"]
    assert git(repo, "show", "po/one/notes:notes.md") == "one\ntwo\n"

    logs = run_po(repo, "logs", "notes", env=claude_env)
    assert logs.code == 0, logs
    lines = logs.out.splitlines()
    assert lines[0].startswith(f"one/notes attempt 1/1 · claude · session {d['session_id']}")
    assert lines[1].startswith(f"session {d['session_id']} · ")
    assert "Writing the notes now." in lines
    assert any(line.startswith("→ Bash: printf 'one\\ntwo\\n' > notes.md") for line in lines)
    assert FINAL_TEXT in logs.out
    (result,) = [line for line in lines if line.startswith("result: ")]
    assert result.startswith("result: done — ") and "$" in result and "turns" in result

    raw = run_po(repo, "logs", "notes", "--raw", env=claude_env)
    events = [json.loads(line) for line in raw.out.splitlines() if line.strip()]
    assert events[0]["type"] == "system" and events[-1]["type"] == "result"
