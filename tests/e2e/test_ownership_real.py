"""Ownership with the real Claude Code CLI as the worker (acceptEdits, as the README documents),
against the scripted Messages API: a commit that changes a file another task owns is refused by
git po's commit hook, the agent is told which file and whose it is, and its next commit, without
that file, goes through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.e2e.fake_api import FakeAnthropic, Reply, bash, text

pytestmark = pytest.mark.e2e

PLAN = """\
name = "shop"

[defaults]
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Edit", "Write", "Read"]

[tasks.models]
prompt = "Write shop/models.py [script:models]"
writes = ["shop/models.py"]

[tasks.api]
prompt = "Write shop/api.py [script:api]"
writes = ["shop/api.py"]
"""


def test_a_real_worker_is_refused_outside_its_writes_and_then_fixes_it(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    fake_api.add_script(
        "models",
        [
            Reply(
                [
                    bash(
                        "mkdir -p shop && printf 'class Order: ...\\n' > shop/models.py"
                        " && git add -A && git commit -q -m '[COMPLETE] models'"
                    )
                ]
            )
        ],
    )
    fake_api.add_script(
        "api",
        [
            Reply(
                [
                    text("Writing the API, and a model it needs."),
                    bash(
                        "mkdir -p shop && printf 'def get() -> None: ...\\n' > shop/api.py"
                        " && printf 'class Item: ...\\n' > shop/models.py"
                        " && git add -A && git commit -q -m '[CHECKPOINT] api'"
                    ),
                ]
            ),
            Reply(
                [
                    text("shop/models.py belongs to the models task: taking it out."),
                    bash("git rm -q -f shop/models.py && git commit -q -m '[COMPLETE] api'"),
                ]
            ),
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
        timeout=120,
    )
    log = fake_api.describe()
    assert started.code == 0, f"{started}\n{log}"

    # what the agent was told after its first commit: the refusal, naming the file and its owner
    second = fake_api.message_requests("api")[1]
    told = json.dumps(second.body)
    assert "commit refused: task api owns only shop/api.py" in told, log
    assert "shop/models.py  (owned by task models)" in told, log

    # its branch holds only its own file, and no trace of the refused commit
    base = "refs/po/shop/bases/api"
    assert git(repo, "diff", "--name-only", base, "po/shop/api").split() == ["shop/api.py"]
    assert git(repo, "log", "--format=%s", f"{base}..po/shop/api").splitlines() == [
        "[COMPLETE] api"
    ]
    assert git(repo, "show", "po/shop/models:shop/models.py") == "class Order: ...\n"
    diff = run_po(repo, "diff", "api", "--name-only", env=claude_env)
    assert diff.code == 0 and diff.out.split() == ["shop/api.py"]
