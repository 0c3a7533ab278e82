"""`git po integrate`: plans run with the fake claude, then integrated, on real repositories.

Each test checks what a user sees: exit codes, output, branches and their commits, trailers,
notes, worktrees and files, and that their own checkout is byte-identical afterwards (except
where `--into` is asked to move it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import git, refs, run_po
from tests.helpers import (
    DIAMOND,
    checkout_snapshot,
    claude_log,
    fake_env,
    start,
    status_json,
    tasks_by_id,
    tree_files,
    worktree_paths,
    worktree_root,
    write_plan,
)

CLASH = """
[tasks.left]
prompt = "Change the second line of shared.txt."

[tasks.right]
prompt = "Change the second line of shared.txt too."

[tasks.third]
prompt = "Write third.txt."
depends_on = ["left"]
"""

CLASH_SCRIPTS: dict[str, Any] = {
    "left": [
        {"write": "shared.txt", "content": "one\nleft\nthree\n"},
        {"commit": "[COMPLETE] left: second line"},
    ],
    "right": [
        {"write": "shared.txt", "content": "one\nright\nthree\n"},
        {"write": "right.txt", "content": "r\n"},
        {"commit": "[COMPLETE] right: second line"},
    ],
}


def run_plan(
    repo: Path, tmp_path: Path, name: str, body: str, scripts: dict[str, Any] | None = None
) -> None:
    res = start(repo, write_plan(tmp_path, name, body), env=fake_env(tmp_path, scripts))
    assert res.code == 0, res


def clash(repo: Path, tmp_path: Path) -> None:
    """Plan `clash`: left and right both change shared.txt; third builds on left."""
    (repo / "shared.txt").write_text("one\ntwo\nthree\n")
    git(repo, "add", "shared.txt")
    git(repo, "commit", "-q", "-m", "shared")
    run_plan(repo, tmp_path, "clash", CLASH, CLASH_SCRIPTS)


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def trailers(repo: Path, commit: str) -> dict[str, str]:
    out = git(repo, "log", "-1", "--format=%(trailers:only,unfold)", commit)
    return dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)


def parents(repo: Path, commit: str) -> list[str]:
    return git(repo, "log", "-1", "--format=%P", commit).split()


def common_dir(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())


# --- clean merges ----------------------------------------------------------------------------


def test_a_diamond_integrates_in_dependency_order_and_again_is_a_no_op(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "house", DIAMOND)
    before = checkout_snapshot(repo)
    all_refs = refs(repo)
    sessions = {t: v["session_id"] for t, v in tasks_by_id(status_json(repo, "house")).items()}
    # no two tasks of the diamond touch the same file: the radar is quiet, the table unchanged
    assert all(not t["conflicts"] for t in status_json(repo, "house")["tasks"])
    assert "CONFLICTS" not in run_po(repo, "status", "house").out

    dry = run_po(repo, "integrate", "house", "--dry-run")
    assert dry.code == 0, dry
    assert [line.split(":")[0].strip() for line in dry.out.splitlines()[1:5]] == list("abcd")
    assert dry.out.count("would merge") == 4
    assert "dry run: no branch moved" in dry.out
    assert refs(repo) == all_refs

    # --only b: b's branch holds a's work, so a counts as integrated afterwards
    only = run_po(repo, "integrate", "house", "--only", "b")
    assert only.code == 0, only
    assert "b: merged" in only.out and "a:" not in only.out
    res = run_po(repo, "integrate", "house")
    assert res.code == 0, res
    assert "a: already integrated" in res.out
    assert "c: merged" in res.out and "d: merged" in res.out
    tip = rev(repo, "po/house/integration")
    assert f"po/house/integration is now at {tip[:12]}" in res.out

    merges = git(repo, "log", "--first-parent", "--format=%H %s", "po/house/integration").split(
        "\n"
    )
    subjects = [m.split(" ", 1)[1] for m in merges if m][:3]
    assert subjects == [f"Merge task {t} of plan house (po/house/{t})" for t in "dcb"]
    for line in merges[:3]:
        oid = line.split(" ", 1)[0]
        task = trailers(repo, oid)["Po-Task"]
        assert trailers(repo, oid) == {
            "Po-Plan": "house",
            "Po-Task": task,
            "Po-Session": sessions[task],
        }
        assert parents(repo, oid)[1] == rev(repo, f"po/house/{task}")
        assert f"[COMPLETE] {task} done" in git(repo, "log", "-1", "--format=%b", oid)
    # the first merge starts from the plan's base
    assert parents(repo, merges[2].split(" ", 1)[0])[0] == rev(repo, "main")
    # every task's work, merged exactly as the last task (which starts from all of them) has it
    assert rev(repo, "po/house/integration^{tree}") == rev(repo, "po/house/d^{tree}")
    assert tree_files(repo, "po/house/integration") == {
        "README.md",
        "a.txt",
        "b.txt",
        "c.txt",
        "d.txt",
    }

    again = run_po(repo, "integrate", "house")
    assert again.code == 0, again
    assert again.out.count("already integrated") == 4
    assert f"unchanged at {tip[:12]}" in again.out
    assert rev(repo, "po/house/integration") == tip
    assert checkout_snapshot(repo) == before
    assert len(worktree_paths(repo)) == 4  # the tasks' own; integrate made none


# --- conflicts -------------------------------------------------------------------------------


def test_a_conflict_leaves_the_branch_at_its_last_good_commit_and_names_files_and_tasks(
    repo: Path, tmp_path: Path
) -> None:
    clash(repo, tmp_path)
    before = checkout_snapshot(repo)
    all_refs = refs(repo)

    dry = run_po(repo, "integrate", "clash", "-n")
    assert dry.code == 1, dry
    assert "left: would merge" in dry.out and "right: conflict" in dry.out
    assert refs(repo) == all_refs

    res = run_po(repo, "integrate", "clash")
    assert res.code == 1, res
    assert "left: merged" in res.out
    assert "right: conflict — [COMPLETE] right: second line" in res.out
    assert re.search(r"shared\.txt +changed on both sides; last touched by left", res.out)
    assert "right.txt" not in res.out  # it merged cleanly
    assert "third: merged" in res.out  # it builds on left, not on right: merged all the same
    assert "set aside: right (conflict); every other complete task is integrated" in res.out
    assert "--resolve right" in res.err
    tip = rev(repo, "po/clash/integration")
    first = rev(repo, f"{tip}^")
    assert parents(repo, first) == [rev(repo, "main"), rev(repo, "po/clash/left")]
    assert parents(repo, tip) == [first, rev(repo, "po/clash/third")]
    assert git(repo, "show", f"{tip}:shared.txt") == "one\nleft\nthree\n"

    again = run_po(repo, "integrate", "clash")
    assert again.code == 1, again
    assert "left: already integrated" in again.out and "right: conflict" in again.out
    assert "third: already integrated" in again.out
    assert rev(repo, "po/clash/integration") == tip  # unchanged: nothing half-merged
    assert f"unchanged at {tip[:12]}" in again.out
    assert checkout_snapshot(repo) == before


def test_a_conflict_resolved_in_the_prepared_worktree_is_picked_up(
    repo: Path, tmp_path: Path
) -> None:
    clash(repo, tmp_path)
    before = checkout_snapshot(repo)
    assert run_po(repo, "integrate", "clash").code == 1
    tip = rev(repo, "po/clash/integration")

    res = run_po(repo, "integrate", "clash", "--resolve", "right")
    assert res.code == 0, res
    where = worktree_root(repo) / "clash" / "resolve+right"
    assert f"at {where}" in res.out
    assert "branch po/clash/resolve+right" in res.out
    assert "shared.txt — changed on both sides; last touched by left" in res.out
    text = (where / "shared.txt").read_text()
    assert text.startswith("one\n<<<<<<< ") and "left\n=======\nright\n>>>>>>> " in text
    assert git(where, "status", "--porcelain").splitlines() == ["A  right.txt", "UU shared.txt"]
    assert rev(where, "HEAD") == tip
    assert rev(where, "MERGE_HEAD") == rev(repo, "po/clash/right")
    # preparing it again is harmless
    again = run_po(repo, "integrate", "clash", "--resolve", "right")
    assert again.code == 0 and "already prepared" in again.out, again

    # not committed yet: the conflict stands and the command says where the resolution waits
    pending = run_po(repo, "integrate", "clash")
    assert pending.code == 1, pending
    assert f"its resolution in {where} is not committed yet" in pending.out

    (where / "shared.txt").write_text("one\nleft and right\nthree\n")
    git(where, "add", "shared.txt")
    git(where, "commit", "-q", "--no-edit")
    resolved = rev(where, "HEAD")

    res = run_po(repo, "integrate", "clash")
    assert res.code == 0, res
    assert f"right: resolution taken {resolved[:12]}" in res.out
    assert "third: already integrated" in res.out  # merged past the conflict, the first time
    first_parent = git(repo, "log", "--first-parent", "--format=%H", "po/clash/integration")
    assert resolved in first_parent.split()  # a fast-forward to the person's merge
    assert parents(repo, resolved) == [tip, rev(repo, "po/clash/right")]
    assert trailers(repo, resolved)["Po-Task"] == "right"
    assert trailers(repo, resolved)["Po-Plan"] == "clash"
    assert git(repo, "show", "po/clash/integration:shared.txt") == "one\nleft and right\nthree\n"
    # the resolve worktree and branch are gone: their work is in the integration branch
    assert not where.exists()
    assert "refs/heads/po/clash/resolve+right" not in refs(repo)
    assert all("resolve+" not in str(p) for p in worktree_paths(repo))
    assert checkout_snapshot(repo) == before


def test_resolve_with_agent_runs_claude_in_the_worktree_with_both_sides(
    repo: Path, tmp_path: Path
) -> None:
    clash(repo, tmp_path)
    assert run_po(repo, "integrate", "clash").code == 1
    resolver = tmp_path / "resolver"
    resolver.mkdir()
    env = fake_env(
        resolver,
        {
            "right": [
                {
                    "bash": "printf 'one\\nboth\\nthree\\n' > shared.txt && git add shared.txt "
                    "&& git commit -q --no-edit"
                },
            ]
        },
    )

    res = run_po(repo, "integrate", "clash", "--resolve", "right", "--agent", env=env)

    assert res.code == 0, res
    assert "resolved and committed on po/clash/resolve+right" in res.out
    [call] = claude_log(resolver)
    where = worktree_root(repo) / "clash" / "resolve+right"
    assert Path(call["cwd"]) == where
    prompt = call["prompt"]
    assert "shared.txt" in prompt and "last touched by left" in prompt
    assert "Change the second line of shared.txt too." in prompt  # the task's side
    assert "Change the second line of shared.txt." in prompt  # the integrated side
    assert "git commit --no-edit" in prompt
    done = run_po(repo, "integrate", "clash")
    assert done.code == 0, done
    assert git(repo, "show", "po/clash/integration:shared.txt") == "one\nboth\nthree\n"


# --- the verify gate on integration ----------------------------------------------------------

VERIFIED = """
verify = '''
if [ -f pass.txt ] && [ -f fail.txt ]; then echo "pass.txt and fail.txt: broken" >&2; exit 3; fi
echo verified'''

[tasks.pass]
prompt = "Write pass.txt."

[tasks.fail]
prompt = "Write fail.txt."
"""


def test_each_merge_is_verified_before_the_branch_moves(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "gate", VERIFIED)
    before = checkout_snapshot(repo)

    res = run_po(repo, "integrate", "gate")

    assert res.code == 1, res
    assert "pass: merged" in res.out
    assert "fail: verify failed" in res.out
    assert "verify failed (exit 3)" in res.out
    assert "pass.txt and fail.txt: broken" in res.out
    tip = rev(repo, "po/gate/integration")
    assert trailers(repo, tip)["Po-Task"] == "pass"  # the failing merge did not land
    good = git(repo, "notes", "--ref=po-verify", "show", tip)
    assert 'task = "pass"' in good and "passed = true" in good and "exit_code = 0" in good
    assert "verified" in good
    failed = re.search(r"po-verify show ([0-9a-f]{12})", res.err)
    assert failed, res.err
    note = git(repo, "notes", "--ref=po-verify", "show", failed.group(1))
    assert "passed = false" in note and "exit_code = 3" in note and "broken" in note
    # the worker notes in refs/notes/po are untouched by verify results
    assert "po-task: pass" in git(repo, "notes", "--ref=po", "show", "po/gate/pass")
    # the temporary worktree and its branch are gone
    assert all("verify+" not in str(p) for p in worktree_paths(repo))
    assert not [r for r in refs(repo) if "verify+" in r]
    # again: the good merge is kept, the bad one fails the same way
    again = run_po(repo, "integrate", "gate")
    assert again.code == 1 and "pass: already integrated" in again.out, again
    assert rev(repo, "po/gate/integration") == tip
    assert checkout_snapshot(repo) == before


# --- landing (--into) --------------------------------------------------------------------------


def test_into_moves_a_clean_checkout_along_and_refuses_a_dirty_one(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "house", DIAMOND)
    main = rev(repo, "main")
    (repo / "README.md").write_text("my own edit\n")
    dirty = checkout_snapshot(repo)

    res = run_po(repo, "integrate", "house", "--into", "main")

    assert res.code == 5, res
    assert f"main is checked out at {repo} with uncommitted changes" in res.err
    assert "README.md (modified)" in res.err and "main was not changed" in res.err
    assert rev(repo, "main") == main
    assert checkout_snapshot(repo) == dirty  # not a byte changed

    git(repo, "checkout", "--", "README.md")
    (repo / "notes.txt").write_text("untracked, not in the way\n")
    res = run_po(repo, "integrate", "house", "--into", "main")
    assert res.code == 0, res
    tip = rev(repo, "po/house/integration")
    assert f"main: fast-forward {main[:12]} -> {tip[:12]}" in res.out
    assert rev(repo, "main") == tip
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(repo, "status", "--porcelain") == "?? notes.txt\n"
    assert (repo / "d.txt").read_text() == git(repo, "show", "main:d.txt")
    assert "po: land plan house (fast-forward)" in git(repo, "reflog", "-1", "main")


def test_into_a_branch_that_moved_makes_a_merge_commit_and_updates_its_worktree(
    repo: Path, tmp_path: Path
) -> None:
    run_plan(repo, tmp_path, "house", DIAMOND)
    before = checkout_snapshot(repo)
    release = tmp_path / "release"
    git(repo, "worktree", "add", "-q", "-b", "release", str(release), "main")
    (release / "release.txt").write_text("r\n")
    git(release, "add", "release.txt")
    git(release, "commit", "-q", "-m", "release notes")
    old = rev(repo, "release")

    res = run_po(repo, "integrate", "house", "--into", "release")

    assert res.code == 0, res
    new = rev(repo, "release")
    tip = rev(repo, "po/house/integration")
    assert parents(repo, new) == [old, tip]
    message = git(repo, "log", "-1", "--format=%B", new)
    assert message.startswith("Merge po/house/integration into release (plan house)")
    assert "Tasks: a, b, c, d" in message and "Po-Plan: house" in message
    assert f"release: merge {old[:12]} -> {new[:12]}" in res.out
    # its worktree followed: files, index and HEAD agree
    assert git(release, "status", "--porcelain") == ""
    assert (release / "a.txt").exists() and (release / "release.txt").exists()
    assert rev(release, "HEAD") == new
    assert checkout_snapshot(repo) == before
    # nothing new since: up to date
    again = run_po(repo, "integrate", "house", "--into", "release")
    assert again.code == 0 and "release already contains" in again.out, again


def test_integrate_refuses_unknown_tasks_and_odd_options(repo: Path, tmp_path: Path) -> None:
    run_plan(repo, tmp_path, "house", '[tasks.a]\nprompt = "Lay the foundation."\n')
    unknown = run_po(repo, "integrate", "house", "--only", "zzz")
    assert unknown.code == 6 and "no task 'zzz'" in unknown.err, unknown
    lonely = run_po(repo, "integrate", "house", "--agent")
    assert lonely.code == 2 and "--agent goes with --resolve" in lonely.err, lonely
    bad = run_po(repo, "integrate", "house", "--branch", "po/house/a")
    assert bad.code == 2 and "belongs to a task" in bad.err, bad
    nowhere = run_po(repo, "integrate", "house", "--into", "nosuch")
    assert nowhere.code == 2 and "no such branch" in nowhere.err, nowhere
    assert "refs/heads/nosuch" not in refs(repo)
    assert "refs/heads/po/house/integration" not in refs(repo)  # checked before integrating
    data = json.loads(run_po(repo, "status", "--json", "house").out)
    assert [t["task"] for t in data["tasks"]] == ["a"]
    # the integration branch: --branch, else the plan, else po.integrationBranch, else default
    git(repo, "config", "po.integrationBranch", "integrated/house")
    assert run_po(repo, "integrate", "house").code == 0
    assert run_po(repo, "integrate", "house", "--branch", "other/house").code == 0
    assert {r for r in refs(repo) if "house" in r and "heads" in r and "po/house/" not in r} == {
        "refs/heads/integrated/house",
        "refs/heads/other/house",
    }
    assert "refs/heads/po/house/integration" not in refs(repo)
