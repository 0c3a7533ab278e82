"""Bad and hostile input: places that are not usable repositories, a base that moved, a worktree
deleted by hand, names crafted to escape refs and paths, shell metacharacters in plan values,
and API keys that must not reach transcripts, logs or refs."""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, refs, run_po
from tests.helpers import (
    Script,
    claude_log,
    fake_env,
    spawn_po,
    start,
    status_json,
    task_state,
    tasks_by_id,
    wait_for,
    write_plan,
)
from tests.test_faults import (
    COMPLETE,
    common_dir,
    event_names,
    fast_config,
    kill_workers,
    launches,
    resume,
    run_to_death,
    worktree_of,
)

ONE = '[tasks.t]\nprompt = "go"\n'


# --- places that are not usable repositories -------------------------------------------------


def _po_dir_absent(path: Path) -> None:
    assert not list(path.rglob("po")), "git po wrote something"


def test_outside_a_repository_every_command_exits_4(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    plan = write_plan(tmp_path, "p", ONE)
    env = {"GIT_CEILING_DIRECTORIES": str(tmp_path)}
    for args in (
        ["start", str(plan)],
        ["resume", "p"],
        ["status"],
        ["answer", "t", "x"],
        ["retry", "t"],
        ["stop", "t"],
    ):
        res = run_po(plain, *args, env=env)
        assert res.code == 4, (args, res)
        assert "not a git repository" in res.err
    assert list(plain.iterdir()) == []


def test_a_bare_repository_exits_4(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    plan = write_plan(tmp_path, "p", ONE)

    res = run_po(bare, "start", str(plan), "--no-live")

    assert res.code == 4, res
    assert "bare repository" in res.err
    assert not (bare / "po").exists()


def test_a_sha256_repository_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "sha"
    git(tmp_path, "init", "-q", "--object-format=sha256", "-b", "main", str(path))
    git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    plan = write_plan(tmp_path, "p", ONE)
    before = refs(path)

    res = run_po(path, "start", str(plan), "--no-live", env=fake_env(tmp_path))

    assert res.code == 4, res
    assert "SHA-256" in res.err
    assert refs(path) == before
    assert not (path / ".git" / "po").exists()
    assert run_po(path, "status").code == 4


def test_a_reftable_repository_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "rt"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    git(path, "commit", "-q", "--allow-empty", "-m", "initial")
    git(path, "config", "core.repositoryformatversion", "1")
    git(path, "config", "extensions.refStorage", "reftable")
    plan = write_plan(tmp_path, "p", ONE)

    res = run_po(path, "start", str(plan), "--no-live", env=fake_env(tmp_path))

    assert res.code == 4, res
    assert "reftable" in res.err
    assert not (path / ".git" / "po").exists()


def test_an_unreadable_repository_is_named_once(tmp_path: Path) -> None:
    """(Regression: the message once read 'git po: git po cannot open ...'.)"""
    path = tmp_path / "sha"
    git(tmp_path, "init", "-q", "--object-format=sha256", "-b", "main", str(path))
    res = run_po(path, "status")
    assert res.code == 4
    assert "git po: git po" not in res.err


# --- a moved base, a deleted worktree -------------------------------------------------------


def test_a_base_that_moved_before_resume_is_reported_and_tasks_keep_the_recorded_one(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "moved", f'base = "main"\n{ONE}')
    env = fake_env(tmp_path)
    recorded = git(repo, "rev-parse", "main").strip()
    died = run_to_death(
        repo, ["start", str(plan), "--no-live"], {**env, "GIT_PO_FAULT": "after-plan-write"}
    )
    assert died.returncode == -signal.SIGKILL
    (repo / "new.txt").write_text("new on main\n")
    git(repo, "add", "new.txt")
    git(repo, "commit", "-q", "-m", "main moves on")
    moved = git(repo, "rev-parse", "main").strip()

    res = resume(repo, "moved", env)

    assert res.code == 0, res
    assert f"warning: base main moved since the run started ({recorded[:12]} -> {moved[:12]})" in (
        res.err
    )
    assert git(repo, "rev-parse", "refs/po/moved/bases/t").strip() == recorded
    assert task_state(repo, "moved", "t")["base"] == recorded
    assert "new.txt" not in git(repo, "ls-tree", "--name-only", "po/moved/t")


def test_a_worktree_deleted_by_hand_is_recreated_from_the_branch_on_resume(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "gone", ONE)
    script: Script = {
        "attempts": {
            "1": [
                {"write": "part1.txt", "content": "one\n"},
                {"commit": "[CHECKPOINT] part one"},
                {"write": "part2.txt", "content": "two, uncommitted\n"},
                {"hang": True},
            ]
        },
        "default": [{"require": "part1.txt"}, {"require": "part2.txt"}, COMPLETE],
    }
    env = fake_env(tmp_path, {"t": script})
    wt = worktree_of(repo, "gone", "t")
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    try:
        wait_for("the uncommitted file", (wt / "part2.txt").exists)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        assert proc.returncode == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        kill_workers(tmp_path)
    shutil.rmtree(wt)

    res = resume(repo, "gone", env)

    assert res.code == 0, res
    assert wt.is_dir()
    assert (wt / "part1.txt").read_text() == "one\n"
    st = task_state(repo, "gone", "t")
    assert st["state"] == "complete"
    assert [a["outcome"] for a in st["attempts"]] == ["interrupted", "complete"]
    assert launches(tmp_path, "t")[1]["cwd"] == str(wt)
    assert str(wt) in git(repo, "worktree", "list")


# --- names crafted to escape -------------------------------------------------------------------

BAD_NAMES = ["..", "a/b", "../../x", "x^y", "x~1", "x:y", "x?", "x*", "x[y", "-x", "x..y", "x.lock"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_plan_name_crafted_to_escape_exits_2_and_writes_nothing(
    repo: Path, tmp_path: Path, name: str
) -> None:
    plan = write_plan(tmp_path, "crafted", f"name = {name!r}\n{ONE}".replace("'", '"'))
    before = refs(repo)

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 2, res
    assert "nothing was written" in res.err
    assert refs(repo) == before
    assert not (common_dir(repo) / "po").exists()
    assert not claude_log(tmp_path)


@pytest.mark.parametrize("task", BAD_NAMES)
def test_a_task_id_crafted_to_escape_exits_2_and_writes_nothing(
    repo: Path, tmp_path: Path, task: str
) -> None:
    plan = write_plan(tmp_path, "crafted", f'[tasks."{task}"]\nprompt = "go"\n')
    before = refs(repo)

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 2, res
    assert refs(repo) == before
    assert not (common_dir(repo) / "po").exists()


def test_a_plan_file_named_like_an_option_is_refused(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "plans"
    folder.mkdir()
    (folder / "-x.toml").write_text(ONE)
    before = refs(repo)

    res = run_po(repo, "start", str(folder / "-x.toml"), "--no-live", env=fake_env(tmp_path))

    assert res.code == 2, res
    assert refs(repo) == before


def test_commands_given_crafted_plan_or_task_names_change_nothing(
    repo: Path, tmp_path: Path
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "p", ONE)
    env = fake_env(tmp_path, {"t": [{"commit": "[BLOCKED:help] stuck"}]})
    assert start(repo, plan, env=env).code == 1
    before = refs(repo)
    for spec, command in (
        ("../x/t", "answer"),
        ("p/../../t", "retry"),
        ("p/t:x", "stop"),
        ("-x", "answer"),
    ):
        args = [command, "--", spec, "text"] if command == "answer" else [command, "--", spec]
        res = run_po(repo, *args, env=env)
        assert res.code in (2, 6), (args, res)
    assert run_po(repo, "resume", "--", "../p").code == 6
    assert refs(repo) == before
    assert not list((common_dir(repo) / "po" / "plans" / "p").glob("inbox/*"))


def test_plan_values_never_reach_a_shell(repo: Path, tmp_path: Path) -> None:
    prompt = "Do it; $(touch pwned1) `touch pwned2` && touch pwned3 | rm -rf ~ #"
    plan = write_plan(
        tmp_path,
        "quoting",
        f"""
        [tasks.t]
        prompt = '{prompt}'
        model = "sonnet"
        allowed_tools = ["Bash(echo $(touch pwned5))", "Bash(git *)"]
        """,
    )

    res = start(repo, plan, env=fake_env(tmp_path))

    assert res.code == 0, res
    run = launches(tmp_path, "t")[0]
    assert prompt in run["prompt"]
    assert run["args"]["allowed_tools"] == ["Bash(echo $(touch pwned5))", "Bash(git *)"]
    found = subprocess.run(
        ["find", str(tmp_path), "-name", "pwned*"], capture_output=True, text=True, check=True
    )
    assert found.stdout == ""


# --- secrets ----------------------------------------------------------------------------------

KEY = "sk-ant-api03-" + "Zx9" * 20 + "-AbCdEf"
TOKEN = "ghp_" + "a1B2c3D4e5" * 4


def _secret_env(tmp_path: Path, script: Script) -> dict[str, str]:
    env = fake_env(tmp_path, {"t": script})
    env["ANTHROPIC_API_KEY"] = KEY
    env["MY_SERVICE_TOKEN"] = "hunter2-but-longer-and-secret"
    return env


def _transcripts(repo: Path, plan: str) -> list[Path]:
    folder = common_dir(repo) / "po" / "plans" / plan / "transcripts"
    return [p for p in folder.rglob("*") if p.is_file()]


def test_transcripts_mask_api_keys_and_tokens(repo: Path, tmp_path: Path) -> None:
    script: Script = [
        {"say": f"my key is {KEY}"},
        {"bash": "echo key=$ANTHROPIC_API_KEY; echo $MY_SERVICE_TOKEN"},
        {"say": f"and a GitHub token {TOKEN}"},
        COMPLETE,
    ]

    res = start(repo, write_plan(tmp_path, "keys", ONE), env=_secret_env(tmp_path, script))

    assert res.code == 0, res
    # the worker really had and printed the key (the fake's own log shows it got it)...
    assert claude_log(tmp_path)[0]["env"]["ANTHROPIC_API_KEY"] == KEY
    transcript = (
        common_dir(repo) / "po" / "plans" / "keys" / "transcripts" / "t" / "attempt-1.jsonl"
    )
    text = transcript.read_text()
    assert "my key is" in text and "GitHub token" in text
    # ...and git po's copy of its output holds none of it
    for secret in (KEY, TOKEN, "hunter2-but-longer-and-secret", "Zx9Zx9Zx9"):
        assert secret not in text
        assert secret not in res.out + res.err


def test_the_stderr_log_of_a_worker_masks_keys_too(repo: Path, tmp_path: Path) -> None:
    """(Regression: only attempt-N.jsonl was masked, not attempt-N.jsonl.stderr.)"""
    script: Script = [{"stderr": f"debug: using key {KEY}"}, COMPLETE]

    res = start(repo, write_plan(tmp_path, "errkeys", ONE), env=_secret_env(tmp_path, script))

    assert res.code == 0, res
    files = _transcripts(repo, "errkeys")
    assert any(p.name.endswith(".stderr") for p in files)
    for p in files:
        assert KEY not in p.read_text(errors="replace"), p.name


def test_a_key_in_the_agents_last_words_does_not_reach_the_state_refs(
    repo: Path, tmp_path: Path
) -> None:
    """The failure reason quotes the agent's last text, and reasons are committed to state
    refs that users push. (Regression: the key went into state.toml, events/ and the commit
    message unmasked.)"""
    script: Script = [{"say": f"failing, key was {KEY}"}, {"exit": 1}]

    res = start(repo, write_plan(tmp_path, "leak", ONE), env=_secret_env(tmp_path, script))

    assert res.code == 1, res
    assert tasks_by_id(status_json(repo, "leak"))["t"]["state"] == "failed"
    assert "failing, key was" in task_state(repo, "leak", "t")["reason"]
    history = git(repo, "log", "-p", "--all")
    assert KEY not in history
    assert KEY not in run_po(repo, "status", "leak", env={"COLUMNS": "300"}).out
    assert event_names(repo, "leak", "t")
