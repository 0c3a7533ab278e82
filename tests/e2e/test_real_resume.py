"""Surviving runs with the real Claude Code CLI as the worker, against the scripted Messages API:
an API that answers 529 until the CLI gives up (the attempt is classed `overloaded` and retried,
resuming the session), and an orchestrator killed mid-attempt whose run `git po resume`
finishes, continuing the worker's session."""

from __future__ import annotations

import signal
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from tests.conftest import git, po_cmd, run_po
from tests.e2e.fake_api import Fail, FakeAnthropic, Reply, bash, text
from tests.helpers import po_env

# one idempotent step: whatever turn it is served at, it leaves out.txt committed as [COMPLETE]
# (an `if`, not `{ …; }`: Claude Code's acceptEdits lets no command group through)
DONE = bash(
    "if test -f out.txt; then echo done; else printf 'done\\n' > out.txt && git add -A"
    " && git commit -q -m '[COMPLETE] out.txt written'; fi"
)


def _setup(repo: Path, claude_cli: Path) -> None:
    git(repo, "config", "po.claudePath", str(claude_cli))
    git(repo, "config", "po.retryDelay", "0.2")
    git(repo, "config", "po.cooldown", "1")
    git(repo, "config", "po.stopGrace", "2")


def _plan(tmp_path: Path, name: str, script: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        "[defaults]\n"
        'permission_mode = "acceptEdits"\n'
        'allowed_tools = ["Bash(git *)", "Edit", "Write", "Read"]\n'
        "retries = 2\n"
        f"[tasks.t]\n"
        f'prompt = "Write out.txt and commit it. [script:{script}]"\n'
    )
    return path


def _state(repo: Path, plan: str) -> dict[str, Any]:
    return tomllib.loads(git(repo, "show", f"refs/po/{plan}/tasks/t:state.toml"))


def test_529_until_the_cli_gives_up_then_a_retry_completes(
    repo: Path,
    tmp_path: Path,
    fake_api: FakeAnthropic,
    claude_cli: Path,
    claude_env: dict[str, str],
) -> None:
    _setup(repo, claude_cli)
    # CLAUDE_CODE_MAX_RETRIES=2 (claude_env): the first request and two retries get 529, so
    # the CLI's first run ends overloaded (api_error_status 529, or with IS_SANDBOX unset as
    # for users, "Repeated 529 Overloaded errors" and no status); the next run is served
    fake_api.add_script("over", [Fail(status=529, times=3), Reply([DONE]), Reply([DONE])])
    plan = _plan(tmp_path, "busy", "over")

    res = run_po(repo, "start", str(plan), "--no-live", env=claude_env, timeout=120)

    log = fake_api.describe()
    assert res.code == 0, f"{res}\n{log}"
    st = _state(repo, "busy")
    assert st["state"] == "complete", st
    first, second = st["attempts"]
    assert first["outcome"] == "overloaded", first
    assert first.get("api_error_status") in (529, None)
    assert first["is_error"] is True
    assert second["outcome"] == "complete", second
    # the retry continued the session of the first attempt
    assert first["session_id"]
    assert second["resumed_session"] == first["session_id"]
    assert second["session_id"] == first["session_id"]
    assert "overloaded: no new worker starts for 1s" in res.out
    assert git(repo, "show", "po/busy/t:out.txt") == "done\n"
    requests = fake_api.message_requests("over")
    assert [r.status for r in requests][:3] == [529, 529, 529], log


def test_an_orchestrator_killed_mid_attempt_is_resumed_with_the_session_continued(
    repo: Path,
    tmp_path: Path,
    fake_api: FakeAnthropic,
    claude_cli: Path,
    claude_env: dict[str, str],
) -> None:
    _setup(repo, claude_cli)
    fake_api.add_script(
        "halves",
        [
            # turn 0: the first half, committed: the orchestrator dies when it sees it
            Reply(
                [
                    bash(
                        "printf 'one\\n' > half.txt && git add -A"
                        " && git commit -q -m '[CHECKPOINT] first half'"
                    )
                ]
            ),
            # turn 1: the worker, now alone, takes its time and stops without [COMPLETE]
            Reply([text("First half done; I will stop here.")], delay=2.0),
            # turn 2, in the next attempt, which resumes the session: the second half
            Reply(
                [
                    bash(
                        "printf 'two\\n' >> half.txt && git add -A"
                        " && git commit -q -m '[COMPLETE] both halves'"
                    )
                ]
            ),
        ],
    )
    plan = _plan(tmp_path, "crash", "halves")

    died = subprocess.run(
        [*po_cmd(), "start", str(plan), "--no-live"],
        cwd=repo,
        env=po_env({**claude_env, "GIT_PO_FAULT": "mid-attempt"}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert died.returncode == -signal.SIGKILL, died
    assert _state(repo, "crash")["state"] == "running"

    res = run_po(repo, "resume", "crash", "--no-live", env=claude_env, timeout=120)

    log = fake_api.describe()
    assert res.code == 0, f"{res}\n{log}"
    st = _state(repo, "crash")
    assert st["state"] == "complete", st
    first = st["attempts"][0]
    last = st["attempts"][-1]
    # the worker the dead orchestrator left running was adopted, not started again
    assert first.get("adopted") is True, first
    assert first["outcome"] == "no-progress", first
    assert f"t: attempt 1 adopted (pid {first['pid']})" in res.out
    assert len(st["attempts"]) == 2, st
    assert last["outcome"] == "complete"
    assert last["resumed_session"] == first["session_id"], st
    assert last["session_id"] == first["session_id"]
    # the stateless fake served turn 2 to the resumed run: it carried the whole conversation
    assert 2 in fake_api.turns_served("halves"), log
    assert fake_api.turns_served("halves").count(0) == 1, log
    assert git(repo, "show", "po/crash/t:half.txt") == "one\ntwo\n"
    assert git(repo, "log", "--format=%s", "po/crash/t").splitlines()[:2] == [
        "[COMPLETE] both halves",
        "[CHECKPOINT] first half",
    ]
