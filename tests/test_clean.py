"""`git po clean`: worktrees and branches go only when their work is safe, and even --force keeps
the work reachable. Each test checks what a user sees: exit codes, the listing of what would be
lost, worktrees and files on disk, refs, and their own checkout left alone."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, refs, run_po
from tests.helpers import DIAMOND, checkout_snapshot, worktree_paths, worktree_root
from tests.test_integrate import clash, common_dir, rev, run_plan

PAIR = """
[tasks.a]
prompt = "Write a.txt."

[tasks.b]
prompt = "Write b.txt."
"""


def worktree(repo: Path, plan: str, task: str) -> Path:
    return worktree_root(repo) / plan / task


def test_clean_refuses_unmerged_commits_then_removes_integrated_work(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    before = checkout_snapshot(repo)

    res = run_po(repo, "clean", "pair")

    assert res.code == 5, res
    for t in "ab":
        assert f"refused worktree {worktree(repo, 'pair', t)}" in res.out
        assert worktree(repo, "pair", t).is_dir()
    assert "2 commits in neither po/pair/integration nor a snapshot ref" in res.out
    assert f"{rev(repo, 'po/pair/a')[:12]} [COMPLETE] a done" in res.out
    assert "integrate first" in res.err

    assert run_po(repo, "integrate", "pair").code == 0
    dry = run_po(repo, "clean", "pair", "--branches", "-n")
    assert dry.code == 0, dry
    assert "would remove worktree" in dry.out and "would delete branch po/pair/a" in dry.out
    assert all(worktree(repo, "pair", t).is_dir() for t in "ab")

    res = run_po(repo, "clean", "pair")
    assert res.code == 0, res
    assert not worktree(repo, "pair", "a").exists() and not worktree(repo, "pair", "b").exists()
    assert worktree_paths(repo) == []
    assert "refs/heads/po/pair/a" in refs(repo)  # branches stay without --branches

    res = run_po(repo, "clean", "pair", "--branches")
    assert res.code == 0, res
    assert "deleted branch po/pair/a" in res.out and "deleted branch po/pair/b" in res.out
    left = refs(repo)
    assert "refs/heads/po/pair/a" not in left and "refs/heads/po/pair/b" not in left
    assert "refs/heads/po/pair/integration" in left  # never removed
    assert "refs/po/pair/tasks/a" in left  # the plan's state stays without --all
    assert checkout_snapshot(repo) == before
    # integrating again after the branches are gone is still fine
    again = run_po(repo, "integrate", "pair")
    assert again.code == 0 and again.out.count("already integrated") == 2, again


def test_clean_refuses_uncommitted_and_untracked_files_unless_forced(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    assert run_po(repo, "integrate", "pair").code == 0
    before = checkout_snapshot(repo)
    (worktree(repo, "pair", "a") / "a.txt").write_text("changed, not committed\n")
    (worktree(repo, "pair", "b") / "notes.txt").write_text("untracked\n")
    (worktree(repo, "pair", "b") / ".gitignore").write_text("")  # untracked too
    (worktree(repo, "pair", "b") / "scratch").mkdir()
    (worktree(repo, "pair", "b") / "scratch" / "deep.txt").write_text("deep\n")

    res = run_po(repo, "clean", "pair")

    assert res.code == 5, res
    assert "a.txt (modified)" in res.out
    assert "notes.txt (untracked)" in res.out and "scratch/deep.txt (untracked)" in res.out
    assert (worktree(repo, "pair", "a") / "a.txt").read_text() == "changed, not committed\n"
    assert (worktree(repo, "pair", "b") / "notes.txt").exists()

    forced = run_po(repo, "clean", "pair", "--force")
    assert forced.code == 0, forced
    assert not worktree(repo, "pair", "a").exists() and not worktree(repo, "pair", "b").exists()
    # nothing was lost: it is in the snapshot refs
    assert git(repo, "show", "refs/po/pair/wip/a:a.txt") == "changed, not committed\n"
    assert git(repo, "show", "refs/po/pair/wip/b:notes.txt") == "untracked\n"
    assert git(repo, "show", "refs/po/pair/wip/b:scratch/deep.txt") == "deep\n"
    assert f"kept in refs/po/pair/wip/a ({rev(repo, 'refs/po/pair/wip/a')[:12]})" in forced.out
    git(repo, "merge-base", "--is-ancestor", "po/pair/a", "refs/po/pair/wip/a")
    # --all refuses while a snapshot holds work the integration branch lacks
    everything = run_po(repo, "clean", "pair", "--all")
    assert everything.code == 5, everything
    assert "refs/po/pair/wip/a holds 1 commit(s) not in po/pair/integration" in everything.out
    assert "refs/po/pair/plan" in refs(repo)
    assert checkout_snapshot(repo) == before


def test_clean_force_keeps_unmerged_branches_reachable(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    tips = {t: rev(repo, f"po/pair/{t}") for t in "ab"}

    refused = run_po(repo, "clean", "pair", "--branches")
    assert refused.code == 5, refused
    assert "refs/heads/po/pair/a" in refs(repo)

    res = run_po(repo, "clean", "pair", "--branches", "--force")

    assert res.code == 0, res
    left = refs(repo)
    for t in "ab":
        assert f"refs/heads/po/pair/{t}" not in left
        git(repo, "merge-base", "--is-ancestor", tips[t], f"refs/po/pair/wip/{t}")
    assert worktree_paths(repo) == []


def test_clean_all_removes_the_plan_once_everything_is_integrated(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "house", DIAMOND)
    before = checkout_snapshot(repo)
    assert run_po(repo, "clean", "house", "--all").code == 5  # nothing integrated yet
    assert "refs/po/house/plan" in refs(repo)
    assert run_po(repo, "integrate", "house").code == 0
    tip = rev(repo, "po/house/integration")

    res = run_po(repo, "clean", "house", "--all")

    assert res.code == 0, res
    assert "deleted refs/po/house/plan" in res.out
    left = refs(repo)
    assert not [r for r in left if r.startswith("refs/po/house/")]
    assert [r for r in left if r.startswith("refs/heads/po/house/")] == [
        "refs/heads/po/house/integration"
    ]
    assert left["refs/heads/po/house/integration"] == tip
    assert worktree_paths(repo) == []
    assert not (common_dir(repo) / "po" / "plans" / "house").exists()
    gone = run_po(repo, "status", "house")
    assert gone.code == 6, gone
    assert checkout_snapshot(repo) == before


def test_a_resolution_under_way_is_kept_or_snapshotted_with_its_markers(
    repo: Path, tmp_path: Path
) -> None:
    clash(repo, tmp_path)
    assert run_po(repo, "integrate", "clash").code == 1
    assert run_po(repo, "integrate", "clash", "--resolve", "right").code == 0
    where = worktree(repo, "clash", "resolve+right")
    (where / "shared.txt").write_text("one\nhalf resolved\n<<<<<<< HEAD\n")

    res = run_po(repo, "clean", "clash", "--branches")

    assert res.code == 5, res
    assert f"refused worktree {where}" in res.out
    assert "shared.txt (conflicted)" in res.out and "right.txt (added)" in res.out
    assert where.is_dir() and "refs/heads/po/clash/resolve+right" in refs(repo)

    forced = run_po(repo, "clean", "clash", "--branches", "--force")
    assert forced.code == 0, forced
    assert not where.exists()
    snapshot = "refs/po/clash/wip/resolve+right"
    assert git(repo, "show", f"{snapshot}:shared.txt") == "one\nhalf resolved\n<<<<<<< HEAD\n"
    assert git(repo, "show", f"{snapshot}:right.txt") == "r\n"
    assert "refs/heads/po/clash/resolve+right" not in refs(repo)
    assert "refs/heads/po/clash/integration" in refs(repo)
