"""Several clones draining one plan through a remote (`git po start --remote`, `git po work`):
real transports on loopback (file:// and a git daemon the test starts), the shell agent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import tomllib
from collections import Counter
from pathlib import Path

from tests.conftest import git, run_po
from tests.helpers import kill_quietly, spawn_po, status_json, wait_for, write_plan
from tests.sharing import (
    GitDaemon,
    chain_plan,
    clone_of,
    comparable_status,
    subjects_on,
    wait_published,
)

LEASE = {"GIT_PO_LEASE": "8"}  # the takeover test waits one lease after the kill
# where no machine dies, a lease no busy CI machine can miss: a takeover there is a bug
STEADY = {"GIT_PO_LEASE": "30"}


def _origin(tmp_path: Path) -> Path:
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = clone_of(bare, tmp_path / "seed")
    (seed / "README.md").write_text("shared\n")
    git(seed, "add", "README.md")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", "origin", "main")
    return bare


def _join(clone: Path, remote: str, plan: str, env: dict[str, str]) -> subprocess.Popen[str]:
    """What a person does on another machine: fetch, read and approve the plan, work."""
    for _try in range(5):  # a daemon on a loaded machine may refuse a connection now and then
        fetched = run_po(clone, "fetch", remote)
        if fetched.code == 0:
            break
        time.sleep(1)
    assert fetched.code == 0, fetched
    assert run_po(clone, "trust", plan, "--yes").code == 0
    return spawn_po(clone, "work", plan, "--remote", remote, "--no-live", env=env)


def _finish(proc: subprocess.Popen[str], timeout: float = 400) -> tuple[int, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"a machine did not finish:\n{out}\n{err}") from None
    return proc.returncode, out + err


def _remote_state(bare: Path, plan: str, task: str) -> dict[str, object]:
    data: dict[str, object] = tomllib.loads(
        git(bare, "show", f"refs/po/{plan}/tasks/{task}:state.toml")
    )
    return data


def _ancestor_or_same(repo: Path, old: str, new: str) -> bool:
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", old, new], cwd=repo, capture_output=True
    )
    return proc.returncode == 0


def _plain_fetch(repo: Path) -> bool:
    done = subprocess.run(["git", "fetch", "-q", "origin"], cwd=repo, capture_output=True)
    if done.returncode != 0:
        assert b"cannot lock ref" in done.stderr or b"unable to update" in done.stderr, done
        time.sleep(0.3)
    return done.returncode == 0


def _state_refs(repo: Path) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/po/p/tasks/")
    return dict(line.split() for line in out.splitlines())


def test_three_clones_drain_a_thirty_task_plan(tmp_path: Path) -> None:
    bare = _origin(tmp_path)
    log = tmp_path / "ran.log"
    plan = write_plan(tmp_path, "p", chain_plan(30, log))
    a, b, c = (clone_of(bare, tmp_path / m) for m in ("a", "b", "c"))
    began = time.monotonic()
    first = spawn_po(a, "start", str(plan), "--remote", "origin", "--no-live", env=STEADY)
    wait_published(bare, "p")
    others = [_join(m, "origin", "p", STEADY) for m in (b, c)]
    # a fetch while the run goes on (an editor's, or a person's) moves no state backwards
    assert run_po(b, "init", "--share", "origin", "--no-example").code == 0
    before = _state_refs(b)
    # (git refuses a fetch while another fetch of the clone, here work's own, holds a ref's
    # lock: that one is tried again, as a person would)
    assert any(_plain_fetch(b) for _try in range(10))
    assert run_po(b, "fetch", "origin").code in (0, 5)
    for ref, old in before.items():
        assert _ancestor_or_same(b, old, _state_refs(b)[ref]), ref
    results = [_finish(p) for p in (first, *others)]
    wall = time.monotonic() - began
    for code, out in results:
        assert code == 0, out

    ran = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert sorted(ran) == [f"t{i:02d}" for i in range(30)]
    assert set(ran.values()) == {1}, log.read_text() + "\n".join(o for _c, o in results)
    for i in range(30):
        t = f"t{i:02d}"
        subjects = subjects_on(bare, f"refs/heads/po/p/{t}")
        assert subjects.count(f"[COMPLETE] {t}") == 1, (t, subjects)
        state = _remote_state(bare, "p", t)
        assert state["state"] == "complete"
        assert isinstance(state["attempts"], list) and len(state["attempts"]) == 1
        claim = tomllib.loads(git(bare, "show", f"refs/po/p/claims/{t}:claim.toml"))
        assert claim["state"] == "done"
    # a dependent task started from its dependencies' pushed branches
    files = git(bare, "ls-tree", "--name-only", "refs/heads/po/p/t10").split()
    assert {"f07.txt", "f06.txt", "f04.txt", "f01.txt", "f10.txt"} <= set(files)

    taken = {}
    for (_code, out), name in zip(results, "abc", strict=True):
        line = next(x for x in out.splitlines() if x.startswith("claims: "))
        taken[name] = line
    # every clone converges on the same state after a sync (twice: notes merge both ways)
    for _round in range(2):
        for m in (a, b, c):
            assert run_po(m, "sync", "origin").code == 0
    views = [comparable_status(status_json(m, "p")) for m in (a, b, c)]
    assert views[0] == views[1] == views[2]
    notes = {git(m, "rev-parse", "refs/notes/po").strip() for m in (a, b, c)}
    assert len(notes) == 1
    report = {"tasks": 30, "wall_seconds": round(wall, 1), "claims": taken}
    (tmp_path / "drain.json").write_text(json.dumps(report))
    print(f"\n3-machine drain: {json.dumps(report)}")


SLOW = r"""
[tasks.slow]
agent = "shell"
run = '''
if git log --format=%s | grep -q '^\[CHECKPOINT\] slow half'; then
    echo "slow resumed $PO_ATTEMPT" >> LOG && git commit -q --allow-empty -m '[COMPLETE] slow'
else
    echo "slow began $PO_ATTEMPT" >> LOG && echo half > s.txt && git add s.txt &&
    git commit -q -m '[CHECKPOINT] slow half' && sleep 300
fi'''

[tasks.after]
agent = "shell"
depends_on = ["slow"]
run = "test -f s.txt && git commit -q --allow-empty -m '[COMPLETE] after'"
"""


def test_a_killed_machine_is_taken_over_from_its_last_pushed_checkpoint(tmp_path: Path) -> None:
    bare = _origin(tmp_path)
    log = tmp_path / "ran.log"
    plan = write_plan(tmp_path, "p", SLOW.replace("LOG", str(log)))
    a, b = (clone_of(bare, tmp_path / m) for m in ("a", "b"))
    dying = spawn_po(a, "start", str(plan), "--remote", "origin", "--no-live", env=LEASE)
    wait_for(
        "the checkpoint to reach the remote",
        lambda: "[CHECKPOINT] slow half" in git(bare, "log", "--all", "--format=%s"),
        timeout=120,
    )
    pushed = git(bare, "rev-parse", "refs/heads/po/p/slow").strip()
    worker = json.loads(
        json.dumps(tomllib.loads(git(a, "show", "refs/po/p/tasks/slow:state.toml")))
    )
    dying.send_signal(signal.SIGKILL)  # the machine dies: no goodbye, no release
    dying.communicate()
    pid = worker["attempts"][-1].get("pid")
    if pid:
        kill_quietly(int(pid))

    code, out = _finish(_join(b, "origin", "p", LEASE))
    assert code == 0, out
    assert "taken over from" in out
    assert "claims: 2 taken (1 taken over)" in out
    subjects = subjects_on(bare, "refs/heads/po/p/slow")
    assert subjects == ["[COMPLETE] slow", "[CHECKPOINT] slow half"]
    tip = git(bare, "rev-parse", "refs/heads/po/p/slow").strip()
    assert _ancestor_or_same(b, pushed, tip)  # nothing that reached the remote was lost
    assert log.read_text().splitlines() == ["slow began 1", "slow resumed 2"]
    state = _remote_state(bare, "p", "slow")
    attempts = state["attempts"]
    assert isinstance(attempts, list) and [x["outcome"] for x in attempts] == ["lost", "complete"]
    assert _remote_state(bare, "p", "after")["state"] == "complete"
    table = run_po(b, "status", "p")
    assert "complete" in table.out


def test_git_daemon_stopped_and_started_mid_run_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "ran.log"
    with GitDaemon(tmp_path / "served") as daemon:
        bare = daemon.create("shop.git")
        seed = clone_of(daemon.url("shop.git"), tmp_path / "seed")
        git(seed, "commit", "-q", "--allow-empty", "-m", "initial")
        git(seed, "push", "-q", "origin", "main")
        body = chain_plan(8, log, width=2).replace(
            "git commit -q -m '[CHECKPOINT]", "sleep 1 && git commit -q -m '[CHECKPOINT]"
        )
        plan = write_plan(tmp_path, "p", body)
        a, b = (clone_of(daemon.url("shop.git"), tmp_path / m) for m in ("a", "b"))
        env = {"GIT_PO_LEASE": "60"}
        first = spawn_po(a, "start", str(plan), "--remote", "origin", "--no-live", env=env)
        wait_published(bare, "p")
        second = _join(b, "origin", "p", env)
        wait_for("two tasks to complete", lambda: _complete_on(bare) >= 2, timeout=180)
        daemon.stop()
        time.sleep(3)
        daemon.start()
        results = [_finish(p) for p in (first, second)]
    for code, out in results:
        assert code == 0, out
    ran = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert sorted(ran) == [f"t{i:02d}" for i in range(8)]
    assert set(ran.values()) == {1}, log.read_text() + "\n".join(o for _c, o in results)
    for i in range(8):
        t = f"t{i:02d}"
        assert subjects_on(bare, f"refs/heads/po/p/{t}").count(f"[COMPLETE] {t}") == 1
        assert _remote_state(bare, "p", t)["state"] == "complete"


def _complete_on(bare: Path) -> int:
    out = git(bare, "for-each-ref", "--format=%(refname)", "refs/po/p/tasks/")
    n = 0
    for ref in out.split():
        if 'state = "complete"' in git(bare, "show", f"{ref}:state.toml"):
            n += 1
    return n


def test_work_needs_a_known_remote_and_a_trusted_plan(tmp_path: Path) -> None:
    bare = _origin(tmp_path)
    a, b = (clone_of(bare, tmp_path / m) for m in ("a", "b"))
    assert run_po(a, "work", "--remote", "nosuch").code == 2
    plan = write_plan(tmp_path, "p", '[tasks.x]\nagent = "shell"\nrun = "true"\n')
    res = run_po(a, "start", str(plan), "--remote", "origin", "--no-live", env=LEASE)
    assert res.code == 1, res  # x exits without a protocol commit: it failed
    # another clone runs nothing of a plan its user has not approved
    res = run_po(b, "work", "p", "--remote", "origin", "--no-live", env=LEASE)
    assert res.code not in (0, 1, 70), res
    assert "not trusted" in res.err
    assert os.path.exists(b / ".git")
