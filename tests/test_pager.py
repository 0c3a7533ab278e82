"""`logs` and `show` page like `git log` (git var GIT_PAGER, LESS=FRX unless set, only on a
terminal, never twice), colour follows git's pager (GIT_PAGER_IN_USE), and every command takes
--color, -q and -v."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.helpers import fake_env, po_env, start, write_plan

ESC = "\x1b["


def _on_tty(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """git po ARGS with a terminal as stdin and stdout; what the terminal showed."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "git_po", *args],
        cwd=repo,
        env=po_env(env),
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    began = time.monotonic()
    while time.monotonic() - began < 60:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            out += data
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")


@pytest.fixture
def ran(repo: Path, tmp_path: Path) -> Path:
    plan = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan, env=fake_env(tmp_path)).code == 0
    return repo


def _pager(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A pager that keeps what it was given and the environment it ran in."""
    script = tmp_path / "pager.sh"
    seen, env = tmp_path / "paged.txt", tmp_path / "pager-env.txt"
    script.write_text(
        f"#!/bin/sh\nenv | grep -E '^(LESS|LV|GIT_PAGER_IN_USE)=' | sort > '{env}'\n"
        f"cat > '{seen}'\n"
    )
    script.chmod(0o755)
    return script, seen, env


def test_logs_and_show_go_through_git_pager_on_a_terminal(ran: Path, tmp_path: Path) -> None:
    script, seen, env = _pager(tmp_path)
    code, shown = _on_tty(ran, "logs", "a", env={"GIT_PAGER": str(script)})
    assert code == 0, shown
    paged = seen.read_text()
    assert "p/a attempt 1/1" in paged and "p/a attempt" not in shown  # all of it went there
    assert ESC in paged  # colour kept under the pager
    assert env.read_text().splitlines() == ["GIT_PAGER_IN_USE=true", "LESS=FRX", "LV=-c"]
    seen.unlink()
    # core.pager, found by git var; the user's LESS is kept
    git(ran, "config", "core.pager", str(script))
    code, _ = _on_tty(ran, "show", "a", env={"LESS": "-R"})
    assert code == 0
    assert "branch" in seen.read_text() and "LESS=-R" in env.read_text()
    seen.unlink()
    code, _ = _on_tty(ran, "show", "a", "--color=never")
    assert code == 0 and ESC not in seen.read_text()


def test_no_pager_in_a_pipe_nor_under_gits_pager(ran: Path, tmp_path: Path) -> None:
    script, seen, _ = _pager(tmp_path)
    piped = run_po(ran, "logs", "a", env={"GIT_PAGER": str(script)})
    assert piped.code == 0 and "p/a attempt 1/1" in piped.out
    assert ESC not in piped.out and not seen.exists()
    # `git -p po logs`: git pages, we do not page again, and colour stays on
    under = run_po(ran, "logs", "a", env={"GIT_PAGER": str(script), "GIT_PAGER_IN_USE": "true"})
    assert under.code == 0 and ESC in under.out and not seen.exists()
    git(ran, "config", "color.pager", "false")
    plain = run_po(ran, "logs", "a", env={"GIT_PAGER_IN_USE": "true"})
    assert ESC not in plain.out
    code, shown = _on_tty(ran, "show", "a", env={"GIT_PAGER": "cat"})
    assert code == 0 and "branch" in shown  # GIT_PAGER=cat: straight to the terminal


def test_color_quiet_and_verbose_on_every_command(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    quiet = start(repo, plan, "-q", env=fake_env(tmp_path))
    assert quiet.code == 0 and quiet.out == ""  # the exit status says it all
    assert run_po(repo, "--color=always", "status").out.count(ESC) > 0
    assert run_po(repo, "status", "--color", "always").out.count(ESC) > 0
    git(repo, "config", "color.ui", "always")
    assert ESC not in run_po(repo, "status", "--color=never").out
    assert ESC in run_po(repo, "status", "--color=auto", env={"GIT_PAGER_IN_USE": "1"}).out
    verbose = run_po(repo, "diff", "a", "--stat", "-v")
    assert verbose.code == 0 and "README" not in verbose.out
    assert "git po: run: git --git-dir=" in verbose.err and " diff --stat " in verbose.err
    assert run_po(repo, "init", "-q", "--no-example").out == ""
    bad = run_po(repo, "status", "--color=sometimes")
    assert bad.code == 2 and "--color" in bad.err
