"""Plan validation through the command line: a corpus of bad plans.

Every bad plan is run twice in a real repository, as `git po start plan.toml --dry-run` and as
`git po start plan.toml` (the fake claude is on PATH, so only validation can stop the real run).
Both must exit 2, print every problem as `error: <file>:<line>: <message> (<fix>)`, end with
`git po: the plan has N problems; nothing was written`, and leave the refs and the worktrees of
the repository exactly as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import PoResult, git, refs, run_po
from tests.helpers import worktree_root

PLAN = "plan.toml"
A = '[tasks.a]\nprompt = "do a"\n'  # a valid task, two lines
_ERROR_LINE = re.compile(r"^error: (?P<file>[^:]+)(?::(?P<line>\d+))?: (?P<message>.+)$")
_SUMMARY = re.compile(r"^git po: the plan has (\d+) problems?; nothing was written$")


@dataclass(frozen=True)
class Case:
    id: str
    plan: str
    expect: tuple[str, ...]  # substrings that must all be in stderr
    line: int | None = None  # the line of the first expected substring, when known
    count: int = 1  # problems the summary line must announce
    files: dict[str, str] = field(default_factory=dict)  # extra files next to the plan
    expect_any: tuple[str, ...] = ()  # at least one of these must be in stderr


def _id_case(case_id: str, key: str, shown: str, why: str) -> Case:
    return Case(
        f"id-{case_id}",
        f'[tasks.{key}]\nprompt = "x"\n',
        (f"task id {shown}", why, "(rename the [tasks.<id>] table)"),
        line=1,
    )


UNSAFE = "is not a safe id"
LONG_ID = "t" * 65

CYCLE = (
    '[tasks.a]\nprompt = "x"\ndepends_on = ["b"]\n'
    '[tasks.b]\nprompt = "x"\ndepends_on = ["c"]\n'
    '[tasks.c]\nprompt = "x"\ndepends_on = ["a"]\n'
)

SEVERAL = (
    "max_worker = 3\n"  # 1: unknown key
    '[defaults]\ntimeout = "soon"\n'  # 3: not a duration
    '[tasks."a/b"]\nprompt = "x"\n'  # 4: bad id
    '[tasks.api]\nprompt = "x"\ndepends_on = ["modles"]\n'  # 8: unknown dependency
    '[tasks.models]\nprompt = "x"\npermission_mode = "acceptEdit"\n'  # 11: bad choice
)

CASES: list[Case] = [
    Case(
        "malformed-toml",
        'name = "x"\nmax_workers = 3\n[tasks.a\nprompt = "x"\n',
        ("malformed TOML", "(fix the syntax at that line)"),
        line=3,
    ),
    Case(
        "unknown-top-key",
        "max_worker = 2\n" + A,
        ("unknown key 'max_worker'", "(did you mean 'max_workers'?)"),
        line=1,
    ),
    Case(
        "unknown-task-key",
        '[tasks.a]\npromt = "x"\n',
        ("unknown key 'promt' in [tasks.a]", "(did you mean 'prompt'?)", "task 'a' has no prompt"),
        line=2,
        count=2,
    ),
    Case(
        "unknown-defaults-key",
        "[defaults]\nretry = 1\n" + A,
        ("unknown key 'retry' in [defaults]", "(did you mean 'retries'?)"),
        line=2,
    ),
    Case(
        "task-only-key-in-defaults",
        '[defaults]\ndepends_on = ["a"]\n' + A,
        ("unknown key 'depends_on' in [defaults]", "is set per task, under [tasks.<id>]"),
        line=2,
    ),
    Case(
        "task-key-at-top-level",
        'prompt = "x"\n' + A,
        ("unknown key 'prompt'", "(task keys go under [tasks.<id>] or [defaults])"),
        line=1,
    ),
    _id_case("slash", '"a/b"', "'a/b'", UNSAFE),
    _id_case("leading-dots", '"..x"', "'..x'", UNSAFE),
    _id_case("double-dot", '"a..b"', "'a..b'", "contains '..'"),
    _id_case("leading-dash", '"-x"', "'-x'", UNSAFE),
    _id_case("lock-suffix", '"x.lock"', "'x.lock'", "must not end with '.lock' or '.'"),
    _id_case("trailing-dot", '"x."', "'x.'", "must not end with '.lock' or '.'"),
    _id_case("space", '"a b"', "'a b'", UNSAFE),
    _id_case("unicode", '"tâche"', "'tâche'", UNSAFE),
    _id_case("too-long", LONG_ID, repr(LONG_ID), "is longer than 64 characters"),
    Case(
        "plan-name",
        'name = "../evil"\n' + A,
        ("plan name '../evil' is not a safe id", "(choose another name)"),
        line=1,
    ),
    Case(
        "reserved-id",
        '[tasks.integration]\nprompt = "x"\n',
        ("task id 'integration' is reserved by git po", "(rename the task)"),
        line=1,
    ),
    Case(
        "missing-prompt",
        '[tasks.a]\nwrites = ["a.txt"]\n',
        ("task 'a' has no prompt", '(add prompt = "..." or prompt_file'),
        line=1,
    ),
    Case(
        "empty-prompt",
        '[tasks.a]\nprompt = "  "\n',
        ("task 'a' has an empty prompt", "(write what the task must do)"),
        line=2,
    ),
    Case(
        "prompt-and-prompt-file",
        '[tasks.a]\nprompt = "x"\nprompt_file = "a.md"\n',
        ("task 'a' sets both prompt and prompt_file", "(keep one)"),
        line=3,
        files={"a.md": "do a\n"},
    ),
    Case(
        "prompt-file-missing",
        '[tasks.a]\nprompt_file = "prompts/a.md"\n',
        (
            "prompt file 'prompts/a.md' of task 'a' not found",
            "(paths are relative to the plan file)",
        ),
        line=2,
    ),
    Case(
        "prompt-file-empty",
        '[tasks.a]\nprompt_file = "a.md"\n',
        ("prompt file 'a.md' is empty",),
        line=2,
        files={"a.md": "\n  \n"},
    ),
    Case(
        "unknown-dependency",
        '[tasks.models]\nprompt = "x"\n[tasks.api]\nprompt = "x"\ndepends_on = ["modles"]\n',
        ("task 'api' depends on unknown task 'modles'", "(did you mean 'models'?)"),
        line=5,
    ),
    Case(
        "self-dependency",
        A + 'depends_on = ["a"]\n',
        ("task 'a' depends on itself", "(remove it)"),
        line=3,
    ),
    Case(
        "three-cycle",
        CYCLE,
        ("(remove one of these depends_on entries)",),
        expect_any=(
            f"{PLAN}:3: dependency cycle: a -> b -> c -> a",
            f"{PLAN}:6: dependency cycle: b -> c -> a -> b",
            f"{PLAN}:9: dependency cycle: c -> a -> b -> c",
        ),
    ),
    Case(
        "overlapping-writes",
        '[tasks.a]\nprompt = "x"\nwrites = ["src/**"]\n'
        '[tasks.b]\nprompt = "x"\nwrites = ["docs/*.md", "src/app.py"]\n',
        (
            "tasks 'a' and 'b' may run at the same time and both write 'src/**' / 'src/app.py'",
            "(give the files to one task, or make 'b' depend on 'a')",
        ),
        line=6,
    ),
    Case(
        "overlapping-writes-diamond-siblings",
        A + '[tasks.b]\nprompt = "x"\ndepends_on = ["a"]\nwrites = ["shop/*.py"]\n'
        '[tasks.c]\nprompt = "x"\ndepends_on = ["a"]\nwrites = ["shop/api.py"]\n',
        ("tasks 'b' and 'c' may run at the same time and both write 'shop/*.py' / 'shop/api.py'",),
        line=10,
    ),
    Case(
        "writes-outside-repository",
        A + 'writes = ["../outside.txt", "/etc/passwd"]\n',
        (
            "writes entry '../outside.txt' must be a relative path glob inside the repository",
            "writes entry '/etc/passwd' must be a relative path glob inside the repository",
        ),
        line=3,
        count=2,
    ),
    Case(
        "max-workers-zero",
        "max_workers = 0\n" + A,
        ("max_workers must be a whole number >= 1", "(e.g. max_workers = 3)"),
        line=1,
    ),
    Case(
        "max-workers-string",
        'max_workers = "3"\n' + A,
        ("max_workers must be a whole number >= 1",),
        line=1,
    ),
    Case(
        "max-workers-bool",
        "max_workers = true\n" + A,
        ("max_workers must be a whole number >= 1",),
        line=1,
    ),
    Case(
        "retries-negative",
        "[defaults]\nretries = -1\n" + A,
        ("retries must be a whole number >= 0",),
        line=2,
    ),
    Case(
        "timeout-not-a-duration",
        A + 'timeout = "soon"\n',
        ("timeout 'soon' is not a duration", '"90s", "45m", "1h30m"'),
        line=3,
    ),
    Case(
        "budget-negative",
        A + "budget_usd = -1\n",
        ("budget_usd must be a positive number", "(e.g. budget_usd = 2.5)"),
        line=3,
    ),
    Case(
        "allowed-tools-string",
        A + 'allowed_tools = "Bash"\n',
        ("allowed_tools must be a list of non-empty strings",),
        line=3,
    ),
    Case(
        "permission-mode-typo",
        A + 'permission_mode = "acceptEdit"\n',
        ("permission_mode 'acceptEdit' is not one of", "(did you mean 'acceptEdits'?)"),
        line=3,
    ),
    Case(
        "unknown-agent",
        A + 'agent = "claud"\n',
        ("unknown agent 'claud'", "(did you mean 'claude'?)"),
        line=3,
    ),
    Case(
        "shell-without-run",
        '[tasks.a]\nagent = "shell"\n',
        ("task 'a' uses the shell agent but has no run command", 'add run = "..."'),
        line=1,
    ),
    Case(
        "run-on-claude-task",
        A + 'run = "make"\n',
        ("task 'a' sets run, which only the shell agent uses", 'set agent = "shell"'),
        line=3,
    ),
    Case(
        "base-does-not-resolve",
        'name = "p"\nbase = "no-such-branch"\n' + A,
        (
            "base 'no-such-branch' does not resolve to a commit in this repository",
            "(name an existing branch, tag or commit)",
        ),
        line=2,
    ),
    Case(
        "base-option-like",
        'base = "-x"\n' + A,
        ("base '-x' looks like an option", "(name a branch or commit)"),
        line=1,
    ),
    Case(
        "model-option-like",
        A + 'model = "--evil"\n',
        ("model '--evil' looks like an option", "(remove the leading '-')"),
        line=3,
    ),
    Case(
        "no-tasks",
        'name = "empty"\n',
        (f"error: {PLAN}: the plan has no tasks", "(add at least one [tasks.<id>] table"),
    ),
    Case(
        "several-problems",
        SEVERAL,
        (
            f"{PLAN}:1: unknown key 'max_worker'",
            f"{PLAN}:3: timeout 'soon' is not a duration",
            f"{PLAN}:4: task id 'a/b' is not a safe id",
            f"{PLAN}:8: task 'api' depends on unknown task 'modles'",
            f"{PLAN}:11: permission_mode 'acceptEdit' is not one of",
        ),
        count=5,
    ),
]


def _write(repo: Path, plan: str, files: dict[str, str]) -> None:
    (repo / PLAN).write_text(plan, encoding="utf-8")
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _snapshot(repo: Path) -> tuple[dict[str, str], str]:
    return refs(repo), git(repo, "worktree", "list", "--porcelain")


def _assert_untouched(repo: Path, before: tuple[dict[str, str], str]) -> None:
    assert _snapshot(repo) == before
    assert not (repo / ".git" / "po" / "worktrees").exists()
    assert not worktree_root(repo).exists()
    assert not (repo / ".git" / "worktrees").exists()


def _assert_plan_rejected(result: PoResult, case: Case) -> None:
    assert result.code == 2, result
    assert result.out == "", result
    lines = result.err.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    for line in errors:
        m = _ERROR_LINE.match(line)
        assert m is not None and m.group("file") == PLAN, line
    summary = _SUMMARY.match(lines[-1]) if lines else None
    assert summary is not None, result
    assert int(summary.group(1)) == case.count == len(errors), result
    assert len(lines) == len(errors) + 1, result  # nothing else is printed
    for text in case.expect:
        assert text in result.err, (text, result)
    if case.line is not None:
        assert f"error: {PLAN}:{case.line}: " in result.err, result
        first = next(line for line in errors if case.expect[0] in line)
        assert first.startswith(f"error: {PLAN}:{case.line}: "), first
    if case.expect_any:
        assert any(text in result.err for text in case.expect_any), result


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_plan_is_rejected_and_nothing_is_written(repo: Path, case: Case) -> None:
    _write(repo, case.plan, case.files)
    before = _snapshot(repo)
    for extra in (("--dry-run",), ()):
        result = run_po(repo, "start", PLAN, *extra)
        _assert_plan_rejected(result, case)
        _assert_untouched(repo, before)


def test_base_problem_reported_with_the_other_problems(repo: Path) -> None:
    _write(repo, 'base = "no-such-branch"\n[tasks.a]\nprompt = "x"\nretries = -1\n', {})
    result = run_po(repo, "start", PLAN, "--dry-run")
    assert result.code == 2, result
    assert "base 'no-such-branch' does not resolve" in result.err, result
    assert "retries must be a whole number >= 0" in result.err, result
    assert "the plan has 2 problems" in result.err, result


def test_id_with_trailing_newline_is_rejected(repo: Path) -> None:
    _write(repo, '[tasks."a\\n"]\nprompt = "x"\n', {})
    before = _snapshot(repo)
    for extra in (("--dry-run",), ()):
        result = run_po(repo, "start", PLAN, *extra, "--no-live")
        assert result.code == 2, result
        assert "task id 'a\\n'" in result.err, result
        _assert_untouched(repo, before)


def test_plan_file_that_does_not_exist(repo: Path) -> None:
    before = _snapshot(repo)
    result = run_po(repo, "start", "missing.toml")
    assert result.code == 2, result
    assert "error: missing.toml: plan file not found (check the path)" in result.err, result
    assert "git po: the plan has 1 problem; nothing was written" in result.err, result
    _assert_untouched(repo, before)


GOOD_PLAN = (
    '[tasks.a]\nprompt = "x"\nwrites = ["src/**"]\n'
    '[tasks.b]\nprompt = "x"\ndepends_on = ["a"]\n'
    '[tasks.c]\nprompt = "x"\nwrites = ["docs/**"]\n'
    '[tasks.d]\nprompt = "x"\ndepends_on = ["b", "c"]\nwrites = ["src/app.py"]\n'
)


def test_dry_run_prints_the_schedule_and_writes_nothing(repo: Path) -> None:
    # d writes inside a's glob, but d (transitively, through b) depends on a: no overlap
    _write(repo, GOOD_PLAN, {})
    before = _snapshot(repo)
    result = run_po(repo, "start", PLAN, "--dry-run")
    assert result.code == 0, result
    # the plan gives Claude Code no permission to edit or commit: start says so, and only that
    warnings = result.err.splitlines()
    assert len(warnings) == 2 and all(w.startswith("warning: tasks a, b, c, d: ") for w in warnings)
    assert "refuses every file edit" in warnings[0] and "git commit" in warnings[1], result
    out = result.out
    head = git(repo, "rev-parse", "HEAD").strip()
    assert f"plan plan: 4 tasks, base HEAD ({head[:12]}), at most 3 workers" in out, out
    assert "starts first: a, c" in out, out
    assert "critical path (3 tasks): a -> b -> d" in out, out
    waits = {}
    for line in out.splitlines():
        cells = line.split(maxsplit=3)
        if len(cells) == 4 and cells[0] in "abcd":
            waits[cells[0]] = cells[3]
    assert waits == {"a": "(starts at once)", "b": "a", "c": "(starts at once)", "d": "b, c"}
    assert "nothing was written (--dry-run)" in out, out
    _assert_untouched(repo, before)


def test_prompt_file_is_read_relative_to_the_plan(repo: Path) -> None:
    (repo / "plans" / "prompts").mkdir(parents=True)
    (repo / "plans" / "prompts" / "a.md").write_text("do a\n", encoding="utf-8")
    (repo / "plans" / "p.toml").write_text('[tasks.a]\nprompt_file = "prompts/a.md"\n')
    before = _snapshot(repo)
    result = run_po(repo, "start", "plans/p.toml", "--dry-run")
    assert result.code == 0, result
    assert "plan p: 1 tasks" in result.out, result
    _assert_untouched(repo, before)


def test_missing_claude_executable_exits_3_and_writes_nothing(repo: Path) -> None:
    _write(repo, GOOD_PLAN, {})
    before = _snapshot(repo)
    for extra in (("--dry-run",), ()):
        result = run_po(repo, "start", PLAN, "--claude", "/nonexistent/claude", *extra)
        assert result.code == 3, result
        assert "the claude executable was not found (/nonexistent/claude)" in result.err, result
        _assert_untouched(repo, before)
