"""Review of the run loop: bugs found, each shown on a real repository with the fake claude.

Every test here is expected to fail until its bug is fixed (strict xfail); the reason names it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import git, po_cmd, run_po
from tests.helpers import (
    Script,
    fake_env,
    po_env,
    ref_state,
    spawn_po,
    start,
    task_state,
    wait_for,
    write_plan,
)
from tests.test_faults import COMPLETE, common_dir, event_names, fast_config, launches, worktree_of

# A worker that leaves a conflicted index behind: `git stash pop` onto a changed file (the same
# happens after a `git merge`, `git rebase` or `git cherry-pick` that stops on a conflict).
CONFLICTED_INDEX: Script = [
    {"write": "a.txt", "content": "one\n"},
    {"commit": "[CHECKPOINT] a one"},
    {"write": "a.txt", "content": "two\n"},
    {"bash": "git stash -q"},
    {"write": "a.txt", "content": "three\n"},
    {"commit": "[CHECKPOINT] a three"},
    {"bash": "git stash pop >/dev/null 2>&1 || true"},
]


def test_autosave_of_a_worktree_without_its_git_file_never_touches_the_users_branch(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    (repo / "mine.txt").write_text("the user's staged work\n")
    git(repo, "add", "mine.txt")
    head = git(repo, "rev-parse", "HEAD").strip()
    plan = write_plan(tmp_path, "gitfile", '[tasks.t]\nprompt = "Scaffold the app."\n')
    # e.g. `rm -rf .[!.]* *` to get an empty directory for a scaffolding tool
    env = fake_env(
        tmp_path, {"t": [{"bash": "rm -f .git"}, {"write": "app.txt", "content": "app\n"}]}
    )

    start(repo, plan, env=env)

    assert git(repo, "rev-parse", "HEAD").strip() == head, git(repo, "log", "--oneline", "-2")
    assert git(repo, "status", "--porcelain").splitlines() == ["A  mine.txt"]


def test_needs_delivery_never_overwrites_the_users_checkout(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    (repo / "README.md").write_text("the user's unsaved edit\n")
    plan = write_plan(tmp_path, "wipe", '[tasks.x]\nprompt = "x"\n\n[tasks.y]\nprompt = "y"\n')
    env = fake_env(
        tmp_path,
        {
            "x": {
                "attempts": {
                    "1": [
                        {"commit": "[NEEDS:y/thing] needs y's thing", "allow_empty": True},
                        {"bash": "rm -f .git"},
                    ]
                },
                "default": [],
            },
            "y": [
                {"sleep": 1.0},
                {"write": "y.txt", "content": "y\n"},
                {"commit": "[COMPLETE] y done"},
            ],
        },
    )

    start(repo, plan, env=env)

    assert (repo / "README.md").read_text() == "the user's unsaved edit\n"


def test_a_worker_leaving_a_conflicted_index_does_not_crash_the_run(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "conflicted", '[tasks.t]\nprompt = "x"\n')
    env = fake_env(tmp_path, {"t": CONFLICTED_INDEX})

    res = start(repo, plan, env=env)
    assert res.code != 70, res
    again = run_po(repo, "resume", "conflicted", "--no-live", env=env)
    assert again.code != 70, again
    # the conflicted file (markers and all) is kept
    assert "a.txt" in git(repo, "ls-tree", "-r", "--name-only", "po/conflicted/t")


def test_commits_on_a_detached_worktree_head_stay_reachable(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "detached", '[tasks.t]\nprompt = "x"\n')
    made = tmp_path / "made"
    env = fake_env(
        tmp_path,
        {
            "t": [
                {"bash": "git checkout -q --detach"},
                {"write": "work.txt", "content": "an hour of work\n"},
                {"commit": "[COMPLETE] t done"},
                {"bash": f"git rev-parse HEAD > {made}"},
            ]
        },
    )
    start(repo, plan, env=env)
    commit = made.read_text().strip()

    start(repo, plan, env=fake_env(tmp_path, {"t": [COMPLETE]}))  # the run finished: again

    assert commit in git(repo, "rev-list", "--all").split()


def test_a_failed_verify_after_the_plan_budget_is_spent_ends_the_run(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "spent",
        'budget_usd = 0.5\nverify = "sleep 0.5; exit 1"\n\n[tasks.t]\nprompt = "x"\nretries = 1\n',
    )
    env = fake_env(tmp_path, {"t": [{"cost": 1.0}, COMPLETE]})
    orch = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        orch.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        orch.kill()
        orch.communicate()
        raise AssertionError(f"the run never ended; t is {ref_state(repo, 'spent', 't')}") from None
    assert orch.returncode == 1
    assert task_state(repo, "spent", "t")["state"] != "pending"


def test_needs_on_a_complete_dependency_turns_blocked(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "needsdep",
        '[tasks.a]\nprompt = "models"\n\n[tasks.b]\nprompt = "api"\ndepends_on = ["a"]\n',
    )
    env = fake_env(
        tmp_path,
        {"b": [{"commit": "[NEEDS:a/Order.total] the model lacks it", "allow_empty": True}]},
    )

    res = start(repo, plan, env=env)

    assert res.code == 1, res
    st = task_state(repo, "needsdep", "b")
    assert st["state"] == "blocked", st
    assert "a" in st["reason"]


def test_retry_of_a_complete_task_runs_its_worker_again_with_verify(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "again", 'verify = "true"\n\n[tasks.t]\nprompt = "x"\n')
    env = fake_env(tmp_path)
    assert start(repo, plan, env=env).code == 0

    res = run_po(repo, "retry", "t", "--note", "also write the docs", "--no-live", env=env)

    assert res.code == 0, res
    runs = launches(tmp_path, "t")
    assert len(runs) == 2, event_names(repo, "again", "t")
    assert "also write the docs" in runs[1]["prompt"]


def test_needs_delivery_waits_while_someone_is_attached(repo: Path, tmp_path: Path) -> None:
    fast_config(repo)
    flag = tmp_path / "go"
    plan = write_plan(tmp_path, "attached", '[tasks.x]\nprompt = "x"\n\n[tasks.y]\nprompt = "y"\n')
    env = fake_env(
        tmp_path,
        {
            "x": {"attempts": {"1": [{"commit": "[NEEDS:y/thing] need it", "allow_empty": True}]}},
            "y": [
                {"bash": f"while [ ! -f {flag} ]; do sleep 0.05; done"},
                {"write": "y.txt", "content": "y\n"},
                {"commit": "[COMPLETE] y done"},
            ],
        },
    )
    orch = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    session: subprocess.Popen[str] | None = None
    try:
        wait_for("x to need y", lambda: ref_state(repo, "attached", "x") == "needs")
        session = subprocess.Popen(
            [*po_cmd(), "attach", "x"],
            cwd=repo,
            env=po_env(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        marker = common_dir(repo) / "po" / "plans" / "attached" / "attached" / "x"
        wait_for("the attach marker", marker.exists)
        before = git(repo, "rev-parse", "po/attached/x").strip()
        draft = worktree_of(repo, "attached", "x") / "draft.txt"
        draft.write_text("being edited in the attached session\n")
        flag.write_text("")
        wait_for("y to complete", lambda: ref_state(repo, "attached", "y") == "complete")
        time.sleep(1.0)  # a few polls of the loop

        assert git(repo, "rev-parse", "po/attached/x").strip() == before
        assert "?? draft.txt" in git(draft.parent, "status", "--porcelain")
    finally:
        if session is not None:
            session.communicate("/exit\n", timeout=20)
        orch.communicate(timeout=30)
