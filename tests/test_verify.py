"""The verify gate's building blocks, as the run loop calls them: run the plan's verify command
on an exact commit in a worktree, keep the result as a note in refs/notes/po-verify, read it
back. Real repositories and real processes; the results are checked through git as a user
would read them."""

from __future__ import annotations

import os
import threading
import time
import tomllib
from pathlib import Path

import pytest

from git_po import verify
from git_po.errors import Interrupted, StateConflict
from git_po.repo import Oid, Repo
from tests.conftest import git, refs
from tests.helpers import checkout_snapshot, pid_alive, wait_for, worktree_paths


def head(repo: Path) -> Oid:
    return Oid(git(repo, "rev-parse", "HEAD").strip())


def test_a_passing_and_a_failing_command_with_their_output_tails(repo: Path) -> None:
    r = Repo.discover(repo)
    before = checkout_snapshot(repo)

    ok = verify.run_verify(r, repo, head(repo), "echo hello; cat README.md", timeout=30)
    bad = verify.run_verify(r, repo, head(repo), "echo out; echo boom >&2; exit 4", timeout=30)

    assert ok.passed and ok.exit_code == 0 and not ok.timed_out
    assert ok.output_tail == "hello\nhello"
    assert ok.commit == head(repo) and ok.duration_s >= 0
    assert ok.summary().startswith("passed in ")
    assert not bad.passed and bad.exit_code == 4
    assert bad.output_tail == "out\nboom"
    assert bad.summary().startswith("failed (exit 4)")
    assert checkout_snapshot(repo) == before


def test_only_the_last_lines_are_kept_and_secrets_are_masked(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-ant-api03-" + "x" * 40
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-1234567890")
    r = Repo.discover(repo)

    res = verify.run_verify(
        r,
        repo,
        head(repo),
        'seq 1 100; echo "key $ANTHROPIC_API_KEY"; echo "token $MY_SERVICE_TOKEN"',
        timeout=30,
    )

    lines = res.output_tail.splitlines()
    assert len(lines) == verify.TAIL_LINES
    assert lines[0] == "63"
    assert secret not in res.output_tail and "tok-1234567890" not in res.output_tail
    assert lines[-2:] == ["key ***", "token ***"]


def test_a_command_that_runs_too_long_is_stopped_with_everything_it_started(
    repo: Path, tmp_path: Path
) -> None:
    r = Repo.discover(repo)
    pidfile = tmp_path / "child.pid"
    began = time.monotonic()

    res = verify.run_verify(
        r, repo, head(repo), f"sleep 60 & echo $! > {pidfile}; echo started; wait", timeout=1.0
    )

    assert time.monotonic() - began < 10
    assert res.timed_out and not res.passed and res.exit_code is None
    assert res.summary().startswith("timed out after ")
    assert res.output_tail == "started"
    child = int(pidfile.read_text())
    wait_for("the background child to be gone", lambda: not pid_alive(child), timeout=10)


def test_it_runs_only_on_the_exact_commit_with_nothing_uncommitted(repo: Path) -> None:
    r = Repo.discover(repo)
    first = head(repo)
    (repo / "more.txt").write_text("more\n")
    git(repo, "add", "more.txt")
    git(repo, "commit", "-q", "-m", "more")

    with pytest.raises(StateConflict, match="the worktree is at"):
        verify.run_verify(r, repo, first, "true", timeout=10)
    (repo / "stray.txt").write_text("not committed\n")
    with pytest.raises(StateConflict, match=r"uncommitted changes \(stray.txt \(untracked\)\)"):
        verify.run_verify(r, repo, head(repo), "true", timeout=10)


def test_results_are_notes_of_their_own_beside_the_worker_notes(repo: Path) -> None:
    r = Repo.discover(repo)
    commit = head(repo)
    git(repo, "notes", "--ref=po", "add", "-m", "po-plan: p\npo-task: t", commit)
    assert verify.latest(r, commit) is None

    first = verify.record(r, verify.run_verify(r, repo, commit, "exit 2", timeout=10), "p", "t")
    second = verify.record(r, verify.run_verify(r, repo, commit, "echo fine", timeout=10), "p", "t")

    note = tomllib.loads(git(repo, "notes", "--ref=po-verify", "show", commit))
    assert note["passed"] is True and note["exit_code"] == 0  # the latest result wins
    assert note["command"] == "echo fine" and note["commit"] == commit
    assert note["plan"] == "p" and note["task"] == "t" and note["output_tail"] == "fine"
    assert git(repo, "notes", "--ref=po", "show", commit) == "po-plan: p\npo-task: t\n"
    assert "passed = true" in git(repo, "log", "-1", "--notes=po-verify", "--format=%N", commit)
    read = verify.latest(r, commit)
    assert read == second and not first.passed
    assert read is not None and read.to_json()["passed"] is True


def test_a_temporary_worktree_verifies_any_commit_and_leaves_nothing(
    repo: Path, tmp_path: Path
) -> None:
    r = Repo.discover(repo)
    before = checkout_snapshot(repo)
    all_refs = refs(repo)
    root = tmp_path / "worktrees"
    (repo / "README.md").write_text("edited in the user's checkout\n")  # no effect on verify
    dirty = checkout_snapshot(repo)

    res = verify.run_in_temp_worktree(
        r, "p", "t", head(repo), "cat README.md; pwd; touch junk", root=root
    )

    assert res.passed
    assert res.output_tail.splitlines()[0] == "hello"
    assert res.output_tail.splitlines()[1] == str(root / "p" / "verify+t")
    assert worktree_paths(repo) == []
    assert refs(repo) == all_refs
    assert not (root / "p" / "verify+t").exists()
    assert checkout_snapshot(repo) == dirty != before
    assert os.listdir(root / "p") == []


def test_a_stop_from_another_thread_ends_it_at_once(repo: Path, tmp_path: Path) -> None:
    r = Repo.discover(repo)
    stop = threading.Event()
    pidfile = tmp_path / "pid"
    caught: list[BaseException] = []

    def work() -> None:
        try:
            verify.run_verify(
                r, repo, head(repo), f"echo $$ > {pidfile}; sleep 60", timeout=None, stop=stop
            )
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    wait_for("the command to start", lambda: pidfile.exists() and pidfile.read_text().strip() != "")
    began = time.monotonic()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - began < 8
    assert [type(e) for e in caught] == [Interrupted]
    wait_for("the command to be gone", lambda: not pid_alive(int(pidfile.read_text())))
