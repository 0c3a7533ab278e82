"""Plan inputs confined and validated: a prompt_file reads only a regular UTF-8 file of sane
size inside the plan's folder or the repository, and a value that reaches the agent's command
line can never become an option. Each refusal is one located error, exit 2, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import git, refs, run_po
from tests.helpers import claude_log_path, fake_env, write_plan


def _plan_with_prompt_file(tmp_path: Path, rel: str) -> Path:
    return write_plan(
        tmp_path,
        "p",
        f"""
        [tasks.t]
        description = "reads a prompt file"
        prompt_file = "{rel}"
        """,
    )


def _refused(repo: Path, tmp_path: Path, plan: Path, *expected: str) -> str:
    before = refs(repo)
    res = run_po(repo, "start", str(plan), "--no-live", env=fake_env(tmp_path), timeout=60)
    assert res.code == 2, res
    assert "nothing was written" in res.err
    for text in expected:
        assert text in res.err, res.err
    assert refs(repo) == before
    assert not claude_log_path(tmp_path).exists()  # no agent ran
    return res.err


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A private file beside the plan folder and the repository (in neither)."""
    path = tmp_path / "home" / ".aws" / "credentials"
    path.parent.mkdir(parents=True)
    path.write_text("aws_secret_access_key = hunter2\n")
    return path


def test_a_prompt_file_outside_the_plan_folder_and_repo_is_refused(
    repo: Path, tmp_path: Path, secret: Path
) -> None:
    plan = _plan_with_prompt_file(tmp_path, "../home/.aws/credentials")
    err = _refused(repo, tmp_path, plan, f"{plan}:3: task 't': prompt_file", "points outside")
    assert "hunter2" not in err


def test_an_absolute_prompt_file_is_refused(repo: Path, tmp_path: Path, secret: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, str(secret))
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is an absolute path")


def test_a_prompt_file_symlink_out_of_the_folder_is_refused(
    repo: Path, tmp_path: Path, secret: Path
) -> None:
    plan = _plan_with_prompt_file(tmp_path, "prompt.md")
    (plan.parent / "prompt.md").symlink_to(secret)
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is a symlink that leads outside")


def test_dev_zero_as_a_prompt_file_is_refused_without_reading_it(
    repo: Path, tmp_path: Path
) -> None:
    plan = _plan_with_prompt_file(tmp_path, "/dev/zero")
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is an absolute path")
    plan = _plan_with_prompt_file(tmp_path, "zero.md")
    (plan.parent / "zero.md").symlink_to("/dev/zero")
    _refused(repo, tmp_path, plan, f"{plan}:3:", "leads outside")


def test_a_fifo_prompt_file_is_refused_without_hanging(repo: Path, tmp_path: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, "fifo.md")
    os.mkfifo(plan.parent / "fifo.md")
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is a FIFO, not a regular file")


def test_a_directory_prompt_file_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, "prompts")
    (plan.parent / "prompts").mkdir()
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is a directory")


def test_a_non_utf8_prompt_file_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, "latin1.md")
    (plan.parent / "latin1.md").write_bytes("Caf\xe9 au lait\n".encode("latin-1"))
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is not UTF-8 text (byte 3)")


def test_a_huge_prompt_file_is_refused(repo: Path, tmp_path: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, "huge.md")
    (plan.parent / "huge.md").write_text("x" * 1_000_001)
    _refused(repo, tmp_path, plan, f"{plan}:3:", "is larger than 1000 kB")


def test_a_missing_prompt_file_is_still_not_found(repo: Path, tmp_path: Path) -> None:
    plan = _plan_with_prompt_file(tmp_path, "nope.md")
    _refused(repo, tmp_path, plan, f"{plan}:3:", "prompt file 'nope.md' of task 't' not found")


def test_prompt_files_in_the_repository_and_beside_the_plan_are_read(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "docs").mkdir()
    (repo / "docs" / "task.md").write_text("Do the thing from the repository.\n")
    git(repo, "add", "docs")
    git(repo, "commit", "-qm", "docs")
    plan = repo / "plans" / "p.toml"
    plan.parent.mkdir()
    plan.write_text(
        '[tasks.a]\nprompt_file = "../docs/task.md"\n\n[tasks.b]\nprompt_file = "b.md"\n'
    )
    (plan.parent / "b.md").symlink_to(repo / "docs" / "task.md")  # a symlink inside is fine
    res = run_po(repo, "start", str(plan), "--dry-run", timeout=60)
    assert res.code == 0, res


# --- values that reach the agent's command line --------------------------------------------------

OPTION = "--dangerously-skip-permissions"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f'model = "{OPTION}"', f"model '{OPTION}' looks like an option"),
        ('model = "sonnet --verbose"', "is not a model name"),
        ('model = "sonnet; touch pwned"', "is not a model name"),
        (f'allowed_tools = ["Read", "{OPTION}"]', f"allowed_tools entry '{OPTION}' looks like"),
        (f'allowed_tools = ["Read {OPTION}"]', "is not a tool rule"),
        (f'allowed_tools = ["Read,{OPTION}"]', "is not a tool rule"),
        ('allowed_tools = ["Bash(git *); rm -rf ~"]', "is not a tool rule"),
        ('allowed_tools = ["Bash(git *)\\n--x"]', "is not a tool rule"),
        (f'permission_mode = "{OPTION}"', "is not one of"),
        ('max_turns = "--max-turns"', "max_turns must be a whole number"),
        ('budget_usd = "-1"', "budget_usd must be a positive number"),
    ],
)
def test_option_shaped_values_are_refused_in_every_field(
    repo: Path, tmp_path: Path, body: str, expected: str
) -> None:
    plan = write_plan(tmp_path, "p", f'[tasks.t]\nprompt = "Do it."\n{body}\n')
    _refused(repo, tmp_path, plan, f"{plan}:3:", expected)


def test_option_shaped_defaults_are_refused(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "p",
        f'[defaults]\nallowed_tools = ["{OPTION}"]\nmodel = "-x"\n\n[tasks.t]\nprompt = "Do it."\n',
    )
    err = _refused(repo, tmp_path, plan, f"{plan}:2:", f"{plan}:3:")
    assert "looks like an option" in err


def test_option_shaped_git_config_fallbacks_are_refused(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.model", OPTION)
    plan = write_plan(tmp_path, "p", '[tasks.t]\nprompt = "Do it."\n')
    before = refs(repo)
    res = run_po(repo, "start", str(plan), "--no-live", env=fake_env(tmp_path), timeout=60)
    assert res.code == 2, res
    assert f"po.model = '{OPTION}' is not a model name" in res.err
    assert refs(repo) == before
    assert not claude_log_path(tmp_path).exists()


def test_well_formed_tool_rules_reach_claude_as_written(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "p",
        """
        [tasks.t]
        prompt = "Do it."
        model = "claude-sonnet-4-5@20250929"
        allowed_tools = ["Bash(git commit -m *)", "Edit,Write", "mcp__github__create_pr"]
        """,
    )
    res = run_po(repo, "start", str(plan), "--dry-run", timeout=60)
    assert res.code == 0, res


# --- errors located by line ------------------------------------------------------------------


def test_an_empty_tasks_table_is_located(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", 'name = "p"\n\n[tasks]\n')
    _refused(repo, tmp_path, plan, f"{plan}:3: the plan has no tasks")


def test_an_array_of_tasks_is_located(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", 'name = "p"\n\n[[tasks]]\nprompt = "x"\n')
    _refused(repo, tmp_path, plan, f"{plan}:3: tasks must be tables")


def test_a_fifo_as_the_plan_file_is_refused_without_hanging(repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "plan.toml"
    os.mkfifo(fifo)
    res = run_po(repo, "start", str(fifo), "--dry-run", timeout=60)
    assert res.code == 2, res
    assert "not a regular file" in res.err
