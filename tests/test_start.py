"""`git po start` with the fake claude: real repositories, real git, real processes.

Every test checks what a user would see: the exit code, the output, refs and branches, files in
commits, `git po status`, and that the user's own checkout is left alone.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_CLAUDE_DIR, git, refs, run_po
from tests.helpers import (
    DIAMOND,
    Script,
    change_lines,
    checkout_snapshot,
    claude_log,
    fake_env,
    index_of,
    invocation,
    kill_quietly,
    pid_alive,
    ref_state,
    run_git_po,
    run_record,
    spawn_po,
    start,
    status_json,
    subjects,
    task_state,
    tasks_by_id,
    tree_files,
    wait_for,
    worktree_paths,
    worktree_root,
    write_plan,
)

COMPLETE = {"commit": "[COMPLETE] {task} done", "allow_empty": True}
WIDE = {"COLUMNS": "400"}  # the status table fits the terminal; make it wide


def common_dir(repo: Path) -> Path:
    return Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())


# --- 1. a diamond, end to end ------------------------------------------------------------------


def test_diamond_completes_and_every_bit_of_state_is_in_git(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "house", DIAMOND)
    before = checkout_snapshot(repo)
    main = git(repo, "rev-parse", "main").strip()

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    status = status_json(repo, "house")
    tasks = tasks_by_id(status)
    assert {t: v["state"] for t, v in tasks.items()} == dict.fromkeys("abcd", "complete")
    assert status["run"]["state"] == "finished"
    assert "wall time" in res.out

    # the last task starts from the merge of its dependencies: it holds everyone's work
    assert tree_files(repo, "po/house/d") == {"README.md", "a.txt", "b.txt", "c.txt", "d.txt"}
    assert git(repo, "show", "po/house/d:b.txt").startswith("b\n")
    assert git(repo, "show", "po/house/d:c.txt").startswith("c\n")
    assert tree_files(repo, "po/house/b") == {"README.md", "a.txt", "b.txt"}

    r = refs(repo)
    assert "refs/po/house/plan" in r
    assert git(repo, "show", "refs/po/house/plan:plan.toml") == plan.read_text()
    for t in "abcd":
        for kind in ("tasks", "bases"):
            assert f"refs/po/house/{kind}/{t}" in r, f"missing {kind}/{t}"
        assert f"refs/heads/po/house/{t}" in r
    assert r["refs/po/house/bases/a"] == main
    assert r["refs/po/house/bases/b"] == r["refs/heads/po/house/a"]
    assert r["refs/po/house/bases/c"] == r["refs/heads/po/house/a"]
    d_base_parents = git(repo, "log", "-1", "--format=%P", "refs/po/house/bases/d").split()
    assert set(d_base_parents) == {r["refs/heads/po/house/b"], r["refs/heads/po/house/c"]}
    git(repo, "merge-base", "--is-ancestor", "refs/po/house/bases/d", "po/house/d")

    for t in "abcd":
        # one readable commit per state change
        log = subjects(repo, f"refs/po/house/tasks/{t}")
        assert len(log) == 4, log
        assert log[3].startswith(f"{t}: pending, waits for ")
        assert log[2] == f"{t}: starting attempt 1 (claude)"
        assert log[1].startswith(f"{t}: running attempt 1 (claude, pid ")
        assert log[0] == f"{t}: complete — [COMPLETE] {t} done"
        assert (
            len(git(repo, "ls-tree", "--name-only", f"refs/po/house/tasks/{t}:events").split()) == 4
        )
        st = task_state(repo, "house", t)
        assert st["state"] == "complete"
        assert st["branch"] == f"po/house/{t}"
        assert [a["outcome"] for a in st["attempts"]] == ["complete"]
        assert st["attempts"][0]["exit_code"] == 0

        # notes on each of the worker's commits name plan, task, attempt and session
        session = tasks[t]["session_id"]
        assert session and session == invocation(tmp_path, t)["session_id"]
        worker_commits = git(
            repo, "rev-list", "--first-parent", f"refs/po/house/bases/{t}..po/house/{t}"
        ).split()
        assert len(worker_commits) == 2
        for oid in worker_commits:
            note = git(repo, "notes", "--ref=po", "show", oid)
            assert "po-plan: house" in note
            assert f"po-task: {t}" in note
            assert "po-attempt: 1" in note
            assert f"po-session: {session}" in note

    assert pending_line_of(repo, "b") == "b: pending, waits for a"
    assert pending_line_of(repo, "d") == "d: pending, waits for b, c"

    # the user's checkout is exactly as it was; worktrees live in a per-user data directory
    # keyed by the repository: outside .git (Claude Code refuses edits there) and the user's tree
    assert checkout_snapshot(repo) == before
    assert git(repo, "status", "--porcelain") == ""
    wts = worktree_paths(repo)
    root = (worktree_root(repo) / "house").resolve()
    assert sorted(p.resolve() for p in wts) == [root / t for t in "abcd"]
    home = Path(os.environ["HOME"]).resolve()
    assert root.is_relative_to(home / ".local" / "share" / "git-po" / "worktrees")
    for p in wts:
        assert ".git" not in p.resolve().parts and ".claude" not in p.resolve().parts
        assert not p.resolve().is_relative_to(repo.resolve())
    common = common_dir(repo).resolve()
    assert (root.parent / "repository").read_text().strip() == str(common)


def pending_line_of(repo: Path, task: str) -> str:
    return subjects(repo, f"refs/po/house/tasks/{task}")[-1]


def test_the_users_uncommitted_changes_stay_theirs(repo: Path, tmp_path: Path) -> None:
    (repo / "README.md").write_text("my edit\n")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "untracked.txt").write_text("mine\n")
    plan = write_plan(tmp_path, "dirtymain", '[tasks.t]\nprompt = "go"\n')
    before = checkout_snapshot(repo)

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    assert checkout_snapshot(repo) == before
    assert tree_files(repo, "po/dirtymain/t") == {"README.md", "t.txt"}
    assert git(repo, "show", "po/dirtymain/t:README.md") == "hello\n"


def test_ids_with_dots_dashes_and_underscores(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "ids",
        """
        name = "v1.2_rc-1"
        [tasks."api.v2"]
        prompt = "a"
        [tasks.x_y-Z9]
        prompt = "b"
        depends_on = ["api.v2"]
        """,
    )

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    tasks = tasks_by_id(status_json(repo, "v1.2_rc-1"))
    assert {t: v["state"] for t, v in tasks.items()} == {"api.v2": "complete", "x_y-Z9": "complete"}
    assert "api.v2.txt" in tree_files(repo, "po/v1.2_rc-1/x_y-Z9")
    assert task_state(repo, "v1.2_rc-1", "api.v2")["branch"] == "po/v1.2_rc-1/api.v2"


# --- 2. scheduling ---------------------------------------------------------------------------


def test_a_dependent_starts_when_its_dependency_completes_not_in_waves(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "waves",
        """
        [tasks.fast]
        prompt = "Quick one."
        [tasks.slow]
        prompt = "Slow one."
        [tasks.next]
        prompt = "After fast."
        depends_on = ["fast"]
        """,
    )
    env = fake_env(tmp_path, {"slow": [{"sleep": 3}, COMPLETE]})

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    lines = change_lines(res.out)
    slow_done = index_of(lines, "slow", "complete")
    assert index_of(lines, "next", "starting attempt 1") < slow_done
    assert index_of(lines, "next", "complete") < slow_done
    # the same story in the state refs
    nxt = task_state(repo, "waves", "next")["attempts"][0]
    slow = task_state(repo, "waves", "slow")["attempts"][0]
    assert nxt["started_at"] <= slow["ended_at"]
    assert nxt["ended_at"] <= slow["ended_at"]
    assert slow["duration_s"] >= 3


def timed_script(times: Path, pause: float) -> Script:
    """Record when the worker really runs, precisely, in a file outside the repository."""
    log = shlex.quote(str(times))
    return [
        {"bash": f"echo start {{task}} $(date +%s.%N) >> {log}"},
        {"sleep": pause},
        {"write": "{task}.txt", "content": "{task}\n"},
        COMPLETE,
        {"bash": f"echo end {{task}} $(date +%s.%N) >> {log}"},
    ]


def most_at_once(times: Path) -> int:
    events: list[tuple[float, int]] = []
    for line in times.read_text().splitlines():
        kind, _task, stamp = line.split()
        events.append((float(stamp), 1 if kind == "start" else -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


THREE = """
max_workers = 3
[tasks.x]
prompt = "x"
[tasks.y]
prompt = "y"
[tasks.z]
prompt = "z"
"""


def test_max_workers_option_runs_one_task_at_a_time(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "one", THREE)
    times = tmp_path / "times"
    env = fake_env(tmp_path, {t: timed_script(times, 0.3) for t in "xyz"})

    res = start(repo, plan, "--max-workers", "1", env=env)

    assert res.code == 0, res
    assert most_at_once(times) == 1
    # in the output, every start is followed by that same task's end
    lines = change_lines(res.out)
    for i, (task, msg) in enumerate(lines):
        if msg.startswith("running attempt"):
            assert lines[i + 1][0] == task and lines[i + 1][1].startswith("complete"), lines
    assert status_json(repo, "one")["run"]["max_workers"] == 1


def test_plan_max_workers_caps_parallelism(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "two", THREE.replace("max_workers = 3", "max_workers = 2"))
    times = tmp_path / "times"
    env = fake_env(tmp_path, {t: timed_script(times, 0.8) for t in "xyz"})

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert most_at_once(times) == 2


def test_longest_critical_path_starts_first(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "crit",
        """
        [tasks.short]
        prompt = "alone"
        [tasks.long]
        prompt = "first of three"
        [tasks.long2]
        prompt = "second of three"
        depends_on = ["long"]
        [tasks.long3]
        prompt = "third of three"
        depends_on = ["long2"]
        """,
    )
    env = fake_env(tmp_path)
    before = refs(repo)

    dry = run_po(repo, "start", str(plan), "--dry-run", "-j", "1", env=env)
    assert dry.code == 0, dry
    assert "starts first: long\n" in dry.out
    assert "critical path (3 tasks): long -> long2 -> long3" in dry.out
    assert refs(repo) == before and claude_log(tmp_path) == []

    res = start(repo, plan, "-j", "1", env=env)

    assert res.code == 0, res
    started = [t for t, msg in change_lines(res.out) if msg.startswith("running attempt")]
    assert started == ["long", "long2", "short", "long3"]


def test_root_tasks_branch_from_the_plan_base_not_the_users_head(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "switch", "-q", "-c", "release")
    (repo / "release.txt").write_text("r\n")
    git(repo, "add", "release.txt")
    git(repo, "commit", "-q", "-m", "release prep")
    git(repo, "switch", "-q", "main")
    plan = write_plan(
        tmp_path, "rel", 'name = "shipit"\nbase = "release"\n[tasks.t]\nprompt = "go"\n'
    )
    before = checkout_snapshot(repo)

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    release = git(repo, "rev-parse", "release").strip()
    assert git(repo, "rev-parse", "refs/po/shipit/bases/t").strip() == release
    assert "release.txt" in tree_files(repo, "po/shipit/t")
    status = status_json(repo, "shipit")  # the plan's name, not the file's
    assert status["run"]["base"] == release and status["run"]["base_rev"] == "release"
    assert checkout_snapshot(repo) == before


@pytest.mark.parametrize(
    ("plan_sets", "config", "option", "expected"),
    [
        (None, None, None, 3),
        (None, "2", None, 2),
        (4, "2", None, 4),
        (4, "2", "1", 1),
    ],
)
def test_how_many_workers(
    repo: Path,
    tmp_path: Path,
    plan_sets: int | None,
    config: str | None,
    option: str | None,
    expected: int,
) -> None:
    body = THREE.replace("max_workers = 3\n", f"max_workers = {plan_sets}\n" if plan_sets else "")
    plan = write_plan(tmp_path, "count", body)
    if config:
        git(repo, "config", "po.maxWorkers", config)
    args = ["--max-workers", option] if option else []

    res = run_po(repo, "start", str(plan), "--dry-run", *args)

    assert res.code == 0, res
    assert f"at most {expected} workers" in res.out


# --- 3. outcomes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    script: Script
    state: str
    reason: str  # expected in the status reason (substring)
    attempt: dict[str, Any]  # expected attempt fields in state.toml


OUTCOMES = {
    "blocked": Outcome(
        [
            {"write": "notes.md", "content": "q\n"},
            {"commit": "[BLOCKED:which database?] need a choice"},
        ],
        "blocked",
        "which database?",
        {"outcome": "blocked", "exit_code": 0},
    ),
    "needs-unknown-task": Outcome(
        [{"commit": "[NEEDS:other/item] waiting for the item", "allow_empty": True}],
        "blocked",
        "needs unknown task 'other'",
        {"outcome": "needs", "exit_code": 0},
    ),
    "no-protocol-commit": Outcome(
        [{"say": "All done, I promise."}],
        "failed",
        "exited without a [COMPLETE], [BLOCKED:...] or [NEEDS:...] commit",
        {"outcome": "no-progress", "exit_code": 0},
    ),
    "checkpoint-only": Outcome(
        [{"commit": "[CHECKPOINT] step one", "allow_empty": True}, {"exit": 0}],
        "failed",
        "without a [COMPLETE]",
        {"exit_code": 0},
    ),
    "checkpoint-after-complete": Outcome(
        [COMPLETE, {"commit": "[CHECKPOINT] one more thing", "allow_empty": True}],
        "failed",
        "without a [COMPLETE]",
        {"exit_code": 0, "outcome": "no-progress"},
    ),
    "nonzero-exit": Outcome(
        [{"exit": 3}],
        "failed",
        "exited with status 3",
        {"exit_code": 3},
    ),
    "crash": Outcome(
        [{"commit": "[CHECKPOINT] half way", "allow_empty": True}, {"crash": "SIGSEGV"}],
        "failed",
        "SIGSEGV",
        {"signal": 11},
    ),
    "api-error": Outcome(
        [{"api_error": 529, "retries": 2}],
        "failed",
        "API overloaded (529)",
        {"is_error": True, "api_error_status": 529, "exit_code": 1},
    ),
}


@pytest.mark.parametrize("case", list(OUTCOMES))
def test_outcome_of_a_worker_is_read_from_its_branch(repo: Path, tmp_path: Path, case: str) -> None:
    want = OUTCOMES[case]
    plan = write_plan(tmp_path, "out", '[tasks.t]\nprompt = "Try."\n')

    res = start(repo, plan, env=fake_env(tmp_path, {"t": want.script}))

    assert res.code == 1, res
    t = tasks_by_id(status_json(repo, "out"))["t"]
    assert t["state"] == want.state
    assert want.reason in (t["reason"] or "")
    attempt = task_state(repo, "out", "t")["attempts"][0]
    for key, value in want.attempt.items():
        assert attempt.get(key) == value, (key, attempt)
    # the table a user reads names the state and the reason
    table = run_po(repo, "status", "out", env=WIDE)
    assert table.code == 0
    row = next(line for line in table.out.splitlines() if line.startswith("t "))
    assert want.state in row and want.reason[:20] in row
    # and so does the state log
    assert subjects(repo, "refs/po/out/tasks/t")[0].startswith(f"t: {want.state}")


def test_uncommitted_work_of_an_unfinished_worker_is_auto_saved_on_its_branch(
    repo: Path, tmp_path: Path
) -> None:
    (repo / ".gitignore").write_text("build/\n*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "ignore build output")
    plan = write_plan(tmp_path, "dirty", '[tasks.t]\nprompt = "Try."\n')
    odd_files = (
        "printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh && ln -s done.txt link"
        " && mkdir -p build && echo obj > build/x.o && echo noise > debug.log"
    )
    script = [
        {"bash": odd_files},
        {"write": "done.txt", "content": "committed\n"},
        {"commit": "[CHECKPOINT] first step"},
        {"write": "draft.txt", "content": "half-written\n"},
        {"write": "notes/deep/idea.md", "content": "idea\n"},
        {"append": "done.txt", "content": "more\n"},
        {"delete": "README.md"},
        {"exit": 0},
    ]

    res = start(repo, plan, env=fake_env(tmp_path, {"t": script}))

    assert res.code == 1, res
    tip_subjects = subjects(repo, "po/dirty/t", since="main")
    assert tip_subjects[0] == "[CHECKPOINT] git po: auto-saved uncommitted work of attempt 1"
    assert tip_subjects[1] == "[CHECKPOINT] first step"
    assert git(repo, "show", "po/dirty/t:draft.txt") == "half-written\n"
    assert git(repo, "show", "po/dirty/t:done.txt") == "committed\nmore\n"
    assert git(repo, "show", "po/dirty/t:notes/deep/idea.md") == "idea\n"
    assert "README.md" not in tree_files(repo, "po/dirty/t")
    modes = {
        line.split("\t")[1]: line.split()[0]
        for line in git(repo, "ls-tree", "-r", "po/dirty/t").splitlines()
    }
    assert modes["run.sh"] == "100755"
    assert modes["link"] == "120000"
    assert "build/x.o" not in modes and "debug.log" not in modes  # ignored files stay ignored
    t = tasks_by_id(status_json(repo, "dirty"))["t"]
    assert t["state"] == "failed"
    assert t["checkpoint_count"] == 2
    assert t["last_subject"] == tip_subjects[0]
    st = task_state(repo, "dirty", "t")
    assert st["attempts"][0]["saved"] == git(repo, "rev-parse", "po/dirty/t").strip()
    # the worktree now looks clean: nothing is left only on disk
    assert git(Path(st["worktree"]), "status", "--porcelain") == ""


def test_leftovers_after_complete_go_to_the_wip_ref_not_the_branch(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "left",
        '[tasks.t]\nprompt = "Try."\n[tasks.u]\nprompt = "After."\ndepends_on = ["t"]\n',
    )
    script = [
        {"write": "t.txt", "content": "the work\n"},
        {"commit": "[COMPLETE] t is done"},
        {"write": "scratch.txt", "content": "leftover\n"},
    ]

    res = start(repo, plan, env=fake_env(tmp_path, {"t": script}))

    assert res.code == 0, res
    assert subjects(repo, "po/left/t", since="main") == ["[COMPLETE] t is done"]
    assert "scratch.txt" not in tree_files(repo, "po/left/t")
    assert git(repo, "show", "refs/po/left/wip/t:scratch.txt") == "leftover\n"
    assert (
        git(repo, "rev-parse", "refs/po/left/wip/t^").strip()
        == git(repo, "rev-parse", "po/left/t").strip()
    )
    tasks = tasks_by_id(status_json(repo, "left"))
    assert tasks["t"]["state"] == "complete"
    assert tasks["t"]["wip"] == git(repo, "rev-parse", "refs/po/left/wip/t").strip()
    assert tasks["u"]["state"] == "complete"
    assert "scratch.txt" not in tree_files(repo, "po/left/u")
    # and the worker's worktree is left as it was
    worktree = Path(task_state(repo, "left", "t")["worktree"])
    assert (worktree / "scratch.txt").read_text() == "leftover\n"
    assert git(worktree, "status", "--porcelain") == "?? scratch.txt\n"


def test_dependents_of_a_task_that_did_not_complete_are_skipped(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "skip",
        """
        [tasks.root]
        prompt = "fails"
        [tasks.child]
        prompt = "needs root"
        depends_on = ["root"]
        [tasks.grandchild]
        prompt = "needs child"
        depends_on = ["child"]
        [tasks.other]
        prompt = "independent"
        """,
    )

    res = start(repo, plan, env=fake_env(tmp_path, {"root": [{"exit": 1}]}))

    assert res.code == 1, res
    tasks = tasks_by_id(status_json(repo, "skip"))
    assert tasks["root"]["state"] == "failed"
    assert tasks["child"]["state"] == "skipped"
    assert tasks["child"]["reason"] == "dependency root is failed"
    assert tasks["grandchild"]["state"] == "skipped"
    assert "child" in tasks["grandchild"]["reason"]
    assert tasks["other"]["state"] == "complete"
    ran = {e["env"]["PO_TASK"] for e in claude_log(tmp_path)}
    assert ran == {"root", "other"}
    assert "refs/heads/po/skip/child" not in refs(repo)


# --- 4. merging the dependencies ---------------------------------------------------------------


def test_conflicting_dependencies_fail_the_dependent_and_name_the_file(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "clash",
        """
        [tasks.a]
        prompt = "shared file"
        [tasks.b]
        prompt = "left"
        depends_on = ["a"]
        [tasks.c]
        prompt = "right"
        depends_on = ["a"]
        [tasks.d]
        prompt = "both"
        depends_on = ["b", "c"]
        [tasks.e]
        prompt = "unrelated"
        """,
    )
    scripts: dict[str, Script] = {
        "a": [{"write": "shared.txt", "content": "one\ntwo\nthree\n"}, COMPLETE],
        "b": [{"write": "shared.txt", "content": "one\nLEFT\nthree\n"}, COMPLETE],
        "c": [{"write": "shared.txt", "content": "one\nRIGHT\nthree\n"}, COMPLETE],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts))

    assert res.code == 1, res
    tasks = tasks_by_id(status_json(repo, "clash"))
    assert {t: v["state"] for t, v in tasks.items()} == {
        "a": "complete",
        "b": "complete",
        "c": "complete",
        "d": "failed",
        "e": "complete",
    }
    assert "shared.txt" in tasks["d"]["reason"]
    assert "conflict" in tasks["d"]["reason"]
    assert "shared.txt" in run_po(repo, "status", "clash", env=WIDE).out
    assert "d" not in {e["env"]["PO_TASK"] for e in claude_log(tmp_path)}
    assert "refs/heads/po/clash/d" not in refs(repo)
    assert git(repo, "show", "po/clash/b:shared.txt") == "one\nLEFT\nthree\n"


def test_a_dependent_starts_from_a_clean_merge_of_all_its_dependencies(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "merge",
        """
        [tasks.a]
        prompt = "shared file"
        [tasks.top]
        prompt = "edits the first line"
        depends_on = ["a"]
        [tasks.bottom]
        prompt = "edits the last line"
        depends_on = ["a"]
        [tasks.extra]
        prompt = "adds a file"
        depends_on = ["a"]
        [tasks.all]
        prompt = "sees everything"
        depends_on = ["top", "bottom", "extra"]
        [tasks.chain]
        prompt = "a and top: top already holds a"
        depends_on = ["a", "top"]
        """,
    )
    scripts = {
        "a": [{"write": "shared.txt", "content": "one\ntwo\nthree\nfour\nfive\n"}, COMPLETE],
        "top": [{"write": "shared.txt", "content": "ONE\ntwo\nthree\nfour\nfive\n"}, COMPLETE],
        "bottom": [{"write": "shared.txt", "content": "one\ntwo\nthree\nfour\nFIVE\n"}, COMPLETE],
        "extra": [{"write": "extra.txt", "content": "extra\n"}, COMPLETE],
    }

    res = start(repo, plan, env=fake_env(tmp_path, scripts))

    assert res.code == 0, res
    r = refs(repo)
    base = "refs/po/merge/bases/all"
    parents = git(repo, "log", "-1", "--format=%P", base).split()
    assert sorted(parents) == sorted(
        r[f"refs/heads/po/merge/{t}"] for t in ("top", "bottom", "extra")
    )
    assert git(repo, "show", f"{base}:shared.txt") == "ONE\ntwo\nthree\nfour\nFIVE\n"
    assert git(repo, "show", "po/merge/all:extra.txt") == "extra\n"
    # a dependency already contained in another adds no merge
    assert r["refs/po/merge/bases/chain"] == r["refs/heads/po/merge/top"]


# --- 5. what claude is started with ------------------------------------------------------------

ARGV_PLAN = """
[defaults]
model = "sonnet"
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Edit", "Write"]
max_turns = 30
budget_usd = 2.5

[tasks.a]
prompt = "Write the parser module."
writes = ["src/parser/**", "tests/test_parser.py"]

[tasks.b]
prompt_file = "b.md"
depends_on = ["a"]
model = "opus"
permission_mode = "bypassPermissions"
allowed_tools = ["Read"]
max_turns = 9
budget_usd = 0.75
"""


def test_plan_keys_become_claude_flags_and_the_prompt_says_what_to_do(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "flags", ARGV_PLAN)
    (plan.parent / "b.md").write_text("Use the parser in the CLI.\n")
    # a commits within its writes (a commit outside them would be refused)
    inside = [
        {"write": "src/parser/__init__.py", "content": "\n"},
        {"commit": "[COMPLETE] a done"},
    ]

    res = start(repo, plan, env=fake_env(tmp_path, {"a": inside}))

    assert res.code == 0, res
    a, b = invocation(tmp_path, "a"), invocation(tmp_path, "b")
    for inv in (a, b):
        argv: list[str] = inv["argv"]
        assert argv[0] == "-p"
        assert argv[1] == inv["prompt"]
        assert argv[2:5] == ["--output-format", "stream-json", "--verbose"]
        assert inv["error"] is None
        assert not inv["stdin_prompt"]
    assert flag(a, "--model") == "sonnet" and flag(b, "--model") == "opus"
    assert flag(a, "--permission-mode") == "acceptEdits"
    assert flag(b, "--permission-mode") == "bypassPermissions"
    assert flag(a, "--max-turns") == "30" and flag(b, "--max-turns") == "9"
    assert float(flag(a, "--max-budget-usd")) == 2.5
    assert float(flag(b, "--max-budget-usd")) == 0.75
    assert a["args"]["allowed_tools"] == ["Bash(git *)", "Edit", "Write"]
    assert b["args"]["allowed_tools"] == ["Read"]
    assert a["argv"][a["argv"].index("--allowedTools") :] == [
        "--allowedTools",
        "Bash(git *)",
        "Edit",
        "Write",
    ]

    pa, pb = a["prompt"], b["prompt"]
    assert "Write the parser module." in pa
    assert "Use the parser in the CLI." in pb
    # prompt files are kept with the plan, so the run can be read back anywhere
    assert git(repo, "show", "refs/po/flags/plan:prompts/b.md") == "Use the parser in the CLI.\n"
    for form in (
        "[CHECKPOINT] <summary>",
        "[BLOCKED:<reason>] <summary>",
        "[NEEDS:<task>/<item>] <summary>",
        "[COMPLETE] <summary>",
    ):
        assert form in pa and form in pb
    assert "src/parser/**" in pa and "tests/test_parser.py" in pa
    assert "[COMPLETE] a done" in pb  # what its dependency completed
    assert "po/flags/b" in pb

    for task, inv in (("a", a), ("b", b)):
        assert inv["env"]["PO_PLAN"] == "flags"
        assert inv["env"]["PO_TASK"] == task
        assert inv["env"]["PO_ATTEMPT"] == "1"
        assert inv["env"]["PO_BRANCH"] == f"po/flags/{task}"
        where = (worktree_root(repo) / "flags" / task).resolve()
        assert Path(inv["cwd"]).resolve() == where
        assert Path(inv["env"]["PO_WORKTREE"]).resolve() == where


def flag(inv: dict[str, Any], name: str) -> str:
    argv: list[str] = inv["argv"]
    assert argv.count(name) == 1, (name, argv)
    return argv[argv.index(name) + 1]


def test_a_prompt_too_long_for_argv_goes_to_stdin(repo: Path, tmp_path: Path) -> None:
    long_prompt = "Refactor everything. " + "x" * 120_000
    plan = write_plan(tmp_path, "long", f'[tasks.t]\nprompt = "{long_prompt}"\n')

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    inv = invocation(tmp_path, "t")
    assert inv["stdin_prompt"] is True
    assert long_prompt in inv["prompt"]
    assert "-p" in inv["argv"] and long_prompt not in inv["argv"]


def wrapper(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """An executable that records that it ran, then behaves as the fake claude."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    marker = tmp_path / f"{name}.ran"
    exe = folder / name
    exe.write_text(
        f'#!/bin/sh\necho "$PO_TASK" >> {shlex.quote(str(marker))}\n'
        f'exec {shlex.quote(str(FAKE_CLAUDE_DIR / "claude"))} "$@"\n'
    )
    exe.chmod(0o755)
    return exe, marker


def test_claude_option_and_config_choose_the_executable(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "exe", '[tasks.t]\nprompt = "go"\n')
    from_config, config_marker = wrapper(tmp_path, "claude-config")
    from_option, option_marker = wrapper(tmp_path, "claude-option")
    git(repo, "config", "po.claudePath", str(from_config))

    res = start(repo, plan, env=fake_env(tmp_path))
    assert res.code == 0, res
    assert config_marker.read_text() == "t\n"

    res = start(repo, plan, "--restart", "--claude", str(from_option), env=fake_env(tmp_path))
    assert res.code == 0, res
    assert option_marker.read_text() == "t\n"
    assert config_marker.read_text() == "t\n"  # --claude wins over po.claudePath


def test_a_relative_claude_path_is_taken_from_the_current_directory(
    repo: Path, tmp_path: Path
) -> None:
    exe, marker = wrapper(tmp_path, "claude-relative")
    plan = write_plan(tmp_path, "relexe", '[tasks.t]\nprompt = "go"\n')

    res = start(repo, plan, "--claude", os.path.relpath(exe, repo), env=fake_env(tmp_path))

    assert res.code == 0, res
    assert marker.read_text() == "t\n"
    assert tasks_by_id(status_json(repo, "relexe"))["t"]["state"] == "complete"


def no_fake_on_path() -> dict[str, str]:
    dirs = [d for d in os.environ["PATH"].split(os.pathsep) if Path(d) != FAKE_CLAUDE_DIR]
    return {"PATH": os.pathsep.join(dirs)}


@pytest.mark.parametrize("how", ["option", "config", "path"])
def test_a_missing_claude_exits_3_and_writes_nothing(repo: Path, tmp_path: Path, how: str) -> None:
    plan = write_plan(tmp_path, "nope", DIAMOND)
    env = fake_env(tmp_path)
    args: list[str] = []
    if how == "option":
        args = ["--claude", str(tmp_path / "missing" / "claude")]
    elif how == "config":
        git(repo, "config", "po.claudePath", str(tmp_path / "missing" / "claude"))
    else:
        env.update(no_fake_on_path())
    before = refs(repo)
    snapshot = checkout_snapshot(repo)

    res = start(repo, plan, *args, env=env)

    assert res.code == 3, res
    assert "claude" in res.err and "not found" in res.err
    assert refs(repo) == before
    assert worktree_paths(repo) == []
    assert not (common_dir(repo) / "po").exists()  # not even a lock or a hook
    assert checkout_snapshot(repo) == snapshot
    assert claude_log(tmp_path) == []


def test_workers_get_the_users_environment_but_not_variables_that_redirect_git(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "envy", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path)
    env.update(
        {
            "ANTHROPIC_API_KEY": "sk-test-key",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            # as inside a git hook or `git rebase --exec`: git would commit to the user's checkout
            "GIT_DIR": str(repo / ".git"),
            "GIT_WORK_TREE": str(repo),
            "GIT_INDEX_FILE": str(repo / ".git" / "index"),
        }
    )
    before = checkout_snapshot(repo)

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    inv = invocation(tmp_path, "t")
    assert inv["env"]["ANTHROPIC_API_KEY"] == "sk-test-key"
    assert inv["env"]["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9"
    assert subjects(repo, "po/envy/t", since="main") == [
        "[COMPLETE] t done",
        "[CHECKPOINT] t: wrote t.txt",
    ]
    assert checkout_snapshot(repo) == before


def test_two_plans_run_at_the_same_time_in_one_repository(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    procs = [
        spawn_po(repo, "start", str(write_plan(tmp_path, name, DIAMOND)), "--no-live", env=env)
        for name in ("left", "right")
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (out, err)

    for name in ("left", "right"):
        tasks = tasks_by_id(status_json(repo, name))
        assert {t["state"] for t in tasks.values()} == {"complete"}
        for t in "abcd":
            for oid in git(repo, "rev-list", f"refs/po/{name}/bases/{t}..po/{name}/{t}").split():
                assert f"po-plan: {name}" in git(repo, "notes", "--ref=po", "show", oid)


# --- 6. the commit-msg hook --------------------------------------------------------------------


def test_worker_commits_without_a_protocol_prefix_are_rejected(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "hook", '[tasks.t]\nprompt = "go"\n')
    script = [{"write": "work.txt", "content": "w\n"}, {"commit": "Add work"}]

    res = start(repo, plan, env=fake_env(tmp_path, {"t": script}))

    assert res.code == 1, res
    assert "Add work" not in subjects(repo, "po/hook/t")
    t = tasks_by_id(status_json(repo, "hook"))["t"]
    assert t["state"] == "failed"
    assert "without a [COMPLETE]" in t["reason"]
    transcript = Path(t["transcript"]).read_text()
    assert "commit rejected" in transcript
    # the work itself is not lost: git po saved it
    assert git(repo, "show", "po/hook/t:work.txt") == "w\n"


@pytest.mark.parametrize("where", ["git-dir-hooks", "core.hooksPath"])
def test_the_users_hooks_run_for_workers_and_their_own_commits_are_unchecked(
    repo: Path, tmp_path: Path, where: str
) -> None:
    if where == "git-dir-hooks":
        hooks = common_dir(repo) / "hooks"
    else:  # a relative core.hooksPath, as husky and friends set it up
        git(repo, "config", "core.hooksPath", ".githooks")
        hooks = repo / ".githooks"
    hooks.mkdir(exist_ok=True)
    ran = tmp_path / "pre-commit.ran"
    (hooks / "commit-msg").write_text('#!/bin/sh\nprintf "\\nHooked-By: user\\n" >> "$1"\n')
    (hooks / "pre-commit").write_text(f'#!/bin/sh\necho "$PO_TASK" >> {shlex.quote(str(ran))}\n')
    for h in hooks.iterdir():
        h.chmod(0o755)
    plan = write_plan(tmp_path, "chain", '[tasks.t]\nprompt = "go"\n')

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    worker_commits = git(repo, "rev-list", "main..po/chain/t").split()
    assert len(worker_commits) == 2
    for oid in worker_commits:
        assert "Hooked-By: user" in git(repo, "log", "-1", "--format=%B", oid)
    assert ran.read_text() == "t\nt\n"
    assert tasks_by_id(status_json(repo, "chain"))["t"]["state"] == "complete"

    # the user's own commits in their checkout: their hooks run, the protocol is not enforced
    (repo / "mine.txt").write_text("mine\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "An ordinary commit")
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "An ordinary commit"
    assert "Hooked-By: user" in git(repo, "log", "-1", "--format=%B", "main")
    configured = git(repo, "config", "--get", "core.hooksPath", check=False).strip()
    assert configured == ("" if where == "git-dir-hooks" else ".githooks")


# --- 7/8. starting again, Ctrl-C, --restart ---------------------------------------------------


def test_starting_a_finished_plan_again_keeps_the_earlier_run(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "again",
        '[tasks.a]\nprompt = "go"\n[tasks.b]\nprompt = "then"\ndepends_on = ["a"]\n',
    )
    env = fake_env(tmp_path)
    assert start(repo, plan, env=env).code == 0
    first = refs(repo)
    plan.write_text(plan.read_text() + '[tasks.c]\nprompt = "new"\ndepends_on = ["b"]\n')

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    r = refs(repo)
    for t in "ab":  # complete and unchanged: kept where they are, their history goes on
        assert r[f"refs/heads/po/again/{t}"] == first[f"refs/heads/po/again/{t}"]
        assert r[f"refs/po/again/bases/{t}"] == first[f"refs/po/again/bases/{t}"]
        old, new = first[f"refs/po/again/tasks/{t}"], r[f"refs/po/again/tasks/{t}"]
        git(repo, "merge-base", "--is-ancestor", old, new)  # fails unless it goes on
        assert task_state(repo, "again", t)["kept_from"] == 1
    assert len(subjects(repo, "refs/po/again/tasks/c")) == 4  # a fresh history
    assert not [x for x in r if x.startswith("refs/po/again/runs/")]  # nothing to archive
    status = status_json(repo, "again")
    assert status["run"]["number"] == 2
    assert [(t["task"], t["state"]) for t in status["tasks"]] == [
        ("a", "complete"),
        ("b", "complete"),
        ("c", "complete"),
    ]
    assert run_record(repo, "again")["run"] == 2
    assert [e["env"]["PO_TASK"] for e in claude_log(tmp_path)] == ["a", "b", "c"]
    # the plan ref is one chain: start and end of each run; its tree holds the new plan
    assert len(subjects(repo, "refs/po/again/plan")) == 4
    assert git(repo, "show", "refs/po/again/plan:plan.toml") == plan.read_text()
    assert git(repo, "show", "refs/po/again/plan~2:plan.toml") != plan.read_text()
    root = (worktree_root(repo) / "again").resolve()
    assert sorted(p.resolve() for p in worktree_paths(repo)) == [root / t for t in "abc"]
    assert git(repo, "worktree", "prune", "--dry-run", "-v") == ""


def test_starting_again_after_a_task_left_leftovers(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "lo", '[tasks.t]\nprompt = "go"\n')
    script = [
        {"write": "t.txt", "content": "the work\n"},
        {"commit": "[COMPLETE] t is done"},
        {"write": "scratch.txt", "content": "leftover\n"},
    ]
    env = fake_env(tmp_path, {"t": script})
    assert start(repo, plan, env=env).code == 0
    first = refs(repo)
    assert "refs/po/lo/wip/t" in first

    res = start(repo, plan, "--restart", env=env)

    assert res.code == 0, res
    r = refs(repo)
    assert r["refs/po/lo/runs/1/branches/t"] == first["refs/heads/po/lo/t"]
    assert git(repo, "show", "refs/po/lo/runs/1/wip/t:scratch.txt") == "leftover\n"


HANG_PLAN = """
[tasks.hang]
prompt = "hangs"
[tasks.dirty]
prompt = "writes, then hangs"
"""


def interrupt_run(
    repo: Path, tmp_path: Path, sig: int = signal.SIGINT
) -> tuple[subprocess.CompletedProcess[str], dict[str, int]]:
    """Start a plan whose workers hang, then press Ctrl-C (SIGINT to git po), or send sig."""
    git(repo, "config", "po.stopGrace", "2")
    plan = write_plan(tmp_path, "stop", HANG_PLAN)
    env = fake_env(
        tmp_path,
        {
            "hang": [{"say": "thinking"}, {"hang": True}],
            "dirty": [{"write": "draft.txt", "content": "unsaved\n"}, {"hang": True}],
        },
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    pids: dict[str, int] = {}
    try:
        wait_for(
            "both workers to run",
            lambda: all(ref_state(repo, "stop", t) == "running" for t in ("hang", "dirty")),
        )
        draft = worktree_root(repo) / "stop" / "dirty" / "draft.txt"
        wait_for("the draft to be written", draft.exists)
        for t in ("hang", "dirty"):
            pids[t] = int(task_state(repo, "stop", t)["attempts"][0]["pid"])
            assert pid_alive(pids[t])
        # while it runs, a second start of the same plan is refused
        again = start(repo, plan, env=env, timeout=30)
        assert again.code == 5, again
        assert "already running" in again.err
        again = start(repo, plan, "--restart", env=env, timeout=30)
        assert again.code == 5, again
        assert "already running" in again.err
        began = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        assert time.monotonic() - began < 8
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        for pid in pids.values():
            if pid_alive(pid):
                kill_quietly(pid)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), pids


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=str)
def test_ctrl_c_stops_workers_saves_their_work_and_exits_130(
    repo: Path, tmp_path: Path, sig: int
) -> None:
    done, pids = interrupt_run(repo, tmp_path, sig)

    assert done.returncode == 130, done
    assert "interrupted" in done.stderr
    for t, pid in pids.items():
        assert not pid_alive(pid), f"worker of {t} (pid {pid}) is still running"
    assert run_record(repo, "stop")["state"] == "interrupted"
    tasks = tasks_by_id(status_json(repo, "stop"))
    assert tasks["hang"]["state"] == "interrupted"
    assert tasks["dirty"]["state"] == "interrupted"
    assert git(repo, "show", "po/stop/dirty:draft.txt") == "unsaved\n"
    assert subjects(repo, "po/stop/dirty", since="main") == [
        "[CHECKPOINT] git po: auto-saved uncommitted work of attempt 1"
    ]
    assert task_state(repo, "stop", "dirty")["attempts"][0]["outcome"] == "interrupted"


def test_an_interrupted_plan_refuses_a_plain_start_and_restart_archives_it(
    repo: Path, tmp_path: Path
) -> None:
    done, _ = interrupt_run(repo, tmp_path)
    assert done.returncode == 130, done
    plan = tmp_path / "plans" / "stop.toml"
    interrupted = refs(repo)

    env = fake_env(tmp_path, {"hang": [COMPLETE], "dirty": [COMPLETE]})
    res = start(repo, plan, env=env)

    assert res.code == 5, res
    assert "did not finish" in res.err and "interrupted" in res.err
    assert "--restart" in res.err
    assert refs(repo) == interrupted

    res = start(repo, plan, "--restart", env=env)

    assert res.code == 0, res
    r = refs(repo)
    assert r["refs/po/stop/runs/1/branches/dirty"] == interrupted["refs/heads/po/stop/dirty"]
    assert git(repo, "show", "refs/po/stop/runs/1/branches/dirty:draft.txt") == "unsaved\n"
    assert "refs/po/stop/runs/1/tasks/hang" in r
    status = status_json(repo, "stop")
    assert status["run"]["number"] == 2
    assert {t["state"] for t in status["tasks"]} == {"complete"}
    assert "draft.txt" not in tree_files(repo, "po/stop/dirty")


def test_a_run_whose_orchestrator_died_is_refused_then_restarted_without_losing_work(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "dead", '[tasks.t]\nprompt = "hangs"\n')
    env = fake_env(
        tmp_path, {"t": [{"write": "draft.txt", "content": "unsaved\n"}, {"hang": True}]}
    )
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    pid = 0
    try:
        wait_for("the worker to run", lambda: ref_state(repo, "dead", "t") == "running")
        pid = int(task_state(repo, "dead", "t")["attempts"][0]["pid"])
        draft = worktree_root(repo) / "dead" / "t" / "draft.txt"
        wait_for("the draft", draft.exists)
        proc.kill()  # the orchestrator dies without a chance to clean up
        proc.communicate()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if pid:
            kill_quietly(pid)  # the user stops the orphaned worker
    assert run_record(repo, "dead")["state"] == "running"
    header = run_po(repo, "status", "dead").out.splitlines()[0]
    assert "no orchestrator is running it on this machine" in header
    before = refs(repo)

    res = start(repo, plan, env=env, timeout=30)

    assert res.code == 5, res
    assert "did not finish" in res.err and "running" in res.err
    assert refs(repo) == before

    res = start(repo, plan, "--restart", env=fake_env(tmp_path, {"t": [COMPLETE]}))

    assert res.code == 0, res
    r = refs(repo)
    assert r["refs/po/dead/runs/1/branches/t"] == before["refs/heads/po/dead/t"]
    # the uncommitted draft of the dead run is kept with the earlier run
    assert git(repo, "show", "refs/po/dead/runs/1/wip/t:draft.txt") == "unsaved\n"
    assert tasks_by_id(status_json(repo, "dead"))["t"]["state"] == "complete"
    assert "draft.txt" not in tree_files(repo, "po/dead/t")


def test_starting_again_refuses_to_move_a_task_branch_the_user_checked_out(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "mine", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path)
    assert start(repo, plan, env=env).code == 0
    # the user takes the task's branch over to look at it in their own checkout
    git(repo, "worktree", "remove", str(worktree_root(repo) / "mine" / "t"))
    git(repo, "checkout", "-q", "po/mine/t")
    before = refs(repo)
    snapshot = checkout_snapshot(repo)

    res = start(repo, plan, env=env)

    assert res.code == 5, res
    assert "po/mine/t" in res.err and "checked out" in res.err
    assert refs(repo) == before
    assert checkout_snapshot(repo) == snapshot


def test_ctrl_c_kills_a_worker_that_ignores_sigterm_after_the_grace(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.stopGrace", "1")
    stubborn = tmp_path / "bin" / "stubborn-claude"
    stubborn.parent.mkdir()
    stubborn.write_text(
        "#!/bin/sh\ntrap '' TERM INT\n"
        'echo \'{"type":"system","subtype":"init","session_id":"s"}\'\n'
        "while :; do sleep 0.2; done\n"
    )
    stubborn.chmod(0o755)
    plan = write_plan(tmp_path, "stubborn", '[tasks.t]\nprompt = "go"\n')
    proc = spawn_po(repo, "start", str(plan), "--no-live", "--claude", str(stubborn))
    pid = 0
    try:
        wait_for("the worker to run", lambda: ref_state(repo, "stubborn", "t") == "running")
        pid = int(task_state(repo, "stubborn", "t")["attempts"][0]["pid"])
        time.sleep(0.3)
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if pid and pid_alive(pid):
            kill_quietly(pid)
    assert proc.returncode == 130
    assert 0.8 <= took < 6, took
    assert not pid_alive(pid)
    attempt = task_state(repo, "stubborn", "t")["attempts"][0]
    assert attempt["signal"] == signal.SIGKILL
    assert tasks_by_id(status_json(repo, "stubborn"))["t"]["state"] == "interrupted"


def test_ctrl_c_leaves_no_process_of_a_worker_behind(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.stopGrace", "1")
    pidfile = tmp_path / "child.pid"
    # the child writes its pid only once it ignores SIGTERM
    spawn_child = (
        f"sh -c \"trap '' TERM; echo \\$\\$ > {shlex.quote(str(pidfile))}; exec sleep 30\""
        " >/dev/null 2>&1 &"
    )
    plan = write_plan(tmp_path, "orphan", '[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path, {"t": [{"bash": spawn_child}, {"hang": True}]})
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    child = 0
    try:
        wait_for(
            "the worker's child", lambda: pidfile.exists() and pidfile.read_text().endswith("\n")
        )
        child = int(pidfile.read_text())
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
        assert proc.returncode == 130
        time.sleep(0.3)
        assert not pid_alive(child), "a process of the interrupted worker is still running"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if child:
            kill_quietly(child)


# --- 9. timeouts -------------------------------------------------------------------------------


def test_timeout_and_idle_timeout_stop_a_worker_and_save_its_work(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.stopGrace", "2")
    plan = write_plan(
        tmp_path,
        "slowpoke",
        """
        [tasks.whole]
        prompt = "takes too long"
        timeout = "2s"
        [tasks.idle]
        prompt = "goes quiet"
        idle_timeout = "2s"
        [tasks.busy]
        prompt = "slow but active"
        idle_timeout = "2s"
        """,
    )
    quiet = [{"write": "{task}.txt", "content": "partial\n"}, {"hang": True}]
    busy: Script = [
        {"sleep": 1.2},
        {"commit": "[CHECKPOINT] one", "allow_empty": True},
        {"sleep": 1.2},
        {"commit": "[CHECKPOINT] two", "allow_empty": True},
        {"sleep": 1.2},
        COMPLETE,
    ]
    began = time.monotonic()

    res = start(repo, plan, env=fake_env(tmp_path, {"whole": quiet, "idle": quiet, "busy": busy}))

    assert res.code == 1, res
    assert time.monotonic() - began < 20
    tasks = tasks_by_id(status_json(repo, "slowpoke"))
    assert tasks["whole"]["state"] == "failed"
    assert "timed out after 2s" in tasks["whole"]["reason"]
    assert tasks["idle"]["state"] == "failed"
    assert "idle for 2s" in tasks["idle"]["reason"]
    for t in ("whole", "idle"):
        assert git(repo, "show", f"po/slowpoke/{t}:{t}.txt") == "partial\n"
    assert task_state(repo, "slowpoke", "whole")["attempts"][0]["outcome"] == "timeout"
    assert task_state(repo, "slowpoke", "idle")["attempts"][0]["outcome"] == "idle"
    # idleness is silence, not wall time: a task that keeps committing is not stopped
    assert tasks["busy"]["state"] == "complete"


# --- 11. where start is run from -------------------------------------------------------------


def test_start_from_a_linked_worktree(repo: Path, tmp_path: Path) -> None:
    feature = tmp_path / "feature"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(feature))
    (feature / "feature.txt").write_text("f\n")
    git(feature, "add", "feature.txt")
    git(feature, "commit", "-q", "-m", "feature work")
    plan = write_plan(tmp_path, "wt", DIAMOND)
    before = checkout_snapshot(feature)

    res = start(feature, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    status = status_json(repo, "wt")  # visible from the main checkout too
    assert {t["state"] for t in status["tasks"]} == {"complete"}
    assert status["run"]["base"] == git(feature, "rev-parse", "HEAD").strip()
    assert "feature.txt" in tree_files(repo, "po/wt/d")
    root = (worktree_root(repo) / "wt").resolve()
    assert {p.resolve() for p in worktree_paths(repo)} == {feature.resolve()} | {
        root / t for t in "abcd"
    }
    assert checkout_snapshot(feature) == before


@pytest.mark.parametrize("via", ["python -m git_po", "git po"])
def test_start_from_a_subdirectory_with_a_relative_plan_path(
    repo: Path, tmp_path: Path, via: str
) -> None:
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    plan = write_plan(tmp_path, "sub", DIAMOND)
    rel = os.path.relpath(plan, sub)

    if via == "git po":
        res = run_git_po(sub, tmp_path, "start", rel, "--no-live", env=fake_env(tmp_path))
    else:
        res = start(sub, rel, env=fake_env(tmp_path))

    assert res.code == 0, res
    assert {t["state"] for t in status_json(sub, "sub")["tasks"]} == {"complete"}
    root = (worktree_root(repo) / "sub").resolve()
    assert {p.resolve() for p in worktree_paths(repo)} == {root / t for t in "abcd"}
    assert list(sub.iterdir()) == []
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""


def test_a_run_begun_with_worktrees_under_git_dir_goes_on_where_it_was(
    repo: Path, tmp_path: Path
) -> None:
    """Runs started before worktrees moved out of .git keep working: the session goes on in
    its old worktree, and clean still knows that worktree as git po's."""
    from tests.test_faults import fast_config, launches
    from tests.test_needs_blocked import ASK

    fast_config(repo)
    legacy = common_dir(repo) / "po" / "worktrees"
    git(repo, "config", "po.worktreeDir", str(legacy))  # where 0.1 put them
    plan = write_plan(tmp_path, "old", '[tasks.t]\nprompt = "Pick a database."\n')
    env = fake_env(tmp_path, {"t": ASK})
    assert start(repo, plan, env=env).code == 1  # blocked, waiting for an answer
    git(repo, "config", "--unset", "po.worktreeDir")  # the new default from here on

    answer = run_po(repo, "answer", "t", "SQLite.", "--no-live", env=env)

    assert answer.code == 0, answer
    _first, second = launches(tmp_path, "t")
    assert Path(second["cwd"]).resolve() == (legacy / "old" / "t").resolve()
    assert git(repo, "show", "po/old/t:db.txt") == "chosen\n"
    assert not worktree_root(repo).exists()
    assert run_po(repo, "integrate", "old").code == 0
    cleaned = run_po(repo, "clean", "old")
    assert cleaned.code == 0, cleaned
    assert not (legacy / "old" / "t").exists()
