"""Ownership enforced where a worker commits: a commit that changes files outside its task's
`writes` is refused by git po's commit hook, naming the files and the tasks that own them, and
the worker can put them back and commit again; `writes_policy = "warn"` lets it through with the
same message; a bad policy is a plan error. `git po diff TASK` shows a task's change."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, run_po
from tests.helpers import fake_env, start, status_json, tasks_by_id, write_plan

TWO = """
[tasks.api]
prompt = "Write the API."
writes = ["shop/api.py"]
{policy}

[tasks.models]
prompt = "Write the models."
writes = ["shop/models/**"]
"""

TRESPASS = [
    {"write": "shop/api.py", "content": "api = 1\n"},
    {"write": "shop/models/order.py", "content": "class Order: ...\n"},
    {"write": "notes.txt", "content": "mine\n"},
    {"commit": "[CHECKPOINT] api and a bit more"},
]
FIX = [
    {"bash": "rm -f shop/models/order.py notes.txt && git add -A"},
    {"commit": "[COMPLETE] api"},
]


def _models() -> list[dict[str, object]]:
    return [
        {"write": "shop/models/order.py", "content": "class Order:\n    id = 0\n"},
        {"commit": "[COMPLETE] models"},
    ]


def _files(repo: Path, task: str) -> set[str]:
    out = git(repo, "diff", "--name-only", f"refs/po/p/bases/{task}", f"po/p/{task}")
    return set(out.split())


def test_a_commit_outside_writes_is_refused_naming_the_owner_and_then_fixed(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "p", TWO.format(policy=""))
    env = fake_env(tmp_path, {"api": TRESPASS + FIX, "models": _models()})
    res = start(repo, plan, env=env)
    assert res.code == 0, res
    assert _files(repo, "api") == {"shop/api.py"}
    subjects = git(repo, "log", "--format=%s", "po/p/api").splitlines()
    assert "[CHECKPOINT] api and a bit more" not in subjects  # the refused commit never landed
    logs = run_po(repo, "logs", "api")
    assert logs.code == 0
    assert "commit refused: task api owns only shop/api.py" in logs.out
    assert "shop/models/order.py  (owned by task models)" in logs.out
    assert "notes.txt  (owned by no task)" in logs.out
    assert "git restore --staged --worktree" in logs.out  # how to fix it


def test_writes_policy_warn_lets_the_commit_through_with_the_message(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "p", TWO.format(policy='writes_policy = "warn"'))
    script = [*TRESPASS, {"commit": "[COMPLETE] api"}]
    res = start(repo, plan, env=fake_env(tmp_path, {"api": script, "models": _models()}))
    # models overlaps api's commit, but api kept going: both complete
    assert res.code == 0, res
    assert _files(repo, "api") == {"shop/api.py", "shop/models/order.py", "notes.txt"}
    raw = run_po(repo, "logs", "api", "--raw").out  # what the agent was told, in full
    assert "warning: task api owns only shop/api.py" in raw
    assert "shop/models/order.py  (owned by task models)" in raw
    assert "committed anyway: writes_policy" in raw


def test_a_task_without_writes_commits_anything(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", '[tasks.free]\nprompt = "Anything."\n')
    script = [
        {"write": "a/b.txt", "content": "x\n"},
        {"write": "c.txt", "content": "y\n"},
        {"commit": "[COMPLETE] free"},
    ]
    assert start(repo, plan, env=fake_env(tmp_path, {"free": script})).code == 0
    assert _files(repo, "free") == {"a/b.txt", "c.txt"}


def test_writes_policy_is_validated(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", TWO.format(policy='writes_policy = "strict"'))
    res = run_po(repo, "start", "--dry-run", str(plan))
    assert res.code == 2
    assert "writes_policy must be one of 'enforce', 'warn', not 'strict'" in res.err
    schema = run_po(repo, "schema").out
    assert '"writes_policy"' in schema


def test_diff_shows_the_task_change_against_its_base(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", TWO.format(policy=""))
    env = fake_env(
        tmp_path, {"api": [*TRESPASS[:1], {"commit": "[COMPLETE] api"}], "models": _models()}
    )
    assert start(repo, plan, env=env).code == 0
    names = run_po(repo, "diff", "api", "--name-only")
    assert names.code == 0 and names.out.split() == ["shop/api.py"]
    stat = run_po(repo, "diff", "p/api", "--stat")
    assert "shop/api.py | 1 +" in stat.out and "1 file changed" in stat.out
    full = run_po(repo, "diff", "api")
    assert "+api = 1" in full.out and "\x1b[" not in full.out  # no colour in a pipe
    coloured = run_po(repo, "diff", "api", "--color=always")
    assert "\x1b[32mapi = 1" in coloured.out and "\x1b[1mdiff --git" in coloured.out
    assert tasks_by_id(status_json(repo))["models"]["state"] == "complete"
    missing = run_po(repo, "diff", "nope")
    assert missing.code == 6 and "no task" in missing.err.lower()
