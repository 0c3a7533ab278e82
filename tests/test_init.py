"""`git po init` (hook shim that chains the user's hook, log decorations, fetch refspecs, example
plan; idempotent; --uninstall restores) and `git po schema` (a JSON Schema of the plan format)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from git_po import demo, plan
from git_po.initcmd import EXAMPLE_PLAN
from tests.conftest import ROOT, git, run_po
from tests.helpers import fake_env, start, worktree_paths, write_plan

USER_HOOK = (
    '#!/bin/sh\n# the user\'s own hook\necho "user hook: $(head -n1 "$1")" >> "$HOME/hook.log"\n'
)


def _user_hook(repo: Path, folder: Path | None = None) -> Path:
    hooks = folder or repo / ".git" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    path = hooks / "commit-msg"
    path.write_text(USER_HOOK)
    path.chmod(0o750)
    return path


def _commit(cwd: Path, subject: str) -> subprocess.CompletedProcess[str]:
    (cwd / "f.txt").write_text(subject)
    git(cwd, "add", "f.txt")
    return subprocess.run(
        ["git", "commit", "-q", "-m", subject], cwd=cwd, capture_output=True, text=True
    )


def _hook_log(home: Path) -> list[str]:
    log = home / "hook.log"
    return log.read_text().splitlines() if log.exists() else []


def test_init_sets_up_a_repository_idempotently(repo: Path) -> None:
    res = run_po(repo, "init")
    assert res.code == 0, res
    shim = repo / ".git" / "hooks" / "commit-msg"
    assert "git-po-shim" in shim.read_text()
    assert os.access(shim, os.X_OK)
    assert git(repo, "config", "--get-all", "log.excludeDecoration").split() == ["refs/po/*"]
    example = repo / EXAMPLE_PLAN
    assert example.exists()
    assert "example plan: wrote plan.example.toml" in res.out

    before = {p.name: p.read_bytes() for p in (repo / ".git" / "hooks").iterdir()}
    config_before = (repo / ".git" / "config").read_text()
    again = run_po(repo, "init")
    assert again.code == 0, again
    assert "unchanged" in again.out
    assert {p.name: p.read_bytes() for p in (repo / ".git" / "hooks").iterdir()} == before
    assert (repo / ".git" / "config").read_text() == config_before


def test_example_plan_is_valid_and_starts(repo: Path, tmp_path: Path) -> None:
    assert run_po(repo, "init").code == 0
    text = (repo / EXAMPLE_PLAN).read_text()
    parsed = plan.parse_plan(text, EXAMPLE_PLAN, lambda rel: None, default_name="x")
    assert parsed.name == "example" and len(parsed.tasks) == 2
    res = start(repo, repo / EXAMPLE_PLAN, "--dry-run")  # the fake claude is on PATH
    assert res.code == 0, res
    assert "plan is valid" in res.out
    (repo / EXAMPLE_PLAN).write_text("# mine\n")
    assert run_po(repo, "init").code == 0
    assert (repo / EXAMPLE_PLAN).read_text() == "# mine\n"  # never overwritten
    other = tmp_path / "other"
    git(tmp_path, "init", "-q", "-b", "main", str(other))
    assert run_po(other, "init", "--no-example").code == 0
    assert not (other / EXAMPLE_PLAN).exists()


def test_init_keeps_and_chains_the_users_hook_and_uninstall_restores_it(
    repo: Path, sealed_env: Path
) -> None:
    hook = _user_hook(repo)
    mode = stat.S_IMODE(hook.stat().st_mode)
    res = run_po(repo, "init", "--no-example")
    assert res.code == 0, res
    legacy = repo / ".git" / "hooks" / "commit-msg.po-legacy"
    assert legacy.read_text() == USER_HOOK
    assert "kept as .git/hooks/commit-msg.po-legacy" in res.out

    # outside task worktrees: no protocol check, and the user's hook still runs
    done = _commit(repo, "an ordinary commit")
    assert done.returncode == 0, done.stderr
    assert _hook_log(sealed_env) == ["user hook: an ordinary commit"]

    res = run_po(repo, "init", "--uninstall")
    assert res.code == 0, res
    assert "put your hook back" in res.out
    assert hook.read_text() == USER_HOOK
    assert stat.S_IMODE(hook.stat().st_mode) == mode
    assert not legacy.exists()
    assert git(repo, "config", "--get-all", "log.excludeDecoration", check=False) == ""
    again = run_po(repo, "init", "--uninstall")
    assert again.code == 0 and hook.read_text() == USER_HOOK


def test_shim_checks_the_protocol_in_task_worktrees(
    repo: Path, tmp_path: Path, sealed_env: Path
) -> None:
    _user_hook(repo)
    plan_file = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan_file, env=fake_env(tmp_path)).code == 0
    assert run_po(repo, "init", "--no-example").code == 0
    (worktree,) = worktree_paths(repo)
    bad = _commit(worktree, "fixed a typo")
    assert bad.returncode != 0
    assert "protocol prefix" in bad.stderr and "[CHECKPOINT] <summary>" in bad.stderr
    good = _commit(worktree, "[CHECKPOINT] fixed a typo by hand")
    assert good.returncode == 0, good.stderr
    # the user's hook ran once for the good commit (the rejected one stopped before it)
    assert _hook_log(sealed_env)[-1] == "user hook: [CHECKPOINT] fixed a typo by hand"
    assert _hook_log(sealed_env).count("user hook: fixed a typo") == 0


def test_init_uses_core_hookspath(repo: Path, tmp_path: Path) -> None:
    mine = tmp_path / "my-hooks"
    _user_hook(repo, mine)
    git(repo, "config", "core.hooksPath", str(mine))
    assert run_po(repo, "init", "--no-example").code == 0
    assert "git-po-shim" in (mine / "commit-msg").read_text()
    assert (mine / "commit-msg.po-legacy").read_text() == USER_HOOK
    assert not (repo / ".git" / "hooks" / "commit-msg").exists()


def test_init_refuses_when_it_would_lose_a_hook(repo: Path) -> None:
    _user_hook(repo)
    (repo / ".git" / "hooks" / "commit-msg.po-legacy").write_text("#!/bin/sh\nexit 0\n")
    res = run_po(repo, "init", "--no-example")
    assert res.code == 5, res
    assert (repo / ".git" / "hooks" / "commit-msg").read_text() == USER_HOOK


def test_init_hides_state_refs_from_log_decorations(repo: Path, tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan_file, env=fake_env(tmp_path)).code == 0
    # git 2.39+ decorates only branches, tags and HEAD unless told "all"; older ones all refs
    log = ["-c", "log.initialDecorationSet=all", "log", "--all", "--decorate=full", "--format=%D"]
    assert "refs/po/" in git(repo, *log)
    assert run_po(repo, "init", "--no-example").code == 0
    shown = git(repo, *log)
    assert "refs/po/" not in shown
    assert "refs/heads/po/p/a" in shown  # task branches stay visible


def test_init_share_adds_fetch_refspecs_once(repo: Path, tmp_path: Path) -> None:
    plan_file = write_plan(tmp_path, "p", '[tasks.a]\nprompt = "Do a."\n')
    assert start(repo, plan_file, env=fake_env(tmp_path)).code == 0
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "push", "-q", str(remote), "refs/po/*:refs/po/*", "refs/notes/po:refs/notes/po")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))

    assert run_po(clone, "init", "--share", "nosuch").code == 2
    for _ in range(2):
        res = run_po(clone, "init", "--share", "origin", "--no-example")
        assert res.code == 0, res
    fetch = git(clone, "config", "--get-all", "remote.origin.fetch").split()
    assert fetch == [
        "+refs/heads/*:refs/remotes/origin/*",
        "refs/po/*:refs/po-remotes/origin/po/*",
        "refs/heads/po/*:refs/po-remotes/origin/heads/po/*",
        "refs/notes/po*:refs/po-remotes/origin/notes/po*",
    ]
    git(clone, "fetch", "-q", "origin")  # a plain fetch brings them aside, never over state
    assert git(clone, "rev-parse", "refs/po-remotes/origin/po/p/tasks/a") == git(
        repo, "rev-parse", "refs/po/p/tasks/a"
    )
    assert run_po(clone, "status", "p").code == 6  # not taken in yet
    assert run_po(clone, "fetch", "origin").code == 0
    assert git(clone, "rev-parse", "refs/po/p/tasks/a") == git(
        repo, "rev-parse", "refs/po/p/tasks/a"
    )
    assert git(clone, "rev-parse", "refs/notes/po") == git(repo, "rev-parse", "refs/notes/po")
    res = run_po(clone, "init", "--uninstall", "--share", "origin")
    assert res.code == 0, res
    assert git(clone, "config", "--get-all", "remote.origin.fetch").split() == [
        "+refs/heads/*:refs/remotes/origin/*"
    ]


def test_init_share_replaces_forced_refspecs_and_fetch_works_without_notes(
    repo: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "config", "--add", "remote.origin.fetch", "+refs/po/*:refs/po/*")
    res = run_po(repo, "init", "--share", "origin", "--no-example")
    assert res.code == 0, res
    assert "removed the forced refspec +refs/po/*:refs/po/*" in res.out
    assert "+refs/po/*:refs/po/*" not in git(repo, "config", "--get-all", "remote.origin.fetch")
    git(repo, "fetch", "-q", "origin")  # the remote has no git po refs and no notes: no error


# --- git po schema ------------------------------------------------------------------------------


class Invalid(Exception):
    pass


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], where: str = "$") -> None:
    """A validator for the part of JSON Schema 2020-12 that `git po schema` uses."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        validate(value, root["$defs"][name], root, where)
    types: dict[str, type | tuple[type, ...]] = {
        "object": dict,
        "array": list,
        "string": str,
        "integer": int,
        "number": (int, float),
        "boolean": bool,
    }
    if "type" in schema:
        want = types[schema["type"]]
        if not isinstance(value, want) or (isinstance(value, bool) and schema["type"] != "boolean"):
            raise Invalid(f"{where}: not a {schema['type']}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise Invalid(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1e9):
            raise Invalid(f"{where}: bad length")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise Invalid(f"{where}: below minimum")
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            raise Invalid(f"{where}: not above exclusiveMinimum")
    if "not" in schema:
        try:
            validate(value, schema["not"], root, where)
        except Invalid:
            pass
        else:
            raise Invalid(f"{where}: matches 'not'")
    for key in ("anyOf", "oneOf"):
        if key in schema:
            ok = 0
            for sub in schema[key]:
                try:
                    validate(value, sub, root, where)
                    ok += 1
                except Invalid:
                    pass
            if ok == 0 or (key == "oneOf" and ok > 1):
                raise Invalid(f"{where}: {key} matched {ok}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        for req in schema.get("required", []):
            if req not in value:
                raise Invalid(f"{where}: {req} is required")
        if len(value) < schema.get("minProperties", 0):
            raise Invalid(f"{where}: too few properties")
        props = schema.get("properties", {})
        for key, item in value.items():
            if "propertyNames" in schema:
                validate(key, schema["propertyNames"], root, f"{where}.{key}(name)")
            if key in props:
                validate(item, props[key], root, f"{where}.{key}")
            elif schema.get("additionalProperties") is False:
                raise Invalid(f"{where}: unknown key {key!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(item, schema["additionalProperties"], root, f"{where}.{key}")


@pytest.fixture(scope="module")
def plan_schema() -> dict[str, Any]:
    res = run_po(ROOT, "schema")
    assert res.code == 0, res
    data: dict[str, Any] = json.loads(res.out)
    return data


def _readme_plan() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"```toml\n# plan.toml\n(.*?)```", text, re.S)
    assert m, "README has no plan example"
    return m.group(1)


def test_schema_is_draft_2020_12_and_knows_every_plan_key(plan_schema: dict[str, Any]) -> None:
    assert plan_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    props = plan_schema["properties"]
    assert set(props) == set(plan.TOP_KEYS)
    assert set(props["defaults"]["properties"]) == set(plan.DEFAULT_KEYS)
    assert set(plan_schema["$defs"]["task"]["properties"]) == set(plan.TASK_KEYS)
    assert props["agent"]["examples"] == list(plan.AGENTS)


@pytest.mark.parametrize("source", ["demo", "readme", "example"])
def test_schema_accepts_the_shipped_plans(plan_schema: dict[str, Any], source: str) -> None:
    from git_po.initcmd import EXAMPLE

    text = {"demo": demo.PLAN, "readme": _readme_plan(), "example": EXAMPLE}[source]
    validate(tomllib.loads(text), plan_schema, plan_schema)


@pytest.mark.parametrize(
    "text",
    [
        'nmae = "x"\n[tasks.a]\nprompt = "p"\n',  # unknown top-level key
        '[tasks.a]\nprompt = "p"\nwrties = ["x"]\n',  # unknown task key
        '[defaults]\nprompt = "p"\n[tasks.a]\nprompt = "p"\n',  # prompt is per task
        '[tasks."a b"]\nprompt = "p"\n',  # not a safe id
        '[tasks.a]\nprompt = "p"\ntimeout = "soon"\n',  # not a duration
        '[tasks.a]\nprompt = "p"\nagent = "-robot"\n',
        '[tasks.a]\ndepends_on = ["b"]\n',  # no prompt, prompt_file or run
        'max_workers = 0\n[tasks.a]\nprompt = "p"\n',
    ],
)
def test_schema_rejects_what_the_parser_rejects(plan_schema: dict[str, Any], text: str) -> None:
    with pytest.raises(Invalid):
        validate(tomllib.loads(text), plan_schema, plan_schema)
