"""The code stays typed and linted, and CI runs exactly what the README tells a newcomer."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [m.group(1).strip() for m in re.finditer(r"^    (python3 -m venv .+)$", text, re.M)]


def test_readme_opens_with_demo_and_test_commands() -> None:
    commands = _readme_commands()
    assert len(commands) >= 2
    assert commands[0].endswith("git po demo")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in [line.strip() for line in ci]


def test_mypy_strict_is_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "git_po", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_is_clean() -> None:
    for args in (["check", "git_po", "tests"], ["format", "--check", "git_po"]):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
