"""Sealed test environment shared by every test.

Each test gets its own HOME, a fixed identity and fixed dates, GIT_CONFIG_NOSYSTEM=1 and no
inherited git or Anthropic variables, so nothing on the machine leaks in and nothing the code does
leaks out. Set GIT_PO_KEEP_TMP=1 to keep the temporary repositories for debugging.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_CLAUDE_DIR = ROOT / "tests" / "fake_claude"

_STRIP_PREFIXES = ("GIT_", "ANTHROPIC_", "CLAUDE_", "PO_", "FAKE_CLAUDE_")


@pytest.fixture(autouse=True)
def sealed_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME and a git identity/date that never change between runs."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(_STRIP_PREFIXES) or key in (
            "NO_COLOR",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "IS_SANDBOX",
        ):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
    monkeypatch.setenv("GIT_EDITOR", "false")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("LC_ALL", "C")
    # the fake claude comes first on PATH; the real one is never reached by the fast tier
    monkeypatch.setenv("PATH", os.pathsep.join([str(FAKE_CLAUDE_DIR), os.environ["PATH"]]))
    yield home
    if os.environ.get("GIT_PO_KEEP_TMP"):
        print(f"kept {tmp_path}", file=sys.stderr)


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git in cwd and return stdout (tests only)."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway repository with one commit on main."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("hello\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def po_cmd() -> list[str]:
    """argv prefix that runs git po from this checkout, whatever is installed."""
    return [sys.executable, "-m", "git_po"]


class PoResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"PoResult(code={self.code}, out={self.out!r}, err={self.err!r})"


def run_po(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> PoResult:
    """Run `git po ARGS` as a user would, in a subprocess, and capture everything."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(ROOT)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [*po_cmd(), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return PoResult(proc)


def refs(path: Path) -> dict[str, str]:
    """Every ref of the repository at path, name -> oid."""
    out = git(path, "for-each-ref", "--format=%(refname) %(objectname)")
    result: dict[str, str] = {}
    for line in out.splitlines():
        name, oid = line.split(" ", 1)
        result[name] = oid
    return result


__all__ = ["FAKE_CLAUDE_DIR", "ROOT", "PoResult", "git", "refs", "run_po"]
