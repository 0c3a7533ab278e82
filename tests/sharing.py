"""Remotes for the sharing tests: a bare repository over file://, and a git daemon on 127.0.0.1
that the test starts (receive-pack enabled) and stops."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.conftest import git

# what differs between clones for reasons of place or moment, not of state
MACHINE_LOCAL = ("orchestrator",)
MOMENTARY = ("age_s", "age_seconds", "worktree", "transcript", "holder")


def comparable_status(status: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in status.items() if k not in MACHINE_LOCAL}
    out["tasks"] = [{k: v for k, v in t.items() if k not in MOMENTARY} for t in status["tasks"]]
    return out


def bare_remote(repo: Path, tmp_path: Path, name: str = "origin") -> Path:
    """A bare repository reached by file://, holding repo's main, added to repo as name."""
    bare = tmp_path / f"{name}.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", name, bare.as_uri())
    git(repo, "push", "-q", name, "main")
    return bare


def clone_of(remote: Path | str, path: Path) -> Path:
    url = remote.as_uri() if isinstance(remote, Path) else remote
    git(path.parent, "clone", "-q", url, str(path))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitDaemon:
    """git daemon on 127.0.0.1 serving base_path, push enabled; stop() and start() again keep
    the port, as a host that goes away and comes back."""

    def __init__(self, base_path: Path) -> None:
        self.base = base_path
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def create(self, name: str) -> Path:
        bare = self.base / name
        git(self.base, "init", "-q", "--bare", "-b", "main", str(bare))
        return bare

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                f"--base-path={self.base}",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        raise AssertionError("git daemon did not start listening")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def __enter__(self) -> GitDaemon:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def chain_plan(n: int, log: Path, *, width: int = 3, max_workers: int = 2) -> str:
    """n shell tasks in `width` chains, some joining two chains; each appends one line to log
    (so a task run twice shows twice) and commits a checkpoint, then [COMPLETE]."""
    out = [f"max_workers = {max_workers}\n"]
    for i in range(n):
        t = f"t{i:02d}"
        deps = [f"t{i - width:02d}"] if i >= width else []
        if i >= width + 1 and i % 5 == 0:
            deps.append(f"t{i - width - 1:02d}")
        body = (
            f"echo {t} $PO_ATTEMPT >> {log} && echo {i} > f{i:02d}.txt && "
            f"git add f{i:02d}.txt && git commit -q -m '[CHECKPOINT] {t} half' && "
            f"git commit -q --allow-empty -m '[COMPLETE] {t}'"
        )
        out.append(
            f'[tasks.{t}]\nagent = "shell"\nwrites = ["f{i:02d}.txt"]\n'
            f"depends_on = {json.dumps(deps)}\nrun = {json.dumps(body)}\n"
        )
    return "\n".join(out)


def subjects_on(bare: Path, ref: str, base: str = "main") -> list[str]:
    return git(bare, "log", "--format=%s", f"{base}..{ref}").splitlines()


def wait_published(bare: Path, plan: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if git(bare, "for-each-ref", f"refs/po/{plan}/plan").strip():
            return
        time.sleep(0.2)
    raise AssertionError(f"plan {plan} was not published in {timeout}s")
