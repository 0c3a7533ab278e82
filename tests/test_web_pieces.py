"""Pure pieces of the dashboard, no web stack needed: the task graph picture (columns by depth,
an arrow per dependency, state colours, the critical path), transcript colours as HTML, which
plans the live feed names, and which addresses need a token."""

from __future__ import annotations

import re

from git_po.web import graph_svg

DEPS = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "lone": []}


def test_a_task_stands_right_of_everything_it_depends_on() -> None:
    pos = graph_svg.positions(DEPS)
    assert graph_svg.depths(DEPS) == {"a": 0, "b": 1, "c": 1, "d": 2, "lone": 0}
    for task, deps in DEPS.items():
        for d in deps:
            assert pos[d][0] < pos[task][0]
    assert pos["b"][0] == pos["c"][0] and pos["b"][1] != pos["c"][1]


def test_the_picture_has_every_task_every_dependency_and_the_critical_path() -> None:
    states = {"a": "complete", "b": "running", "c": "paused", "d": "pending", "lone": "weird"}
    svg = graph_svg.draw(DEPS, states, ["a", "b", "d"])
    nodes = dict(re.findall(r'<g class="([^"]*)" data-task="([^"]*)"', svg))
    assert {v: k for k, v in nodes.items()} == {
        "a": "node st-complete crit",
        "b": "node st-running crit",
        "c": "node st-paused",
        "d": "node st-pending crit",
        "lone": "node st-pending",  # an unknown state is drawn as pending
    }
    edges = re.findall(
        r'<path class="([^"]*)" d="[^"]*" marker-end="url\(#arrow\)" '
        r'data-from="([^"]*)" data-to="([^"]*)"',
        svg,
    )
    assert sorted((f, t, c) for c, f, t in edges) == [
        ("a", "b", "edge crit"),
        ("a", "c", "edge"),
        ("b", "d", "edge crit"),
        ("c", "d", "edge"),
    ]


def test_names_are_escaped_and_long_ones_cut() -> None:
    svg = graph_svg.draw({"a<b": [], "a-very-long-task-name-indeed": ["a<b"]}, {}, [])
    assert "a<b" not in svg
    assert 'data-task="a&lt;b"' in svg
    assert ">a-very-long-task\u2026</text>" in svg
    assert graph_svg.draw({}, {}, []).startswith("<svg")


def test_transcript_colours_become_escaped_html() -> None:
    from git_po.web.data import ansi_html

    assert (
        ansi_html("\x1b[36m→ Bash\x1b[0m: <b>&")
        == '<span class="a36">→ Bash</span>: &lt;b&gt;&amp;'
    )
    assert ansi_html("\x1b[1;31mbad") == '<span class="a1"><span class="a31">bad</span></span>'


def test_the_feed_names_the_plans_whose_refs_moved() -> None:
    from git_po.web.data import changed_plans

    before = {"refs/po/shop/tasks/a": "1", "refs/heads/po/shop/a": "2", "refs/po/web/plan": "3"}
    after = {**before, "refs/heads/po/shop/a": "4", "refs/po/other/plan": "5"}
    del after["refs/po/web/plan"]
    assert changed_plans(before, after) == ["other", "shop", "web"]
    assert changed_plans(before, before) == []


def test_only_loopback_addresses_go_without_a_token() -> None:
    from git_po.web.launch import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    assert not is_loopback("example.com")
