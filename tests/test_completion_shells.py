"""Completion of the commands that read a run, through real bash, zsh and fish: task ids of a plan
(the names under refs/po/<plan>/tasks/), plan names, shells, remotes; and `git po completion`
printing the scripts that ship in the package."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, git, run_po
from tests.test_docs import BASH, FISH, ZSH, Complete, zsh_completer
from tests.test_docs import bash_complete as bash_complete  # a fixture


def _task_refs(repo: Path, plans: dict[str, list[str]]) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    for plan, tasks in plans.items():
        git(repo, "update-ref", f"refs/po/{plan}/plan", head)
        for task in tasks:
            git(repo, "update-ref", f"refs/po/{plan}/tasks/{task}", head)
    # an earlier run's task: never offered
    git(repo, "update-ref", "refs/po/shop/runs/1/tasks/old", head)


@pytest.fixture
def one_plan(repo: Path) -> Path:
    _task_refs(repo, {"shop": ["api", "models"]})
    git(repo, "remote", "add", "origin", str(repo))
    return repo


@pytest.fixture
def two_plans(repo: Path) -> Path:
    _task_refs(repo, {"shop": ["api", "models"], "web": ["api", "front"]})
    return repo


def test_bash_completes_tasks_plans_and_shells(
    bash_complete: Complete,
    one_plan: Path,
) -> None:
    complete = bash_complete
    for cmd in ("logs", "show", "attach"):
        assert sorted(complete(f"git po {cmd} ", one_plan)) == ["api", "models"], cmd
    assert complete("git po logs m", one_plan) == ["models"]
    assert complete("git po logs api ", one_plan) == []
    assert sorted(complete("git po logs --attempt 2 ", one_plan)) == ["api", "models"]
    assert complete("git po logs --plan ", one_plan) == ["shop"]
    assert complete("git po report ", one_plan) == ["shop"]
    assert sorted(complete("git po completion ", one_plan)) == ["bash", "fish", "zsh"]
    assert complete("git po init --share ", one_plan) == ["origin"]
    assert sorted(complete("git po report --format ", one_plan)) == ["json", "md"]
    assert "--follow" in complete("git po logs --", one_plan)
    assert "--watch" in complete("git po status --", one_plan)
    assert "--interval=" in complete("git po status --", one_plan)


def test_bash_completes_plan_slash_task_with_several_plans(
    bash_complete: Complete,
    two_plans: Path,
) -> None:
    complete = bash_complete
    assert sorted(complete("git po show ", two_plans)) == [
        "api",
        "front",
        "models",
        "shop/api",
        "shop/models",
        "web/api",
        "web/front",
    ]
    assert sorted(complete("git po show --plan web ", two_plans)) == ["api", "front"]
    assert sorted(complete("git po logs -p shop ", two_plans)) == ["api", "models"]
    assert sorted(complete("git po logs w", two_plans)) == ["web/api", "web/front"]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_tasks_and_plans(two_plans: Path, tmp_path: Path) -> None:
    complete = zsh_completer(tmp_path, two_plans)

    assert complete("git po logs ") == {
        "api",
        "front",
        "models",
        "shop/api",
        "shop/models",
        "web/api",
        "web/front",
    }
    assert complete("git po show --plan=web ") == {"api", "front"}
    assert complete("git po report ") == {"shop", "web"}
    assert complete("git po completion ") == {"bash", "zsh", "fish"}
    assert {"--follow", "--raw", "--attempt", "--plan"} <= complete("git po logs --")


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_tasks_and_plans(two_plans: Path, sealed_env: Path) -> None:
    conf = sealed_env / ".config" / "fish" / "conf.d"
    conf.mkdir(parents=True)
    shutil.copy(FISH, conf / "git-po.fish")

    def complete(line: str) -> set[str]:
        proc = subprocess.run(
            ["fish", "-c", f"complete -C '{line}'"],
            cwd=two_plans,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return {w.split("\t")[0] for w in proc.stdout.splitlines() if w}

    assert complete("git po attach ") == {
        "api",
        "front",
        "models",
        "shop/api",
        "shop/models",
        "web/api",
        "web/front",
    }
    assert complete("git po logs --plan shop ") == {"api", "models"}
    assert complete("git-po show -p web ") == {"api", "front"}
    assert complete("git po report ") == {"shop", "web"}
    assert complete("git po completion ") == {"bash", "zsh", "fish"}
    assert {"--follow", "--raw", "--attempt", "--plan"} <= complete("git po logs --")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_command_prints_the_shipped_script(shell: str) -> None:
    res = run_po(ROOT, "completion", shell)
    assert res.code == 0, res
    assert res.out == {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell].read_text()
    assert run_po(ROOT, "completion", "tcsh").code == 2
