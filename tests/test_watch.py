"""`git po status --watch`: in place on a terminal (a pty here), changed lines only, cursor hidden
and restored, Ctrl-C ends with 0; colour from color.ui and NO_COLOR; plain output in a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from git_po.watch import CLEAR_SCREEN, HIDE_CURSOR, SHOW_CURSOR, Screen
from tests.conftest import git, run_po
from tests.helpers import fake_env, po_env, spawn_po, start, status_json, wait_for, write_plan

GREEN = "\x1b[32m"
ONE = '[tasks.a]\nprompt = "Do a."\n'


def _in_pty(
    repo: Path, *args: str, env: dict[str, str] | None = None, stop_after: float | None = None
) -> tuple[int, str]:
    """Run git po with a terminal as stdout; SIGINT after stop_after seconds if given."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "git_po", *args],
        cwd=repo,
        env=po_env(env),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    began = time.monotonic()
    sent = False
    while True:
        if stop_after is not None and not sent and time.monotonic() - began > stop_after:
            os.killpg(proc.pid, signal.SIGINT)
            sent = True
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
        assert time.monotonic() - began < 60, "watch did not end"
    os.close(master)
    code = proc.wait(timeout=30)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _finished_plan(repo: Path, tmp_path: Path) -> None:
    assert start(repo, write_plan(tmp_path, "p", ONE), env=fake_env(tmp_path)).code == 0


def test_watch_on_a_terminal_draws_in_place_and_ends_with_the_run(
    repo: Path, tmp_path: Path
) -> None:
    _finished_plan(repo, tmp_path)
    code, out = _in_pty(repo, "status", "--watch", "--interval", "0.2")
    assert code == 0, out
    assert out.startswith(HIDE_CURSOR)
    assert out.count(CLEAR_SCREEN) == 1
    assert out.endswith(SHOW_CURSOR)
    assert "plan p: run 1 finished" in out
    assert GREEN + "complete" in out  # colour on a terminal by default


def test_watch_colour_follows_color_ui_and_no_color(repo: Path, tmp_path: Path) -> None:
    _finished_plan(repo, tmp_path)
    git(repo, "config", "color.ui", "never")
    code, out = _in_pty(repo, "status", "-w")
    assert code == 0 and "complete" in out and GREEN not in out
    git(repo, "config", "color.ui", "auto")
    code, out = _in_pty(repo, "status", "-w", env={"NO_COLOR": "1"})
    assert code == 0 and "complete" in out and GREEN not in out
    git(repo, "config", "color.ui", "always")
    piped = run_po(repo, "status")
    assert GREEN + "complete" in piped.out  # even in a pipe
    assert GREEN not in run_po(repo, "status", env={"NO_COLOR": "1"}).out


def test_watch_redraws_only_what_changed_and_ctrl_c_exits_0(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path, {"a": [{"say": "working"}, {"hang": True}]})
    orchestrator = spawn_po(
        repo, "start", str(write_plan(tmp_path, "p", ONE)), "--no-live", env=env
    )
    try:
        wait_for(
            "a to run",
            lambda: (
                run_po(repo, "status", "--json").code == 0
                and status_json(repo)["tasks"][0]["state"] == "running"
            ),
        )
        code, out = _in_pty(repo, "status", "--watch", "--interval", "0.1", stop_after=1.5)
    finally:
        os.kill(orchestrator.pid, signal.SIGINT)
        orchestrator.wait(timeout=60)
    assert code == 0, out
    assert out.endswith(SHOW_CURSOR)
    assert out.count(CLEAR_SCREEN) == 1  # one full draw, then only changes
    assert out.count("TASK  STATE") == 1  # the header never changed, so it was drawn once
    assert "running" in out


def test_watch_in_a_pipe_prints_each_change_until_the_run_ends(repo: Path, tmp_path: Path) -> None:
    # the task ends only once the watcher has printed the running table, however slow the host
    go = tmp_path / "go"
    env = fake_env(
        tmp_path,
        {"a": [{"bash": f"while [ ! -e {go} ]; do sleep 0.1; done"}, {"commit": "[COMPLETE] a"}]},
    )
    plan = write_plan(tmp_path, "p", ONE)
    orchestrator = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    out_path = tmp_path / "watch.out"
    try:
        wait_for("the plan", lambda: run_po(repo, "status").code == 0)
        with out_path.open("w") as out_file:
            watcher = subprocess.Popen(
                [sys.executable, "-m", "git_po", "status", "--watch", "--interval", "0.1"],
                cwd=repo,
                env=po_env(),
                stdout=out_file,
                stderr=subprocess.PIPE,
                text=True,
            )
            wait_for("the first table", lambda: "running" in out_path.read_text(), timeout=60)
            go.touch()
            _, err = watcher.communicate(timeout=60)
    finally:
        go.touch()
        orchestrator.wait(timeout=60)
    out = out_path.read_text()
    assert watcher.returncode == 0, (out, err)
    assert "\x1b[" not in out
    tables = out.split("\n\n" + "plan p: ")
    assert len(tables) >= 2  # running, then finished
    assert "run 1 finished" in tables[-1]
    assert "complete" in tables[-1]
    json_watch = run_po(repo, "status", "--watch", "--json")
    assert json_watch.code == 0 and len(json_watch.out.splitlines()) == 1


def test_screen_rewrites_only_changed_lines() -> None:
    screen = Screen()
    first = screen.frame(["head", "a  running", "b  pending"], width=80, height=24)
    assert first.startswith(HIDE_CURSOR + CLEAR_SCREEN)
    assert "head" in first and "b  pending" in first
    second = screen.frame(["head", "a  complete", "b  pending"], width=80, height=24)
    assert second == HIDE_CURSOR + "\x1b[2;1H\x1b[Ka  complete" + "\x1b[4;1H"
    shorter = screen.frame(["head"], width=80, height=24)
    assert shorter == HIDE_CURSOR + "\x1b[2;1H\x1b[J" + "\x1b[2;1H"
    clipped = Screen().frame(["x" * 50], width=10, height=24)
    assert "x" * 9 + "…" in clipped and "x" * 10 not in clipped
    tall = Screen().frame([str(i) for i in range(50)], width=80, height=10)
    assert "… 42 more lines" in tall
