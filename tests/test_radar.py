"""The conflict radar in `git po status`: predicted conflicts between live and finished tasks,
from in-memory merges of their branch tips, cached by tip in a local file that may be garbled
or deleted without harm."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

from tests.conftest import git, run_po
from tests.helpers import (
    checkout_snapshot,
    fake_env,
    ref_state,
    spawn_po,
    status_json,
    tasks_by_id,
    wait_for,
    worktree_root,
    write_plan,
)
from tests.test_integrate import clash, common_dir, rev

WIDE = {"COLUMNS": "400"}


def conflicts(repo: Path, plan: str) -> dict[str, list[dict[str, Any]]]:
    return {t: v["conflicts"] for t, v in tasks_by_id(status_json(repo, plan)).items()}


def test_status_predicts_conflicts_and_caches_them_by_tip(repo: Path, tmp_path: Path) -> None:
    clash(repo, tmp_path)
    before = checkout_snapshot(repo)

    found = conflicts(repo, "clash")

    # left and right both change shared.txt; third starts from left, so it clashes with right
    # too; left and third are related (third contains left): nothing to predict between them
    assert found == {
        "left": [{"task": "right", "files": ["shared.txt"]}],
        "right": [
            {"task": "left", "files": ["shared.txt"]},
            {"task": "third", "files": ["shared.txt"]},
        ],
        "third": [{"task": "right", "files": ["shared.txt"]}],
    }
    table = run_po(repo, "status", "clash", env=WIDE).out
    rows = {line.split()[0]: line for line in table.splitlines()[2:] if line.strip()}
    assert "CONFLICTS WITH" in table.splitlines()[2]
    assert "right:shared.txt" in rows["left"]
    assert "left:shared.txt, third:shared.txt" in rows["right"]

    # the answer for a pair of tips is cached: a doctored cache entry is believed...
    cache = common_dir(repo) / "po" / "plans" / "clash" / "radar-cache.json"
    data = json.loads(cache.read_text())
    key = "..".join(sorted((rev(repo, "po/clash/left"), rev(repo, "po/clash/right"))))
    assert data["pairs"][key] == ["shared.txt"]
    data["pairs"][key] = ["doctored.txt"]
    cache.write_text(json.dumps(data))
    assert conflicts(repo, "clash")["left"] == [{"task": "right", "files": ["doctored.txt"]}]
    # ...and a garbled or missing cache is recomputed, never an error
    cache.write_text("{not json")
    assert conflicts(repo, "clash")["left"] == [{"task": "right", "files": ["shared.txt"]}]
    cache.unlink()
    assert conflicts(repo, "clash") == found
    assert cache.exists()

    # integrated pairs are history, not predictions; the left-over conflict is still shown
    assert run_po(repo, "integrate", "clash").code == 1
    assert conflicts(repo, "clash")["right"] == [
        {"task": "left", "files": ["shared.txt"]},
        {"task": "third", "files": ["shared.txt"]},
    ]
    assert checkout_snapshot(repo) == before


LIVE = """
[tasks.done]
prompt = "Change shared.txt and finish."

[tasks.busy]
prompt = "Change shared.txt and keep going."
"""


def test_the_radar_warns_while_a_worker_still_runs(repo: Path, tmp_path: Path) -> None:
    (repo / "shared.txt").write_text("one\ntwo\nthree\n")
    git(repo, "add", "shared.txt")
    git(repo, "commit", "-q", "-m", "shared")
    env = fake_env(
        tmp_path,
        {
            "done": [
                {"write": "shared.txt", "content": "one\ndone\nthree\n"},
                {"commit": "[COMPLETE] done"},
            ],
            "busy": [
                {"write": "shared.txt", "content": "one\nbusy\nthree\n"},
                {"commit": "[CHECKPOINT] busy: first step"},
                {"hang": True},
            ],
        },
    )
    proc = spawn_po(repo, "start", str(write_plan(tmp_path, "live", LIVE)), "--no-live", env=env)
    try:
        wait_for("done to complete", lambda: ref_state(repo, "live", "done") == "complete")
        wait_for(
            "busy's checkpoint",
            lambda: (
                "busy: first step"
                in git(repo, "log", "-1", "--format=%s", "po/live/busy", check=False)
            ),
        )
        status = tasks_by_id(status_json(repo, "live"))
        assert status["busy"]["state"] == "running"
        assert status["busy"]["conflicts"] == [{"task": "done", "files": ["shared.txt"]}]
        assert status["done"]["conflicts"] == [{"task": "busy", "files": ["shared.txt"]}]
        # cleaning a plan whose orchestrator runs is refused, and removes nothing
        refused = run_po(repo, "clean", "live", "--force")
        assert refused.code == 5 and "is running" in refused.err, refused
        assert (worktree_root(repo) / "live" / "busy").is_dir()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
