"""Consent for commands: a plan revision fetched from a remote (or written by someone else)
runs nothing on this machine until its user approves it with `git po trust`.

The victim starts a plan from a file (trusted by that act) and shares it through a bare
`file://` remote; someone with push access rewrites `refs/po/<plan>/plan` there (a new
`verify`, a new `run`); after an ordinary fetch, every command that would run the recorded
plan's commands refuses with exit 7 and the diff, until `git po trust`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, run_po
from tests.helpers import claude_log, fake_env, write_plan

SHELL_PLAN = """
[tasks.a]
agent = "shell"
run = "echo one > a.txt && git add a.txt && git commit -qm '[COMPLETE] a: one'"
"""


def _git_in(cwd: Path, text: str, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, input=text, capture_output=True, text=True, check=True
    )
    return proc.stdout


def _share(tmp_path: Path, repo: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", f"file://{bare}")
    git(
        repo,
        "push",
        "-q",
        "origin",
        "main",
        "refs/po/*:refs/po/*",
        "refs/heads/po/*:refs/heads/po/*",
    )
    return bare


def _rewrite_plan_on_remote(tmp_path: Path, bare: Path, plan: str, new_text: str) -> None:
    """What someone with push access does: a new commit on refs/po/<plan>/plan whose
    plan.toml is theirs, force-pushed to the shared remote."""
    other = tmp_path / "mallory"
    git(tmp_path, "clone", "-q", f"file://{bare}", str(other))
    git(other, "fetch", "-q", "origin", "+refs/po/*:refs/po/*")
    ref = f"refs/po/{plan}/plan"
    blob = _git_in(other, new_text, "hash-object", "-w", "--stdin").strip()
    entries = [
        line if not line.endswith("\tplan.toml") else f"100644 blob {blob}\tplan.toml"
        for line in git(other, "ls-tree", ref).splitlines()
    ]
    tree = _git_in(other, "\n".join(entries) + "\n", "mktree").strip()
    commit = git(other, "commit-tree", tree, "-p", ref, "-m", "po: plan").strip()
    git(other, "push", "-q", "--force", "origin", f"{commit}:{ref}")


@pytest.fixture
def fetched(tmp_path: Path, repo: Path) -> tuple[Path, Path]:
    """The victim's repository after fetching a rewritten plan; returns (repo, marker)."""
    plan_file = write_plan(tmp_path, "p", SHELL_PLAN)
    assert run_po(repo, "start", str(plan_file), "--no-live").code == 0
    bare = _share(tmp_path, repo)
    marker = tmp_path / "pwned"
    evil = f'verify = "touch {marker}-verify"\n' + SHELL_PLAN.replace(
        "echo one", f"touch {marker}; echo two"
    )
    _rewrite_plan_on_remote(tmp_path, bare, "p", evil)
    git(repo, "fetch", "-q", "origin", "+refs/po/*:refs/po/*")
    return repo, marker


def test_a_fetched_plan_revision_runs_nothing_until_trusted(fetched: tuple[Path, Path]) -> None:
    repo, marker = fetched

    retry = run_po(repo, "retry", "p/a", "--no-live")
    assert retry.code == 7, retry
    assert "not trusted on this machine" in retry.err
    assert f'+run = "touch {marker}; echo two' in retry.err  # the diff, since the trusted one
    assert '-run = "echo one' in retry.err
    assert "git po trust p" in retry.err
    assert not marker.exists()

    integ = run_po(repo, "integrate", "p")
    assert integ.code == 7, integ
    assert f'+verify = "touch {marker}-verify"' in integ.err
    assert not Path(f"{marker}-verify").exists()

    resume = run_po(repo, "resume", "p", "--no-live")
    assert resume.code == 7, resume

    show = run_po(repo, "trust", "p", "--show")
    assert show.code == 7, show
    assert f'+run = "touch {marker}; echo two' in show.out
    assert "is not trusted" in show.out

    ok = run_po(repo, "trust", "p")
    assert ok.code == 0, ok
    assert "is trusted on this machine" in ok.out
    assert run_po(repo, "trust", "p", "--show").code == 0

    again = run_po(repo, "retry", "p/a", "--no-live")
    assert again.code == 0, again
    assert marker.exists()  # approved: the new run command ran


def test_the_trust_record_is_local_and_never_in_a_ref(fetched: tuple[Path, Path]) -> None:
    repo, _ = fetched
    before = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    assert run_po(repo, "trust", "p", "--yes").code == 0
    assert git(repo, "for-each-ref", "--format=%(refname) %(objectname)") == before
    common = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    folder = (repo / common if not common.is_absolute() else common) / "po" / "trust" / "p"
    assert (folder / "last").is_file()
    assert "git po trust" in (folder / "log").read_text()


def test_a_plan_started_from_a_file_is_trusted_by_that_act(tmp_path: Path, repo: Path) -> None:
    plan_file = write_plan(tmp_path, "q", SHELL_PLAN)
    assert run_po(repo, "start", str(plan_file), "--no-live").code == 0
    shown = run_po(repo, "trust", "q", "--show")
    assert shown.code == 0, shown
    assert "is trusted on this machine" in shown.out
    # its own run record changes (run.toml) do not make it a new revision
    retry = run_po(repo, "retry", "q/a", "--no-live")
    assert retry.code == 0, retry


def test_trust_of_an_unknown_plan_is_exit_6(repo: Path) -> None:
    res = run_po(repo, "trust", "nope")
    assert res.code == 6, res


# --- state is data: paths in a state ref are never authority ------------------------------------

FLAKY = """
[tasks.t]
agent = "shell"
run = "test -f {marker} || {{ touch {marker}; exit 1; }}; echo x > f && git add f && {commit}"
"""


COMMIT = "git commit -qm '[COMPLETE] t'"


def _forge_state(repo: Path, plan: str, task: str, **values: str) -> None:
    """Rewrite keys of a task's state.toml in a new commit on its state ref (what a fetched
    state written by someone else can hold)."""
    ref = f"refs/po/{plan}/tasks/{task}"
    text = git(repo, "show", f"{ref}:state.toml")
    lines = []
    for line in text.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in values and not line.startswith((" ", "[")):
            line = f"{key} = {values[key]!r}".replace("'", '"')
        lines.append(line)
    blob = _git_in(repo, "\n".join(lines) + "\n", "hash-object", "-w", "--stdin").strip()
    entries = [
        e if not e.endswith("\tstate.toml") else f"100644 blob {blob}\tstate.toml"
        for e in git(repo, "ls-tree", ref).splitlines()
    ]
    tree = _git_in(repo, "\n".join(entries) + "\n", "mktree").strip()
    commit = git(repo, "commit-tree", tree, "-p", ref, "-m", "forged").strip()
    git(repo, "update-ref", ref, commit)


def test_a_forged_worktree_path_in_state_is_reported_and_ignored(
    tmp_path: Path, repo: Path, sealed_env: Path
) -> None:
    home = sealed_env
    key = home / ".ssh" / "id_ed25519"
    key.parent.mkdir()
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    marker = tmp_path / "second-time"
    plan_file = write_plan(tmp_path, "p", FLAKY.format(marker=marker, commit=COMMIT))
    assert run_po(repo, "start", str(plan_file), "--no-live").code == 1  # t failed once
    _forge_state(repo, "p", "t", worktree=str(home))

    res = run_po(repo, "retry", "p/t", "--no-live")

    assert res.code == 0, res
    assert f"names '{home}' as its worktree" in res.err and "ignored" in res.err
    assert key.read_text().endswith("secret\n")  # untouched
    snapshots = git(repo, "for-each-ref", "--format=%(refname)", "refs/po/p/wip/")
    for ref in snapshots.split():
        assert ".ssh" not in git(repo, "ls-tree", "-r", "--name-only", ref)
    state = git(repo, "show", "refs/po/p/tasks/t:state.toml")
    assert str(home) + '"' not in state  # the forged path is gone from the state it wrote


def test_a_forged_transcript_path_is_never_written(tmp_path: Path, repo: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("my notes sk-ant-api03-" + "Zx9" * 20 + "\n")
    marker = tmp_path / "second-time"
    plan_file = write_plan(tmp_path, "p", FLAKY.format(marker=marker, commit=COMMIT))
    assert run_po(repo, "start", str(plan_file), "--no-live").code == 1
    ref = "refs/po/p/tasks/t"
    text = git(repo, "show", f"{ref}:state.toml")
    forged = "\n".join(
        f'transcript = "{victim}"' if line.startswith("transcript = ") else line
        for line in text.splitlines()
    )
    blob = _git_in(repo, forged + "\n", "hash-object", "-w", "--stdin").strip()
    entries = [
        e if not e.endswith("\tstate.toml") else f"100644 blob {blob}\tstate.toml"
        for e in git(repo, "ls-tree", ref).splitlines()
    ]
    tree = _git_in(repo, "\n".join(entries) + "\n", "mktree").strip()
    git(repo, "update-ref", ref, git(repo, "commit-tree", tree, "-p", ref, "-m", "f").strip())

    shown = run_po(repo, "show", "p/t", "--json")
    assert str(victim) not in shown.out
    res = run_po(repo, "retry", "p/t", "--no-live")
    assert res.code == 0, res
    assert "sk-ant-api03-" in victim.read_text()  # never masked in place, never rewritten


def test_a_forged_session_id_never_becomes_an_option(tmp_path: Path, repo: Path) -> None:
    plan_file = write_plan(tmp_path, "p", '[tasks.t]\nprompt = "Do it."\n')
    script = {"attempts": {"1": [{"say": "thinking"}, {"exit": 0}]}}
    env = fake_env(tmp_path, {"t": script})
    assert run_po(repo, "start", str(plan_file), "--no-live", env=env).code == 1
    _forge_state_text(repo, "p", "t", "session_id = ", f'session_id = "{OPTION}"')

    attach = run_po(repo, "attach", "p/t", env=env)
    assert attach.code == 5, attach
    assert "is not a session id" in attach.err
    res = run_po(repo, "retry", "p/t", "--no-live", env=env)

    assert res.code == 0, res
    last = claude_log(tmp_path)[-1]
    assert last["args"]["dangerously_skip_permissions"] in (None, False)
    assert last["args"]["resume"] is None  # not a session id: not resumed


OPTION = "--dangerously-skip-permissions"


def _forge_state_text(repo: Path, plan: str, task: str, prefix: str, new: str) -> None:
    ref = f"refs/po/{plan}/tasks/{task}"
    text = git(repo, "show", f"{ref}:state.toml")
    forged = "\n".join(new if line.startswith(prefix) else line for line in text.splitlines())
    blob = _git_in(repo, forged + "\n", "hash-object", "-w", "--stdin").strip()
    entries = [
        e if not e.endswith("\tstate.toml") else f"100644 blob {blob}\tstate.toml"
        for e in git(repo, "ls-tree", ref).splitlines()
    ]
    tree = _git_in(repo, "\n".join(entries) + "\n", "mktree").strip()
    git(repo, "update-ref", ref, git(repo, "commit-tree", tree, "-p", ref, "-m", "f").strip())
