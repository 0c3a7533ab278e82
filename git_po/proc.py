"""The one place that starts processes. argv lists only; never a shell string built from input."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

# variables that would point git at another repository than the worktree a worker runs in
_GIT_LOCAL_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_QUARANTINE_PATH",
)


# told every command before it starts (the CLI's -v prints them); None: nobody listens
trace: Callable[[Sequence[str]], None] | None = None


def _trace(argv: Sequence[str]) -> None:
    if trace is not None:
        trace(argv)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The user's environment, less what would redirect git, plus extra."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCAL_ENV}
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    if extra:
        env.update(extra)
    return env


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdout: IO[bytes] | int | None = None,
    stderr: IO[bytes] | int | None = None,
    stdin: IO[bytes] | int | None = subprocess.DEVNULL,
    new_session: bool = True,
) -> subprocess.Popen[bytes]:
    """Start argv in cwd. With new_session the child leads its own process group, so Ctrl-C in
    the terminal reaches only the orchestrator, which then stops its workers in order."""
    if not argv or not isinstance(argv[0], str):
        raise ValueError("argv must be a non-empty list of strings")
    _trace(argv)
    return subprocess.Popen(
        list(argv),
        cwd=str(cwd),
        env=dict(env),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        start_new_session=new_session,
        close_fds=True,
    )


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run argv to completion, capturing output; input, if given, is its standard input."""
    proc = spawn(
        argv,
        cwd=cwd,
        env=env if env is not None else child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        new_session=False,
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, out, err)


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send sig to the process group proc leads (its children too); ignore if already gone."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_pgid(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def holders(path: Path) -> list[int]:
    """The processes that have path open (those this user may inspect)."""
    import psutil  # a slow import, needed only when a lock file is stale

    target = os.path.realpath(path)
    found: list[int] = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if any(os.path.realpath(f.path) == target for f in p.open_files()):
                found.append(p.pid)
    return found


TERM = signal.SIGTERM
KILL = signal.SIGKILL


def run_foreground(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> int:
    """Run an interactive program on this terminal (stdin, stdout and stderr passed through)
    and wait for it. Like system(3), Ctrl-C and Ctrl-\\ go to the program, not to us, so the
    caller gets to clean up after it. Returns its exit status (128+N when killed by signal N)."""

    def ignore(signum: int, frame: object) -> None:
        pass  # a handler, not SIG_IGN: the program starts with the default action again

    _trace(argv)
    ignored = {s: signal.signal(s, ignore) for s in (signal.SIGINT, signal.SIGQUIT)}
    try:
        proc = subprocess.Popen(list(argv), cwd=str(cwd), env=dict(env), close_fds=True)
        code = proc.wait()
    finally:
        for s, handler in ignored.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code
