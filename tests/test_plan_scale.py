"""The near-linear checks of a plan say what the quadratic ones said: `Graph.reaches` against
full ancestor sets, and `globs.clashes` (an index of globs, consecutive pairs in dependency
order) against comparing every pair of tasks, on random plans. Pure, no repository.
(How fast they are is measured in benchmarks/plan_scale.py, not here.)"""

from __future__ import annotations

import random

import pytest

from git_po.errors import PlanError
from git_po.globs import clashes, globs_overlap, literal_prefix
from git_po.graph import Graph
from git_po.plan import parse_plan

GLOBS = [
    "src/a.py",
    "src/b.py",
    "src/**",
    "src/a.py/x",
    "src/*.py",
    "docs/*.md",
    "docs/x.md",
    "**/*.md",
    "tests/test_[ab].py",
    "tests/test_a.py",
    "lib/x*/y",
    "lib/xz/y",
    "lib/*z/y",
    "README.md",
]


def random_graph(rng: random.Random, n: int) -> Graph:
    deps: dict[str, tuple[str, ...]] = {}
    for i in range(n):
        earlier = [f"t{j}" for j in range(i)]
        k = rng.choice([0, 0, 1, 1, 2, 3])
        deps[f"t{i}"] = tuple(rng.sample(earlier, min(k, len(earlier))))
    order = list(deps)
    rng.shuffle(order)  # plan order need not be dependency order
    return Graph({t: deps[t] for t in order})


@pytest.mark.parametrize("seed", range(40))
def test_reaches_agrees_with_ancestor_sets(seed: int) -> None:
    rng = random.Random(seed)
    g = random_graph(rng, 25)
    for a in g.deps:
        for b in g.deps:
            assert g.reaches(a, b) == (a in g.ancestors[b]), (a, b)


@pytest.mark.parametrize("seed", range(60))
def test_clashes_finds_a_clash_exactly_when_some_pair_clashes(seed: int) -> None:
    rng = random.Random(seed)
    g = random_graph(rng, rng.randint(2, 14))
    writes = {t: rng.sample(GLOBS, rng.choice([0, 1, 1, 2])) for t in g.deps}
    entries = [(t, w) for t, ws in writes.items() for w in ws]

    brute = {
        frozenset((a, b))
        for a in g.deps
        for b in g.deps
        if a < b
        and not g.ordered(a, b)
        and any(globs_overlap(p, q) for p in writes[a] for q in writes[b])
    }
    found = clashes(entries, g)

    for c in found:  # every clash reported is real
        assert frozenset((c.first, c.second)) in brute
        assert c.first_glob in writes[c.first] and c.second_glob in writes[c.second]
        assert globs_overlap(c.first_glob, c.second_glob)
    assert bool(found) == bool(brute)
    # every task of a clashing pair is named by some reported clash of its glob
    named = {(t, w) for c in found for t, w in ((c.first, c.first_glob), (c.second, c.second_glob))}
    for pair in brute:
        a, b = sorted(pair)
        assert any((a, w) in named for w in writes[a]) or any((b, w) in named for w in writes[b])


def test_literal_prefix_is_a_prefix_of_every_match() -> None:
    assert literal_prefix("src/a/*.py") == ("src", "a")
    assert literal_prefix("**/x") == ()
    assert literal_prefix("docs/x.md") == ("docs", "x.md")


def test_a_long_chain_writing_one_file_is_valid_and_a_fork_is_not() -> None:
    n = 3000
    chain = "".join(
        f'[tasks.t{i}]\nprompt = "p"\nwrites = ["src/app.py"]\n'
        + (f'depends_on = ["t{i - 1}"]\n' if i else "")
        for i in range(n)
    )
    plan = parse_plan(chain, "plan.toml", lambda _: None, default_name="c")
    assert len(plan.tasks) == n
    assert plan.graph.critical_path[-1] == f"t{n - 1}"

    fork = chain + '[tasks.side]\nprompt = "p"\nwrites = ["src/**"]\ndepends_on = ["t5"]\n'
    with pytest.raises(PlanError) as info:
        parse_plan(fork, "plan.toml", lambda _: None, default_name="c")
    messages = [p.message for p in info.value.problems]
    assert any("'side'" in m and "both write" in m for m in messages), messages
    assert len(messages) <= 2  # a few lines, not one per task of the chain
