"""Unit tests of git_po.plan and git_po.graph: pure functions, no repository, no subprocess."""

from __future__ import annotations

import json
import math

import pytest

from git_po.errors import PlanError, PlanProblem
from git_po.graph import Graph
from git_po.plan import (
    MAX_ID_LENGTH,
    Plan,
    globs_overlap,
    id_problem,
    parse_duration,
    parse_plan,
)


def parse(text: str, prompts: dict[str, str] | None = None, default_name: str = "plan") -> Plan:
    files = prompts or {}
    return parse_plan(text, "plan.toml", files.get, default_name=default_name)


def problems(text: str, prompts: dict[str, str] | None = None) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse(text, prompts)
    return info.value.problems


def messages(text: str) -> list[str]:
    return [str(p) for p in problems(text)]


# --- parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (90.5, 90.5),
        ("90s", 90.0),
        ("45m", 2700.0),
        ("1h30m", 5400.0),
        ("1h 30m 15s", 5415.0),
        ("1.5h", 5400.0),
        (" 2m ", 120.0),
        ("0.5s", 0.5),
        ("0h1s", 1.0),
    ],
)
def test_parse_duration_accepts(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        0,
        -1,
        -0.5,
        0.0,
        True,
        False,
        None,
        "",
        "  ",
        "soon",
        "90",
        "0s",
        "0m0s",
        "-5m",
        "1d",
        "m",
        "1m30",
        "30s1m",
        "1x",
        [],
        {},
        math.nan,
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    assert parse_duration(value) is None


def test_parse_duration_allows_spaces() -> None:
    assert parse_duration("1 h 2 m") == 3720.0


# --- id rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["a", "A1", "1abc", "a.b", "a_b-c", "models", "x" * MAX_ID_LENGTH, "v1.2.3"]
)
def test_id_problem_accepts(value: str) -> None:
    assert id_problem(value, "task id") is None


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "must be a non-empty string"),
        (None, "must be a non-empty string"),
        (3, "must be a non-empty string"),
        ("a/b", "is not a safe id"),
        ("..x", "is not a safe id"),
        (".x", "is not a safe id"),
        ("_x", "is not a safe id"),
        ("-x", "is not a safe id"),
        ("a..b", "contains '..'"),
        ("x.lock", "must not end with '.lock' or '.'"),
        ("x.", "must not end with '.lock' or '.'"),
        ("a b", "is not a safe id"),
        ("tâche", "is not a safe id"),
        ("a:b", "is not a safe id"),
        ("a~b", "is not a safe id"),
        ("a@{b", "is not a safe id"),
        ("x" * (MAX_ID_LENGTH + 1), f"is longer than {MAX_ID_LENGTH} characters"),
    ],
)
def test_id_problem_rejects(value: object, why: str) -> None:
    found = id_problem(value, "task id")
    assert found is not None and why in found
    assert found.startswith("task id")


@pytest.mark.parametrize("value", ["a\n", "models\n"])
def test_id_problem_rejects_trailing_newline(value: str) -> None:
    assert id_problem(value, "task id") is not None


def test_reserved_task_id() -> None:
    (p,) = problems('[tasks.integration]\nprompt = "x"\n')
    assert p.line == 1 and "reserved" in p.message


def test_default_plan_name_from_the_file_stem_is_checked() -> None:
    with pytest.raises(PlanError) as info:
        parse('[tasks.a]\nprompt = "x"\n', default_name="my plan")
    (p,) = info.value.problems
    assert p.line is None
    assert "plan name 'my plan' is not a safe id" in p.message
    assert p.fix == 'set name = "..." in the plan'


def test_plan_name_defaults_to_the_stem() -> None:
    assert parse('[tasks.a]\nprompt = "x"\n', default_name="shop").name == "shop"


# --- parse_plan: what a valid plan becomes --------------------------------------------------


def test_valid_plan_defaults_and_inheritance() -> None:
    plan = parse(
        'name = "shop"\nbase = "main"\nmax_workers = 2\n'
        '[defaults]\ntimeout = "45m"\nidle_timeout = 600\nretries = 1\nbudget_usd = 3\n'
        'model = "sonnet"\n'
        '[tasks.models]\nprompt = "x"\nwrites = ["./shop/models.py", "shop/api/"]\n'
        '[tasks.api]\nprompt_file = "api.md"\ndepends_on = "models"\nretries = 0\n'
        'model = "opus"\nallowed_tools = ["Bash", "Edit"]\n',
        {"api.md": "build the api\n"},
    )
    top = (plan.name, plan.base, plan.max_workers, plan.max_workers_set)
    assert top == ("shop", "main", 2, True)
    models, api = plan.tasks
    assert models.writes == ("shop/models.py", "shop/api")
    assert models.timeout == 2700.0 and models.idle_timeout == 600.0
    assert models.retries == 1 and models.budget_usd == 3.0 and models.model == "sonnet"
    assert models.agent == "claude" and models.allowed_tools == ()
    assert api.prompt == "build the api\n" and api.prompt_file == "api.md"
    assert api.depends_on == ("models",)
    assert api.retries == 0 and api.model == "opus" and api.allowed_tools == ("Bash", "Edit")
    assert plan.graph.deps == {"models": (), "api": ("models",)}


def test_plan_without_options_uses_defaults() -> None:
    plan = parse('[tasks.a]\nprompt = "x"\n')
    top = (plan.name, plan.base, plan.max_workers, plan.max_workers_set)
    assert top == ("plan", "HEAD", 3, False)
    (a,) = plan.tasks
    assert (a.retries, a.timeout, a.budget_usd, a.model, a.run) == (0, None, None, None, None)


def test_shell_agent_from_plan_level() -> None:
    plan = parse('agent = "shell"\n[tasks.a]\nrun = "make"\n')
    assert plan.tasks[0].agent == "shell" and plan.tasks[0].run == "make"


def test_overlap_not_reported_when_ordered_transitively() -> None:
    plan = parse(
        '[tasks.a]\nprompt = "x"\nwrites = ["src/**"]\n'
        '[tasks.b]\nprompt = "x"\ndepends_on = ["a"]\n'
        '[tasks.c]\nprompt = "x"\ndepends_on = ["b"]\nwrites = ["src/app.py"]\n'
    )
    assert len(plan.tasks) == 3


def test_every_problem_is_reported_with_lines() -> None:
    found = problems(
        "max_worker = 3\n"
        '[tasks."a/b"]\nprompt = ""\n'
        '[tasks.c]\nprompt = "x"\ndepends_on = ["d"]\nbudget_usd = 0\n'
    )
    assert [(p.line, p.message.split(" ")[0]) for p in found] == [
        (1, "unknown"),
        (2, "task"),  # bad id
        (3, "task"),  # empty prompt
        (7, "budget_usd"),
        (6, "task"),  # unknown dependency, reported after the tasks are read
    ]
    assert all(p.file == "plan.toml" for p in found)


def test_cycle_message_and_no_overlap_report_when_cyclic() -> None:
    found = problems(
        '[tasks.a]\nprompt = "x"\ndepends_on = ["b"]\nwrites = ["x"]\n'
        '[tasks.b]\nprompt = "x"\ndepends_on = ["a"]\nwrites = ["x"]\n'
    )
    (p,) = found
    assert p.message == "dependency cycle: a -> b -> a" and p.line == 3


def test_unknown_dependency_without_close_match_lists_known_tasks() -> None:
    (p,) = problems('[tasks.a]\nprompt = "x"\ndepends_on = ["zzz"]\n')
    assert p.fix == "known tasks: a"


def test_inline_task_tables() -> None:
    (p,) = problems('[tasks]\na = { prompt = "x", depends_on = ["nope"] }\n')
    assert p.line == 2 and "unknown task 'nope'" in p.message


def test_malformed_toml_stops_at_once() -> None:
    (p,) = problems('[tasks.a]\nprompt = "x"\nprompt = "y"\n')
    assert p.line == 3 and p.message.startswith("malformed TOML")
    assert "at line" not in p.message


def test_bad_shapes() -> None:
    text = messages('tasks = 3\nverify = ""\ndescription = 1\n')
    assert any("tasks must be tables" in m for m in text)
    assert any("verify must be a command string" in m for m in text)
    assert any("description must be a string" in m for m in text)


def test_depends_on_and_writes_must_be_lists_of_strings() -> None:
    text = messages('[tasks.a]\nprompt = "x"\ndepends_on = [1]\nwrites = [true]\nmax_turns = 0\n')
    assert text == [
        "plan.toml:5: max_turns must be a whole number >= 1",
        "plan.toml:3: depends_on must be a list of task ids",
        "plan.toml:4: writes must be a list of path globs",
    ]


@pytest.mark.parametrize("entry", ["../x", "/abs", "a/../../b", "a\\b", "", "  "])
def test_writes_outside_the_repository(entry: str) -> None:
    (p,) = problems(f'[tasks.a]\nprompt = "x"\nwrites = [{json.dumps(entry)}]\n')
    assert "must be a relative path glob inside the repository" in p.message and p.line == 3


def test_writes_dot_slash_prefix_is_removed_exactly() -> None:
    plan = parse('[tasks.a]\nprompt = "x"\nwrites = ["./.github/ci.yml"]\n')
    assert plan.tasks[0].writes == (".github/ci.yml",)
    (p,) = problems('[tasks.a]\nprompt = "x"\nwrites = ["./../outside"]\n')
    assert "inside the repository" in p.message


def test_writes_dot_means_everything_or_is_rejected() -> None:
    problems(
        '[tasks.a]\nprompt = "x"\nwrites = ["."]\n[tasks.b]\nprompt = "x"\nwrites = ["src/x.py"]\n'
    )


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_budget_must_be_finite(value: str) -> None:
    (p,) = problems(f'[tasks.a]\nprompt = "x"\nbudget_usd = {value}\n')
    assert "budget_usd" in p.message


def test_task_description_must_be_a_string() -> None:
    (p,) = problems('[tasks.a]\nprompt = "x"\ndescription = 3\n')
    assert "description must be a string" in p.message


def test_line_numbers_ignore_multiline_prompt_text() -> None:
    (p,) = problems(
        '[tasks.a]\nprompt = """\n[defaults]\ndepends_on = ["zz"]\n"""\ndepends_on = ["zz"]\n'
    )
    assert p.line == 6


# --- globs_overlap --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ("src/app.py", "src/app.py"),
        ("src/**", "src/app.py"),
        ("src/*.py", "src/app.py"),
        ("src", "src/app.py"),  # a directory covers what is under it
        ("src/*", "src/a/b.py"),
        ("**", "anything/at/all"),
        ("**/*.py", "src/deep/x.py"),
        ("a/**/z", "a/b/c/z"),
        ("a*", "*b"),
        ("a?c", "abc"),
        ("[ab].py", "c.py"),  # classes are over-approximated as '?'
        ("docs/**", "docs"),
        ("*.md", "README.md"),
    ],
)
def test_globs_overlap(p: str, q: str) -> None:
    assert globs_overlap(p, q)
    assert globs_overlap(q, p)


@pytest.mark.parametrize(
    ("p", "q"),
    [
        ("src/app.py", "src/api.py"),
        ("src/*.py", "src/app.md"),
        ("*.py", "*.md"),
        ("a/b", "a/c"),
        ("a?c", "ac"),
        ("src/**", "docs/x"),
        ("docs/*.md", "src/app.py"),
        ("a/*/c", "a/b/d"),
        ("x*y", "x"),
    ],
)
def test_globs_do_not_overlap(p: str, q: str) -> None:
    assert not globs_overlap(p, q)
    assert not globs_overlap(q, p)


# --- Graph ----------------------------------------------------------------------------------


def _rotations(cycle: list[str]) -> list[list[str]]:
    ring = cycle[:-1]
    return [[*ring[i:], *ring[:i], ring[i]] for i in range(len(ring))]


def test_find_cycle_none_for_a_dag() -> None:
    g = Graph({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")})
    assert g.find_cycle() is None


def test_find_cycle_three() -> None:
    g = Graph({"a": ("b",), "b": ("c",), "c": ("a",), "x": ()})
    cycle = g.find_cycle()
    assert cycle in _rotations(["a", "b", "c", "a"])


def test_find_cycle_behind_a_tail() -> None:
    g = Graph({"t": ("a",), "a": ("b",), "b": ("a",)})
    assert g.find_cycle() in _rotations(["a", "b", "a"])


def test_find_cycle_self_and_unknown_deps() -> None:
    assert Graph({"a": ("a",)}).find_cycle() == ["a", "a"]
    assert Graph({"a": ("missing",)}).find_cycle() is None


DIAMOND = {"a": (), "b": ("a",), "c": ("a",), "e": (), "d": ("b", "c")}


def test_critical_path_and_path_length() -> None:
    g = Graph(DIAMOND)
    assert g.critical_path == ["a", "b", "d"]  # ties go to plan order
    assert g.path_length == {"a": 3, "b": 2, "c": 2, "d": 1, "e": 1}
    assert g.roots == ["a", "e"]


def test_critical_path_prefers_the_longest_chain_over_plan_order() -> None:
    g = Graph({"short": (), "x": (), "y": ("x",), "z": ("y",), "w": ("short",)})
    assert g.critical_path == ["x", "y", "z"]


def test_critical_path_empty_and_single() -> None:
    assert Graph({}).critical_path == []
    assert Graph({"only": ()}).critical_path == ["only"]


def test_priority() -> None:
    g = Graph(DIAMOND)
    assert g.priority(["e", "a"]) == ["a", "e"]
    assert g.priority(["c", "b"]) == ["b", "c"]
    assert g.priority(["d", "e"]) == ["e", "d"]  # equal length: plan order (e comes first)
    assert g.priority([]) == []


def test_ordered_is_transitive_and_symmetric() -> None:
    g = Graph({"a": (), "b": ("a",), "c": ("b",), "x": ()})
    assert g.ordered("a", "c") and g.ordered("c", "a")
    assert not g.ordered("a", "x")
    assert g.ancestors["c"] == frozenset({"a", "b"})
    assert g.dependents["a"] == ("b",)


def test_topo_order_puts_dependencies_first() -> None:
    g = Graph({"d": ("b", "c"), "b": ("a",), "c": ("a",), "a": ()})
    order = g.topo_order
    for n, ds in g.deps.items():
        assert all(order.index(d) < order.index(n) for d in ds)
