"""Settings: `git po config` lists every po.* key with its value and origin, and the precedence
command-line option > plan > git config > default holds for what start does."""

from __future__ import annotations

import json
from pathlib import Path

from git_po import config
from tests.conftest import git, run_po
from tests.helpers import fake_env, invocation, start, write_plan

ONE_TASK = """
[tasks.a]
prompt = "Do a."
"""


def _config_rows(out: str) -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in out.splitlines()[1:]:
        key, rest = line.split(None, 1)
        value, origin = rest.rsplit(None, 1)
        rows[key] = (value.strip(), origin)
    return rows


def test_config_lists_every_key_with_defaults(repo: Path) -> None:
    res = run_po(repo, "config")
    assert res.code == 0, res
    assert res.out.splitlines()[0].split() == ["KEY", "VALUE", "FROM"]
    rows = _config_rows(res.out)
    assert set(rows) == set(config.KEYS)
    assert all(origin == "default" for _, origin in rows.values())
    assert rows["po.maxWorkers"] == ("3", "default")
    assert rows["po.stopGrace"] == ("10", "default")
    assert rows["po.integrationBranch"] == ("po/<plan>/integration", "default")


def test_config_shows_where_each_value_comes_from(repo: Path, sealed_env: Path) -> None:
    (sealed_env / ".gitconfig").write_text(
        "[po]\n\tmaxWorkers = 7\n\tmodel = sonnet\n\tintegrationBranch = next\n"
    )
    git(repo, "config", "po.maxWorkers", "5")  # local wins over global
    git(repo, "config", "po.claudePath", "/opt/claude/bin/claude")
    rows = _config_rows(run_po(repo, "config").out)
    assert rows["po.maxWorkers"] == ("5", "local")
    assert rows["po.model"] == ("sonnet", "global")
    assert rows["po.integrationBranch"] == ("next", "global")
    assert rows["po.claudePath"] == ("/opt/claude/bin/claude", "local")
    assert rows["po.retries"] == ("0", "default")

    res = run_po(repo, "config", "--json")
    assert res.code == 0, res
    data = json.loads(res.out)
    assert data["schema_version"] == 2
    by_key = {s["key"]: s for s in data["settings"]}
    assert set(by_key) == set(config.KEYS)
    assert by_key["po.maxWorkers"]["value"] == "5"
    assert by_key["po.maxWorkers"]["origin"] == "local"
    assert by_key["po.maxWorkers"]["default"] == "3"
    assert by_key["po.timeout"]["value"] is None  # unset, no fixed default
    assert by_key["po.timeout"]["origin"] == "default"
    assert all(s["description"] for s in data["settings"])


def test_config_outside_a_repository_exits_4(tmp_path: Path) -> None:
    res = run_po(tmp_path, "config")
    assert res.code == 4, res


def _workers(out: str) -> int:
    head = out.splitlines()[0]  # "plan p: 1 tasks, base ..., at most N workers"
    return int(head.rsplit("at most ", 1)[1].split()[0])


def test_max_workers_precedence(repo: Path, tmp_path: Path) -> None:
    plain = write_plan(tmp_path, "plain", ONE_TASK)
    own = write_plan(tmp_path, "own", "max_workers = 2\n" + ONE_TASK)
    assert _workers(start(repo, plain, "--dry-run").out) == 3  # built-in default
    git(repo, "config", "po.maxWorkers", "5")
    assert _workers(start(repo, plain, "--dry-run").out) == 5  # git config
    assert _workers(start(repo, own, "--dry-run").out) == 2  # the plan wins over git config
    assert _workers(start(repo, own, "--dry-run", "-j", "4").out) == 4  # the option wins
    git(repo, "config", "po.maxWorkers", "many")
    res = start(repo, plain, "--dry-run")
    assert res.code == 2 and "po.maxWorkers" in res.err, res


def test_claude_path_precedence(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", ONE_TASK)
    git(repo, "config", "po.claudePath", str(tmp_path / "no-such-claude"))
    res = start(repo, plan, "--dry-run")
    assert res.code == 3, res
    assert "no-such-claude" in res.err
    fake = Path(__file__).resolve().parent / "fake_claude" / "claude"
    res = start(repo, plan, "--dry-run", "--claude", str(fake))
    assert res.code == 0, res


def test_defaults_fall_back_to_git_config_below_the_plan(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.model", "sonnet")
    git(repo, "config", "po.maxTurns", "7")
    plan = write_plan(
        tmp_path,
        "p",
        """
        [defaults]
        max_turns = 3

        [tasks.a]
        prompt = "Do a."

        [tasks.b]
        prompt = "Do b."
        model = "haiku"
        """,
    )
    env = fake_env(tmp_path)
    res = start(repo, plan, env=env)
    assert res.code == 0, res
    a, b = invocation(tmp_path, "a"), invocation(tmp_path, "b")
    assert a["args"]["model"] == "sonnet"  # from git config
    assert b["args"]["model"] == "haiku"  # the task's own value wins
    assert a["args"]["max_turns"] == 3 and b["args"]["max_turns"] == 3  # [defaults] wins
