"""The manual and the completions are installed by `pip install`: build the wheel, install it
into a fresh prefix, and ask man and git for the page as a user would."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip()[-400:]}")
    (found,) = out.glob("*.whl")
    return found


def test_wheel_ships_the_manual_completions_and_hook(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = next(n.split("/data/")[0] for n in names if "/data/" in n)
    for path in (
        f"{data}/data/share/man/man1/git-po.1",
        f"{data}/data/share/bash-completion/completions/git-po",
        f"{data}/data/share/zsh/site-functions/_git-po",
        f"{data}/data/share/fish/vendor_conf.d/git-po.fish",
        "git_po/_completions/git-po.bash",
        "git_po/_completions/git-po.zsh",
        "git_po/_completions/git-po.fish",
        "git_po/_hooks/commit-msg",
    ):
        assert path in names, path


def _installed() -> list[str]:
    """Where a git-po distribution is installed in this environment (read afresh)."""
    return sorted(
        str(d.locate_file(""))
        for d in importlib.metadata.distributions()
        if (d.metadata["Name"] or "").lower() == "git-po"
    )


@pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")
def test_git_help_po_shows_the_installed_manual(wheel: Path, tmp_path: Path) -> None:
    before = _installed()
    prefix = tmp_path / "prefix"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            # never touch the git po installed in the environment running the tests (without
            # this, pip uninstalls it before installing into the other prefix)
            "--ignore-installed",
            "--prefix",
            str(prefix),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    # the git po of the environment running the tests is still installed, where it was
    assert _installed() == before
    page = prefix / "share" / "man" / "man1" / "git-po.1"
    assert page.is_file()
    env = {k: v for k, v in os.environ.items() if k not in ("MANPATH", "MANOPT")}
    env["PATH"] = os.pathsep.join([str(prefix / "bin"), env["PATH"]])
    env["MANPAGER"] = env["PAGER"] = "cat"
    env["MANWIDTH"] = "80"
    # man-db finds <prefix>/share/man from <prefix>/bin on PATH: nothing to configure
    where = subprocess.run(["man", "-w", "git-po"], env=env, capture_output=True, text=True)
    assert where.stdout.strip() == str(page), where.stderr
    for argv in (["git", "help", "po"], ["git", "po", "--help"]):
        shown = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=tmp_path)
        assert shown.returncode == 0, (argv, shown.stderr)
        text = shown.stdout
        assert "git-po - run coding agents in parallel" in text, argv
        for heading in ("SYNOPSIS", "COMMANDS", "THE PLAN", "EXIT STATUS", "EXAMPLES"):
            assert heading in text
        assert "git po logs" in text and "git po attach" in text
