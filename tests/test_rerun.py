"""Starting a plan again keeps finished work (like make), and nothing is lost by retry or clean.

A finished plan started again keeps every complete task whose definition and base are unchanged
(its worker is not started again: the fake claude's log shows it) and runs new, changed and
unfinished tasks and everything that depends on them; --dry-run says which and why; --restart
runs everything, keeping the earlier branches under refs/po/<plan>/runs/. `retry` of a task
whose branch `clean --branches` removed restores it from the tip its state recorded, and status
after clean still shows what the branch held."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git, refs, run_po
from tests.helpers import (
    DIAMOND,
    change_lines,
    claude_log,
    fake_env,
    start,
    status_json,
    subjects,
    task_state,
    tasks_by_id,
    worktree_root,
    write_plan,
)

COMPLETE = {"commit": "[COMPLETE] {task} done", "allow_empty": True}


def ran(tmp_path: Path) -> list[str]:
    """The tasks the fake claude ran, in order."""
    return [e["env"]["PO_TASK"] for e in claude_log(tmp_path)]


def first_run(repo: Path, tmp_path: Path, name: str, body: str) -> tuple[Path, dict[str, str]]:
    plan = write_plan(tmp_path, name, body)
    env = fake_env(tmp_path)
    res = start(repo, plan, env=env)
    assert res.code == 0, res
    return plan, env


def tips(repo: Path, plan: str) -> dict[str, str]:
    prefix = f"refs/heads/po/{plan}/"
    return {r.removeprefix(prefix): o for r, o in refs(repo).items() if r.startswith(prefix)}


# --- keeping finished work -----------------------------------------------------------------------


def test_an_unchanged_plan_started_again_runs_no_worker(repo: Path, tmp_path: Path) -> None:
    plan, env = first_run(repo, tmp_path, "same", DIAMOND)
    before = tips(repo, "same")

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert sorted(ran(tmp_path)) == ["a", "b", "c", "d"]  # the first run's workers only
    assert tips(repo, "same") == before
    lines = change_lines(res.out)
    for t in "abcd":
        assert (t, f"kept from run 1: unchanged — [COMPLETE] {t} done") in lines
    tasks = tasks_by_id(status_json(repo, "same"))
    assert {t: s["state"] for t, s in tasks.items()} == dict.fromkeys("abcd", "complete")
    assert {t: s["kept_from"] for t, s in tasks.items()} == dict.fromkeys("abcd", 1)
    assert status_json(repo, "same")["run"]["number"] == 2
    assert not [r for r in refs(repo) if r.startswith("refs/po/same/runs/")]
    report = json.loads(run_po(repo, "report", "same", "--format", "json").out)
    assert report["serial_s"] == 0  # no task ran in this run


def test_a_changed_prompt_reruns_the_task_and_what_depends_on_it(
    repo: Path, tmp_path: Path
) -> None:
    plan, env = first_run(repo, tmp_path, "diamond", DIAMOND)
    before = tips(repo, "diamond")
    plan.write_text(plan.read_text().replace("Build the left wall.", "Build a taller left wall."))

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert ran(tmp_path)[4:] == ["b", "d"]
    now = tips(repo, "diamond")
    assert now["a"] == before["a"] and now["c"] == before["c"]
    for t in "bd":  # a fresh state history (the fake worker commits the same tree again)
        assert "kept_from" not in task_state(repo, "diamond", t)
        assert len(subjects(repo, f"refs/po/diamond/tasks/{t}")) == 4
    r = refs(repo)
    for t in "bd":  # the earlier work of what ran again is kept
        assert r[f"refs/po/diamond/runs/1/branches/{t}"] == before[t]
        assert f"refs/po/diamond/runs/1/tasks/{t}" in r
    assert "refs/po/diamond/runs/1/branches/a" not in r
    # b starts from the kept a, d from the new b and the kept c
    assert git(repo, "rev-parse", "refs/po/diamond/bases/b").strip() == before["a"]
    assert set(git(repo, "rev-parse", "refs/po/diamond/bases/d^@").split()) == {now["b"], now["c"]}
    lines = change_lines(res.out)
    assert ("b", "runs: changed prompt") in lines
    assert ("d", "runs: dependency b re-runs") in lines
    assert "Build a taller left wall." in claude_log(tmp_path)[4]["prompt"]


def test_changed_prompt_file_contents_rerun_the_task(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "plans").mkdir()
    prompt = tmp_path / "plans" / "api.md"
    prompt.write_text("Write the API.\n")
    body = '[tasks.api]\nprompt_file = "api.md"\n[tasks.ui]\nprompt = "UI"\ndepends_on = ["api"]\n'
    body += '[tasks.docs]\nprompt = "Docs"\n'
    plan, env = first_run(repo, tmp_path, "pf", body)
    prompt.write_text("Write the API, with pagination.\n")  # the plan file itself is unchanged

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert sorted(ran(tmp_path)[3:]) == ["api", "ui"]
    assert ("api", "runs: changed prompt") in change_lines(res.out)
    assert git(repo, "show", "refs/po/pf/plan:prompts/api.md") == prompt.read_text()


def test_changed_agent_options_and_dependencies_rerun_new_tasks_run(
    repo: Path, tmp_path: Path
) -> None:
    body = '[tasks.a]\nprompt = "A"\n[tasks.b]\nprompt = "B"\n[tasks.c]\nprompt = "C"\n'
    plan, env = first_run(repo, tmp_path, "opts", body)
    body = (
        '[tasks.a]\nprompt = "A"\nmodel = "opus"\n'  # a changed agent option
        '[tasks.b]\nprompt = "B"\n'  # unchanged
        '[tasks.c]\nprompt = "C"\ndepends_on = ["b"]\n'  # a changed dependency list
        '[tasks.n]\nprompt = "N"\ndepends_on = ["b"]\n'  # new
        '[defaults]\ntimeout = "2h"\nretries = 3\n'  # these change no task's work
    )
    plan.write_text(body)

    dry = run_po(repo, "start", str(plan), "--dry-run")
    assert dry.code == 0, dry
    assert not [e for e in ran(tmp_path)[3:]]  # a dry run starts nothing
    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert sorted(ran(tmp_path)[3:]) == ["a", "c", "n"]
    lines = change_lines(res.out)
    assert ("a", "runs: changed agent options") in lines
    assert ("c", "runs: changed dependencies") in lines
    assert ("n", "runs: new") in lines
    assert claude_log(tmp_path)[3 + ran(tmp_path)[3:].index("a")]["args"]["model"] == "opus"
    assert task_state(repo, "opts", "b")["kept_from"] == 1


def test_unfinished_tasks_and_what_was_skipped_run_again(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path, "half", DIAMOND.replace("[tasks.d]", "[defaults]\nretries = 0\n\n[tasks.d]")
    )
    fails = [{"write": "c.txt", "content": "half\n"}, {"commit": "[CHECKPOINT] c half way"}]
    res = start(repo, plan, env=fake_env(tmp_path, {"c": fails}))
    assert res.code == 1, res
    assert tasks_by_id(status_json(repo, "half"))["d"]["state"] == "skipped"
    before = tips(repo, "half")

    res = start(repo, plan, env=fake_env(tmp_path, {"c": [COMPLETE]}))

    assert res.code == 0, res
    assert ran(tmp_path)[3:] == ["c", "d"]
    lines = change_lines(res.out)
    assert ("c", "runs: unfinished (failed)") in lines
    assert ("d", "runs: unfinished (skipped)") in lines
    assert refs(repo)["refs/po/half/runs/1/branches/c"] == before["c"]
    assert tips(repo, "half")["a"] == before["a"]


def test_a_moved_plan_base_reruns_everything(repo: Path, tmp_path: Path) -> None:
    plan, env = first_run(repo, tmp_path, "moved", 'base = "main"\n' + DIAMOND)
    (repo / "new.txt").write_text("new\n")
    git(repo, "add", "new.txt")
    git(repo, "commit", "-q", "-m", "more on main")

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    assert sorted(ran(tmp_path)[4:]) == ["a", "b", "c", "d"]
    assert any(
        t == "a" and m.startswith("runs: the plan's base moved") for t, m in change_lines(res.out)
    )
    assert "new.txt" in git(repo, "ls-tree", "--name-only", "po/moved/d")


def test_dry_run_says_what_is_kept_and_what_runs_and_why(repo: Path, tmp_path: Path) -> None:
    plan, _ = first_run(repo, tmp_path, "dry", DIAMOND)
    plan.write_text(
        plan.read_text().replace("Build the left wall.", "Build it.")
        + '\n[tasks.e]\nprompt = "Paint."\ndepends_on = ["a"]\n'
    )
    before = refs(repo)

    res = run_po(repo, "start", str(plan), "--dry-run")

    assert res.code == 0, res
    assert refs(repo) == before
    out = res.out
    assert "run 1 finished: 2 tasks kept, 3 to run" in out
    assert "refs/po/dry/runs/1/" in out
    rows = {tuple(line.split(None, 2)) for line in out.splitlines()}
    assert ("keep", "a", "unchanged") in rows
    assert ("keep", "c", "unchanged") in rows
    assert ("run", "b", "changed prompt") in rows
    assert ("run", "d", "dependency b re-runs") in rows
    assert ("run", "e", "new") in rows
    assert "starts first: b, e\n" in out  # a and c are kept: nothing waits for them

    res = run_po(repo, "start", str(plan), "--dry-run", "--restart")
    assert res.code == 0, res
    assert "every task runs again; the earlier run's refs go to refs/po/dry/runs/1/" in res.out
    assert "starts first: a\n" in res.out
    assert refs(repo) == before


def test_dry_run_of_an_unfinished_run_says_start_refuses(repo: Path, tmp_path: Path) -> None:
    plan, env = first_run(repo, tmp_path, "wait", '[tasks.q]\nprompt = "ask"\n')
    git(repo, "update-ref", "-d", "refs/po/wait/plan")  # a run of this plan left refs behind
    res = run_po(repo, "start", str(plan), "--dry-run")
    assert res.code == 0, res
    assert "did not finish (left refs behind): start refuses" in res.out
    assert start(repo, plan, env=env).code == 5


def test_restart_runs_every_task_and_keeps_the_earlier_branches(repo: Path, tmp_path: Path) -> None:
    plan, env = first_run(repo, tmp_path, "over", DIAMOND)
    before = tips(repo, "over")
    assert start(repo, plan, env=env).code == 0  # run 2 keeps everything
    assert len(ran(tmp_path)) == 4

    res = start(repo, plan, "--restart", env=env)

    assert res.code == 0, res
    assert sorted(ran(tmp_path)[4:]) == ["a", "b", "c", "d"]
    r = refs(repo)
    for t in "abcd":
        assert r[f"refs/po/over/runs/2/branches/{t}"] == before[t]
        assert f"refs/po/over/runs/2/tasks/{t}" in r
        assert "kept_from" not in task_state(repo, "over", t)
    assert status_json(repo, "over")["run"]["number"] == 3


def test_the_integration_branch_stays_unless_a_task_it_holds_runs_again(
    repo: Path, tmp_path: Path
) -> None:
    plan, env = first_run(repo, tmp_path, "integ", DIAMOND)
    assert run_po(repo, "integrate", "integ").code == 0
    integrated = refs(repo)["refs/heads/po/integ/integration"]
    plan.write_text(plan.read_text() + '\n[tasks.e]\nprompt = "Paint."\ndepends_on = ["a"]\n')

    assert start(repo, plan, env=env).code == 0  # only e runs: what is integrated stays valid
    assert refs(repo)["refs/heads/po/integ/integration"] == integrated
    plan.write_text(plan.read_text().replace("Put the roof on.", "Put a red roof on."))

    res = start(repo, plan, env=env)

    assert res.code == 0, res
    r = refs(repo)
    assert r["refs/po/integ/runs/2/branches/integration"] == integrated  # d's old work is in it
    assert "refs/heads/po/integ/integration" not in r
    res = run_po(repo, "integrate", "integ")
    assert res.code == 0, res
    tip = refs(repo)["refs/heads/po/integ/integration"]
    for t in "abcde":  # git fails (and the test with it) unless it is an ancestor
        git(repo, "merge-base", "--is-ancestor", tips(repo, "integ")[t], tip)


# --- nothing is lost by clean or retry ---------------------------------------------------------

WORK = [
    {"write": "t.txt", "content": "the work\n"},
    {"commit": "[CHECKPOINT] t: wrote t.txt"},
    {"write": "u.txt", "content": "more\n"},
    {"commit": "[COMPLETE] t is done"},
]


def cleaned(repo: Path, tmp_path: Path, name: str, *extra: str) -> tuple[Path, dict[str, str]]:
    """A one-task plan run to completion, integrated, then its worktree and branch removed."""
    plan = write_plan(tmp_path, name, 'verify = "test -f t.txt"\n[tasks.t]\nprompt = "go"\n')
    env = fake_env(tmp_path, {"t": {"attempts": {"1": WORK, "2": [{"require": "u.txt"}]}}})
    assert start(repo, plan, env=env).code == 0
    if not extra:
        assert run_po(repo, "integrate", name).code == 0
    res = run_po(repo, "clean", name, "--branches", *extra)
    assert res.code == 0, res
    assert f"refs/heads/po/{name}/t" not in refs(repo)
    assert not (worktree_root(repo) / name / "t").exists()
    return plan, env


def test_status_and_show_after_clean_read_the_recorded_tip(repo: Path, tmp_path: Path) -> None:
    cleaned(repo, tmp_path, "gone")
    tip = task_state(repo, "gone", "t")["tip"]

    t = tasks_by_id(status_json(repo, "gone"))["t"]

    assert t["head"] == tip
    assert t["branch_removed"] is True
    assert t["checkpoint_count"] == 1
    assert t["last_subject"] == "[COMPLETE] t is done"
    assert t["verify"] is not None and t["verify"]["passed"] is True
    table = run_po(repo, "status", "gone").out
    assert "[COMPLETE] t is done" in table
    shown = run_po(repo, "show", "t")
    assert shown.code == 0, shown
    assert f"po/gone/t removed; its recorded tip is {tip[:12]}" in shown.out
    assert "[CHECKPOINT] t: wrote t.txt" in shown.out


def test_retry_after_clean_restores_the_branch_and_resumes_on_the_work(
    repo: Path, tmp_path: Path
) -> None:
    _, env = cleaned(repo, tmp_path, "back")
    tip = task_state(repo, "back", "t")["tip"]
    session = task_state(repo, "back", "t")["attempts"][0]["session_id"]

    res = run_po(repo, "retry", "t", "--no-live", env=env)

    assert res.code == 0, res
    worktree = worktree_root(repo) / "back" / "t"
    assert (worktree / "t.txt").read_text() == "the work\n"
    assert (worktree / "u.txt").read_text() == "more\n"
    assert refs(repo)["refs/heads/po/back/t"] == tip
    second = claude_log(tmp_path)[1]
    assert second["args"]["resume"] == session
    assert Path(second["cwd"]).resolve() == worktree.resolve()
    t = tasks_by_id(status_json(repo, "back"))["t"]
    assert t["state"] == "complete" and t["branch_removed"] is False


def test_retry_refuses_when_the_recorded_tip_is_gone(repo: Path, tmp_path: Path) -> None:
    _, env = cleaned(repo, tmp_path, "lost", "--force")
    # the only other keeper of the work is the snapshot ref --force made; drop it, and collect
    git(repo, "update-ref", "-d", "refs/po/lost/wip/t")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    before = task_state(repo, "lost", "t")

    res = run_po(repo, "retry", "t", "--no-live", env=env)

    assert res.code == 5, res
    assert "no longer in this repository" in res.err
    assert task_state(repo, "lost", "t") == before
    assert len(claude_log(tmp_path)) == 1
