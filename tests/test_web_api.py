"""The dashboard's HTTP API through Starlette's test client, on real repositories run by the
fake claude: the token is required everywhere, actions need the CSRF header, a JSON body and a
same-origin Origin, and each action changes the run exactly as its command does."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from git_po.web.app import cookie_name, create_app, csrf_token
from tests.conftest import ROOT, git, run_po
from tests.helpers import (
    fake_env,
    ref_state,
    spawn_po,
    start,
    wait_for,
    write_plan,
)
from tests.test_faults import COMPLETE, fast_config, kill_workers, launches, worktree_of

TOKEN = "test-token-0123456789"
ASK: dict[str, Any] = {
    "attempts": {
        "1": [
            {"write": "notes.txt", "content": "started\n"},
            {"commit": "[CHECKPOINT] {task}: notes"},
            {"commit": "[BLOCKED:which database?] cannot choose", "allow_empty": True},
        ]
    },
    "default": [COMPLETE],
}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fake claude's scripts, in this process too (a resume the server starts sees them)."""
    e = fake_env(
        tmp_path,
        {
            "ask": ASK,
            "flaky": {"attempts": {"1": [{"say": "nothing done"}]}, "default": [COMPLETE]},
        },
    )
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    return e


@pytest.fixture
def ran(repo: Path, tmp_path: Path, env: dict[str, str]) -> Path:
    """A plan run to its end: ok complete, ask blocked, flaky failed, after skipped."""
    fast_config(repo)
    git(repo, "config", "po.retries", "0")
    plan = write_plan(
        tmp_path,
        "shop",
        """
        budget_usd = 5.0
        [tasks.ok]
        prompt = "ok"
        [tasks.ask]
        prompt = "asks"
        [tasks.flaky]
        prompt = "fails once"
        [tasks.after]
        prompt = "after ok and flaky"
        depends_on = ["ok", "flaky"]
        """,
    )
    assert start(repo, plan, env=env).code == 1
    return repo


@pytest.fixture
def client(ran: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.chdir(ran)
    with TestClient(create_app(ran, TOKEN)) as c:
        yield c


def _login(c: TestClient) -> None:
    r = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert cookie_name(TOKEN) in r.cookies


def _post(c: TestClient, path: str, body: dict[str, Any] | None = None) -> Any:
    return c.post(path, json=body or {}, headers={"X-PO-CSRF": csrf_token(TOKEN)})


def _wait_state(repo: Path, task: str, want: str, timeout: float = 60) -> None:
    wait_for(f"shop/{task} {want}", lambda: ref_state(repo, "shop", task) == want, timeout)


# --- the token ------------------------------------------------------------------------------


def test_every_request_without_the_token_is_refused(client: TestClient) -> None:
    for path in ("/", "/api/plans", "/api/plans/shop", "/api/events", "/static/app.js"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "token" in r.text
    assert client.get("/?token=wrong-token-xx").status_code == 403
    r = client.post("/api/plans/shop/tasks/ok/retry", json={}, headers={"X-PO-CSRF": "x"})
    assert r.status_code == 403
    # another server's cookie is not this one's
    client.cookies.set(cookie_name("other-token-123"), "other-token-123")
    assert client.get("/api/plans").status_code == 403


def test_the_printed_url_sets_a_cookie_and_the_page_carries_the_csrf_token(
    client: TestClient,
) -> None:
    _login(client)
    page = client.get("/")
    assert page.status_code == 200
    assert f'content="{csrf_token(TOKEN)}"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "https://" not in page.text  # everything from the package, no CDN
    js = client.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/static/nosuch.js").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404
    plans = client.get("/api/plans").json()
    assert [p["plan"] for p in plans] == ["shop"]


def test_a_bearer_token_works_for_scripts(ran: Path) -> None:
    with TestClient(create_app(ran, TOKEN)) as c:
        r = c.get("/api/plans", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200
        assert c.get("/api/plans", headers={"Authorization": "Bearer nope"}).status_code == 403


# --- CSRF -----------------------------------------------------------------------------------


def test_actions_need_the_csrf_header_a_json_body_and_the_same_origin(
    client: TestClient, ran: Path
) -> None:
    _login(client)
    before = git(ran, "rev-parse", "refs/po/shop/tasks/flaky")
    path = "/api/plans/shop/tasks/flaky/pause"
    no_header = client.post(path, json={})
    wrong = client.post(path, json={}, headers={"X-PO-CSRF": "0" * 32})
    form = client.post(path, data={"a": "b"}, headers={"X-PO-CSRF": csrf_token(TOKEN)})
    cross = client.post(
        path,
        json={},
        headers={"X-PO-CSRF": csrf_token(TOKEN), "Origin": "http://evil.example"},
    )
    for r in (no_header, wrong, form, cross):
        assert r.status_code == 403, r.text
    assert "X-PO-CSRF" in no_header.json()["error"]
    assert "JSON" in form.json()["error"]
    assert "evil.example" in cross.json()["error"]
    assert git(ran, "rev-parse", "refs/po/shop/tasks/flaky") == before


# --- reading --------------------------------------------------------------------------------


def test_the_plan_view_has_the_table_graph_totals_and_radar(client: TestClient) -> None:
    _login(client)
    d = client.get("/api/plans/shop").json()
    states = {t["task"]: t["state"] for t in d["tasks"]}
    assert states == {"ok": "complete", "ask": "blocked", "flaky": "failed", "after": "skipped"}
    assert d["critical_path"] == ["ok", "after"]
    svg = d["graph_svg"]
    assert svg.startswith("<svg") and 'data-task="after"' in svg
    assert 'class="node st-blocked"' in svg and 'data-from="flaky" data-to="after"' in svg
    assert 'class="edge crit"' in svg
    assert d["totals"]["budget_usd"] == 5.0
    assert d["totals"]["budget_left_usd"] == pytest.approx(5.0 - d["totals"]["cost_usd"])
    assert d["totals"]["wall_s"] is not None
    ok = next(t for t in d["tasks"] if t["task"] == "ok")
    assert ok["checkpoint_count"] == 1 and ok["elapsed_s"] is not None
    assert ok["attempt_classes"] == ["complete"]
    assert ok["attempt_agents"] == ["claude"]  # the dashboard names the agent of each attempt
    assert d["radar"] == []
    assert client.get("/api/plans/nosuch").status_code == 404


def test_the_task_view_has_commits_diff_and_its_log_rendered_like_git_po_logs(
    client: TestClient, ran: Path
) -> None:
    _login(client)
    t = client.get("/api/plans/shop/tasks/ok").json()
    assert t["state"] == "complete"
    assert sorted(c["kind"] for c in t["commits"]) == ["checkpoint", "complete"]
    assert "+++ b/ok.txt" in t["diff"] and not t["diff_cut"]
    assert t["attach_command"] == "git po attach shop/ok"
    log = client.get("/api/plans/shop/tasks/ok/log").json()
    logs = run_po(ran, "logs", "ok")
    assert log["header"] in logs.out
    assert log["lines"] and log["next"] == len(log["lines"])
    assert not log["running"]
    later = client.get(f"/api/plans/shop/tasks/ok/log?from={log['next']}").json()
    assert later["lines"] == []
    assert client.get("/api/plans/shop/tasks/nosuch").status_code == 404
    assert client.get("/api/plans/shop/tasks/nosuch/log").status_code == 404


def test_the_feed_says_when_a_ref_moves(client: TestClient, ran: Path) -> None:
    _login(client)

    def move() -> None:
        time.sleep(1.0)
        git(ran, "update-ref", "refs/heads/po/shop/extra", "HEAD")

    mover = threading.Thread(target=move)
    mover.start()
    r = client.get("/api/events?timeout=4")
    mover.join()
    assert r.headers["content-type"].startswith("text/event-stream")
    assert "event: hello" in r.text
    refs_events = [
        json.loads(line[6:]) for line in r.text.splitlines() if line.startswith('data: {"plans')
    ]
    assert {"plans": ["shop"]} in refs_events


# --- actions, as the commands -----------------------------------------------------------------


def test_answer_resumes_the_blocked_worker_in_a_run_it_starts(
    client: TestClient, ran: Path, tmp_path: Path
) -> None:
    _login(client)
    empty = _post(client, "/api/plans/shop/tasks/ask/answer", {"text": "  "})
    assert empty.status_code == 400

    r = _post(client, "/api/plans/shop/tasks/ask/answer", {"text": "Use SQLite."})

    assert r.status_code == 200, r.text
    assert "started git po resume" in r.json()["message"]
    _wait_state(ran, "ask", "complete")
    assert "Use SQLite." in launches(tmp_path, "ask")[1]["prompt"]
    wrong = _post(client, "/api/plans/shop/tasks/ok/answer", {"text": "x"})
    assert wrong.status_code == 409
    assert "answer applies to blocked or needs" in wrong.json()["error"]


def test_retry_runs_a_failed_task_again_and_its_skipped_dependents(
    client: TestClient, ran: Path
) -> None:
    _login(client)
    r = _post(client, "/api/plans/shop/tasks/flaky/retry")
    assert r.status_code == 200, r.text
    _wait_state(ran, "after", "complete")
    assert ref_state(ran, "shop", "flaky") == "complete"


def test_stop_pause_unpause_reach_a_running_orchestrator(
    repo: Path, tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast_config(repo)
    plan = write_plan(tmp_path, "live", '[tasks.a]\nprompt = "a"\n[tasks.b]\nprompt = "b"\n')
    hang = {"attempts": {"1": [{"write": "w.txt", "content": "w\n"}, {"hang": True}]}}
    e = fake_env(tmp_path, {"a": hang, "b": hang})
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    proc = spawn_po(repo, "start", str(plan), "--no-live", env=e)
    monkeypatch.chdir(repo)
    try:
        for t in ("a", "b"):

            def running(t: str = t) -> bool:
                return ref_state(repo, "live", t) == "running"

            wait_for(f"{t} running", running, 60)
            wait_for(f"{t}'s file", (worktree_of(repo, "live", t) / "w.txt").exists, 60)
        with TestClient(create_app(repo, TOKEN)) as c:
            _login(c)
            stop = _post(c, "/api/plans/live/tasks/a/stop")
            pause = _post(c, "/api/plans/live/tasks/b/pause")
            assert stop.status_code == 200 and pause.status_code == 200, (stop.text, pause.text)
            assert "sent to the orchestrator of live" in stop.json()["message"]
            wait_for("a interrupted", lambda: ref_state(repo, "live", "a") == "interrupted", 60)
            wait_for("b paused", lambda: ref_state(repo, "live", "b") == "paused", 60)
            proc.communicate(timeout=60)
            assert git(repo, "show", "po/live/b:w.txt") == "w\n"  # its work was saved
            # nothing runs now: stop is refused as the command refuses it; unpause starts a run
            assert _post(c, "/api/plans/live/tasks/a/stop").status_code == 409
            unpause = _post(c, "/api/plans/live/tasks/b/unpause")
            assert unpause.status_code == 200, unpause.text
            wait_for("b complete", lambda: ref_state(repo, "live", "b") == "complete", 60)
            assert "paused this task" in launches(tmp_path, "b")[1]["prompt"]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        kill_workers(tmp_path)


def test_an_action_on_a_task_in_the_wrong_state_or_unknown_is_refused_and_writes_nothing(
    client: TestClient, ran: Path
) -> None:
    _login(client)
    before = git(ran, "for-each-ref", "refs/po/")
    blocked = _post(client, "/api/plans/shop/tasks/ask/pause")
    assert blocked.status_code == 409
    assert blocked.json()["error"] == (
        "shop/ask is blocked; pause applies to running or pending or interrupted tasks"
    )
    assert _post(client, "/api/plans/shop/tasks/nosuch/pause").status_code == 404
    assert _post(client, "/api/plans/shop/tasks/ok/frobnicate").status_code == 404
    assert _post(client, "/api/plans/nosuch/tasks/ok/retry").status_code == 404
    assert git(ran, "for-each-ref", "refs/po/") == before


def test_integrate_needs_its_dry_run_first(client: TestClient, ran: Path) -> None:
    _login(client)
    blind = _post(client, "/api/plans/shop/integrate", {"dry_run": False})
    assert blind.status_code == 409 and "dry run" in blind.json()["error"]
    dry = _post(client, "/api/plans/shop/integrate", {"dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True and "ok" in dry.json()["text"]
    assert git(ran, "branch", "--list", "po/shop/integration") == ""
    real = _post(client, "/api/plans/shop/integrate", {"dry_run": False, "key": dry.json()["key"]})
    assert real.status_code == 200, real.text
    assert "ok.txt" in git(ran, "ls-tree", "--name-only", "po/shop/integration")
    cli = run_po(ran, "integrate", "--dry-run")
    assert "ok" in cli.out


def test_sessions_lists_recorded_sessions(client: TestClient, ran: Path) -> None:
    _login(client)
    found = client.get("/api/sessions").json()["sessions"]
    assert {s["task"] for s in found} >= {"ok", "ask"}
    assert all(not s["running"] for s in found)


def test_git_po_web_without_the_extra_says_how_to_install_it(ran: Path) -> None:
    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "sys.argv = ['git-po', 'web']\nfrom git_po.cli import main\nmain()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ran,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == 8, proc
    assert proc.stderr.strip().splitlines() == [
        "git po: git po web needs the web extra: pip install 'git-po[web]'"
    ]


def test_git_po_web_refuses_another_host_without_a_token(ran: Path) -> None:
    res = run_po(ran, "web", "--host", "0.0.0.0")
    assert res.code == 2, res
    assert "--token" in res.err
    short = run_po(ran, "web", "--token", "short")
    assert short.code == 2 and "8 characters" in short.err
