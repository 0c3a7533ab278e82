"""git po as git runs it: `--git-dir`, `--work-tree`, `GIT_DIR`, `-C`, and `git -c` (which git
hands an extension in GIT_CONFIG_PARAMETERS, and libgit2 does not read), with git's precedence."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from git_po import gitenv
from git_po.errors import UsageError
from tests.conftest import git, run_po
from tests.helpers import run_git_po, start, write_plan

SHELL_PLAN = """
[tasks.t]
agent = "shell"
run = '''
git config core.hooksPath > hooks.txt
git rev-parse --show-toplevel > top.txt
echo "$GIT_DIR" > gitdir.txt
git add -A && git commit -q -m "[COMPLETE] recorded where git points"
'''
"""


def _config(res_out: str) -> dict[str, dict[str, str]]:
    return {s["key"]: s for s in json.loads(res_out)["settings"]}


@pytest.fixture
def other(tmp_path: Path) -> Path:
    """A second repository, the current directory of the commands that name the first one."""
    path = tmp_path / "other"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "commit", "-q", "--allow-empty", "-m", "other")
    return path


@pytest.fixture
def ran(repo: Path, tmp_path: Path) -> Path:
    """repo with a finished one-task plan `shop`."""
    res = start(repo, write_plan(tmp_path, "shop", SHELL_PLAN))
    assert res.code == 0, res
    return repo


# --- which repository ----------------------------------------------------------------------


def test_git_dir_names_the_repository_not_the_current_directory(
    ran: Path, other: Path, tmp_path: Path
) -> None:
    by_option = run_git_po(
        other, tmp_path, "status", "--json", git_args=["--git-dir", str(ran / ".git")]
    )
    by_env = run_git_po(other, tmp_path, "status", "--json", env={"GIT_DIR": str(ran / ".git")})
    in_other = run_git_po(other, tmp_path, "status", "--json")

    assert by_option.code == 0, by_option
    assert json.loads(by_option.out)["plan"] == "shop"
    assert by_env.code == 0 and json.loads(by_env.out)["plan"] == "shop", by_env
    assert json.loads(in_other.out)["plans"] == []  # the current directory's repository


def test_a_relative_git_dir_is_taken_from_the_directory_of_git_c(ran: Path, tmp_path: Path) -> None:
    res = run_git_po(
        tmp_path,
        tmp_path,
        "status",
        "--json",
        git_args=["-C", str(ran.parent), "--git-dir", f"{ran.name}/.git"],
    )

    assert res.code == 0, res
    assert json.loads(res.out)["plan"] == "shop"


def test_git_dir_that_is_no_repository_is_one_line_and_exit_4(other: Path, tmp_path: Path) -> None:
    res = run_git_po(other, tmp_path, "status", git_args=["--git-dir", str(tmp_path / "nothing")])

    assert res.code == 4, res
    assert (
        res.err.splitlines()[0] == f"git po: not a git repository: {tmp_path / 'nothing'} (GIT_DIR)"
    )


def test_a_bare_repository_works_with_a_work_tree_only(tmp_path: Path, repo: Path) -> None:
    bare = tmp_path / "dotfiles.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    tree = tmp_path / "tree"
    tree.mkdir()

    bare_cfg = run_git_po(tree, tmp_path, "status", git_args=["--git-dir", str(bare)])
    with_tree = run_git_po(
        tmp_path, tmp_path, "status", git_args=["--git-dir", str(bare), "--work-tree", str(tree)]
    )
    git(tree, "--git-dir", str(bare), "config", "--unset", "core.bare")
    alone = run_git_po(tree, tmp_path, "status", git_args=["--git-dir", str(bare)])

    # a repository that says it is bare is refused...
    assert bare_cfg.code == 4 and "bare repository" in bare_cfg.err, bare_cfg
    # ...unless a work tree is given
    assert with_tree.code == 6, with_tree
    assert "no plan has been started" in with_tree.err
    # git takes the current directory as the work tree of a GIT_DIR with core.bare unset
    assert alone.code == 6, alone


def test_workers_git_points_at_their_worktree_whatever_git_dir_git_po_got(
    repo: Path, other: Path, tmp_path: Path
) -> None:
    plan = write_plan(tmp_path, "where", SHELL_PLAN)
    res = run_git_po(
        other,
        tmp_path,
        "start",
        str(plan),
        "--no-live",
        git_args=[
            "--git-dir",
            str(repo / ".git"),
            "--work-tree",
            str(repo),
            "-c",
            "core.hooksPath=/nowhere",
        ],
    )

    assert res.code == 0, res
    branch = "po/where/t"
    top = git(repo, "show", f"{branch}:top.txt").strip()
    assert Path(top) != repo and Path(top).name == "t"  # the task's own worktree
    assert git(repo, "show", f"{branch}:gitdir.txt").strip() == ""
    # the worker hooks win over a `git -c core.hooksPath` given to git po
    hooks = git(repo, "show", f"{branch}:hooks.txt").strip()
    assert hooks.endswith(os.path.join("po", "hooks")), hooks
    assert git(other, "log", "--format=%s").splitlines() == ["other"]  # untouched


# --- git -c --------------------------------------------------------------------------------


def test_git_c_wins_over_the_repository_config_and_git_po_config_says_so(
    repo: Path, tmp_path: Path
) -> None:
    git(repo, "config", "po.maxWorkers", "3")
    git(repo, "config", "po.stopGrace", "4")

    res = run_git_po(
        repo,
        tmp_path,
        "config",
        "--json",
        git_args=["-c", "po.maxWorkers=5", "-c", "PO.STOPGRACE=7", "-c", "po.stopGrace=8"],
    )

    assert res.code == 0, res
    settings = _config(res.out)
    assert settings["po.maxWorkers"]["value"] == "5"
    assert settings["po.maxWorkers"]["origin"] == "command line"
    assert settings["po.stopGrace"]["value"] == "8"  # the last -c wins, keys in any case
    text = run_git_po(repo, tmp_path, "config", git_args=["-c", "po.maxWorkers=5"]).out
    assert any(line.split()[:3] == ["po.maxWorkers", "5", "command"] for line in text.splitlines())


def test_git_config_parameters_come_after_git_config_count(repo: Path, tmp_path: Path) -> None:
    env = {
        "GIT_CONFIG_COUNT": "2",
        "GIT_CONFIG_KEY_0": "po.maxWorkers",
        "GIT_CONFIG_VALUE_0": "2",
        "GIT_CONFIG_KEY_1": "po.retries",
        "GIT_CONFIG_VALUE_1": "4",
    }

    res = run_git_po(
        repo, tmp_path, "config", "--json", env=env, git_args=["-c", "po.maxWorkers=6"]
    )

    settings = _config(res.out)
    assert settings["po.maxWorkers"]["value"] == "6"
    assert settings["po.retries"]["value"] == "4"
    assert settings["po.retries"]["origin"] == "command line"


def test_git_c_max_workers_reaches_the_schedule(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "wide", '[tasks.a]\nprompt = "a"\n[tasks.b]\nprompt = "b"\n')

    res = run_git_po(
        repo, tmp_path, "start", str(plan), "--dry-run", git_args=["-c", "po.maxWorkers=1"]
    )

    assert res.code == 0, res
    assert "at most 1 workers" in res.out


def test_git_c_color_ui_decides_colour(ran: Path, tmp_path: Path) -> None:
    git(ran, "config", "color.ui", "always")

    local = run_git_po(ran, tmp_path, "status")
    never = run_git_po(ran, tmp_path, "status", git_args=["-c", "color.ui=never"])
    git(ran, "config", "--unset", "color.ui")
    always = run_git_po(ran, tmp_path, "status", git_args=["-c", "color.ui=always"])

    assert "\x1b[" in local.out, local
    assert "\x1b[" not in never.out, never
    assert "\x1b[" in always.out, always


def test_a_bad_git_config_parameters_is_one_line_and_exit_2(repo: Path, tmp_path: Path) -> None:
    # (git itself refuses to run anything with it: this is an environment set by hand)
    res = run_po(repo, "status", env={"GIT_CONFIG_PARAMETERS": "'po.x'oops"})

    assert res.code == 2, res
    assert res.err.splitlines()[0] == "git po: bogus format in GIT_CONFIG_PARAMETERS"


# --- parsing, against git's own ------------------------------------------------------------


def _git_reads(text: str, tmp_path: Path) -> list[tuple[str, str | None]] | None:
    """What real git makes of GIT_CONFIG_PARAMETERS=text: command-line entries, or None when
    it refuses it."""
    env = {**os.environ, "GIT_CONFIG_PARAMETERS": text}
    proc = subprocess.run(
        ["git", "config", "--list", "-z", "--show-scope"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    fields = proc.stdout.decode().split("\0")
    out: list[tuple[str, str | None]] = []
    for scope, item in zip(fields[0::2], fields[1::2], strict=False):
        if scope == "command":
            key, nl, value = item.partition("\n")
            out.append((key, value if nl else None))
    return out


def _git_writes(tmp_path: Path, *args: str) -> str:
    """The GIT_CONFIG_PARAMETERS real git hands an extension for `git ARGS ext`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    ext = folder / "git-params"
    ext.write_text('#!/bin/sh\nprintf %s "$GIT_CONFIG_PARAMETERS"\n')
    ext.chmod(0o755)
    env = {**os.environ, "PATH": os.pathsep.join([str(folder), os.environ["PATH"]])}
    return subprocess.run(
        ["git", *args, "params"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout


GIT_C_ARGS = [
    ["-c", "po.maxWorkers=5"],
    ["-c", "po.flag"],  # a bare key: true
    ["-c", "po.empty="],
    ["-c", 'po.q=it\'s "quoted" and ! banged'],
    ["-c", "po.eq=a=b=c"],
    ["-c", "Po.Sub.Section.Key=1", "-c", "core.hooksPath=/x y"],
    ["-c", "po.nl=line1\nline2", "-c", "po.tab=\tx "],
    ["--config-env=po.home=HOME"],
]


@pytest.mark.parametrize("args", GIT_C_ARGS, ids=lambda a: " ".join(a))
def test_what_git_c_hands_us_is_read_as_git_reads_it(args: list[str], tmp_path: Path) -> None:
    text = _git_writes(tmp_path, *args)

    mine = [(e.key, e.value) for e in gitenv.parse_parameters(text)]

    assert mine == _git_reads(text, tmp_path)
    assert mine  # git did hand them over


RAW = [
    "'po.old=value with spaces'",  # before git 2.31
    "'po.old'",  # old style bare key
    "'po.a'='1'   'po.b'='2'",
    "  'po.a'='1'",
    "'po.a'=",
    "'po.a'='x'\\''y'",
    "'po.a'='x'\\!'y'",
    "'po.a'x",
    "'po.a'='x'y",
    "po.a=1",
    "'po.a",
    "'.a'='1'",
    "'po.'='1'",
    "'po.1x'='1'",
    "'po'='1'",
    "'p_o.x'='1'",
    "'po.sub.x'='1' 'PO.Sub.X'='2'",
    "''='1'",
    "'po.a'=''",
    "",
]


@pytest.mark.parametrize("text", RAW)
def test_raw_parameters_are_taken_or_refused_as_git_does(text: str, tmp_path: Path) -> None:
    expected = _git_reads(text, tmp_path)

    try:
        mine: list[tuple[str, str | None]] | None = [
            (e.key, e.value) for e in gitenv.parse_parameters(text)
        ]
    except UsageError:
        mine = None

    assert mine == expected


def test_git_config_count_is_read_and_checked_as_git_does() -> None:
    env = {"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "PO.X", "GIT_CONFIG_VALUE_0": "1"}
    env |= {"GIT_CONFIG_KEY_1": "po.y", "GIT_CONFIG_VALUE_1": ""}

    assert [(e.key, e.value) for e in gitenv.parse_count(env)] == [("po.x", "1"), ("po.y", "")]
    for bad in ({"GIT_CONFIG_COUNT": "x"}, {"GIT_CONFIG_COUNT": "1"}):
        with pytest.raises(UsageError):
            gitenv.parse_count(bad)
    assert gitenv.parse_count({"GIT_CONFIG_COUNT": ""}) == []


def test_a_parameter_we_append_is_read_back_by_git(tmp_path: Path) -> None:
    text = gitenv.append_parameter(
        {"GIT_CONFIG_PARAMETERS": "'po.a'='1'"}, "core.hooksPath", "/it's!/x"
    )

    assert _git_reads(text, tmp_path) == [("po.a", "1"), ("core.hookspath", "/it's!/x")]
