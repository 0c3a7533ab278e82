"""git po doctor, and the warnings of start: what will stop a worker from writing or committing."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, run_po
from tests.helpers import write_plan

README_PLAN = """
[defaults]
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Bash(python -m pytest*)", "Edit", "Write", "Read"]

[tasks.a]
prompt = "x"
"""


def _doctor(repo: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = run_po(repo, "doctor", "--json", *args, env={"ANTHROPIC_API_KEY": "k"})
    return result.code, json.loads(result.out)


def _levels(report: dict[str, object]) -> dict[str, str]:
    findings = report["findings"]
    assert isinstance(findings, list)
    return {f["topic"]: f["level"] for f in findings}


def test_doctor_passes_the_readme_settings_and_the_default_worktree_root(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "p", README_PLAN)
    code, report = _doctor(repo, str(plan))
    assert code == 0, report
    levels = _levels(report)
    assert levels["worktrees"] == "ok" and levels["plan p"] == "ok", report
    assert levels["claude"] == "ok" and levels["login"] == "ok", report
    assert report["problem_count"] == 0
    text = run_po(repo, "doctor", str(plan), env={"ANTHROPIC_API_KEY": "k"})
    assert text.code == 0 and text.out.endswith("0 problems found\n"), text
    assert ".git" not in text.out.split("task worktrees go to ")[1].splitlines()[0], text


def test_doctor_finds_a_worktree_root_under_git_and_settings_that_allow_no_edit(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.worktreeDir", str(repo / ".git" / "po" / "worktrees"))
    plan = write_plan(
        tmp_path,
        "p",
        """
        [tasks.reads]
        prompt = "x"
        permission_mode = "plan"
        [tasks.noedit]
        prompt = "x"
        allowed_tools = ["Bash(git *)"]
        [tasks.nocommit]
        prompt = "x"
        permission_mode = "acceptEdits"
        [tasks.bypass]
        prompt = "x"
        permission_mode = "bypassPermissions"
        """,
    )
    code, report = _doctor(repo, str(plan))
    assert code == 1, report
    levels = _levels(report)
    assert levels["worktrees"] == "problem"
    assert levels["task reads"] == levels["task noedit"] == levels["task nocommit"] == "problem"
    assert "task bypass" not in levels
    assert report["problem_count"] == 4
    text = run_po(repo, "doctor", str(plan), env={"ANTHROPIC_API_KEY": "k"})
    assert text.code == 1 and "4 problems found" in text.out, text
    assert "refuses every file edit there" in text.out and "git config --unset po.worktreeDir" in (
        text.out
    )


def test_a_settings_file_allow_rule_counts_like_allowed_tools(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "x"\npermission_mode = "acceptEdits"\n')
    code, report = _doctor(repo, str(plan))
    assert code == 1 and _levels(report)["task a"] == "problem", report
    (repo / ".claude").mkdir()
    (repo / ".claude" / "settings.json").write_text(
        json.dumps({"permissions": {"allow": ["Bash(git commit:*)"]}})
    )
    code, report = _doctor(repo, str(plan))
    assert code == 0, report
    assert _levels(report)["settings"] == "ok"


def test_doctor_says_when_claude_is_missing_or_has_no_login(repo: Path, tmp_path: Path) -> None:
    result = run_po(repo, "doctor", "--claude", str(tmp_path / "nowhere" / "claude"))
    assert result.code == 1, result
    assert "problem  claude:" in result.out and "npm install -g" in result.out, result
    assert "warning  login: found no credentials" in result.out, result


def test_start_warns_once_per_problem_naming_every_task_and_runs_anyway(
    repo: Path, tmp_path: Path
) -> None:
    body = "".join(f'[tasks.t{i}]\nprompt = "x"\nallowed_tools = ["Edit"]\n' for i in range(30))
    plan = write_plan(tmp_path, "p", body)
    result = run_po(repo, "start", str(plan), "--dry-run")
    assert result.code == 0, result
    lines = result.err.splitlines()
    assert len(lines) == 1, result
    assert lines[0].startswith("warning: tasks t0, t1, t2,") and "t29:" in lines[0], result
    assert "git commit" in lines[0]
    ok = write_plan(tmp_path, "q", README_PLAN)
    assert run_po(repo, "start", str(ok), "--dry-run").err == ""
