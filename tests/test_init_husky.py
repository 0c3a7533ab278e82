"""`git po init` with a hooks folder in the work tree (husky: a tracked .husky with core.hooksPath):
nothing in the tree changes, init says so and proposes the one line to add; the proposed line
checks the protocol in task worktrees; `init --uninstall` leaves nothing behind (worker hooks,
config, the untouched example plan)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from git_po.initcmd import EXAMPLE_PLAN, PROPOSED_LINE
from tests.conftest import git, run_po
from tests.helpers import fake_env, start, worktree_paths, write_plan

HUSKY_HOOK = '#!/bin/sh\necho "husky: $(head -n1 "$1")" >> "$HOME/husky.log"\n'


def _husky(repo: Path) -> Path:
    hook = repo / ".husky" / "commit-msg"
    hook.parent.mkdir()
    hook.write_text(HUSKY_HOOK)
    hook.chmod(0o755)
    git(repo, "add", ".husky")
    git(repo, "commit", "-q", "-m", "husky")
    git(repo, "config", "core.hooksPath", ".husky")
    return hook


def _git_files(repo: Path) -> dict[str, bytes]:
    """Every file under .git but the index (which git status refreshes) and the objects."""
    out: dict[str, bytes] = {}
    top = repo / ".git"
    for path in top.rglob("*"):
        rel = path.relative_to(top).as_posix()
        if path.is_file() and rel != "index" and not rel.startswith("objects/"):
            out[rel] = path.read_bytes()
    return out


def _commit(cwd: Path, subject: str) -> subprocess.CompletedProcess[str]:
    (cwd / "f.txt").write_text(subject)
    git(cwd, "add", "f.txt")
    return subprocess.run(
        ["git", "commit", "-q", "-m", subject], cwd=cwd, capture_output=True, text=True
    )


def test_init_leaves_a_tracked_husky_folder_alone_and_uninstall_leaves_nothing(
    repo: Path,
) -> None:
    hook = _husky(repo)
    before = _git_files(repo)
    res = run_po(repo, "init")
    assert res.code == 0, res
    assert hook.read_text() == HUSKY_HOOK
    assert sorted(p.name for p in hook.parent.iterdir()) == ["commit-msg"]
    assert git(repo, "status", "--porcelain") == f"?? {EXAMPLE_PLAN}\n"  # only the example
    assert "core.hooksPath is .husky, inside your work tree and tracked" in res.out
    assert "git po writes nothing there" in res.out
    assert PROPOSED_LINE in res.out
    again = run_po(repo, "init", "--no-example")
    assert again.code == 0 and hook.read_text() == HUSKY_HOOK

    done = run_po(repo, "init", "--uninstall")
    assert done.code == 0, done
    assert f"example plan: removed {EXAMPLE_PLAN}" in done.out
    assert git(repo, "status", "--porcelain") == ""
    assert _git_files(repo) == before  # config, hooks, po/: all as they were


def test_uninstall_keeps_an_edited_example_plan(repo: Path) -> None:
    assert run_po(repo, "init").code == 0
    example = repo / EXAMPLE_PLAN
    example.write_text(example.read_text() + "# mine now\n")
    res = run_po(repo, "init", "--uninstall")
    assert res.code == 0 and example.exists()
    assert f"example plan: {EXAMPLE_PLAN} was edited (kept)" in res.out
    assert not (repo / ".git" / "hooks" / "commit-msg").exists()
    assert not (repo / ".git" / "po").exists()


def test_the_proposed_line_checks_the_protocol_in_task_worktrees(
    repo: Path, tmp_path: Path, sealed_env: Path
) -> None:
    hook = _husky(repo)
    hook.write_text(HUSKY_HOOK + PROPOSED_LINE + "\n")
    git(repo, "commit", "-q", "-am", "husky: git po's check")
    # workers commit through git po's hooks, which chain to .husky: no loop, protocol checked once
    plan_file = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan_file, env=fake_env(tmp_path)).code == 0
    assert run_po(repo, "init", "--no-example").code == 0
    (worktree,) = worktree_paths(repo)
    bad = _commit(worktree, "fixed a typo")
    assert bad.returncode != 0 and "protocol prefix" in bad.stderr
    good = _commit(worktree, "[CHECKPOINT] fixed a typo by hand")
    assert good.returncode == 0, good.stderr
    ordinary = _commit(repo, "an ordinary commit")  # outside task worktrees: no check
    assert ordinary.returncode == 0, ordinary.stderr
    log = (sealed_env / "husky.log").read_text().splitlines()
    assert log[-2:] == ["husky: [CHECKPOINT] fixed a typo by hand", "husky: an ordinary commit"]
    assert git(repo, "status", "--porcelain") == ""
    # without git po's hooks (another clone, or after uninstall) the line does nothing
    assert os.access(repo / ".git" / "po" / "hooks" / "commit-msg", os.X_OK)
