"""Fixtures for the end-to-end tier: the real Claude Code CLI against a scripted Messages API.

The CLI is the npm package pinned in tests/e2e/package.json (installed into
tests/e2e/node_modules; `npm ci` is run once here when it is missing and npm is on PATH). When the
CLI cannot be had, every test here is skipped with the reason, unless GIT_PO_E2E_REQUIRED=1 is set
in the environment pytest starts with, which turns that into a failure (for CI).

The autouse `sealed_env` fixture of tests/conftest.py puts a FAKE `claude` first on PATH, so the
real CLI is always called by its full path (the `claude_cli` fixture).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.e2e.fake_api import FakeAnthropic

E2E_DIR = Path(__file__).resolve().parent
CLI_PATH = E2E_DIR / "node_modules" / ".bin" / "claude"

# taken before any fixture touches the environment: npm needs the user's own HOME, cache and
# registry settings, and GIT_PO_E2E_REQUIRED would be stripped by `sealed_env` (GIT_ prefix)
_ORIGINAL_ENV = dict(os.environ)
_REQUIRED = _ORIGINAL_ENV.get("GIT_PO_E2E_REQUIRED") == "1"

# CLI calls of the tests; the 529 test needs a couple of seconds of backoff
CLI_TIMEOUT = 60.0


def pinned_version() -> str:
    """The CLI version pinned in tests/e2e/package.json."""
    data = json.loads((E2E_DIR / "package.json").read_text())
    return str(data["dependencies"]["@anthropic-ai/claude-code"])


def _unavailable(reason: str) -> NoReturn:
    if _REQUIRED:
        pytest.fail(f"real Claude Code CLI required (GIT_PO_E2E_REQUIRED=1): {reason}")
    pytest.skip(reason)


def _npm_ci() -> str | None:
    """Install the pinned CLI once (across xdist workers); an error message on failure."""
    npm = shutil.which("npm", path=_ORIGINAL_ENV.get("PATH"))
    if npm is None:
        return "npm is not on PATH"
    digest = hashlib.sha256(str(E2E_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"git-po-e2e-npm-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if CLI_PATH.exists():
                return None
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=E2E_DIR,
                env=_ORIGINAL_ENV,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if proc.returncode != 0:
                return f"`npm ci` in {E2E_DIR} failed: {proc.stderr.strip()[-800:]}"
            return None
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def claude_cli() -> Path:
    """Full path of the real, pinned `claude` binary (skips the test when unavailable)."""
    if not CLI_PATH.exists():
        error = _npm_ci()
        if error is not None or not CLI_PATH.exists():
            _unavailable(f"real Claude Code CLI not installed in {E2E_DIR}: {error}")
    try:
        proc = subprocess.run(
            [str(CLI_PATH), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_ORIGINAL_ENV,
        )
    except OSError as exc:
        _unavailable(f"{CLI_PATH} does not run: {exc}")
    version = proc.stdout.strip()
    wanted = pinned_version()
    if proc.returncode != 0 or not version.startswith(wanted):
        _unavailable(
            f"{CLI_PATH} --version gave {version!r} (exit {proc.returncode}), want {wanted};"
            f" run `npm ci` in {E2E_DIR}. {proc.stderr.strip()[-400:]}"
        )
    return CLI_PATH


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    """A scripted Messages API on 127.0.0.1; add scripts with `fake_api.add_script`."""
    with FakeAnthropic() as api:
        yield api


@pytest.fixture
def claude_env(fake_api: FakeAnthropic, tmp_path: Path) -> dict[str, str]:
    """Environment additions that point a worker's CLI at the fake API, offline and quick."""
    config_dir = tmp_path / "claude-config"
    config_dir.mkdir()
    no_proxy = ",".join(
        part for part in ("127.0.0.1", "localhost", os.environ.get("NO_PROXY", "")) if part
    )
    return {
        "ANTHROPIC_BASE_URL": fake_api.base_url,
        "ANTHROPIC_API_KEY": "test-key",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "CLAUDE_CODE_MAX_RETRIES": "2",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


@dataclass
class ClaudeRun:
    """A finished CLI run with its stream-json events parsed."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        """The final `result` event (AssertionError when there is none)."""
        results = [e for e in self.events if e.get("type") == "result"]
        assert results, f"no result event in stream-json output:\n{self}"
        return results[-1]

    @property
    def init(self) -> dict[str, Any]:
        inits = [e for e in self.events if e.get("type") == "system" and e.get("subtype") == "init"]
        assert inits, f"no system/init event:\n{self}"
        return inits[0]

    def tool_results(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in self.events:
            if event.get("type") != "user":
                continue
            content = event.get("message", {}).get("content")
            if isinstance(content, list):
                out.extend(
                    b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"
                )
        return out

    def __str__(self) -> str:
        return (
            f"exit {self.code} after {self.seconds:.2f}s\n--- stdout\n{self.stdout[-4000:]}"
            f"\n--- stderr\n{self.stderr[-2000:]}"
        )


class ClaudeRunner:
    """Runs the real CLI headless in a directory with the worker environment."""

    def __init__(self, cli: Path, env: Mapping[str, str]) -> None:
        self.cli = cli
        self.env = dict(env)

    def __call__(
        self, cwd: Path, prompt: str, *args: str, timeout: float = CLI_TIMEOUT
    ) -> ClaudeRun:
        full_env = dict(os.environ)
        full_env.update(self.env)
        argv = [
            str(self.cli),
            "-p",
            prompt,
            "--output-format",
            "stream-json",
            "--verbose",
            # the permissions the README's Quick start gives a worker
            "--permission-mode",
            "acceptEdits",
            "--allowedTools",
            "Bash(git *)",
            "Edit",
            "Write",
            "Read",
            *args,
        ]
        start = time.monotonic()
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        run = ClaudeRun(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
        for line in proc.stdout.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(event, dict):
                run.events.append(event)
        return run


@pytest.fixture
def run_claude(claude_cli: Path, claude_env: dict[str, str]) -> ClaudeRunner:
    """`run_claude(cwd, prompt, *extra_args)`: the real CLI in stream-json mode, with the
    README's permissions (acceptEdits, git and the file tools allowed), against the fake API."""
    return ClaudeRunner(claude_cli, claude_env)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/e2e is an e2e test (`-m "not e2e"` deselects the tier)."""
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


__all__ = ["CLI_PATH", "E2E_DIR", "ClaudeRun", "ClaudeRunner", "pinned_version"]
