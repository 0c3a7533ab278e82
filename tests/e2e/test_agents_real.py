"""The real Codex CLI (`codex exec --json`) and Gemini CLI (`gemini --output-format
stream-json`), pinned in tests/e2e/package.json, as git po's workers against the scripted APIs in
fake_models.py: for each, a worker that edits files and commits [COMPLETE], one that resumes its
session after a stop, one that hits a 429; and a plan that mixes claude, codex and shell workers.

Codex is pointed at the fake with a model provider in $CODEX_HOME/config.toml (0.171's built-in
provider does not read OPENAI_BASE_URL); Gemini CLI with GOOGLE_GEMINI_BASE_URL and an API key
chosen in its settings.json. Workers run with permission_mode = "acceptEdits", as the README
documents for each.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import git, run_po
from tests.e2e.conftest import _ORIGINAL_ENV, _REQUIRED, E2E_DIR
from tests.e2e.fake_api import FakeAnthropic, Reply, bash
from tests.e2e.fake_models import Fail, FakeResponses, Run, Say, Write

pytestmark = pytest.mark.e2e


def _real_cli(name: str, package: str) -> Path:
    """The pinned CLI in tests/e2e/node_modules (skipped when absent, unless CI requires it)."""
    exe = E2E_DIR / "node_modules" / ".bin" / name
    pinned = str(json.loads((E2E_DIR / "package.json").read_text())["dependencies"][package])
    # no `npm ci` from here: node_modules may be shared with other checkouts (.ci/run installs)
    why = None
    if not exe.exists():
        why = f"{exe} is not installed (npm ci in {E2E_DIR})"
    else:
        out = subprocess.run(
            [str(exe), "--version"], capture_output=True, text=True, env=_ORIGINAL_ENV, timeout=60
        )
        if pinned not in out.stdout:
            why = f"{exe} --version is {out.stdout.strip()!r}, want {pinned}"
    if why:
        if _REQUIRED:
            pytest.fail(f"real {package} required (GIT_PO_E2E_REQUIRED=1): {why}")
        pytest.skip(why)
    return exe


@pytest.fixture(scope="session")
def codex_cli() -> Path:
    return _real_cli("codex", "@openai/codex")


@pytest.fixture(scope="session")
def gemini_cli() -> Path:
    return _real_cli("gemini", "@google/gemini-cli")


@pytest.fixture
def responses() -> Iterator[FakeResponses]:
    with FakeResponses() as api:
        yield api


@pytest.fixture
def codex_env(
    responses: FakeResponses, tmp_path: Path, codex_cli: Path, repo: Path
) -> dict[str, str]:
    """CODEX_HOME with a model provider that is the fake; git config names the real CLI."""
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"""model = "gpt-test"
model_provider = "fake"
[model_providers.fake]
name = "fake"
base_url = "{responses.base_url}"
env_key = "OPENAI_API_KEY"
wire_api = "responses"
supports_websockets = false
request_max_retries = 0
stream_max_retries = 0
"""
    )
    git(repo, "config", "po.agent.codex.executable", str(codex_cli))
    git(repo, "config", "po.retryDelay", "0")
    git(repo, "config", "po.cooldown", "0")
    no_proxy = "127.0.0.1,localhost"
    return {
        "CODEX_HOME": str(home),
        "OPENAI_API_KEY": "sk-test",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def _plan(repo: Path, text: str) -> Path:
    path = repo.parent / "plans" / "cx.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def _status(repo: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    res = run_po(repo, "status", "cx", "--json", env=env)
    assert res.code == 0, res
    return {t["task"]: t for t in json.loads(res.out)["tasks"]}


COMMIT = "printf 'hello\\n' > {f} && git add -A && git commit -q -m '{subject}'"
GIT_COMMIT = "git add -A && git commit -q -m '{subject}'"


def test_codex_worker_edits_commits_and_reports(
    repo: Path, responses: FakeResponses, codex_env: dict[str, str]
) -> None:
    responses.add_script(
        "w", [Run(COMMIT.format(f="hello.txt", subject="[COMPLETE] hello")), Say("Done.")]
    )
    plan = _plan(
        repo,
        '[defaults]\nagent = "codex"\npermission_mode = "acceptEdits"\n'
        '[tasks.hello]\nprompt = "Write hello.txt. [script:w]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=codex_env, timeout=120)
    assert res.code == 0, f"{res}\n{responses.describe()}"
    st = _status(repo, codex_env)["hello"]
    assert st["state"] == "complete", st
    assert st["agent"] == "codex"
    assert st["session_id"], st
    assert git(repo, "show", "po/cx/hello:hello.txt") == "hello\n"
    assert git(repo, "log", "-1", "--format=%s", "po/cx/hello").strip() == "[COMPLETE] hello"
    assert responses.turns_served("w") == [0, 1]
    logs = run_po(repo, "logs", "cx/hello", env=codex_env)
    assert logs.code == 0, logs
    assert "command_execution" in logs.out and "Done." in logs.out, logs.out


def test_codex_resumes_its_session_after_a_stop(
    repo: Path, responses: FakeResponses, codex_env: dict[str, str]
) -> None:
    responses.add_script(
        "r",
        [
            Run(COMMIT.format(f="a.txt", subject="[CHECKPOINT] a")),
            Say("Stopping here."),
            Run(COMMIT.format(f="b.txt", subject="[COMPLETE] a and b")),
        ],
    )
    plan = _plan(
        repo,
        '[tasks.ab]\nagent = "codex"\npermission_mode = "acceptEdits"\nretries = 1\n'
        'prompt = "Write a.txt then b.txt. [script:r]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=codex_env, timeout=180)
    log = responses.describe()
    assert res.code == 0, f"{res}\n{log}"
    st = _status(repo, codex_env)["ab"]
    assert st["state"] == "complete", st
    # the second attempt continued the script: its history came back with `codex exec resume`
    assert responses.turns_served("r") == [0, 1, 2, 3], log
    state = git(repo, "show", "refs/po/cx/tasks/ab:state.toml")
    assert state.count("resumed_session") == 1, state
    assert git(repo, "show", "po/cx/ab:b.txt") == "hello\n"


def test_codex_429_is_a_rate_limit(
    repo: Path, responses: FakeResponses, codex_env: dict[str, str]
) -> None:
    responses.add_script("l", [Fail(429, "Rate limit reached for gpt-test")])
    plan = _plan(
        repo,
        '[tasks.lim]\nagent = "codex"\npermission_mode = "acceptEdits"\n'
        'prompt = "Anything. [script:l]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=codex_env, timeout=180)
    assert res.code != 0, res
    st = _status(repo, codex_env)["lim"]
    assert st["state"] == "failed", st
    assert "rate limit" in str(st["reason"]).lower(), (st, responses.describe())


def test_mixed_plan_claude_codex_shell(
    repo: Path,
    responses: FakeResponses,
    codex_env: dict[str, str],
    fake_api: FakeAnthropic,
    claude_cli: Path,
    claude_env: dict[str, str],
) -> None:
    responses.add_script("cx", [Run(COMMIT.format(f="codex.txt", subject="[COMPLETE] codex"))])
    fake_api.add_script(
        "cl", [Reply([bash(COMMIT.format(f="claude.txt", subject="[COMPLETE] claude"))])]
    )
    plan = _plan(
        repo,
        """
[defaults]
permission_mode = "acceptEdits"
[tasks.by-claude]
agent = "claude"
allowed_tools = ["Bash(git *)", "Bash(printf *)", "Edit", "Write", "Read"]
prompt = "Write claude.txt. [script:cl]"
[tasks.by-codex]
agent = "codex"
prompt = "Write codex.txt. [script:cx]"
[tasks.by-shell]
agent = "shell"
depends_on = ["by-claude", "by-codex"]
run = "cat claude.txt codex.txt > both.txt && git add -A && git commit -q -m '[COMPLETE] both'"
""",
    )
    env = {**claude_env, **codex_env}
    res = run_po(
        repo, "start", str(plan), "--no-live", "--claude", str(claude_cli), env=env, timeout=180
    )
    assert res.code == 0, f"{res}\n{responses.describe()}\n{fake_api.describe()}"
    tasks = _status(repo, env)
    assert {t: s["state"] for t, s in tasks.items()} == {
        "by-claude": "complete",
        "by-codex": "complete",
        "by-shell": "complete",
    }
    assert {t: s["agent"] for t, s in tasks.items()} == {
        "by-claude": "claude",
        "by-codex": "codex",
        "by-shell": "shell",
    }
    assert git(repo, "show", "po/cx/by-shell:both.txt") == "hello\nhello\n"


# --------------------------------------------------------------------------- gemini


@pytest.fixture
def gemini_env(
    responses: FakeResponses, tmp_path: Path, gemini_cli: Path, repo: Path
) -> dict[str, str]:
    """A HOME whose settings choose API-key auth; the base URL is the fake."""
    home = tmp_path / "gemini-home"
    (home / ".gemini").mkdir(parents=True)
    (home / ".gemini" / "settings.json").write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},
            }
        )
    )
    git(repo, "config", "po.agent.gemini.executable", str(gemini_cli))
    git(repo, "config", "po.retryDelay", "0")
    git(repo, "config", "po.cooldown", "0")
    no_proxy = "127.0.0.1,localhost"
    return {
        "HOME": str(home),
        "GOOGLE_GEMINI_BASE_URL": responses.base_url.removesuffix("/v1"),
        "GEMINI_API_KEY": "test-key",
        "GEMINI_CLI_NO_RELAUNCH": "true",  # no second node process with a bigger heap
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def test_gemini_worker_edits_commits_and_reports(
    repo: Path, responses: FakeResponses, gemini_env: dict[str, str]
) -> None:
    # acceptEdits: files through write_file, git through the shell (nothing else runs there)
    responses.add_script(
        "g",
        [
            Write("hello.txt", "hello\n"),
            Run(GIT_COMMIT.format(subject="[COMPLETE] hello")),
            Say("Done."),
        ],
    )
    plan = _plan(
        repo,
        '[defaults]\nagent = "gemini"\npermission_mode = "acceptEdits"\n'
        'model = "gemini-2.5-flash"\n[tasks.hello]\nprompt = "Write hello.txt. [script:g]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=gemini_env, timeout=120)
    assert res.code == 0, f"{res}\n{responses.describe()}"
    st = _status(repo, gemini_env)["hello"]
    assert (st["state"], st["agent"]) == ("complete", "gemini"), st
    assert st["session_id"], st
    assert git(repo, "show", "po/cx/hello:hello.txt") == "hello\n"
    assert responses.turns_served("g") == [0, 1, 2], responses.describe()
    logs = run_po(repo, "logs", "cx/hello", env=gemini_env)
    assert logs.code == 0, logs
    assert "[tool_use]" in logs.out and "Done." in logs.out, logs.out


def test_gemini_resumes_its_session_after_a_stop(
    repo: Path, responses: FakeResponses, gemini_env: dict[str, str]
) -> None:
    responses.add_script(
        "gr",
        [
            Write("a.txt", "hello\n"),
            Run(GIT_COMMIT.format(subject="[CHECKPOINT] a")),
            Say("Stopping here."),
            Write("b.txt", "hello\n"),
            Run(GIT_COMMIT.format(subject="[COMPLETE] a and b")),
        ],
    )
    plan = _plan(
        repo,
        '[tasks.ab]\nagent = "gemini"\npermission_mode = "acceptEdits"\nretries = 1\n'
        'model = "gemini-2.5-flash"\nprompt = "Write a.txt then b.txt. [script:gr]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=gemini_env, timeout=180)
    log = responses.describe()
    assert res.code == 0, f"{res}\n{log}"
    assert _status(repo, gemini_env)["ab"]["state"] == "complete"
    # the second attempt's request carried the first one's history (--resume SESSION)
    assert responses.turns_served("gr") == [0, 1, 2, 3, 4, 5], log
    state = git(repo, "show", "refs/po/cx/tasks/ab:state.toml")
    assert state.count("resumed_session") == 1, state


def test_gemini_429_is_a_rate_limit(
    repo: Path, responses: FakeResponses, gemini_env: dict[str, str]
) -> None:
    # the text of a real free-tier quota error; gemini gives up on it at once (limit: 0)
    responses.add_script(
        "gl",
        [
            Fail(
                429,
                "You exceeded your current quota. Quota exceeded for metric: "
                "generativelanguage.googleapis.com/generate_content_free_tier_requests, "
                "limit: 0, model: gemini-2.5-flash",
            )
        ],
    )
    plan = _plan(
        repo,
        '[tasks.lim]\nagent = "gemini"\npermission_mode = "acceptEdits"\n'
        'model = "gemini-2.5-flash"\nprompt = "Anything. [script:gl]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=gemini_env, timeout=180)
    assert res.code != 0, res
    st = _status(repo, gemini_env)["lim"]
    assert st["state"] == "failed", st
    assert "rate limit" in str(st["reason"]).lower(), (st, responses.describe())


# --------------------------------------------------------------------------- aider

AIDER = E2E_DIR / ".aider-venv" / "bin" / "aider"


@pytest.fixture(scope="session")
def aider_cli() -> Path:
    """The real aider, pinned in tests/e2e/aider-requirements.txt, in a venv of its own."""
    req = (E2E_DIR / "aider-requirements.txt").read_text()
    pinned = next(x.split("==")[1] for x in req.splitlines() if x.startswith("aider-chat=="))
    why = None
    if not AIDER.exists():
        why = f"{AIDER} is not installed (.ci/run makes tests/e2e/.aider-venv)"
    else:
        out = subprocess.run(
            [str(AIDER), "--version"],
            capture_output=True,
            text=True,
            env=_ORIGINAL_ENV,
            timeout=120,
        )
        if pinned not in out.stdout:
            why = f"{AIDER} --version is {out.stdout.strip()!r}, want {pinned}"
    if why:
        if _REQUIRED:
            pytest.fail(f"real aider required (GIT_PO_E2E_REQUIRED=1): {why}")
        pytest.skip(why)
    return AIDER


@pytest.fixture
def aider_env(responses: FakeResponses, aider_cli: Path, repo: Path) -> dict[str, str]:
    git(repo, "config", "po.agent.aider.executable", str(aider_cli))
    git(repo, "config", "po.retryDelay", "0")
    git(repo, "config", "po.cooldown", "0")
    no_proxy = "127.0.0.1,localhost"
    return {
        "OPENAI_API_BASE": responses.base_url,
        "OPENAI_API_KEY": "sk-test",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def test_aider_edits_and_its_work_is_kept_as_a_checkpoint(
    repo: Path, responses: FakeResponses, aider_env: dict[str, str]
) -> None:
    # headless aider edits files but runs no shell command: no protocol commit of its own
    responses.add_script("ad", [Write("hello.txt", "hello\n")])
    plan = _plan(
        repo,
        '[tasks.hello]\nagent = "aider"\nmodel = "openai/gpt-test"\n'
        'prompt = "Write hello.txt. [script:ad]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=aider_env, timeout=240)
    log = responses.describe()
    assert res.code != 0, f"{res}\n{log}"
    st = _status(repo, aider_env)["hello"]
    assert (st["state"], st["agent"]) == ("failed", "aider"), st
    assert st["last_outcome"] == "no-progress", st
    assert st["input_tokens"] == 100 and st["output_tokens"] == 20, st
    # its edit is on the branch, auto-saved, and nothing of aider's own came with it
    assert git(repo, "show", "po/cx/hello:hello.txt") == "hello\n"
    files = git(repo, "ls-tree", "-r", "--name-only", "po/cx/hello").split()
    assert not [f for f in files if f.startswith(".aider")], files
    assert responses.turns_served("ad")[:1] == [0], log


def test_aider_429_is_a_rate_limit(
    repo: Path, responses: FakeResponses, aider_env: dict[str, str]
) -> None:
    responses.add_script("al", [Fail(429, "Rate limit reached for gpt-test")])
    plan = _plan(
        repo,
        '[tasks.lim]\nagent = "aider"\nmodel = "openai/gpt-test"\n'
        'prompt = "Anything. [script:al]"\n',
    )
    res = run_po(repo, "start", str(plan), "--no-live", env=aider_env, timeout=300)
    assert res.code != 0, res
    st = _status(repo, aider_env)["lim"]
    assert st["state"] == "failed", st
    assert "rate limit" in str(st["reason"]).lower(), (st, responses.describe())
