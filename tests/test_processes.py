"""Process identity and open-file lookup, read with psutil (the same code on Linux and macOS)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from git_po import local, proc


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    held = tmp_path / "held.lock"
    held.write_text("")
    code = f"f = open({str(held)!r}); import sys, time; print(1, flush=True); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert child.stdout is not None and child.stdout.readline() == b"1\n"
    try:
        yield child, held
    finally:
        child.kill()
        child.wait()


def test_a_process_is_known_by_its_pid_and_start_time(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    child, _ = sleeper
    start = local.process_start(child.pid)

    assert start is not None
    assert abs(float(start) - time.time()) < 60  # seconds since the epoch, on every system
    assert local.process_start(child.pid) == start  # stable between reads
    assert local.pid_alive(child.pid, start)
    # the same pid with another start time is another process (a reused pid)
    assert not local.pid_alive(child.pid, f"{float(start) - 5:.2f}")
    assert local.process_start(child.pid) != local.process_start(os.getpid())


def test_a_process_that_ended_is_not_alive_even_as_a_zombie(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    child, _ = sleeper
    start = local.process_start(child.pid)
    child.kill()
    time.sleep(0.2)  # not reaped yet: a zombie

    assert not local.pid_alive(child.pid, start)
    assert not local.pid_alive(child.pid)
    child.wait()
    assert local.process_start(child.pid) is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="clock ticks are Linux's")
def test_a_start_time_recorded_in_clock_ticks_by_an_older_version_still_matches(
    sleeper: tuple[subprocess.Popen[bytes], Path],
) -> None:
    child, _ = sleeper
    stat = Path(f"/proc/{child.pid}/stat").read_text()
    ticks = stat[stat.rfind(")") + 2 :].split()[19]

    assert local.pid_alive(child.pid, ticks)
    assert not local.pid_alive(child.pid, str(int(ticks) - 500))


def test_the_processes_holding_a_file_open_are_found(
    sleeper: tuple[subprocess.Popen[bytes], Path], tmp_path: Path
) -> None:
    child, held = sleeper
    other = tmp_path / "other.lock"
    other.write_text("")

    assert child.pid in proc.holders(held)
    assert proc.holders(other) == []
