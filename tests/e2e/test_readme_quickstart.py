"""README.md's "Quick start with Claude Code", as written, with the real Claude Code CLI.

The plan and the commands are taken from README.md itself; the real `claude` is the one on PATH
(as a user has it), the worktrees go where the default puts them, the permissions are the
README's (`acceptEdits` and its `allowed_tools`), and the scripted workers create and edit files
the way Claude Code does: `Write`, `Read` then `Edit`, a Bash redirection, and `git commit`.
Only the far side is fake: the Messages API on 127.0.0.1 that scripts the model's turns.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path
from typing import Any

from tests.conftest import git
from tests.e2e.fake_api import CWD, FakeAnthropic, Reply, bash, text, tool_use
from tests.helpers import run_git_po, worktree_root

README = Path(__file__).resolve().parents[2] / "README.md"


def quick_start() -> tuple[str, list[str]]:
    """The plan (TOML) and the `git po` command lines of the README's Quick start section."""
    section = README.read_text().split("## Quick start with Claude Code", 1)[1].split("\n## ")[0]
    found = re.search(r"```toml\n(.*?)```", section, re.S)
    assert found, "the Quick start has no ```toml block"
    commands = [
        line.strip().split("  #")[0].strip()
        for line in section.splitlines()
        if line.startswith("    git po ")
    ]
    return found.group(1), commands


EXPECTED = {
    # each note lands in a file the task owns (its `writes`): the commit hook refuses others
    "models": ("shop/models.py", "tests/test_models.py", "tests/test_models.py"),
    "api": ("shop/api/orders.py", "shop/api/test_orders.py", "shop/api/notes.txt"),
}


def _write(path: str, content: str) -> dict[str, Any]:
    return tool_use("Write", {"file_path": f"{CWD}/{path}", "content": content})


def _read(path: str) -> dict[str, Any]:
    return tool_use("Read", {"file_path": f"{CWD}/{path}"})


def _edit(path: str, old: str, new: str) -> dict[str, Any]:
    return tool_use("Edit", {"file_path": f"{CWD}/{path}", "old_string": old, "new_string": new})


def _worker(
    task: str, module: str, test_file: str, note_file: str, allow_empty: str = ""
) -> list[Reply]:
    """Write a module and its test, read and edit the module, append a note with a shell
    redirection, commit a checkpoint and then [COMPLETE]."""
    return [
        Reply([text(f"Writing {module}."), _write(module, "class Order:\n    pass\n")]),
        Reply([_write(test_file, "def test_order() -> None:\n    assert True\n")]),
        Reply([bash(f"git add -A && git commit -q -m '[CHECKPOINT] {task}: {module} and a test'")]),
        Reply([_read(module)]),
        Reply([_edit(module, "    pass\n", "    total: int = 0\n")]),
        Reply([bash(f"echo '# {task} was here' >> {note_file}")]),
        Reply([bash(f"git add -A && git commit -q {allow_empty}-m '[COMPLETE] {task}: done'")]),
        Reply([text(f"{task} is complete.")]),
    ]


def _prepare(repo: Path, plan_text: str, fake_api: FakeAnthropic, allow_empty: str = "") -> None:
    """The repository the user runs it in (the plan beside the prompt file it names), and the
    scripted model turns of its two tasks."""
    (repo / "plan.toml").write_text(plan_text)
    (repo / "prompts").mkdir()
    (repo / "prompts" / "api.md").write_text("Add the orders endpoint in shop/api/orders.py.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add the plan")
    for task, files in EXPECTED.items():
        turns = _worker(task, *files, allow_empty=allow_empty)
        fake_api.add_script(task, turns, match=f"task `{task}` of plan `shop`")


def _tool_results(fake_api: FakeAnthropic, script: str) -> list[dict[str, Any]]:
    """The tool results the CLI sent back in the last request of a script."""
    last = fake_api.message_requests(script)[-1]
    out: list[dict[str, Any]] = []
    for message in (last.body or {}).get("messages", []):
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            out += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return out


def _env(claude_cli: Path, claude_env: dict[str, str]) -> dict[str, str]:
    """The real CLI is the `claude` on PATH, as a user has it."""
    env = dict(claude_env)
    env["PATH"] = os.pathsep.join([str(claude_cli.parent), os.environ["PATH"]])
    return env


def test_the_readme_quick_start_as_written(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    plan_text, commands = quick_start()
    assert 'permission_mode = "acceptEdits"' in plan_text
    assert "bypassPermissions" not in plan_text
    assert commands[:2] == ["git po doctor plan.toml", "git po start plan.toml --dry-run"]
    assert "git po start plan.toml" in commands and commands[-1].startswith("git po integrate")

    _prepare(repo, plan_text, fake_api)
    env = _env(claude_cli, claude_env)
    seen: dict[str, str] = {}
    begun = time.monotonic()
    for line in commands:
        argv = shlex.split(line)
        assert argv[:2] == ["git", "po"], line
        result = run_git_po(repo, repo.parent, *argv[2:], env=env)
        seen[line] = result.out + result.err
        assert result.code == 0, f"`{line}`: {result}\n{fake_api.describe()}"
    wall = time.monotonic() - begun

    # doctor found nothing in the way, and start warned of nothing
    assert "0 problems found" in seen["git po doctor plan.toml"]
    assert "warning" not in seen["git po start plan.toml"], seen["git po start plan.toml"]

    # the worktrees were where the default puts them: not under .git, not in the repository
    root = worktree_root(repo)
    assert ".git" not in root.parts and repo not in root.parents
    status = json.loads(run_git_po(repo, repo.parent, "status", "shop", "--json", env=env).out)
    tasks = {t["task"]: t for t in status["tasks"]}
    assert {t: tasks[t]["state"] for t in tasks} == {"models": "complete", "api": "complete"}

    # every tool call went through: none was refused
    for name in EXPECTED:
        results = _tool_results(fake_api, name)
        assert len(results) == 7 and not [r for r in results if r.get("is_error")], results

    # each task's branch has its files, written and edited; api started from models' work
    for task, (module, test_file, note_file) in EXPECTED.items():
        branch = f"po/shop/{task}"
        assert git(repo, "show", f"{branch}:{module}") == "class Order:\n    total: int = 0\n"
        assert git(repo, "show", f"{branch}:{test_file}").startswith("def test_order()")
        assert git(repo, "show", f"{branch}:{note_file}").endswith(f"# {task} was here\n")
        assert git(repo, "log", "-1", "--format=%s", branch).strip() == f"[COMPLETE] {task}: done"
    assert "total: int = 0" in git(repo, "show", "po/shop/api:shop/models.py")

    # integrate landed both on main
    files = set(git(repo, "ls-tree", "-r", "--name-only", "main").split())
    for paths in EXPECTED.values():
        assert set(paths) <= files, files
    assert git(repo, "show", "main:shop/api/notes.txt") == "# api was here\n"
    assert git(repo, "show", "main:tests/test_models.py").endswith("# models was here\n")
    print(f"README Quick start: 2 tasks, 6 files written, {wall:.1f}s wall")


def test_worktrees_under_git_are_refused_by_claude_code_and_doctor_says_so(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    """Why the default moved: the same Quick start with the worktrees under .git (as git po
    0.1 put them) gets every file write refused by the real CLI. The worker then commits an
    empty [COMPLETE] (as one did for the user who reported it): the task fails as `refused`,
    naming the refused calls, and its dependent does not start."""
    plan_text, _ = quick_start()
    _prepare(repo, plan_text, fake_api, allow_empty="--allow-empty ")
    git(repo, "config", "po.worktreeDir", str(repo / ".git" / "po" / "worktrees"))
    env = _env(claude_cli, claude_env)

    doctor = run_git_po(repo, repo.parent, "doctor", "plan.toml", env=env)
    assert doctor.code == 1 and "under a .git directory" in doctor.out, doctor
    start = run_git_po(repo, repo.parent, "start", "plan.toml", "--no-live", env=env)
    assert "warning: worktrees: " in start.err and "under a .git directory" in start.err, start

    refused = [r for r in _tool_results(fake_api, "models") if r.get("is_error")]
    assert refused and all("sensitive" in str(r["content"]) for r in refused[:2]), refused
    assert "shop/models.py" not in git(repo, "ls-tree", "-r", "--name-only", "po/shop/models")
    assert start.code == 1, start
    status = json.loads(run_git_po(repo, repo.parent, "status", "shop", "--json", env=env).out)
    models = {t["task"]: t for t in status["tasks"]}["models"]
    assert models["state"] == "failed" and models["refused_count"] >= 3, models
    targets = {(c["tool"], c["target"].rsplit("/", 2)[-1]) for c in models["refused_calls"]}
    # (the Edit fails before permissions are asked: the file was never written)
    assert ("Write", "models.py") in targets and ("Write", "test_models.py") in targets, models
    assert not fake_api.message_requests("api"), "api started on a refused dependency"
