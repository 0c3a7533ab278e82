"""The real Claude Code CLI, run headless against the scripted Messages API in fake_api.py.

(a)-(c) pin down the CLI behaviour git po relies on (real tool runs and commits, the stream-json
result, error reporting, --resume); (d) runs `git po start` on a diamond-shaped plan with the real
CLI as its workers.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, run_po
from tests.e2e.conftest import ClaudeRunner
from tests.e2e.fake_api import FINAL_TEXT, Fail, FakeAnthropic, Reply, bash, text

pytestmark = pytest.mark.e2e


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _subject(repo: Path, rev: str = "HEAD") -> str:
    return git(repo, "log", "-1", "--format=%s", rev).strip()


# --------------------------------------------------------------------------- (a)


def test_cli_runs_script_and_commits(
    repo: Path, fake_api: FakeAnthropic, run_claude: ClaudeRunner
) -> None:
    fake_api.add_script(
        "commit",
        [
            Reply(
                [
                    text("Creating src/a.py."),
                    bash(
                        "mkdir -p src && printf 'x' > src/a.py && git add -A"
                        " && git commit -q -m '[COMPLETE] did it'"
                    ),
                ]
            )
        ],
    )

    run = run_claude(repo, "Create src/a.py and commit it. [script:commit]")

    log = fake_api.describe()
    assert run.code == 0, f"{run}\n{log}"
    # the Bash tool really ran in the repository
    assert (repo / "src" / "a.py").read_text() == "x"
    assert _subject(repo) == "[COMPLETE] did it"
    assert git(repo, "status", "--porcelain") == ""
    assert [r["is_error"] for r in run.tool_results()] == [False], run
    # the stream ends in a successful result with a session id and a cost
    assert run.events[-1]["type"] == "result", run
    result = run.result
    assert result["is_error"] is False, run
    assert result["result"] == FINAL_TEXT
    assert result["session_id"] == run.init["session_id"]
    assert result["session_id"]
    assert result["total_cost_usd"] > 0, run
    # one request per turn: the scripted one, then the final text turn
    assert fake_api.turns_served("commit") == [0, 1], log
    assert all(r.stream for r in fake_api.message_requests()), log
    assert not fake_api.unknown_paths, log


# --------------------------------------------------------------------------- (b)


def test_cli_reports_529(repo: Path, fake_api: FakeAnthropic, run_claude: ClaudeRunner) -> None:
    fake_api.add_script("overloaded", [Fail(529)])
    head = git(repo, "rev-parse", "HEAD")

    run = run_claude(repo, "Do anything. [script:overloaded]")

    log = fake_api.describe()
    assert run.code == 1, f"{run}\n{log}"
    result = run.result
    assert result["is_error"] is True, run
    # either the retries run out (status 529), or, outside a sandbox (IS_SANDBOX unset, as
    # for users), the CLI stops at three 529s in a row with a text and no status: git po
    # classes both as overloaded (tests/e2e/test_real_resume.py)
    assert result["api_error_status"] == 529 or (
        result["api_error_status"] is None and "Repeated 529 Overloaded errors" in result["result"]
    ), run
    assert "529" in result["result"]
    # CLAUDE_CODE_MAX_RETRIES=2: the first try and two retries, all at turn 0
    retries = [e for e in run.events if e.get("subtype") == "api_retry"]
    assert [e["error_status"] for e in retries] == [529, 529], run
    assert fake_api.turns_served("overloaded") == [0, 0, 0], log
    assert git(repo, "rev-parse", "HEAD") == head


# --------------------------------------------------------------------------- (c)


def test_resume_continues_session(
    repo: Path, fake_api: FakeAnthropic, run_claude: ClaudeRunner
) -> None:
    fake_api.add_script(
        "twostep",
        [
            Reply(
                [
                    bash(
                        "printf 'one\\n' > step.txt && git add -A"
                        " && git commit -q -m '[CHECKPOINT] step one'"
                    )
                ]
            ),
            Reply([text("Step one is committed; stopping here.")]),
            Reply(
                [
                    bash(
                        "printf 'two\\n' >> step.txt && git add -A"
                        " && git commit -q -m '[COMPLETE] step two'"
                    )
                ]
            ),
        ],
    )

    first = run_claude(repo, "Do two steps, pause after the first. [script:twostep]")

    assert first.code == 0, f"{first}\n{fake_api.describe()}"
    assert first.result["is_error"] is False
    assert first.result["result"] == "Step one is committed; stopping here."
    assert _subject(repo) == "[CHECKPOINT] step one"
    session = first.result["session_id"]
    assert session
    assert fake_api.turns_served("twostep") == [0, 1]

    second = run_claude(repo, "Continue.", "--resume", session)

    log = fake_api.describe()
    assert second.code == 0, f"{second}\n{log}"
    assert second.result["is_error"] is False, second
    assert second.result["session_id"] == session
    assert second.result["total_cost_usd"] > 0
    assert (repo / "step.txt").read_text() == "one\ntwo\n"
    assert git(repo, "log", "--format=%s", "-2").splitlines() == [
        "[COMPLETE] step two",
        "[CHECKPOINT] step one",
    ]
    # the resumed run carried the whole conversation, so the stateless fake went on at turn 2
    assert fake_api.turns_served("twostep") == [0, 1, 2, 3], log


# --------------------------------------------------------------------------- (d)

PLAN = """\
name = "shop"
max_workers = 2

[defaults]
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Edit", "Write", "Read"]

[tasks.models]
prompt = "Write shop/models.py [script:models]"
writes = ["shop/models.py"]

[tasks.api]
prompt = "Write shop/api.py on top of the models [script:api]"
depends_on = ["models"]
writes = ["shop/api.py"]

[tasks.cli]
prompt = "Write shop/cli.py on top of the models [script:cli]"
depends_on = ["models"]
writes = ["shop/cli.py"]

[tasks.docs]
prompt = "Document the api and the cli in docs/ [script:docs]"
depends_on = ["api", "cli"]
writes = ["docs/**"]
"""


def _module_script(task: str, path: str, first: str, second: str) -> list[Reply | Fail]:
    return [
        Reply(
            [
                text(f"Writing {path}."),
                bash(
                    f"mkdir -p shop && printf '{first}' > {path} && git add -A"
                    f" && git commit -q -m '[CHECKPOINT] {task}'"
                ),
            ]
        ),
        Reply(
            [
                bash(
                    f"printf '{second}' >> {path} && git add -A"
                    f" && git commit -q -m '[COMPLETE] {task}'"
                )
            ]
        ),
    ]


_DEPS = "test -f shop/models.py && test -f shop/api.py && test -f shop/cli.py"
_BLOCKED = "git commit -q --allow-empty -m '[BLOCKED:deps missing]'"


def _diamond_scripts() -> dict[str, list[Reply | Fail]]:
    return {
        "models": _module_script(
            "models", "shop/models.py", "class Item:\\n    pass\\n", "\\nclass Order:\\n    pass\\n"
        ),
        "api": _module_script(
            "api", "shop/api.py", "from shop.models import Item\\n", "\\ndef get() -> None: ...\\n"
        ),
        "cli": _module_script(
            "cli",
            "shop/cli.py",
            "from shop.models import Order\\n",
            "\\ndef main() -> None: ...\\n",
        ),
        # the dependent task must see its dependencies' files, else it reports itself blocked
        "docs": [
            Reply(
                [
                    bash(
                        f"if {_DEPS}; then mkdir -p docs && printf '# Shop\\n' > docs/index.md"
                        " && git add -A && git commit -q -m '[CHECKPOINT] docs';"
                        f" else {_BLOCKED}; fi"
                    )
                ]
            ),
            Reply(
                [
                    bash(
                        f"if {_DEPS} && test -f docs/index.md; then"
                        " printf 'See shop/api.py and shop/cli.py.\\n' >> docs/index.md"
                        " && git add -A && git commit -q -m '[COMPLETE] docs';"
                        f" else {_BLOCKED}; fi"
                    )
                ]
            ),
        ],
    }


@pytest.mark.skipif(
    not _has_module("git_po.scheduler"), reason="git po core (git_po.scheduler) not there yet"
)
def test_git_po_diamond_plan(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    for name, turns in _diamond_scripts().items():
        fake_api.add_script(name, turns)
    (repo / "plan.toml").write_text(PLAN)
    git(repo, "add", "plan.toml")
    git(repo, "commit", "-q", "-m", "Add plan")
    head = git(repo, "rev-parse", "HEAD").strip()
    branch = git(repo, "symbolic-ref", "HEAD").strip()
    status_before = git(repo, "status", "--porcelain")

    start = run_po(
        repo, "start", "plan.toml", "--claude", str(claude_cli), env=claude_env, timeout=90
    )

    log = fake_api.describe()
    assert start.code == 0, f"{start}\n{log}"

    status = run_po(repo, "status", "shop", "--json", env=claude_env)
    assert status.code == 0, status
    data: dict[str, Any] = json.loads(status.out)
    assert data["plan"] == "shop"
    tasks = {t["task"]: t for t in data["tasks"]}
    assert set(tasks) == {"models", "api", "cli", "docs"}, data
    for task_id, task in tasks.items():
        assert task["state"] == "complete", (task_id, data, log)
        assert task["session_id"], (task_id, data)
        assert task["cost_usd"] > 0, (task_id, data)
        assert task["branch"], (task_id, data)
    assert tasks["docs"]["branch"] == "po/shop/docs"

    # every worker talked to the fake, and docs only started once api and cli had finished
    for name in ("models", "api", "cli", "docs"):
        assert fake_api.turns_served(name)[:3] == [0, 1, 2], (name, log)
    requests = fake_api.message_requests()
    first_docs = min(r.index for r in requests if r.script == "docs")
    for dep in ("models", "api", "cli"):
        assert max(r.index for r in requests if r.script == dep) < first_docs, log

    # the dependent task saw its dependencies' work and says so in its commits
    docs_log = git(repo, "log", "--format=%s", "po/shop/docs")
    assert "[COMPLETE] docs" in docs_log, docs_log
    assert "[BLOCKED" not in docs_log, docs_log
    assert git(repo, "show", "po/shop/docs:shop/api.py").startswith("from shop.models import")
    assert git(repo, "show", "po/shop/docs:shop/cli.py").startswith("from shop.models import")
    assert "class Order" in git(repo, "show", "po/shop/docs:shop/models.py")
    assert "shop/api.py" in git(repo, "show", "po/shop/docs:docs/index.md")

    # the user's checkout is untouched
    assert git(repo, "rev-parse", "HEAD").strip() == head
    assert git(repo, "symbolic-ref", "HEAD").strip() == branch
    assert git(repo, "status", "--porcelain") == status_before
    assert not fake_api.unknown_paths, log
