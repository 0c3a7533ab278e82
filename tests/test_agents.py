"""Agents as data: profiles of the user's own ([agents.NAME] in the plan, po.agent.NAME.* in
git config), the built-in profiles' command lines, a plan that mixes agents, and a missing
executable. The agent here is a small fake program of the user's own (a far side), driven by
the real `git po start`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from git_po.agents import GenericProfile
from git_po.agents.builtin import BUILTIN
from git_po.agents.spec import ArgumentRefused, expand, parse_spec
from git_po.plan import Task
from tests.conftest import git, refs, run_po
from tests.helpers import start, status_json, tasks_by_id, write_plan

# a fake agent: argv as its profile gives it; commits what the prompt's task says, prints
# jsonl with a session id, a cost and a result; FAKE_AGENT_LOG gets one line per run
FAKE_AGENT = """\
#!{python}
import json, os, subprocess, sys
args = sys.argv[1:]
log = os.environ.get("FAKE_AGENT_LOG")
if log:
    with open(log, "a") as f:
        f.write(json.dumps({{"argv": args, "cwd": os.getcwd()}}) + "\\n")
prompt = args[-1]
task = os.environ["PO_TASK"]
session = args[args.index("--resume") + 1] if "--resume" in args else "sess-" + task
print(json.dumps({{"type": "hello", "session": {{"id": session}}}}), flush=True)
mode = os.environ.get("FAKE_AGENT_MODE", "")
if mode == "429":
    print(json.dumps({{"type": "oops", "error": "HTTP 429 Too Many Requests"}}), flush=True)
    sys.exit(1)
if mode == "stop" and "--resume" not in args:
    subprocess.run(["sh", "-c", "printf half > half.txt && git add -A"], check=True)
    subprocess.run(["git", "commit", "-q", "-m", "[CHECKPOINT] half"], check=True)
    done = {{"type": "done", "usage": {{"cost": 0.25}}, "answer": "stopping"}}
    print(json.dumps(done), flush=True)
    sys.exit(0)
name = task + ".txt"
subprocess.run(["sh", "-c", f"printf done > {{name}} && git add -A"], check=True)
subprocess.run(["git", "commit", "-q", "-m", f"[COMPLETE] {{name}}"], check=True)
print(json.dumps({{"type": "done", "usage": {{"cost": 0.5}}, "answer": "all done"}}), flush=True)
"""

PROFILE = """
[agents.mine]
command = ["{exe}", "--model", "{{model}}", "{{permission}}", "{{prompt}}"]
resume = ["{exe}", "--resume", "{{session}}", "{{prompt}}"]
format = "jsonl"
session_id = "hello:session.id"
cost = "+done:usage.cost"
result = "done:answer"
error = "oops:error"
[agents.mine.permission]
acceptEdits = ["--edits-ok"]
[agents.mine.errors]
rate_limit = "429"
"""


@pytest.fixture
def fake_agent(tmp_path: Path) -> Path:
    exe = tmp_path / "bin" / "mine-agent"
    exe.parent.mkdir()
    exe.write_text(FAKE_AGENT.format(python=sys.executable))
    exe.chmod(0o755)
    return exe


def _log(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "agent-log.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_a_profile_of_my_own_runs_a_mixed_plan(
    repo: Path, tmp_path: Path, fake_agent: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "mix",
        PROFILE.format(exe=fake_agent)
        + """
[defaults]
agent = "mine"
[tasks.a]
prompt = "Write a."
model = "m-1"
permission_mode = "acceptEdits"
[tasks.b]
agent = "shell"
run = "printf b > b.txt && git add -A && git commit -q -m '[COMPLETE] b'"
""",
    )
    env = {"FAKE_AGENT_LOG": str(tmp_path / "agent-log.jsonl")}
    res = start(repo, plan, env=env)
    assert res.code == 0, res
    tasks = tasks_by_id(status_json(repo, "mix"))
    assert tasks["a"]["state"] == "complete" and tasks["b"]["state"] == "complete"
    assert tasks["a"]["agent"] == "mine" and tasks["b"]["agent"] == "shell"
    assert tasks["a"]["attempt_agents"] == ["mine"]
    report = run_po(repo, "report", "mix")
    assert report.code == 0, report
    assert "| a | complete | 1 | mine |" in report.out, report.out
    assert "| b | complete | 1 | shell |" in report.out, report.out
    assert tasks["a"]["session_id"] == "sess-a"
    assert tasks["a"]["cost_usd"] == pytest.approx(0.5)
    assert git(repo, "show", "po/mix/a:a.txt") == "done"
    (call,) = _log(tmp_path)
    argv = call["argv"]
    assert isinstance(argv, list)
    # model and permission mapped, the prompt last, as one argument
    assert argv[:3] == ["--model", "m-1", "--edits-ok"]
    assert str(argv[-1]).startswith("You are a git po worker: task `a`")
    # the transcript is kept and `git po logs` shows its events
    logs = run_po(repo, "logs", "mix/a")
    assert logs.code == 0, logs
    assert "all done" in logs.out


def test_a_later_attempt_resumes_the_session_its_agent_reported(
    repo: Path, tmp_path: Path, fake_agent: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "again",
        PROFILE.format(exe=fake_agent)
        + '[tasks.a]\nagent = "mine"\nprompt = "Write a."\nretries = 1\n',
    )
    env = {"FAKE_AGENT_LOG": str(tmp_path / "agent-log.jsonl"), "FAKE_AGENT_MODE": "stop"}
    git(repo, "config", "po.retryDelay", "0")
    res = start(repo, plan, env=env)
    assert res.code == 0, res
    first, second = _log(tmp_path)
    assert "--resume" not in first["argv"]
    assert second["argv"][:2] == ["--resume", "sess-a"]
    assert str(second["argv"][-1]).startswith("You are resuming git po task `a`")
    st = tasks_by_id(status_json(repo, "again"))["a"]
    assert st["state"] == "complete"
    assert st["cost_usd"] == pytest.approx(0.75)


def test_a_429_in_the_agents_output_is_a_rate_limit(
    repo: Path, tmp_path: Path, fake_agent: Path
) -> None:
    plan = write_plan(
        tmp_path,
        "limits",
        PROFILE.format(exe=fake_agent) + '[tasks.a]\nagent = "mine"\nprompt = "x"\n',
    )
    res = start(repo, plan, env={"FAKE_AGENT_MODE": "429"})
    assert res.code != 0
    st = tasks_by_id(status_json(repo, "limits"))["a"]
    assert st["state"] == "failed"
    assert "rate limit" in str(st["reason"]).lower(), st


def test_git_config_defines_an_agent(repo: Path, tmp_path: Path, fake_agent: Path) -> None:
    git(repo, "config", "po.agent.cfg.command", f"{fake_agent} --model {{model}} {{prompt}}")
    git(repo, "config", "po.agent.cfg.format", "jsonl")
    git(repo, "config", "po.agent.cfg.sessionId", "hello:session.id")
    git(repo, "config", "po.agent", "cfg")
    plan = write_plan(tmp_path, "cfg", '[tasks.a]\nprompt = "Write a."\n')
    res = start(repo, plan)
    assert res.code == 0, res
    st = tasks_by_id(status_json(repo, "cfg"))["a"]
    assert (st["state"], st["agent"], st["session_id"]) == ("complete", "cfg", "sess-a")


def test_a_missing_executable_fails_start_before_anything_is_written(
    repo: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "nope", '[tasks.a]\nagent = "codex"\nprompt = "x"\n')
    before = refs(repo)
    res = start(repo, plan, env={"PATH": "/usr/bin:/bin"})
    assert res.code == 3, res
    assert "codex executable was not found" in res.err
    assert "po.agent.codex.executable" in res.err
    assert refs(repo) == before


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        ('[agents.x]\nformat = "jsonl"\n', "agent 'x' has no command"),
        ('[agents.x]\ncommand = ["x", "{promt}"]\n', "unknown placeholder {promt}"),
        ('[agents.x]\ncommand = ["x"]\nformat = "xml"\n', "format 'xml' is not one of"),
        ('[agents.x]\ncommand = ["x"]\nresume = ["x", "--again"]\n', "resume must name {session}"),
        ('[agents.claude]\ncommand = ["x"]\n', "built into git po"),
    ],
)
def test_a_bad_profile_is_a_plan_error(repo: Path, tmp_path: Path, body: str, wanted: str) -> None:
    plan = write_plan(tmp_path, "bad", body + '[tasks.a]\nagent = "x"\nprompt = "y"\n')
    res = start(repo, plan)
    assert res.code == 2, res
    assert wanted in res.err, res


def _task(**kw: object) -> Task:
    base: dict[str, object] = dict(
        id="t",
        prompt="p",
        prompt_file=None,
        depends_on=(),
        writes=(),
        agent="codex",
        run=None,
        model=None,
        permission_mode=None,
        allowed_tools=(),
        max_turns=None,
        budget_usd=None,
        timeout=None,
        idle_timeout=None,
        retries=0,
    )
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]


def test_builtin_codex_command_lines(tmp_path: Path) -> None:
    prof = GenericProfile(parse_spec("codex", BUILTIN["codex"]), tmp_path / "gitdir")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {tmp_path / 'gitdir' / 'worktrees' / 'wt'}\n")
    task = _task(model="o4", permission_mode="acceptEdits")
    first = prof.launch(task, "do it", None, wt).argv
    # the repository's git dir and the worktree's own are writable: commits go there
    assert first[1:] == [
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        "workspace-write",
        "--add-dir",
        str(tmp_path / "gitdir"),
        "--add-dir",
        str(tmp_path / "gitdir" / "worktrees" / "wt"),
        "--model",
        "o4",
        "do it",
    ]
    again = prof.launch(_task(), "go on", "0199-abc").argv
    assert again[1:] == ["exec", "--json", "--skip-git-repo-check", "resume", "0199-abc", "go on"]
    assert prof.attach_argv(_task(), "0199-abc") == [first[0], "resume", "0199-abc"]


def test_values_that_look_like_options_are_refused() -> None:
    with pytest.raises(ArgumentRefused):
        expand(["x", "resume", "{session}"], {"session": "--dangerously"}, ())
    # a missing value drops its option word too
    assert expand(["x", "--model", "{model}", "{prompt}"], {"prompt": "hi"}, ()) == ["x", "hi"]


def test_start_warns_when_the_agent_cannot_commit_under_its_permission_mode(
    repo: Path, tmp_path: Path, fake_agent: Path
) -> None:
    # codex exec without a permission_mode keeps its read-only sandbox: say so before running
    git(repo, "config", "po.agent.codex.executable", str(fake_agent))
    plan = write_plan(
        tmp_path,
        "warn",
        '[tasks.a]\nagent = "codex"\nprompt = "x"\n'
        '[tasks.b]\nagent = "codex"\nprompt = "y"\npermission_mode = "acceptEdits"\n',
    )
    res = start(repo, plan)
    said = res.out + res.err
    assert "codex cannot write files or commit with permission_mode (none)" in said, res
    assert "permission_mode = 'acceptEdits'" in said
    line = next(x for x in said.splitlines() if "cannot write files" in x)
    assert "task a" in line and "b" not in line.split("task a")[1].split(":")[0], line
