"""Paging long output as `git log` does: through `git var GIT_PAGER` (GIT_PAGER, core.pager,
PAGER, else less), with LESS=FRX and LV=-c unless set, only when standard output is a terminal,
and never twice (GIT_PAGER_IN_USE: git already pages us, as with `git -p po show`).

While paging, GIT_PAGER_IN_USE=true is set in our environment too, as git does, so colour
decided as "auto" stays on (git's color.pager, default true)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from git_po import proc
from git_po.repo import Repo

IN_USE = "GIT_PAGER_IN_USE"


def in_use() -> bool:
    """Whether our output goes to git's pager (or ours)."""
    return os.environ.get(IN_USE, "").lower() in ("1", "true", "yes", "on")


def pager_colors(repo: Repo | None) -> bool:
    """color.pager: whether "auto" colour stays on under a pager (default true)."""
    raw = (repo.config("color.pager") if repo else None) or "true"
    return raw.strip().lower() not in ("false", "no", "off", "0", "never")


def command(repo: Repo) -> str | None:
    """The pager git would use here, or None for none (not a terminal, already paged, "cat")."""
    if not sys.stdout.isatty() or in_use():
        return None
    try:
        done = proc.run(
            ["git", f"--git-dir={repo.git_dir}", "var", "GIT_PAGER"], cwd=Path.cwd(), timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.decode("utf-8", "replace").strip() if done.returncode == 0 else "less"
    return None if value in ("", "cat") else value


@contextlib.contextmanager
def paged(repo: Repo, enabled: bool = True) -> Iterator[bool]:
    """Send standard output to the pager for the block (yields whether it does)."""
    cmd = command(repo) if enabled else None
    if cmd is None:
        yield False
        return
    env = proc.child_env({IN_USE: "true"})
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    pager = proc.spawn(
        ["/bin/sh", "-c", cmd],
        cwd=Path.cwd(),
        env=env,
        stdin=subprocess.PIPE,
        new_session=False,
    )
    assert pager.stdin is not None
    sys.stdout.flush()
    real = sys.stdout
    sys.stdout = io.TextIOWrapper(pager.stdin, encoding=real.encoding, errors="replace")
    before = os.environ.get(IN_USE)
    os.environ[IN_USE] = "true"
    try:
        yield True
    finally:
        piped, sys.stdout = sys.stdout, real
        # the pager quit early (q): what was not written yet is dropped, not shown afterwards
        with contextlib.suppress(OSError, ValueError):
            piped.flush()
        with contextlib.suppress(OSError, ValueError):
            piped.close()
        with contextlib.suppress(KeyboardInterrupt):
            pager.wait()
        if before is None:
            os.environ.pop(IN_USE, None)
        else:
            os.environ[IN_USE] = before
