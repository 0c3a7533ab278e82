"""`git po plan draft` and `git po plan check`: a corpus of real-looking documents (tests/corpus/)
drafted in a real repository, with the items, dependencies, groups and verdicts each must give;
the drafts pass git po's own validation and run with the shell agent."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from git_po.drafting import refine
from git_po.drafting.deps import find_edges
from git_po.drafting.extract import (
    action_of,
    extract,
    mentioned_paths,
    priority_of,
    resolve_paths,
    size_of,
)
from git_po.drafting.grouping import slug
from git_po.drafting.model import make_draft
from git_po.plan import load_plan_file
from tests.conftest import git, run_po
from tests.helpers import start, status_json, write_plan

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = (
    "README.md",
    "src/shop/__init__.py",
    "src/shop/cart.py",
    "src/shop/payments.py",
    "src/shop/models.py",
    "src/shop/api.py",
    "src/shop/auth.py",
    "src/shop/search.py",
    "src/shop/config.py",
    "docs/api.md",
    "tests/test_cart.py",
    "tests/test_payments.py",
)


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A repository with the files the corpus documents talk about."""
    path = tmp_path / "shop"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    for name in FILES:
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"# {name}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


@dataclass(frozen=True)
class Expect:
    doc: str
    items: int
    groups: list[list[int]]  # item numbers of each task, in task order
    edges: set[tuple[int, int]]  # (item, waits for)
    verdict: str
    unclear: list[int]
    max_workers: int
    priorities: dict[int, str | None]
    reason: str = ""


CASES = [
    Expect(
        "code_review.md",
        items=6,
        groups=[[1], [2, 3], [4]],
        edges={(3, 2)},
        verdict="parallel",
        unclear=[5],
        max_workers=3,
        priorities={1: "P0", 2: "P1", 3: "P1", 4: "P2"},
    ),
    Expect(
        "issues.md",
        items=5,
        groups=[[1, 2], [3, 4], [5]],
        edges=set(),
        verdict="parallel",
        unclear=[],
        max_workers=3,
        priorities={1: "P1", 2: "P1", 3: "P2", 4: "P3", 5: "P2"},
    ),
    Expect(
        "todo.md",
        items=6,
        groups=[[1, 6], [2], [3], [4], [5]],
        edges={(3, 1), (3, 2), (4, 3), (5, 3), (6, 1)},
        verdict="parallel",
        unclear=[],
        max_workers=2,
        priorities={},
    ),
    Expect(
        "spec.md",
        items=5,
        groups=[[1, 3], [2], [4, 5]],
        edges={(3, 1)},
        verdict="parallel",
        unclear=[],
        max_workers=3,
        priorities={},
    ),
    Expect(
        "one_file.md",
        items=4,
        groups=[[1, 2, 3, 4]],
        edges=set(),
        verdict="sequential",
        unclear=[],
        max_workers=1,
        priorities={},
        reason="every item touches src/shop/config.py",
    ),
    Expect(
        "vague.md",
        items=6,
        groups=[[4, 5]],
        edges=set(),
        verdict="sequential",
        unclear=[1, 2, 3, 6],
        max_workers=1,
        priorities={},
        reason="2 small items",
    ),
]


def draft(shop: Path, doc: str, *args: str) -> dict[str, Any]:
    res = run_po(shop, "plan", "draft", str(CORPUS / doc), "--json", *args)
    assert res.code == 0, res
    data: dict[str, Any] = json.loads(res.out)
    return data


@pytest.mark.parametrize("case", CASES, ids=[c.doc for c in CASES])
def test_corpus_document_drafts_the_expected_plan(shop: Path, case: Expect) -> None:
    data = draft(shop, case.doc)
    assert len(data["items"]) == case.items
    assert [t["items"] for t in data["tasks"]] == case.groups
    assert {(d["item"], d["on"]) for d in data["dependencies"]} == case.edges
    assert data["verdict"] == case.verdict
    assert case.reason in "; ".join(data["reasons"])
    assert [i["number"] for i in data["items"] if i["needs_clarification"]] == case.unclear
    assert data["max_workers"] == case.max_workers
    for number, priority in case.priorities.items():
        assert data["items"][number - 1]["priority"] == priority
    # the written plan passes git po's own validation, with the tasks of the manifest
    plan = load_plan_file(shop / "plan.toml")
    assert [t.id for t in plan.tasks] == [t["task"] for t in data["tasks"]]
    assert plan.max_workers == case.max_workers
    for task, entry in zip(plan.tasks, data["tasks"], strict=True):
        assert list(task.depends_on) == entry["depends_on"]
        assert list(task.writes) == entry["writes"]
        for n in entry["items"]:
            assert data["items"][n - 1]["title"].split()[0] in task.prompt
    # unclear items are named in the file, not made into tasks
    text = (shop / "plan.toml").read_text()
    for n in case.unclear:
        assert data["items"][n - 1]["title"] in text
        assert data["items"][n - 1]["task"] is None


def test_todo_dependencies_become_task_dependencies(shop: Path) -> None:
    data = draft(shop, "todo.md")
    task = {i["number"]: i["task"] for i in data["items"]}
    by_id = {t["task"]: t for t in data["tasks"]}
    assert by_id[task[3]]["depends_on"] == [task[1], task[2]]
    assert by_id[task[4]]["depends_on"] == [task[3]]
    assert by_id[task[5]]["depends_on"] == [task[3]]
    # A1 creates src/shop/users.py; A6 uses it: same task, A1 first
    assert task[6] == task[1]
    assert by_id[task[1]]["writes"] == ["src/shop/users.py", "scripts/seed.py"]
    prompt = load_plan_file(shop / "plan.toml").task(task[1]).prompt
    assert prompt.index("Create `src/shop/users.py`") < prompt.index("--admin")


def test_text_manifest_and_commented_plan(shop: Path) -> None:
    res = run_po(shop, "plan", "draft", str(CORPUS / "code_review.md"), "-o", "review.toml")
    assert res.code == 0, res
    lines = res.out.splitlines()
    assert lines[0].startswith("review.toml: 3 tasks from 6 items in ")
    assert lines[1].startswith("verdict: parallel: 3 tasks that own their files")
    assert "fix-rounding-error-cart  [P0, S]" in lines
    assert "needs clarification (not made into tasks):" in lines
    text = (shop / "review.toml").read_text()
    assert text.startswith("# Drafted by `git po plan draft` from ")
    assert "# Needs clarification (not made into tasks):" in text
    assert "#   Improve performance." in text
    assert 'name = "code-review"' in text
    assert not (shop / "plan.toml").exists()


def test_draft_runs_with_the_shell_agent(shop: Path, tmp_path: Path) -> None:
    draft(shop, "todo.md", "-o", str(tmp_path / "draft.toml"))
    data = tomllib.loads((tmp_path / "draft.toml").read_text())
    for tid, task in data["tasks"].items():
        target = task["writes"][0]
        task["agent"] = "shell"
        task["run"] = (
            f"mkdir -p $(dirname {target}) && echo {tid} >> {target} && git add -A && "
            f"git commit -q -m '[COMPLETE] {tid} done'"
        )
    plan = write_plan(tmp_path, "accounts", tomli_w.dumps(data))
    res = start(shop, plan)
    assert res.code == 0, res
    states = {t["task"]: t["state"] for t in status_json(shop, "todo")["tasks"]}
    assert set(states) == set(data["tasks"]) and set(states.values()) == {"complete"}


def test_draft_refuses_to_overwrite_without_force(shop: Path) -> None:
    (shop / "plan.toml").write_text("# mine\n")
    res = run_po(shop, "plan", "draft", str(CORPUS / "issues.md"))
    assert res.code == 5, res
    assert "plan.toml exists; nothing was written" in res.err
    assert "--force" in res.err
    assert (shop / "plan.toml").read_text() == "# mine\n"
    res = run_po(shop, "plan", "draft", str(CORPUS / "issues.md"), "--force")
    assert res.code == 0, res
    assert (shop / "plan.toml").read_text().startswith("# Drafted by")


def test_draft_bad_input(shop: Path, tmp_path: Path) -> None:
    res = run_po(shop, "plan", "draft", "missing.md")
    assert res.code == 2 and "document 'missing.md' not found" in res.err, res
    empty = tmp_path / "empty.md"
    empty.write_text("# Notes\n\n- Improve performance.\n")
    res = run_po(shop, "plan", "draft", str(empty))
    assert res.code == 2 and "found no work items to act on" in res.err, res
    assert "(1 too vague)" in res.err
    res = run_po(shop, "plan", "draft")
    assert res.code == 2, res
    res = run_po(shop, "plan", "draft", str(CORPUS / "spec.md"), "--workers", "0")
    assert res.code == 2, res
    assert not (shop / "plan.toml").exists()


def test_draft_workers_bounds_the_tasks_at_once(shop: Path) -> None:
    data = draft(shop, "issues.md", "--workers", "2")
    assert [t["items"] for t in data["tasks"]] == [[1, 2, 5], [3, 4]]
    assert data["max_workers"] == 2


def test_agent_without_claude_exits_3_and_writes_nothing(shop: Path, tmp_path: Path) -> None:
    res = run_po(
        shop, "plan", "draft", str(CORPUS / "spec.md"), "--agent", "--claude", "/nope/claude"
    )
    assert res.code == 3, res
    assert not (shop / "plan.toml").exists()


# --- plan check ----------------------------------------------------------------------------

COLLIDING = """
[tasks.cart]
prompt = "Fix the rounding in src/shop/cart.py."
writes = ["src/shop/cart.py"]

[tasks.docs]
prompt = "Document the cart in docs/api.md; the totals come from `cart.py`."
writes = ["docs/api.md"]

[tasks.later]
prompt = "Then touch src/shop/cart.py again."
depends_on = ["cart", "docs"]
"""


def test_plan_check_warns_about_tasks_that_may_collide(shop: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "p", COLLIDING)
    res = run_po(shop, "plan", "check", str(plan))
    assert res.code == 1, res
    warnings = [line for line in res.err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: tasks 'cart' and 'docs' may run at the same time: 'docs' names "
        "src/shop/cart.py, which 'cart' writes (make one depend on the other, or give the "
        "file to one of them)"
    ]
    assert "1 likely collision" in res.err
    # start --dry-run says the same, as a warning
    res = run_po(shop, "start", str(plan), "--dry-run")
    assert res.code == 0, res
    assert warnings[0] in res.err.splitlines()


def test_plan_check_both_prompts_name_a_file(shop: Path, tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path,
        "p",
        '[tasks.a]\nprompt = "Read `docs/api.md` first."\n'
        '[tasks.b]\nprompt = "Update docs/api.md."\n',
    )
    res = run_po(shop, "plan", "check", str(plan))
    assert res.code == 1, res
    assert "both prompts name docs/api.md" in res.err


def test_plan_check_passes_drafts_and_rejects_invalid_plans(shop: Path, tmp_path: Path) -> None:
    for case in CASES:
        out = tmp_path / f"{case.doc}.toml"
        draft(shop, case.doc, "-o", str(out))
        res = run_po(shop, "plan", "check", str(out))
        assert res.code == 0, (case.doc, res)
        assert "no likely collisions" in res.out
    # a document in the repository, named relatively: its name in prompts is no collision
    (shop / "todo.md").write_text((CORPUS / "todo.md").read_text())
    res = run_po(shop, "plan", "draft", "todo.md", "-o", "todo.toml")
    assert res.code == 0, res
    res = run_po(shop, "plan", "check", "todo.toml")
    assert res.code == 0 and "todo.toml: 5 tasks, no likely collisions" in res.out, res
    bad = write_plan(
        tmp_path,
        "bad",
        '[tasks.a]\nprompt = "a"\nwrites = ["x"]\n[tasks.b]\nprompt = "b"\nwrites = ["x"]\n',
    )
    res = run_po(shop, "plan", "check", str(bad))
    assert res.code == 2, res
    assert "may run at the same time and both write 'x'" in res.err


# --- the pieces ------------------------------------------------------------------------------


def test_extract_reads_the_most_trusted_kind_of_item() -> None:
    doc = (
        "# Plan\n\nSome context paragraph that is long enough to be an item.\n\n"
        "1. Fix `a.py`.\n2. Add `b.py` after 1.\n\n- a loose bullet about `c.py`\n"
    )
    items = extract([("d.md", doc)], frozenset({"a.py", "c.py"}))
    assert [(i.kind, i.label, i.scope) for i in items] == [
        ("numbered", "1", ("a.py",)),
        ("numbered", "2", ("b.py",)),
    ]
    assert items[1].creates == ("b.py",)
    edges, notes = find_edges(items)
    assert [(e.item, e.on) for e in edges] == [(2, 1)] and notes == []
    tree = frozenset({"a.py", "c.py"})
    timed = extract([("d.md", "1. Fix `a.py`.\n2. Retry `c.py` after 1 minute.\n")], tree)
    assert find_edges(timed)[0] == []
    tasks = extract([("t.md", "- [ ] Fix `a.py`\n1. Add `b.py`\n")], frozenset({"a.py"}))
    assert [i.kind for i in tasks] == ["task-list"]
    paras = extract([("p.md", "Rewrite the parser in `a.py` from scratch.\n")], frozenset())
    assert [(i.kind, i.size, i.unknown_paths) for i in paras] == [("paragraph", "M", ("a.py",))]


def test_scope_is_checked_against_the_tree() -> None:
    tree = frozenset({"src/shop/cart.py", "src/web/cart.py", "src/shop/api.py", "docs/a.md"})
    assert resolve_paths(["api.py", "shop/cart.py", "docs"], tree, False) == (
        ["src/shop/api.py", "src/shop/cart.py", "docs"],
        [],
        [],
    )
    # ambiguous names, paths outside the repository and globs that match nothing
    assert resolve_paths(["cart.py", "../x.py", "src/*.rb", "src/*/api.py"], tree, True) == (
        ["src/*/api.py"],
        [],
        ["cart.py", "../x.py", "src/*.rb"],
    )
    assert resolve_paths(["src/new.py", "src/shop/api.py"], tree, True) == (
        ["src/new.py", "src/shop/api.py"],
        ["src/new.py"],
        [],
    )
    assert slug("Integration", None) == "integration-task"
    assert slug("Fix `src/a.py`: the parser crashes after A3", "fix") == "fix-parser-crashes"


def test_paths_actions_priorities_sizes() -> None:
    assert mentioned_paths("see `src/x.py:12`, docs/a.md and setup.cfg; v1.2 e.g. 3.5") == [
        "src/x.py",
        "docs/a.md",
        "setup.cfg",
    ]
    assert mentioned_paths("GET `/health` at https://example.com/a.py") == []
    assert mentioned_paths("read and/or write src/ and lib/a/b, not TCP/IP") == ["src", "lib/a/b"]
    assert action_of("Add a test for refunds") == "test"
    assert action_of("Search returns deleted rows") == "update"
    assert action_of("Drop the legacy loader") == "remove"
    assert priority_of("[HIGH] crash") == "P1" and priority_of("**P0** x") == "P0"
    assert priority_of("nothing") is None
    assert size_of("Rename x", 1) == "S"
    assert size_of("Touch four files", 4) == "L"
    assert size_of("Rewrite everything across all modules", 7) == "XL"


def test_an_invalid_agent_answer_is_refused_with_a_reason() -> None:
    tree = frozenset(FILES)
    d = make_draft([("todo.md", (CORPUS / "todo.md").read_text())], tree, 3, "todo")
    good = {
        "tasks": [
            {"id": t.id, "description": "d", "prompt": "p", "items": list(t.items)} for t in d.tasks
        ]
    }
    assert len(refine.apply(d, json.dumps(good), tree)) == len(d.tasks)
    assert len(refine.apply(d, "```json\n" + json.dumps(good) + "\n```", tree)) == len(d.tasks)
    for answer, reason in (
        ("no json here", "holds no JSON object"),
        ('{"tasks": []}', "has no tasks"),
        (json.dumps({"tasks": good["tasks"][1:]}), "leaves out item(s)"),
        (
            json.dumps({"tasks": [{**good["tasks"][0], "id": "../x"}, *good["tasks"][1:]]}),
            "not a safe id",
        ),
        (
            json.dumps({"tasks": [{**good["tasks"][0], "writes": ["nowhere/x.py"]}]}),
            "not in the repository",
        ),
    ):
        with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            refine.apply(d, answer, tree)
    with pytest.raises(ValueError, match="ended with an error"):
        refine.result_text(b'{"type": "result", "is_error": true, "result": "boom"}')


# --- --agent with the fake claude (the real CLI: tests/e2e/test_plan_agent.py) ---------------


def _agent_draft(shop: Path, tmp_path: Path, script: list[dict[str, Any]]) -> Any:
    path = tmp_path / "agent-script.json"
    path.write_text(json.dumps(script))
    env = {"FAKE_CLAUDE_SCRIPT": str(path), "FAKE_CLAUDE_LOG": str(tmp_path / "log.jsonl")}
    return run_po(shop, "plan", "draft", str(CORPUS / "todo.md"), "--agent", "--json", env=env)


def _answer(shop: Path, tmp_path: Path) -> dict[str, Any]:
    d = draft(shop, "todo.md", "-o", str(tmp_path / "first.toml"))
    return {
        "tasks": [
            {
                "id": t["task"],
                "description": f"Refined: {t['description']}",
                "prompt": f"You own {', '.join(t['writes'])}. Do items {t['items']}.",
                "items": t["items"],
                "depends_on": t["depends_on"],
                "writes": t["writes"],
            }
            for t in d["tasks"]
        ]
    }


def test_agent_answer_replaces_the_prompts(shop: Path, tmp_path: Path) -> None:
    answer = _answer(shop, tmp_path)
    res = _agent_draft(shop, tmp_path, [{"exit": 0, "result": json.dumps(answer)}])
    assert res.code == 0, res
    assert "warning" not in res.err
    data = json.loads(res.out)
    assert data["refined_by"] == "agent"
    plan = load_plan_file(shop / "plan.toml")
    first = answer["tasks"][0]
    assert plan.task(first["id"]).prompt.startswith(f"You own {first['writes'][0]}")
    assert plan.task(first["id"]).description == first["description"]
    # asked headless, with JSON output, the prompt on stdin holding the documents and schema
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(logged) == 1
    assert logged[0]["argv"][:3] == ["-p", "--output-format", "json"]
    assert "A3: Add login and logout endpoints" in logged[0]["prompt"]
    assert '"required": ["tasks"]' in logged[0]["prompt"]


def test_agent_answers_that_fall_back_to_the_draft(shop: Path, tmp_path: Path) -> None:
    answer = _answer(shop, tmp_path)
    cyclic = json.loads(json.dumps(answer))
    cyclic["tasks"][0]["depends_on"] = [cyclic["tasks"][-1]["id"]]
    for script, why in (
        ([{"exit": 0, "result": json.dumps(cyclic)}], "the agent's plan is not valid (dependency"),
        ([{"exit": 0, "result": "Here is my plan: split it in two."}], "holds no JSON object"),
        ([{"exit": 1, "subtype": "error_during_execution"}], "could not be used"),
    ):
        (shop / "plan.toml").unlink(missing_ok=True)
        res = _agent_draft(shop, tmp_path, script)
        assert res.code == 0, res
        assert why in res.err and "wrote the deterministic draft instead" in res.err, res
        data = json.loads(res.out)
        assert data["refined_by"] is None
        assert [t["items"] for t in data["tasks"]] == [[1, 6], [2], [3], [4], [5]]
        load_plan_file(shop / "plan.toml")


def test_a_chain_of_items_is_drafted_sequentially() -> None:
    doc = (
        "# Steps\n\n"
        "1. Add the parser module `src/parse.py` with a `parse()` function.\n"
        "2. Call `parse()` from `src/cli.py`, after 1.\n"
        "3. Document the new option in `docs/cli.md`, after 2.\n"
        "4. Add an end-to-end test in `tests/test_cli.py`, after 3.\n"
    )
    tree = frozenset({"src/cli.py", "docs/cli.md", "tests/test_cli.py"})
    d = make_draft([("steps.md", doc)], tree, 3, "steps")
    assert d.verdict == "sequential"
    assert "the items form one chain" in d.reasons
    assert [t.items for t in d.tasks] == [(1, 2, 3, 4)]
    assert d.tasks[0].writes == ("src/parse.py", "src/cli.py", "docs/cli.md", "tests/test_cli.py")
    assert d.max_workers == 1
