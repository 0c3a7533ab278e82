"""git po push / fetch / sync / status --remote between clones, over file:// and git daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.helpers import start, status_json, write_plan
from tests.sharing import GitDaemon, bare_remote, clone_of, comparable_status

PLAN = r"""
[tasks.a]
agent = "shell"
run = '''echo a > a.txt && git add a.txt && git commit -q -m '[CHECKPOINT] a half' &&
    git commit -q --allow-empty -m '[COMPLETE] a''''

[tasks.b]
agent = "shell"
depends_on = ["a"]
run = "echo b > b.txt && git add b.txt && git commit -q -m '[COMPLETE] b'"
"""


@pytest.fixture
def origin(repo: Path, tmp_path: Path) -> Path:
    return bare_remote(repo, tmp_path)


def _run_plan(repo: Path, tmp_path: Path) -> None:
    res = start(repo, write_plan(tmp_path, "p", PLAN))
    assert res.code == 0, res


def test_push_then_fetch_gives_another_clone_the_same_status(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    _run_plan(repo, tmp_path)
    git(repo, "notes", "--ref=po-verify", "add", "-m", "verified = true", "HEAD")
    res = run_po(repo, "push", "origin", "p")
    assert res.code == 0, res
    assert "pushed to origin:" in res.out
    remote_refs = git(origin, "for-each-ref", "--format=%(refname)")
    for ref in ("refs/po/p/plan", "refs/po/p/tasks/b", "refs/heads/po/p/a", "refs/notes/po"):
        assert ref in remote_refs
    assert "refs/notes/po-verify" in remote_refs  # every notes ref of git po travels

    other = clone_of(origin, tmp_path / "other")
    res = run_po(other, "fetch", "origin")
    assert res.code == 0, res
    assert comparable_status(status_json(other, "p")) == comparable_status(status_json(repo, "p"))
    assert git(other, "rev-parse", "refs/notes/po-verify") == git(
        repo, "rev-parse", "refs/notes/po-verify"
    )
    again = run_po(repo, "push", "origin")  # nothing new: nothing sent, exit 0
    assert again.code == 0 and "nothing to do" in again.out, again


def test_push_before_any_note_exists_works(repo: Path, origin: Path, tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    git(repo, "update-ref", "refs/heads/po/x/t", "HEAD")
    res = run_po(repo, "push")  # origin by default; no notes, no state: no error
    assert res.code == 0, res
    assert git(origin, "rev-parse", "refs/heads/po/x/t") == git(repo, "rev-parse", "HEAD")


def _advance(clone: Path, ref: str, subject: str) -> str:
    """A new state commit on top of ref, as a run would write it."""
    tip = git(clone, "rev-parse", ref).strip()
    tree = git(clone, "rev-parse", f"{tip}^{{tree}}").strip()
    new = git(clone, "commit-tree", tree, "-p", tip, "-m", subject).strip()
    git(clone, "update-ref", ref, new, tip)
    return new


def test_fetch_never_moves_local_state_backwards(repo: Path, origin: Path, tmp_path: Path) -> None:
    _run_plan(repo, tmp_path)
    assert run_po(repo, "push").code == 0
    other = clone_of(origin, tmp_path / "other")
    assert run_po(other, "init", "--share", "origin", "--no-example").code == 0
    assert run_po(other, "fetch").code == 0
    ref = "refs/po/p/tasks/a"
    newer = _advance(other, ref, "a: newer here")
    git(other, "fetch", "-q", "origin")  # a plain fetch (an editor's) with init's refspecs
    assert git(other, "rev-parse", ref).strip() == newer
    res = run_po(other, "fetch", "origin", "-v")
    assert res.code == 0, res
    assert f"ours-newer {ref}" in res.out
    assert git(other, "rev-parse", ref).strip() == newer
    # and the newer state goes back with a lease over the remote's older one
    assert run_po(other, "push").code == 0
    assert git(origin, "rev-parse", ref).strip() == newer
    # the first clone takes it forward
    res = run_po(repo, "fetch", "-v")
    assert f"forwarded  {ref}" in res.out, res
    assert git(repo, "rev-parse", ref).strip() == newer


def test_diverged_state_is_reported_and_kept(repo: Path, origin: Path, tmp_path: Path) -> None:
    _run_plan(repo, tmp_path)
    assert run_po(repo, "push").code == 0
    other = clone_of(origin, tmp_path / "other")
    assert run_po(other, "fetch").code == 0
    ref = "refs/po/p/tasks/b"
    theirs = _advance(repo, ref, "b: written in the first clone")
    assert run_po(repo, "push").code == 0
    ours = _advance(other, ref, "b: written in the second clone")

    res = run_po(other, "fetch")
    assert res.code == 5, res
    assert f"warning: {ref}: diverged" in res.err
    assert git(other, "rev-parse", ref).strip() == ours  # ours stays
    kept = "refs/po-diverged/origin/po/p/tasks/b"
    assert git(other, "rev-parse", kept).strip() == theirs  # theirs is kept, not dropped
    res = run_po(other, "push")
    assert res.code == 5 and "diverged" in res.err, res
    assert git(origin, "rev-parse", ref).strip() == theirs  # the remote's was not overwritten


def test_notes_from_two_clones_are_merged(repo: Path, origin: Path, tmp_path: Path) -> None:
    one = clone_of(origin, tmp_path / "one")
    two = clone_of(origin, tmp_path / "two")
    git(one, "notes", "--ref=po", "add", "-m", "po-task: from-one", "HEAD")
    git(two, "notes", "--ref=po", "add", "-m", "po-task: from-two", "HEAD")
    first = git(two, "rev-parse", "HEAD").strip()
    git(two, "commit", "-q", "--allow-empty", "-m", "other")
    git(two, "notes", "--ref=po", "add", "-m", "po-attempt: 2", "HEAD")
    git(two, "push", "-q", "origin", "HEAD:refs/heads/po/q/t")
    assert run_po(one, "sync").code == 0
    res = run_po(two, "sync")
    assert res.code == 0, res
    assert "merged" in res.out
    assert run_po(one, "sync").code == 0
    for clone in (one, two):
        note = git(clone, "notes", "--ref=po", "show", first)
        assert "po-task: from-one" in note and "po-task: from-two" in note
        assert "po-attempt: 2" in git(clone, "notes", "--ref=po", "show", "refs/heads/po/q/t")
    assert git(one, "rev-parse", "refs/notes/po") == git(two, "rev-parse", "refs/notes/po")


def test_status_remote_reads_without_changing_local_refs(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    _run_plan(repo, tmp_path)
    assert run_po(repo, "push").code == 0
    other = clone_of(origin, tmp_path / "other")
    before = git(other, "for-each-ref")
    res = run_po(other, "status", "--remote", "origin", "--json", "p")
    assert res.code == 0, res
    assert comparable_status(json.loads(res.out)) == comparable_status(status_json(repo, "p"))
    assert git(other, "for-each-ref") == before
    assert run_po(other, "status", "--remote", "nosuch").code == 2


def test_share_over_git_daemon(repo: Path, tmp_path: Path) -> None:
    _run_plan(repo, tmp_path)
    with GitDaemon(tmp_path / "served") as daemon:
        daemon.create("shop.git")
        git(repo, "remote", "add", "hub", daemon.url("shop.git"))
        res = run_po(repo, "push", "hub")
        assert res.code == 0, res
        other = tmp_path / "other"
        git(tmp_path, "clone", "-q", daemon.url("shop.git"), str(other))
        assert run_po(other, "sync", "origin").code == 0
        assert comparable_status(status_json(other, "p")) == comparable_status(
            status_json(repo, "p")
        )


def test_integrate_from_another_clone_pushes_with_a_lease(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    _run_plan(repo, tmp_path)
    assert run_po(repo, "push").code == 0
    other = clone_of(origin, tmp_path / "other")
    assert run_po(other, "fetch").code == 0
    assert run_po(other, "trust", "p", "--yes").code == 0
    res = run_po(other, "integrate", "p", "--remote", "origin", "--into", "main")
    assert res.code == 0, res
    assert "pushed to origin" in res.out
    tree = git(origin, "ls-tree", "--name-only", "main").split()
    assert {"a.txt", "b.txt"} <= set(tree)
    assert git(origin, "rev-parse", "refs/heads/po/p/integration") == git(
        other, "rev-parse", "refs/heads/po/p/integration"
    )


def test_a_verify_pass_noted_elsewhere_never_skips_the_verify_here(
    repo: Path, origin: Path, tmp_path: Path
) -> None:
    """Notes travel with fetches and anyone with push access can write one: integrate reuses a
    pass only when it ran on this machine, and runs the verify again on a clone that fetched it."""
    marker = tmp_path / "verify-ok"
    marker.write_text("ok\n")
    body = f'verify = "test -f {marker}"\n' + PLAN.split("[tasks.b]")[0]
    res = start(repo, write_plan(tmp_path, "v", body))
    assert res.code == 0, res
    assert run_po(repo, "push", "origin", "v").code == 0
    other = clone_of(origin, tmp_path / "other")
    assert run_po(other, "fetch", "origin").code == 0
    assert run_po(other, "trust", "v", "--yes").code == 0
    tip = git(repo, "rev-parse", "po/v/a").strip()
    assert "passed = true" in git(other, "notes", "--ref=po-verify", "show", tip)

    marker.unlink()  # the verify would fail now, wherever it runs
    there = run_po(other, "integrate", "v")
    assert there.code == 1, there  # run again on the clone, and failed: nothing integrated
    assert git(other, "rev-parse", "-q", "--verify", "po/v/integration", check=False).strip() == ""

    here = run_po(repo, "integrate", "v")  # the pass that ran on this machine still holds
    assert here.code == 0, here
    assert "reused from" in here.out
