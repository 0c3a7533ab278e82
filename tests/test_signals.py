"""Signals and a lost terminal during a run, and locks and objects that are not what git po
expects: Ctrl-C delivered twice at once (the terminal's process group and git's forward), a
second Ctrl-C given later, a closed terminal, a storm of signals with resumes in between, a
stale ref lock, a stale plan lock, an object pruned from under a run.

`git po` runs here as a user's shell starts it: through git (which forwards the signals it gets
to git-po), in its own session on a pseudo-terminal that is its controlling terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import random
import select
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import git, po_cmd, run_po
from tests.helpers import (
    fake_env,
    kill_quietly,
    pid_alive,
    po_env,
    ref_state,
    run_record,
    spawn_po,
    start,
    status_json,
    subjects,
    task_state,
    tasks_by_id,
    tree_files,
    wait_for,
    worktree_root,
    write_plan,
)

COMPLETE = {"commit": "[COMPLETE] {task} done", "allow_empty": True}


class Terminal:
    """A pseudo-terminal with a process on it (session leader, controlling terminal), and a
    thread that reads what it shows, as a terminal emulator would."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()

        def controlling_terminal() -> None:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=controlling_terminal,
        )
        os.close(slave)
        self.shown = bytearray()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            self.shown.extend(data)

    def text(self) -> str:
        return self.shown.decode(errors="replace")

    def signal_group(self, sig: int) -> None:
        """What the terminal does on Ctrl-C (SIGINT), or a kill of the job: the whole group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def close(self) -> None:
        """The user closes the terminal window."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._reader.join()
        os.close(self.master)

    def wait(self, timeout: float, orchestrator: int = 0) -> int:
        """Wait for the process on the terminal and for git-po (git may die of a second
        signal while git-po still stops its workers, as a user's shell would see it)."""
        deadline = time.monotonic() + timeout
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        while orchestrator and pid_alive(orchestrator) and time.monotonic() < deadline:
            time.sleep(0.05)
        if code is None or (orchestrator and pid_alive(orchestrator)):
            raise AssertionError(
                f"git po still runs {timeout}s later (frozen?); it showed:\n{self.text()[-3000:]}"
            )
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.signal_group(signal.SIGKILL)
            self.proc.wait()
        self.close()


def _git_po_argv(tmp_path: Path) -> list[str]:
    folder = tmp_path / "git-po-bin"
    folder.mkdir(exist_ok=True)
    shim = folder / "git-po"
    if not shim.exists():
        shim.write_text(f'#!/bin/sh\nexec {" ".join(po_cmd())} "$@"\n')
        shim.chmod(0o755)
    return ["git", "po"]


@contextlib.contextmanager
def on_terminal(
    repo: Path, tmp_path: Path, *args: str, env: dict[str, str], through_git: bool = True
) -> Iterator[Terminal]:
    """`git po ARGS` on a terminal of its own (through git, or git-po run directly)."""
    full = po_env(env)
    if through_git:
        argv = [*_git_po_argv(tmp_path), *args]
        full["PATH"] = os.pathsep.join([str(tmp_path / "git-po-bin"), full["PATH"]])
    else:
        argv = [*po_cmd(), *args]
    term = Terminal(argv, repo, full)
    try:
        yield term
    finally:
        term.kill()


def orchestrator_pid(repo: Path, plan: str) -> int:
    return int(run_record(repo, plan)["pid"])


def ctrl_c(term: Terminal, repo: Path, plan: str) -> None:
    """One press of Ctrl-C as git-po gets it: SIGINT to the terminal's process group, and git's
    forward of it, which may come a moment later (git is scheduled on its own)."""
    po = orchestrator_pid(repo, plan)
    term.signal_group(signal.SIGINT)
    time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(po, signal.SIGINT)


def worker_pids(repo: Path, plan: str) -> list[int]:
    pids = []
    for t in tasks_by_id(status_json(repo, plan)):
        attempts = task_state(repo, plan, t).get("attempts") or []
        if attempts and "pid" in attempts[-1]:
            pids.append(int(attempts[-1]["pid"]))
    return pids


def kill_workers(repo: Path, plan: str) -> None:
    with contextlib.suppress(Exception):
        for pid in worker_pids(repo, plan):
            kill_quietly(pid)


def armed(tmp_path: Path, task: str) -> Path:
    """A file the worker writes once its SIGTERM trap is armed."""
    return tmp_path / f"armed-{task}"


def saver(tmp_path: Path, trap: list[dict[str, object]]) -> list[dict[str, object]]:
    """A worker that writes a draft, arms a SIGTERM trap running `trap`, and works on."""
    return [
        {"write": "draft.txt", "content": "draft\n"},
        {"on_term": trap},
        {"bash": f"touch {armed(tmp_path, '{task}')}"},
        {"hang": True},
    ]


# --- 5. one Ctrl-C, delivered twice --------------------------------------------------------


def test_ctrl_c_delivered_twice_at_once_still_gives_the_workers_their_grace(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.stopGrace", "10")
    plan = write_plan(tmp_path, "grace", '[tasks.t]\nprompt = "work, and save when stopped"\n')
    trap: list[dict[str, object]] = [
        {"sleep": 1.0},  # saving takes a moment
        {"write": "saved.txt", "content": "saved on TERM\n"},
        {"commit": "[CHECKPOINT] saved when asked to stop"},
    ]
    env = fake_env(tmp_path, {"t": saver(tmp_path, trap)})
    try:
        with on_terminal(repo, tmp_path, "start", str(plan), env=env) as term:
            wait_for("the worker to arm its trap", armed(tmp_path, "t").exists)
            po = orchestrator_pid(repo, "grace")
            ctrl_c(term, repo, "grace")
            term.wait(30, po)
    finally:
        kill_workers(repo, "grace")

    attempt = task_state(repo, "grace", "t")["attempts"][0]
    assert attempt.get("signal") is None, attempt  # not SIGKILLed
    assert attempt["exit_code"] == 128 + signal.SIGTERM, attempt
    assert subjects(repo, "po/grace/t", since="main")[0] == "[CHECKPOINT] saved when asked to stop"
    assert git(repo, "show", "po/grace/t:saved.txt") == "saved on TERM\n"
    assert git(repo, "show", "po/grace/t:draft.txt") == "draft\n"
    assert run_record(repo, "grace")["state"] == "interrupted"
    assert tasks_by_id(status_json(repo, "grace"))["t"]["state"] == "interrupted"


def test_a_second_ctrl_c_given_later_kills_the_workers_at_once(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.stopGrace", "60")
    plan = write_plan(tmp_path, "hurry", '[tasks.t]\nprompt = "slow to stop"\n')
    env = fake_env(tmp_path, {"t": saver(tmp_path, [{"sleep": 120}])})
    try:
        with on_terminal(repo, tmp_path, "start", str(plan), env=env) as term:
            wait_for("the worker to arm its trap", armed(tmp_path, "t").exists)
            worker = worker_pids(repo, "hurry")[0]
            po = orchestrator_pid(repo, "hurry")
            ctrl_c(term, repo, "hurry")
            time.sleep(2)
            # the first Ctrl-C (delivered twice) asked the worker to stop and waits for it
            assert pid_alive(worker), "the worker was killed without its grace period"
            assert pid_alive(po)
            began = time.monotonic()
            term.signal_group(signal.SIGINT)  # the user presses Ctrl-C again
            term.wait(20, po)
            assert time.monotonic() - began < 8
            assert not pid_alive(worker)
    finally:
        kill_workers(repo, "hurry")

    attempt = task_state(repo, "hurry", "t")["attempts"][0]
    assert attempt["signal"] == signal.SIGKILL
    assert git(repo, "show", "po/hurry/t:draft.txt") == "draft\n"  # its work is still saved
    assert run_record(repo, "hurry")["state"] == "interrupted"


# --- 7. the terminal goes away ---------------------------------------------------------------


def test_closing_the_terminal_leaves_an_interrupted_run_that_resumes(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.stopGrace", "5")
    plan = write_plan(
        tmp_path,
        "hup",
        """
        [tasks.a]
        prompt = "works until stopped"
        [tasks.b]
        prompt = "also"
        """,
    )
    first = [{"write": "{task}.txt", "content": "attempt 1\n"}, {"hang": True}]
    script = {"attempts": {"1": first}, "default": [COMPLETE]}
    env = fake_env(tmp_path, {"a": script, "b": script})
    pid = 0
    try:
        # git-po straight on the terminal, with its live view: it gets the hangup and EIO
        with on_terminal(repo, tmp_path, "start", str(plan), env=env, through_git=False) as term:
            wait_for(
                "both workers to run",
                lambda: all(ref_state(repo, "hup", t) == "running" for t in "ab"),
            )
            pid = term.proc.pid
            wait_for("the live view", lambda: "TASK" in term.text())
            for t in "ab":
                wait_for(f"{t}'s work", (worktree_root(repo) / "hup" / t / f"{t}.txt").exists)
            term.close()
            code = term.wait(30)
    finally:
        kill_workers(repo, "hup")

    assert code == 130, code
    assert not (Path("/tmp") / f"git-po-crash-{pid}.log").exists()
    assert run_record(repo, "hup")["state"] == "interrupted"
    tasks = tasks_by_id(status_json(repo, "hup"))
    assert {t["state"] for t in tasks.values()} == {"interrupted"}
    for t in "ab":
        assert git(repo, "show", f"po/hup/{t}:{t}.txt") == "attempt 1\n"

    res = run_po(repo, "resume", "hup", "--no-live", env=env, timeout=60)

    assert res.code == 0, res
    tasks = tasks_by_id(status_json(repo, "hup"))
    assert {t["state"] for t in tasks.values()} == {"complete"}


# --- 5 and 6. a storm of signals, each followed by resume ---------------------------------


STORM_PLAN = """
[tasks.a]
prompt = "steps"
[tasks.b]
prompt = "steps"
[tasks.c]
prompt = "steps"
depends_on = ["a"]
"""


def _steps(tmp_path: Path, n: int) -> list[dict[str, object]]:
    ledger = tmp_path / "ledger"
    script: list[dict[str, object]] = [
        {"on_term": [{"commit": "[CHECKPOINT] {task} attempt {attempt} saved when stopped"}]}
    ]
    for k in range(n):
        line = f"{{task}} attempt {{attempt}} step {k}"
        script += [
            {"sleep": 0.15},
            {"append": "{task}.log", "content": line + "\n"},
            {"bash": f"echo '{line}' >> {ledger}"},
        ]
        if k % 3 == 2:
            script.append({"commit": f"[CHECKPOINT] {{task}} step {k}"})
    script.append(COMPLETE)
    return script


def test_a_storm_of_signals_each_followed_by_resume_loses_nothing_and_never_freezes(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.stopGrace", "10")
    plan = write_plan(tmp_path, "storm", STORM_PLAN)
    # a round interrupts each running attempt: 8 rounds and the last resume can reach attempt 9
    script = {"attempts": {str(n): _steps(tmp_path, 12) for n in range(1, 16)}}
    env = fake_env(tmp_path, {t: script for t in "abc"})
    rng = random.Random(14)
    stoppers = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
    rounds = 0
    try:
        args = ["start", str(plan)]
        while rounds < 8:
            with on_terminal(repo, tmp_path, *args, env=env) as term:
                with contextlib.suppress(AssertionError):
                    wait_for("a worker", lambda: "running" in _states(repo), timeout=10)
                time.sleep(rng.uniform(0.1, 1.0))
                if term.proc.poll() is not None:
                    break  # the run finished before the storm reached it
                # a pair of signals to the whole group (git forwards each: four deliveries)
                po = orchestrator_pid(repo, "storm")
                term.signal_group(rng.choice(stoppers))
                time.sleep(rng.uniform(0.0, 0.1))
                term.signal_group(rng.choice(stoppers))
                term.wait(40, po)
            rounds += 1
            state = run_record(repo, "storm")["state"]
            assert state in ("interrupted", "finished"), term.text()[-3000:]
            args = ["resume", "storm"]
        if run_record(repo, "storm")["state"] != "finished":
            res = run_po(repo, "resume", "storm", "--no-live", env=env, timeout=120)
            assert res.code == 0, res
    finally:
        kill_workers(repo, "storm")

    assert rounds >= 3
    tasks = tasks_by_id(status_json(repo, "storm"))
    assert {t["state"] for t in tasks.values()} == {"complete"}
    ledger = (tmp_path / "ledger").read_text().splitlines()
    for t in "abc":
        attempts = task_state(repo, "storm", t)["attempts"]
        for a in attempts:
            # the grace was honoured: no worker was SIGKILLed (each saved its work on SIGTERM,
            # or died of it before its trap was armed)
            assert a.get("signal") != signal.SIGKILL, (t, a)
        # every step a worker reported is on its branch
        on_branch = git(repo, "show", f"po/storm/{t}:{t}.log").splitlines()
        done = [line for line in ledger if line.startswith(f"{t} ")]
        assert done and set(done) <= set(on_branch), (t, set(done) - set(on_branch))
        assert f"{t}.log" in tree_files(repo, f"po/storm/{t}")


def _states(repo: Path) -> set[str]:
    return {ref_state(repo, "storm", t) or "" for t in "abc"}


# --- 9. locks and objects --------------------------------------------------------------------


def _stale(path: Path, age: float = 60) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    when = time.time() - age
    os.utime(path, (when, when))


def test_a_stale_lock_on_a_task_ref_holds_that_task_only_and_says_what_to_remove(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "locked",
        """
        [tasks.a]
        prompt = "its state ref is locked"
        [tasks.b]
        prompt = "free"
        """,
    )
    lock = repo / ".git" / "refs" / "po" / "locked" / "tasks" / "a.lock"
    _stale(lock)
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=fake_env(tmp_path))
    try:
        wait_for("b to complete", lambda: ref_state(repo, "locked", "b") == "complete")
        assert proc.poll() is None  # the run goes on, a waits
        assert ref_state(repo, "locked", "a") is None
        assert not (repo / "a.txt").exists()
        lock.unlink()  # the user follows the advice
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, (out, err)
    said = out + err
    assert f"rm '{lock}'" in said, said
    assert "internal error" not in said
    tasks = tasks_by_id(status_json(repo, "locked"))
    assert {t["state"] for t in tasks.values()} == {"complete"}


def test_a_stale_plan_lock_before_start_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "stuck", '[tasks.t]\nprompt = "go"\n')
    lock = repo / ".git" / "refs" / "po" / "stuck" / "plan.lock"
    _stale(lock)
    began = time.monotonic()

    res = start(repo, plan, env=fake_env(tmp_path), timeout=60)

    assert time.monotonic() - began < 10
    assert res.code == 5, res
    lines = [line for line in res.err.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 2, res.err  # the error, and the hint
    assert lines[0].startswith("git po: refs/po/stuck/plan is locked: ") and str(lock) in lines[0]
    assert (
        lines[1] == f"hint: if no git process is running in this repository, remove it: rm '{lock}'"
    )
    assert "bug" not in res.err
    assert git(repo, "for-each-ref", "refs/po/") == ""
    lock.unlink()
    assert start(repo, plan, env=fake_env(tmp_path)).code == 0


def test_a_missing_object_is_named_with_a_hint(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "pruned", '[tasks.t]\nprompt = "go"\n')
    assert start(repo, plan, env=fake_env(tmp_path)).code == 0
    # gc pruned the tip of the task's branch (it raced the worker)
    tip = git(repo, "rev-parse", "po/pruned/t").strip()
    (repo / ".git" / "objects" / tip[:2] / tip[2:]).unlink()

    res = run_po(repo, "status", "pruned")

    assert res.code == 4, res
    assert tip in res.err and "missing" in res.err, res.err
    assert "git fsck" in res.err
    assert "internal error" not in res.err and "Traceback" not in res.err


def test_a_burst_of_signals_never_freezes_the_orchestrator(repo: Path, tmp_path: Path) -> None:
    """Hundreds of stop signals as fast as they can be sent: one request (they come at once),
    so a graceful stop; and no handler waits on a lock a handler it interrupted holds."""
    git(repo, "config", "po.stopGrace", "20")
    plan = write_plan(tmp_path, "burst", '[tasks.t]\nprompt = "work, and save when stopped"\n')
    trap: list[dict[str, object]] = [
        {"sleep": 1.0},
        {"commit": "[CHECKPOINT] saved when asked to stop"},
    ]
    env = fake_env(tmp_path, {"t": saver(tmp_path, trap)})
    proc = subprocess.Popen(
        [*po_cmd(), "start", str(plan), "--no-live"],
        cwd=repo,
        env=po_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for("the worker to arm its trap", armed(tmp_path, "t").exists)
        stoppers = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
        began = time.monotonic()
        sent = 0
        while time.monotonic() - began < 0.3 and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, stoppers[sent % 3])
            sent += 1
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"git po froze after {sent} signals") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_workers(repo, "burst")
    assert code == 130
    assert run_record(repo, "burst")["state"] == "interrupted"
    assert subjects(repo, "po/burst/t", since="main")[0] == "[CHECKPOINT] saved when asked to stop"
