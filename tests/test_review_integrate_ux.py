"""Review findings on `git po integrate` and `git po clean`, each on a real repository.

Every test here demonstrated a bug found in review (as a strict xfail); the bugs are fixed and
the tests now guard against their return.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git, refs, run_po
from tests.helpers import fake_env, start, worktree_root, write_plan

SOLO = """
[tasks.a]
prompt = "Write a.txt."
"""

PAIR = """
[tasks.a]
prompt = "Write a.txt."

[tasks.b]
prompt = "Write b.txt."
"""


def run_plan(repo: Path, tmp_path: Path, name: str, body: str) -> None:
    res = start(repo, write_plan(tmp_path, name, body), env=fake_env(tmp_path))
    assert res.code == 0, res


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def test_clean_all_keeps_a_checked_out_task_branch_with_unmerged_work(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "solo", SOLO)
    assert run_po(repo, "integrate", "solo").code == 0
    assert run_po(repo, "clean", "solo").code == 0  # the worktree goes: its work is integrated
    # the user looks at the task's branch in their own checkout and adds a commit there
    git(repo, "checkout", "-q", "po/solo/a")
    (repo / "mine.txt").write_text("my own work\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "[CHECKPOINT] my own work")
    mine = rev(repo, "HEAD")

    res = run_po(repo, "clean", "solo", "--all")

    # the user's commit must still be on a ref, and their HEAD must still name a commit
    holders = git(repo, "for-each-ref", "--contains", mine, "--format=%(refname)").split()
    assert holders, (res, refs(repo))
    assert git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() == mine
    assert res.code == 5, res  # something was kept, so --all must not have gone ahead


def test_clean_does_not_claim_to_remove_a_worktree_it_leaves(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "solo", SOLO)
    assert run_po(repo, "integrate", "solo").code == 0
    old = worktree_root(repo) / "solo" / "a"
    assert old.is_dir()
    git(repo, "config", "po.worktreeDir", str(tmp_path / "elsewhere"))

    res = run_po(repo, "clean", "solo")

    assert not (f"removed worktree {old}" in res.out and old.is_dir()), res


def test_an_untracked_file_in_the_way_is_found_before_anything_moves(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    before = rev(repo, "main")
    (repo / "b.txt").write_text("the user's own b.txt, not committed\n")  # b's merge adds b.txt

    res = run_po(repo, "integrate", "pair", "--branch", "main")

    assert res.code == 5, res
    assert (repo / "b.txt").read_text() == "the user's own b.txt, not committed\n"
    if rev(repo, "main") == before:  # fixed by checking the whole way before moving anything
        assert not (repo / "a.txt").exists(), "the checkout's files moved without the branch"
    else:  # or fixed by saying truthfully what moved
        assert "nothing was changed" not in res.err, res
        assert "a: merged" in res.out, res


def test_dry_run_foresees_an_integration_branch_that_cannot_be_created(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    git(repo, "config", "po.integrationBranch", "po/pair")  # refs/heads/po/pair/a is in the way

    dry = run_po(repo, "integrate", "pair", "-n")
    real = run_po(repo, "integrate", "pair")

    assert real.code == 5, real
    assert dry.code == real.code, (dry, real)


def test_unknown_task_hint_lists_tasks_plainly(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)

    only = run_po(repo, "integrate", "pair", "--only", "zz")
    resolve = run_po(repo, "integrate", "pair", "--resolve", "zz")

    assert only.code == resolve.code == 6, (only, resolve)
    for res in (only, resolve):
        assert "('" not in res.err and "a, b" in res.err, res


def test_clean_branches_exits_5_and_names_what_a_kept_branch_holds(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "solo", SOLO)
    assert run_po(repo, "integrate", "solo").code == 0
    assert run_po(repo, "clean", "solo").code == 0
    git(repo, "checkout", "-q", "po/solo/a")
    (repo / "mine.txt").write_text("my own work\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "[CHECKPOINT] my own work")

    for args in (("--branches",), ("--branches", "-n"), ("--all", "-n")):
        res = run_po(repo, "clean", "solo", *args)
        assert res.code == 5, (args, res)
        assert "kept branch po/solo/a" in res.out, res
        assert "deleting it would lose:" in res.out and "my own work" in res.out, res
        assert "switch" in res.err and str(repo) in res.err, res
    assert rev(repo, "HEAD") == rev(repo, "po/solo/a")


def test_clean_all_hint_without_an_integration_branch(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "solo", SOLO)

    res = run_po(repo, "clean", "solo", "--all", "--force")

    assert res.code == 5, res
    assert "--not po/solo/integration" not in res.err, res
    assert "git po integrate solo" in res.err, res
    assert git(repo, "rev-parse", "--verify", "-q", "refs/po/solo/wip/a", check=False).strip()


def test_integrate_into_a_clean_checked_out_branch_still_moves_it(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "pair", PAIR)
    (repo / "notes.txt").write_text("untracked, in nobody's way\n")

    res = run_po(repo, "integrate", "pair", "--branch", "main")

    assert res.code == 0, res
    assert "a: merged" in res.out and "b: merged" in res.out, res
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()
    assert git(repo, "status", "--porcelain").split() == ["??", "notes.txt"]
