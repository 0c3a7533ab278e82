"""The live view of `git po start` in a real pseudo-terminal, read back through a terminal
emulator (pyte): it never grows the scrollback however many tasks there are, counts widths in
cells (a CJK subject does not wrap the table), hides the cursor while it runs and shows it again
at the end, also after Ctrl-C; notifications ring the terminal and run po.notifyCommand."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pyte
from wcwidth import wcswidth

from git_po.watch import SHOW_CURSOR
from tests.conftest import git, run_po
from tests.helpers import fake_env, po_env, start, write_plan

CJK = "日本語の説明文を追加しました。とても長い件名なので表の幅を超えるかもしれません"


def _pty_run(
    repo: Path,
    *args: str,
    env: dict[str, str],
    cols: int = 80,
    rows: int = 12,
    interrupt_when: Callable[[bytes], bool] | None = None,
) -> tuple[int, bytes]:
    """Run git po with a cols x rows terminal as stdout; SIGINT to its process group (as a
    terminal's Ctrl-C) once interrupt_when(output so far) holds."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
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
    sent = False
    while True:
        if interrupt_when is not None and not sent and interrupt_when(bytes(out)):
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
            out += data
        elif proc.poll() is not None:
            break
        assert time.monotonic() - began < 120, "git po start did not end"
    os.close(master)
    return proc.wait(timeout=60), bytes(out)


def _emulate(data: bytes, cols: int = 80, rows: int = 12) -> pyte.HistoryScreen:
    screen = pyte.HistoryScreen(cols, rows, history=10_000)
    pyte.ByteStream(screen).feed(data)
    return screen


def _sixteen(tmp_path: Path, hold: str) -> tuple[Path, dict[str, str]]:
    body = "max_workers = 16\n\n" + "".join(
        f'[tasks.t{i:02d}]\nprompt = "Task {i}."\n\n' for i in range(16)
    )
    scripts: dict[str, object] = {}
    for i in range(16):
        subject = CJK if i == 0 else f"step one of t{i:02d}"
        scripts[f"t{i:02d}"] = [
            {"commit": f"[CHECKPOINT] {subject}"},
            {"bash": hold},
            {"commit": f"[COMPLETE] t{i:02d} done"},
        ]
    return write_plan(tmp_path, "p", body), fake_env(tmp_path, scripts)


def _live_part(out: bytes) -> bytes:
    """What the live view drew: everything before the cursor is shown again."""
    cut = out.find(SHOW_CURSOR.encode())
    assert cut > 0, out[-400:]
    return out[:cut]


def test_sixteen_tasks_in_80x12_never_scroll_and_count_cells(repo: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    plan, env = _sixteen(tmp_path, f"while [ ! -e {go} ]; do sleep 0.1; done")
    polls = {"n": 0, "released_at": 0}

    def release(out: bytes) -> bool:
        # let the view draw for a while (and the clock tick) with the tasks running
        if "日本語".encode() in out and not go.exists():
            polls["n"] += 1
            if polls["n"] > 30:
                polls["released_at"] = len(out)
                go.touch()
        return False

    code, out = _pty_run(repo, "start", str(plan), env=env, interrupt_when=release)
    assert code == 0, out[-600:]
    live = _live_part(out)
    screen = _emulate(live)
    assert len(screen.history.top) == 0  # not one line went to the scrollback
    assert screen.cursor.hidden  # hidden while the view ran
    assert polls["released_at"]
    screen = _emulate(out[: polls["released_at"]])  # as it was while the tasks ran
    shown = [line.rstrip() for line in screen.display]
    assert shown[0].startswith("git po: plan p")
    assert shown[1].startswith("TASK")
    assert any(line.startswith("… ") and " more" in line for line in shown)
    cjk_rows = [line for line in shown if line.startswith("t00 ")]
    assert cjk_rows and "日本語" in cjk_rows[0]
    for line in shown:
        assert wcswidth(line) <= 80
    # below each task row comes the next task's row: the wide subject did not wrap
    body = shown[2 : shown.index(next(line for line in shown if line.startswith("… ")))]
    assert len(body) >= 8 and all(re.match(r"t\d\d  ", line) for line in body), body
    # the whole session: the summary printed after the view, the cursor visible at the end
    whole = _emulate(out)
    assert not whole.cursor.hidden
    history = "\n".join("".join(ch.data for ch in row.values()) for row in whole.history.top)
    assert "git po: plan p" not in history  # no copy of a live frame in the scrollback
    assert "plan p: run 1 finished" in history + "\n".join(whole.display)  # the summary


def test_ctrl_c_in_the_live_view_shows_the_cursor_again(repo: Path, tmp_path: Path) -> None:
    plan, env = _sixteen(tmp_path, "sleep 600")
    code, out = _pty_run(
        repo,
        "start",
        str(plan),
        env=env,
        interrupt_when=lambda seen: seen.count(b"running") >= 4,
    )
    assert code == 130, out[-600:]
    screen = _emulate(_live_part(out))
    assert len(screen.history.top) == 0
    assert not _emulate(out).cursor.hidden


def test_a_blocked_task_rings_the_terminal_and_runs_the_notify_command(
    repo: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    git(repo, "config", "po.notifyCommand", f"cat >> '{events}'")
    plan = write_plan(
        tmp_path,
        "p",
        '[tasks.ask]\nprompt = "Ask."\n\n[tasks.bad]\nprompt = "Fail."\n\n'
        '[tasks.ok]\nprompt = "Work."\n',
    )
    env = fake_env(
        tmp_path,
        {
            "ask": [{"commit": "[BLOCKED:which database?] need a decision"}],
            "bad": [{"exit": 1, "result": "gave up"}],
        },
    )
    code, out = _pty_run(repo, "start", str(plan), env=env, cols=100, rows=20)
    assert code == 1, out[-600:]
    text = out.decode("utf-8", "replace")
    assert "\x1b]9;git po: p/ask asks for an answer: which database?\x07\x07" in text
    assert "\x1b]9;git po: p/bad failed" in text
    assert "\x1b]9;git po: run of p ended (waiting)" in text
    told = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = {(e["event"], e["task"]) for e in told}
    assert kinds == {("task_blocked", "ask"), ("task_failed", "bad"), ("run_ended", None)}
    blocked = next(e for e in told if e["event"] == "task_blocked")
    assert blocked["schema_version"] == 1 and blocked["plan"] == "p"
    assert blocked["reason"] == "which database?" and blocked["state"] == "blocked"
    assert next(e for e in told if e["event"] == "run_ended")["run_state"] == "waiting"


def test_notify_command_runs_without_a_terminal_and_its_failure_is_a_warning(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.notifyCommand", "echo broken >&2; exit 3")
    plan = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    res = start(repo, plan, env=fake_env(tmp_path))
    assert res.code == 0, res
    assert "warning: po.notifyCommand exited with 3: broken" in res.err
    assert "\x1b]9;" not in res.out and "\a" not in res.out  # no terminal, no bell
    listed = run_po(repo, "config").out
    assert "po.notifyCommand" in listed and "po.notifyTerminal" in listed


def test_integrate_shows_progress_on_a_terminal_and_takes_it_away(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path, "p", "".join(f'[tasks.t{i}]\nprompt = "T{i}."\n\n' for i in range(3))
    )
    assert start(repo, plan, env=fake_env(tmp_path)).code == 0
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "git_po", "integrate", "p"],
        cwd=repo,
        env=po_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    shown = bytearray()
    while select.select([master], [], [], 0.2)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    os.close(master)
    assert proc.returncode == 0, out
    text = shown.decode()
    for i in range(3):
        assert f"integrating {i + 1}/3: t{i}" in text
    assert text.endswith("\r\x1b[K")  # the line is gone once the report prints
    assert "integrating 1/3" not in out.decode()  # progress is not part of the report
    piped = run_po(repo, "integrate", "p")
    assert "integrating 1/3" not in piped.err  # no terminal, no progress


def test_a_running_verify_shows_its_latest_output_line(repo: Path, tmp_path: Path) -> None:
    """A long verify is a phase of its own: the live view's row says what it is doing."""
    go = tmp_path / "verify-go"
    wait = f"for i in $(seq 150); do [ -e {go} ] && exit 0; sleep 0.1; done; exit 1"
    plan = write_plan(
        tmp_path,
        "v",
        f"""
        verify = "echo 'checking 3 of 7 suites'; {wait}"
        [tasks.a]
        prompt = "A."
        """,
    )

    def release(seen: bytes) -> bool:
        if b"verify: checking 3 of 7 suites" in seen:
            go.write_text("")
        return False

    code, out = _pty_run(repo, "start", str(plan), env=fake_env(tmp_path), interrupt_when=release)

    assert code == 0, out[-600:]
    # the row showed the verify's line (which let the verify pass), then the run ended
    assert go.exists(), out[-800:]
    assert b"verify: checking 3 of 7 suites" in out
