"""`git po show TASK` (everything about a task) and `git po report` (a run summed up, against
durations and costs known from the run)."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.conftest import git, run_po
from tests.helpers import fake_env, start, status_json, write_plan


def _iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timestamp()


def test_show_tells_everything_about_a_task(repo: Path, tmp_path: Path) -> None:
    scripts = {
        "api": [
            {"write": "api.py", "content": "x = 1\n"},
            {"commit": "[CHECKPOINT] api: first endpoint"},
            {"commit": "[COMPLETE] api done"},
            {"cost": 0.25},
        ],
        # within its writes: a commit outside them would be refused
        "models": [
            {"write": "models.py", "content": "class Order: ...\n"},
            {"commit": "[COMPLETE] models done"},
        ],
    }
    plan = write_plan(
        tmp_path,
        "shop",
        """
        [tasks.models]
        prompt = "Add the models."
        writes = ["models.py"]

        [tasks.api]
        prompt = "Add the API.\\nWith tests."
        depends_on = ["models"]
        writes = ["api.py", "tests/test_api.py"]
        """,
    )
    assert start(repo, plan, env=fake_env(tmp_path, scripts)).code == 0
    status = {t["task"]: t for t in status_json(repo, "shop")["tasks"]}

    res = run_po(repo, "show", "api", "--json")
    assert res.code == 0, res
    d: dict[str, Any] = json.loads(res.out)
    assert d["schema_version"] == 2
    assert (d["plan"], d["task"], d["state"]) == ("shop", "api", "complete")
    assert d["writes"] == ["api.py", "tests/test_api.py"]
    assert d["depends_on"] == ["models"]
    assert d["branch"] == "po/shop/api"
    assert d["head"] == git(repo, "rev-parse", "po/shop/api").strip()
    assert d["base"] == git(repo, "rev-parse", "refs/po/shop/bases/api").strip()
    assert d["worktree"] == status["api"]["worktree"] and d["worktree_exists"] is True
    assert d["session_id"] == status["api"]["session_id"]
    assert d["cost_usd"] == 0.25
    assert d["conflicts"] in (None, [])  # predicted by status when it knows them
    (attempt,) = d["attempts"]
    assert attempt["outcome"] == "complete"
    assert attempt["exit_code"] == 0
    assert attempt["cost_usd"] == 0.25
    assert attempt["duration_s"] > 0
    assert attempt["session_id"] == d["session_id"]
    assert [c["subject"] for c in d["commits"]] == [
        "[COMPLETE] api done",
        "[CHECKPOINT] api: first endpoint",
    ]
    assert [c["kind"] for c in d["commits"]] == ["complete", "checkpoint"]
    assert [e["state"] for e in d["history"]] == ["pending", "running", "running", "complete"]
    assert d["history"][1]["detail"]["attempt"] == 1

    text = run_po(repo, "show", "shop/api")
    assert text.code == 0, text
    out = text.out
    assert out.splitlines()[0] == "task api of plan shop: complete"
    assert "writes       api.py, tests/test_api.py" in out
    assert "depends on   models" in out
    assert f"session      {d['session_id']}" in out
    assert f"worktree     {d['worktree']}" in out
    assert "prompt       Add the API." in out
    assert "  #1  claude  complete  " in out and "$0.2500" in out and "exit 0" in out
    assert f"{d['head'][:12]} " in out and "[CHECKPOINT] api: first endpoint" in out
    history = out.split("history:\n", 1)[1].splitlines()
    assert [line.split()[1] for line in history] == ["pending", "running", "running", "complete"]


def test_show_finds_the_task_and_reports_what_is_wrong(repo: Path, tmp_path: Path) -> None:
    env = fake_env(tmp_path)
    assert start(repo, write_plan(tmp_path, "one", '[tasks.a]\nprompt = "A."\n'), env=env).code == 0
    assert run_po(repo, "show", "a").code == 0  # one plan: no need to name it
    two = write_plan(tmp_path, "two", '[tasks.a]\nprompt = "A."\n[tasks.b]\nprompt = "B."\n')
    assert start(repo, two, env=env).code == 0
    ambiguous = run_po(repo, "show", "a")
    assert ambiguous.code == 2 and "several plans" in ambiguous.err, ambiguous
    assert run_po(repo, "show", "a", "--plan", "two").code == 0
    assert run_po(repo, "show", "b").code == 0  # only plan two has b
    unknown = run_po(repo, "show", "two/bb")
    assert unknown.code == 6 and "did you mean 'b'" in unknown.err, unknown
    assert run_po(repo, "show", "nosuch/a").code == 6
    assert run_po(repo, "show", "one/a", "--plan", "two").code == 2


def test_report_sums_up_a_run(repo: Path, tmp_path: Path) -> None:
    scripts = {
        t: [{"sleep": 1.0}, {"commit": f"[COMPLETE] {t} done"}, {"cost": cost}]
        for t, cost in (("a", 0.1), ("b", 0.2), ("c", 0.3))
    }
    scripts["d"] = [{"exit": 1}]
    plan = write_plan(
        tmp_path,
        "run",
        """
        max_workers = 3
        [tasks.a]
        prompt = "A."
        [tasks.b]
        prompt = "B."
        [tasks.c]
        prompt = "C."
        [tasks.d]
        prompt = "D."
        depends_on = ["a"]
        """,
    )
    assert start(repo, plan, env=fake_env(tmp_path, scripts)).code == 1

    res = run_po(repo, "report", "--format", "json")
    assert res.code == 0, res
    r: dict[str, Any] = json.loads(res.out)
    tasks = {t["task"]: t for t in r["tasks"]}
    assert {k: t["state"] for k, t in tasks.items()} == {
        "a": "complete",
        "b": "complete",
        "c": "complete",
        "d": "failed",
    }
    recorded: dict[str, float] = {}
    for tid in tasks:
        st = tomllib.loads(git(repo, "show", f"refs/po/run/tasks/{tid}:state.toml"))
        recorded[tid] = round(sum(a["duration_s"] for a in st["attempts"]), 3)
    for tid in ("a", "b", "c"):
        assert tasks[tid]["attempt_count"] == 1
        assert tasks[tid]["duration_s"] == recorded[tid]
        assert 1.0 <= recorded[tid] < 10
    assert [tasks[t]["cost_usd"] for t in ("a", "b", "c")] == [0.1, 0.2, 0.3]
    totals = r["totals"]
    assert totals["task_count"] == 4
    assert totals["by_state"] == {"complete": 3, "failed": 1}
    assert totals["attempt_count"] == 4
    assert abs(totals["cost_usd"] - (0.6 + tasks["d"]["cost_usd"])) < 1e-9
    assert r["serial_s"] == round(sum(recorded.values()), 3) == totals["duration_s"]
    run = tomllib.loads(git(repo, "show", "refs/po/run/plan:run.toml"))
    assert r["run"] == {
        "number": 1,
        "state": "finished",
        "started_at": run["started_at"],
        "ended_at": run["ended_at"],
    }
    wall = _iso(run["ended_at"]) - _iso(run["started_at"])
    assert r["wall_s"] == wall
    if wall:
        assert r["speedup"] == round(r["serial_s"] / wall, 2)
        assert r["speedup"] >= 1.0  # three one-second tasks side by side

    md = run_po(repo, "report", "run")
    assert md.code == 0, md
    lines = md.out.splitlines()
    assert lines[0] == "# git po report: plan run"
    assert any(line.startswith("| a | complete | 1 | ") and "$0.1000" in line for line in lines)
    assert any(line.startswith("| d | failed | 1 | ") for line in lines)
    assert any(line.startswith("| **total** | 3 complete, 1 failed | 4 | ") for line in lines)
    assert "- speed-up: " in md.out and "- wall time: " in md.out


def test_report_needs_a_plan(repo: Path) -> None:
    res = run_po(repo, "report")
    assert res.code == 6, res
    assert run_po(repo, "report", "--format", "yaml").code == 2
