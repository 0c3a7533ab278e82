"""`git po integrate` past conflicts: a conflicting (or failing) task is set aside with every task
that depends on it, every other complete task is still merged, every conflict is listed at once,
and a verify that already passed on the same tree is not run again.

Plans run with the fake claude on real repositories; each verify run appends a line to a file
outside the repository, so the tests count them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import git, run_po
from tests.helpers import fake_env, start, tree_files, write_plan

# ind1 and ind2 are independent; left and right both change shared.txt (right conflicts, being
# merged second); r2 builds on right and r3 on r2; late adds ind1.txt as ind1 does (a second
# conflict, with an independent task).
ASIDE = """
verify = "echo run >> {count}"

[tasks.ind1]
prompt = "Write ind1.txt."

[tasks.left]
prompt = "Change the second line of shared.txt."

[tasks.right]
prompt = "Change the second line of shared.txt too."

[tasks.r2]
prompt = "Build on right."
depends_on = ["right"]

[tasks.r3]
prompt = "Build on r2."
depends_on = ["r2"]

[tasks.ind2]
prompt = "Write ind2.txt."

[tasks.late]
prompt = "Write ind1.txt your own way."
"""

SCRIPTS: dict[str, Any] = {
    "left": [
        {"write": "shared.txt", "content": "one\nleft\nthree\n"},
        {"commit": "[COMPLETE] left: second line"},
    ],
    "right": [
        {"write": "shared.txt", "content": "one\nright\nthree\n"},
        {"write": "right.txt", "content": "r\n"},
        {"commit": "[COMPLETE] right: second line"},
    ],
    "late": [
        {"write": "ind1.txt", "content": "late's own\n"},
        {"commit": "[COMPLETE] late: ind1.txt"},
    ],
}


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def run_plan(repo: Path, tmp_path: Path, name: str, body: str, scripts: dict[str, Any]) -> Path:
    """Run the plan to completion; returns the file each verify run appends a line to."""
    count = tmp_path / "verify-runs.txt"
    res = start(
        repo,
        write_plan(tmp_path, name, body.replace("{count}", str(count))),
        env=fake_env(tmp_path, scripts),
    )
    assert res.code == 0, res
    return count


def aside(repo: Path, tmp_path: Path) -> Path:
    (repo / "shared.txt").write_text("one\ntwo\nthree\n")
    git(repo, "add", "shared.txt")
    git(repo, "commit", "-q", "-m", "shared")
    return run_plan(repo, tmp_path, "aside", ASIDE, SCRIPTS)


def resolve(repo: Path, task: str, path: str, content: str) -> None:
    res = run_po(repo, "integrate", "aside", "--resolve", task)
    assert res.code == 0, res
    found = re.search(r"at (\S+)\n", res.out)
    assert found, res.out
    where = Path(found.group(1))
    (where / path).write_text(content)
    git(where, "add", path)
    git(where, "commit", "-q", "--no-edit")


def test_a_conflict_sets_aside_its_task_and_dependents_and_merges_everything_else(
    repo: Path, tmp_path: Path
) -> None:
    count = aside(repo, tmp_path)
    main = rev(repo, "main")
    assert runs(count) == 7  # each task's [COMPLETE], verified by the run
    ind1 = rev(repo, "po/aside/ind1")

    dry = run_po(repo, "integrate", "aside", "-n")
    assert dry.code == 1, dry
    assert "ind2: would merge" in dry.out and "r3: set aside (depends on right)" in dry.out
    assert "set aside: right (conflict), r2 (depends on right), r3 (depends on right), " in dry.out
    assert "refs/heads/po/aside/integration" not in git(repo, "for-each-ref")

    res = run_po(repo, "integrate", "aside")

    assert res.code == 1, res
    out = res.out
    for task in ("ind1", "left", "ind2"):
        assert f"  {task}: merged" in out, out
    assert "right: conflict — [COMPLETE] right: second line" in out
    assert "late: conflict — [COMPLETE] late: ind1.txt" in out
    # every conflict at once: its files and the tasks that last touched them
    assert re.search(r"shared\.txt +changed on both sides; last touched by left", out)
    assert re.search(r"ind1\.txt +added on both sides; last touched by ind1", out)
    assert "r2: set aside (depends on right) — [COMPLETE] r2 done" in out
    assert "r3: set aside (depends on right)" in out
    assert (
        "set aside: right (conflict), r2 (depends on right), r3 (depends on right), "
        "late (conflict); every other complete task is integrated"
    ) in out
    assert "--resolve TASK" in res.err and "for right, late" in res.err
    tip = rev(repo, "po/aside/integration")
    assert f"po/aside/integration is now at {tip[:12]}" in out
    assert tree_files(repo, tip) == {"README.md", "shared.txt", "ind1.txt", "ind2.txt"}
    assert git(repo, "show", f"{tip}:shared.txt") == "one\nleft\nthree\n"
    merged = git(repo, "log", "--first-parent", "--format=%s", "-3", tip).splitlines()
    assert [m.split()[2] for m in merged] == ["ind2", "left", "ind1"]  # in dependency order
    # ind1's merge has ind1's tree, which passed when ind1 completed: not run again
    assert f"verify reused from {ind1[:12]}" in out
    assert runs(count) == 7 + 2  # left's and ind2's merges
    note = git(repo, "notes", "--ref=po-verify", "show", rev(repo, f"{tip}~2"))
    assert f'reused_from = "{ind1}"' in note and "passed = true" in note

    # --into lands what merged, and still says (exit 1) what was set aside
    into = run_po(repo, "integrate", "aside", "--into", "main")
    assert into.code == 1, into
    assert rev(repo, "main") == tip
    assert f"main: fast-forward {main[:12]} -> {tip[:12]}" in into.out
    assert "main got what merged, not what was set aside: right, r2, r3, late" in into.err
    assert (repo / "ind2.txt").exists() and not (repo / "right.txt").exists()
    assert runs(count) == 9  # the tip passed already

    # resolve both conflicts; the next integrate merges them and what waited on right
    resolve(repo, "right", "shared.txt", "one\nleft and right\nthree\n")
    resolve(repo, "late", "ind1.txt", "ind1 and late\n")
    again = run_po(repo, "integrate", "aside", "--into", "main")
    assert again.code == 0, again
    assert "right: resolution taken" in again.out and "late: resolution taken" in again.out
    assert "r2: merged" in again.out and "r3: merged" in again.out
    assert "set aside" not in again.out
    final = rev(repo, "po/aside/integration")
    assert rev(repo, "main") == final
    assert tree_files(repo, final) >= {"right.txt", "r2.txt", "r3.txt", "ind1.txt", "ind2.txt"}
    assert git(repo, "show", f"{final}:shared.txt") == "one\nleft and right\nthree\n"
    assert git(repo, "show", f"{final}:ind1.txt") == "ind1 and late\n"


def test_verify_is_not_run_again_on_a_tree_it_passed_on(repo: Path, tmp_path: Path) -> None:
    body = 'verify = "echo run >> {count}"\n[tasks.a]\nprompt = "A."\n[tasks.b]\nprompt = "B."\n'
    count = run_plan(repo, tmp_path, "twice", body, {})
    assert runs(count) == 2
    first = run_po(repo, "integrate", "twice")
    assert first.code == 0, first
    assert f"verify reused from {rev(repo, 'po/twice/a')[:12]}" in first.out
    assert runs(count) == 3  # b's merge is a new tree
    # the same merges again on another branch: the same trees, nothing run
    other = run_po(repo, "integrate", "twice", "--branch", "again")
    assert other.code == 0, other
    assert other.out.count("verify reused from") == 2
    assert runs(count) == 3
    assert rev(repo, "again^{tree}") == rev(repo, "po/twice/integration^{tree}")


def test_a_failing_verify_sets_aside_the_task_and_its_dependents_only(
    repo: Path, tmp_path: Path
) -> None:
    body = """
verify = '''
if [ -f a.txt ] && [ -f bad.txt ]; then echo "a.txt and bad.txt: broken" >&2; exit 3; fi'''

[tasks.a]
prompt = "A."

[tasks.bad]
prompt = "Bad."

[tasks.after_bad]
prompt = "After bad."
depends_on = ["bad"]

[tasks.c]
prompt = "C."
"""
    run_plan(repo, tmp_path, "gate", body, {})
    res = run_po(repo, "integrate", "gate")
    assert res.code == 1, res
    assert "a: merged" in res.out and "c: merged" in res.out
    assert "bad: verify failed" in res.out and "a.txt and bad.txt: broken" in res.out
    assert "after_bad: set aside (depends on bad)" in res.out
    assert "set aside: bad (verify failed), after_bad (depends on bad)" in res.out
    assert "po-verify show" in res.err
    assert tree_files(repo, "po/gate/integration") == {"README.md", "a.txt", "c.txt"}
