"""`git po plan draft --agent` with the real Claude Code CLI against the scripted Messages API:
a valid refined answer replaces the prompts; an invalid one falls back to the deterministic
draft, saying why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from git_po.plan import load_plan_file
from tests.conftest import git, run_po
from tests.e2e.fake_api import FakeAnthropic, Reply, text

pytestmark = pytest.mark.e2e

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
PROMPT_MATCH = r"refining a draft plan for git po"


def _shop(repo: Path) -> None:
    for name in (
        "src/shop/models.py",
        "src/shop/cart.py",
        "src/shop/payments.py",
        "src/shop/api.py",
    ):
        f = repo / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"# {name}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "shop")


def _draft(repo: Path, claude_cli: Path, env: dict[str, str]) -> tuple[int, str, str]:
    res = run_po(
        repo,
        "plan",
        "draft",
        str(CORPUS / "spec.md"),
        "--agent",
        "--claude",
        str(claude_cli),
        "--json",
        env=env,
        timeout=120,
    )
    return res.code, res.out, res.err


def test_agent_refines_the_draft(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    _shop(repo)
    answer = {
        "tasks": [
            {
                "id": "gift-card-model",
                "description": "GiftCard model and checkout",
                "prompt": "Add the GiftCard model in src/shop/models.py, then apply a card's "
                "balance in src/shop/cart.py.",
                "items": [1, 3],
                "writes": ["src/shop/models.py", "src/shop/cart.py"],
            },
            {
                "id": "migration",
                "description": "The gift_cards table",
                "prompt": "Write migrations/0007_gift_cards.sql creating gift_cards.",
                "items": [2],
                "writes": ["migrations/0007_gift_cards.sql"],
            },
            {
                "id": "redeem",
                "description": "Redeem endpoint and partial charge",
                "prompt": "Charge the remainder in src/shop/payments.py and add POST "
                "/gift-cards/redeem to src/shop/api.py.",
                "items": [4, 5],
                "depends_on": ["gift-card-model"],
                "writes": ["src/shop/payments.py", "src/shop/api.py"],
            },
        ]
    }
    fake_api.add_script("refine", [Reply([text(json.dumps(answer))])], match=PROMPT_MATCH)
    code, out, err = _draft(repo, claude_cli, claude_env)
    assert code == 0, f"{out}\n{err}\n{fake_api.describe()}"
    assert "warning" not in err
    data = json.loads(out)
    assert data["refined_by"] == "agent"
    assert [t["task"] for t in data["tasks"]] == ["gift-card-model", "migration", "redeem"]
    plan = load_plan_file(repo / "plan.toml")
    assert plan.task("redeem").depends_on == ("gift-card-model",)
    assert plan.task("migration").prompt.startswith("Write migrations/0007_gift_cards.sql")
    assert "refined by the agent" in (repo / "plan.toml").read_text()
    # the CLI was asked once, with the documents and the schema
    asked = fake_api.message_requests("refine")
    assert asked, fake_api.describe()


def test_an_invalid_agent_answer_falls_back_to_the_draft(
    repo: Path, fake_api: FakeAnthropic, claude_cli: Path, claude_env: dict[str, str]
) -> None:
    _shop(repo)
    bad = {"tasks": [{"id": "everything", "description": "all", "prompt": "do it", "items": [1]}]}
    fake_api.add_script("refine", [Reply([text(json.dumps(bad))])], match=PROMPT_MATCH)
    code, out, err = _draft(repo, claude_cli, claude_env)
    assert code == 0, f"{out}\n{err}\n{fake_api.describe()}"
    assert "warning: the agent's answer could not be used (the answer leaves out item(s)" in err
    assert "wrote the deterministic draft instead" in err
    data = json.loads(out)
    assert data["refined_by"] is None
    assert [t["items"] for t in data["tasks"]] == [[1, 3], [2], [4, 5]]
    assert data["warnings"] and "deterministic draft" in data["warnings"][0]
    plan = load_plan_file(repo / "plan.toml")
    assert len(plan.tasks) == 3
