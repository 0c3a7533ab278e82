"""The dashboard in a real browser: Debian's chromium driven by Playwright, against `git po web`
started as a user starts it, on runs of the fake claude. A run in progress updates the page
without a reload (table, graph and the live transcript); answer, retry, stop, pause and unpause
clicked in the page change the run as the commands do; a browser without the token is refused.
Screenshots at 390x844 and 1280x800, and the page's load time and update latency, are saved as
artifacts (GIT_PO_ARTIFACTS, default test-artifacts/web/).

Without chromium (or Playwright) the tests are skipped, unless GIT_PO_E2E_REQUIRED=1 was set
when pytest started: then they fail (CI installs the `chromium` package in .ci/run)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, git
from tests.helpers import (
    fake_env,
    ref_state,
    run_record,
    spawn_po,
    status_json,
    wait_for,
    write_plan,
)
from tests.test_faults import COMPLETE, fast_config, kill_workers, launches, worktree_of

# read before sealed_env strips GIT_* and the rest
_REQUIRED = os.environ.get("GIT_PO_E2E_REQUIRED") == "1"
ARTIFACTS = Path(os.environ.get("GIT_PO_ARTIFACTS") or ROOT / "test-artifacts") / "web"
CHROMIUM = os.environ.get("GIT_PO_CHROMIUM") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "browser-token-0123456789"
PHONE: Any = {"width": 390, "height": 844}
DESKTOP: Any = {"width": 1280, "height": 800}


def _unavailable(reason: str) -> None:
    if _REQUIRED:
        pytest.fail(f"the browser tier is required (GIT_PO_E2E_REQUIRED=1): {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    """A fresh chromium (its own user-data-dir), as a Playwright persistent context."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport=DESKTOP,
        )
        try:
            yield ctx
        finally:
            ctx.close()


class Web:
    """`git po web` running in a repository, and its URL."""

    def __init__(self, repo: Path, env: dict[str, str]) -> None:
        self.proc = spawn_po(repo, "web", "--port", "0", "--token", TOKEN, env=env)
        assert self.proc.stderr is not None
        self.url = ""
        deadline = time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/)\?token=(\S+)", line)
            if m:
                assert m.group(2) == TOKEN
                self.url = m.group(1)
                break
        assert self.url, f"git po web printed no URL: {lines}"

    @property
    def login(self) -> str:
        return f"{self.url}?token={TOKEN}"

    def close(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


def _row_state(page: Any, task: str) -> str:
    text: str = page.locator(f"tr[data-task='{task}'] td.state").inner_text()
    return text.strip()


def _wait_row(page: Any, task: str, state: str, timeout: float = 60) -> None:
    page.wait_for_function(
        "([t, s]) => { const c = document.querySelector(`tr[data-task='${t}'] td.state`);"
        " return c && c.textContent.trim() === s; }",
        arg=[task, state],
        timeout=timeout * 1000,
    )


def _record(artifacts: Path, key: str, value: Any) -> None:
    path = artifacts / "timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[key] = value
    path.write_text(json.dumps(data, indent=2) + "\n")


# --- a run in progress --------------------------------------------------------------------------


def test_a_run_in_progress_updates_the_page_without_a_reload(
    repo: Path, tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    fast_config(repo)
    plan = write_plan(
        tmp_path,
        "shop",
        """
        budget_usd = 4.0
        [tasks.models]
        prompt = "models"
        [tasks.api]
        prompt = "api"
        depends_on = ["models"]
        [tasks.docs]
        prompt = "docs"
        [tasks.cli]
        prompt = "cli"
        depends_on = ["api", "docs"]
        """,
    )
    gate = tmp_path / "go"
    env = fake_env(
        tmp_path,
        {
            "models": [
                {"write": "models.py", "content": "class Order: ...\n"},
                {"commit": "[CHECKPOINT] models: the Order model"},
                {"say": "waiting for the gate"},
                {"bash": f"while [ ! -e {gate} ]; do sleep 0.1; done"},
                {"say": "finishing the models"},
                {"commit": "[COMPLETE] models: Order and order_total", "allow_empty": True},
            ],
        },
    )
    run = spawn_po(repo, "start", str(plan), "--no-live", env=env)
    web = Web(repo, env)
    try:
        wait_for("models running", lambda: ref_state(repo, "shop", "models") == "running", 60)
        page = browser.new_page()
        page.goto(web.login)
        page.wait_for_selector("body[data-ready='1']")
        load_ms = int(page.evaluate("document.body.dataset.readyMs"))
        page.wait_for_selector("#live.on")
        page.evaluate("window.__notReloaded = true")
        _wait_row(page, "models", "running")
        assert _row_state(page, "cli") == "pending"
        assert page.locator("svg.graph g.node.st-running[data-task='models']").count() == 1
        assert page.locator("svg.graph g.node.crit").count() == 3  # models -> api -> cli
        # the transcript, live while the worker runs
        page.click("tr[data-task='models']")
        page.wait_for_function(
            "() => document.querySelector('#log') &&"
            " document.querySelector('#log').textContent.includes('waiting for the gate')"
        )
        assert "finishing the models" not in page.locator("#log").inner_text()
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(artifacts / "running-task-390x844.png"))
        page.click("button.close")
        page.screenshot(path=str(artifacts / "running-390x844.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.click("tr[data-task='models']")

        gate.touch()

        page.wait_for_function(
            "() => document.querySelector('#log').textContent.includes('finishing the models')",
            timeout=60_000,
        )
        _wait_row(page, "models", "complete")
        _wait_row(page, "cli", "complete", timeout=90)
        assert page.evaluate("window.__notReloaded") is True
        assert page.locator("svg.graph g.node.st-complete").count() == 4
        assert "$" in page.locator("#cost").inner_text()
        run.communicate(timeout=60)
        assert run.returncode == 0
        page.screenshot(path=str(artifacts / "complete-1280x800.png"))

        # update latency: a state ref moved by hand (to an earlier state and back), until the
        # table shows it, measured in the browser's own clock
        tip = git(repo, "rev-parse", "refs/po/shop/tasks/docs").strip()
        earlier = git(repo, "rev-parse", "refs/po/shop/tasks/docs~1").strip()
        earlier_state = git(repo, "show", f"{earlier}:state.toml").split('state = "')[1]
        earlier_state = earlier_state.split('"')[0]
        assert earlier_state != "complete"
        latencies = []
        for i in range(6):
            target, want = (earlier, earlier_state) if i % 2 == 0 else (tip, "complete")
            page.evaluate(
                "([t, s]) => { window.__seen = null; const start = performance.now();"
                " const check = () => { const c = document.querySelector("
                "`tr[data-task='${t}'] td.state`);"
                " if (c && c.textContent.trim() === s) window.__seen = performance.now() - start;"
                " else requestAnimationFrame(check); }; window.__start = start;"
                " requestAnimationFrame(check); }",
                ["docs", want],
            )
            git(repo, "update-ref", "refs/po/shop/tasks/docs", target)
            page.wait_for_function("() => window.__seen !== null", timeout=30_000)
            latencies.append(float(page.evaluate("window.__seen")))
        assert page.evaluate("window.__notReloaded") is True
        _record(artifacts, "load_ms", load_ms)
        _record(artifacts, "update_latency_ms", [round(x) for x in latencies])
        _record(artifacts, "update_latency_median_ms", round(statistics.median(latencies)))
        print(f"load {load_ms} ms; update latency median {statistics.median(latencies):.0f} ms")
    finally:
        web.close()
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            run.communicate()
        kill_workers(tmp_path)


# --- actions --------------------------------------------------------------------------------------

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
HANG: dict[str, Any] = {
    "attempts": {"1": [{"write": "w.txt", "content": "w\n"}, {"hang": True}]},
    "default": [COMPLETE],
}


def _clear_toast(page: Any) -> None:
    page.evaluate(
        "() => { const t = document.getElementById('toast'); t.className = '';"
        " t.textContent = ''; }"
    )


def _click_action(page: Any, task: str, action: str) -> None:
    page.click(f"tr[data-task='{task}']")
    page.wait_for_selector(f"#task h2:has-text('acts/{task}')")
    _clear_toast(page)
    page.click(f"button[data-action='{action}']")
    page.wait_for_selector("#toast.show")


def _run_over(repo: Path) -> None:
    def over() -> bool:
        return (
            run_record(repo, "acts")["state"] != "running"
            and not (status_json(repo, "acts")["orchestrator"])
        )

    wait_for("the run to end", over, 90)


def test_actions_from_the_page_change_the_run_as_the_commands_do(
    repo: Path, tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    fast_config(repo)
    git(repo, "config", "po.retries", "0")
    plan = write_plan(
        tmp_path,
        "acts",
        """
        [tasks.ask]
        prompt = "asks"
        [tasks.flaky]
        prompt = "fails once"
        [tasks.halt]
        prompt = "hangs, stopped"
        [tasks.nap]
        prompt = "hangs, paused"
        """,
    )
    env = fake_env(
        tmp_path,
        {
            "ask": ASK,
            "flaky": {"attempts": {"1": [{"say": "nothing done"}]}, "default": [COMPLETE]},
            "halt": HANG,
            "nap": HANG,
        },
    )
    run = spawn_po(repo, "start", str(plan), "--no-live", "-j", "4", env=env)
    web = Web(repo, env)
    try:
        for t, s in (("ask", "blocked"), ("flaky", "failed"), ("halt", "running")):
            wait_for(f"{t} {s}", lambda t=t, s=s: ref_state(repo, "acts", t) == s, 60)  # type: ignore[misc]
        wait_for("nap running", lambda: ref_state(repo, "acts", "nap") == "running", 60)
        for t in ("halt", "nap"):
            wait_for(f"{t}'s file", (worktree_of(repo, "acts", t) / "w.txt").exists, 60)
        page = browser.new_page()
        page.goto(web.login)
        page.wait_for_selector("#live.on")

        # stop and pause reach the running orchestrator
        _click_action(page, "halt", "stop")
        _wait_row(page, "halt", "interrupted")
        _click_action(page, "nap", "pause")
        _wait_row(page, "nap", "paused")
        page.screenshot(path=str(artifacts / "paused-task-1280x800.png"))
        run.communicate(timeout=60)
        assert ref_state(repo, "acts", "nap") == "paused"
        assert git(repo, "show", "po/acts/nap:w.txt") == "w\n"  # its work was saved
        assert "git po stop" in git(repo, "show", "refs/po/acts/tasks/halt:state.toml")

        # answer: nothing runs, so the server starts git po resume, as the command would
        page.click("tr[data-task='ask']")
        page.wait_for_selector("#answer-text")
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(artifacts / "blocked-task-390x844.png"))
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(artifacts / "blocked-task-1280x800.png"))
        page.fill("#answer-text", "Use SQLite.")
        _clear_toast(page)
        page.click("button[data-action='answer']")
        page.wait_for_selector("#toast.show")
        assert "resume" in page.locator("#toast").inner_text()
        _wait_row(page, "ask", "complete", timeout=90)
        assert "Use SQLite." in launches(tmp_path, "ask")[1]["prompt"]
        # the resumed run also continued the stopped task, as git po resume does
        _wait_row(page, "halt", "complete", timeout=90)
        assert ref_state(repo, "acts", "nap") == "paused"  # never scheduled while paused
        _run_over(repo)

        _click_action(page, "flaky", "retry")
        _wait_row(page, "flaky", "complete", timeout=90)
        assert "A person asked to run the task again" in launches(tmp_path, "flaky")[1]["prompt"]
        _run_over(repo)

        _click_action(page, "nap", "unpause")
        _wait_row(page, "nap", "complete", timeout=90)
        second = launches(tmp_path, "nap")[1]
        assert "paused this task" in second["prompt"]
        assert second["args"]["resume"]  # its session resumed
        _run_over(repo)

        # the attach command to copy
        page.click("tr[data-task='nap']")
        assert page.locator("#attach-cmd").inner_text() == "git po attach acts/nap"
        # a refused action says why, and changes nothing
        before = git(repo, "rev-parse", "refs/po/acts/tasks/nap")
        page.evaluate(
            "() => fetch('/api/plans/acts/tasks/nap/stop', {method: 'POST', headers: {"
            "'Content-Type': 'application/json', 'X-PO-CSRF': document.querySelector("
            "'meta[name=\"po-csrf\"]').content}, body: '{}'}).then(r => window.__code = r.status)"
        )
        page.wait_for_function("() => window.__code !== undefined")
        assert page.evaluate("window.__code") == 409
        assert git(repo, "rev-parse", "refs/po/acts/tasks/nap") == before
    finally:
        web.close()
        if run.poll() is None:
            run.send_signal(signal.SIGKILL)
            run.communicate()
        kill_workers(tmp_path)


# --- the token ------------------------------------------------------------------------------------


def test_a_browser_without_the_token_is_refused(
    repo: Path, tmp_path: Path, browser: Any, artifacts: Path
) -> None:
    plan = write_plan(tmp_path, "tok", '[tasks.t]\nprompt = "t"\n')
    env = fake_env(tmp_path)
    assert spawn_po(repo, "start", str(plan), "--no-live", env=env).wait(timeout=90) == 0
    web = Web(repo, env)
    try:
        page = browser.new_page()
        response = page.goto(web.url)
        assert response.status == 403
        assert "token" in page.content()
        api = page.goto(web.url + "api/plans")
        assert api.status == 403
        wrong = page.goto(web.url + "?token=not-the-token")
        assert wrong.status == 403
        # an action posted from another origin never runs, even with the cookie set
        page.goto(web.login)
        page.wait_for_selector("body[data-ready='1']")
        status = page.evaluate(
            "() => fetch('/api/plans/tok/tasks/t/retry', {method: 'POST',"
            " headers: {'Content-Type': 'application/json'}, body: '{}'}).then(r => r.status)"
        )
        assert status == 403
        assert ref_state(repo, "tok", "t") == "complete"
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(artifacts / "complete-390x844.png"), full_page=True)
    finally:
        web.close()
