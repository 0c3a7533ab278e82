"""The commit-msg hook (hooks/commit-msg), exercised through real git commits.

Each test installs the hook the way the orchestrator does: a copy in <common>/po/hooks/, a
po-orig-hooks-dir file next to it naming the repository's usual hooks directory, a po-task marker
in the worker worktree's git dir, and core.hooksPath handed to git through GIT_CONFIG_COUNT.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, git

HOOK = ROOT / "hooks" / "commit-msg"

FORMS = (
    "[CHECKPOINT] <summary>",
    "[BLOCKED:<reason>] <summary>",
    "[NEEDS:<task>/<item>] <summary>",
    "[COMPLETE] <summary>",
)

SCISSORS = "------------------------ >8 ------------------------"


@dataclass
class Po:
    main: Path  # the main checkout (not a git po worktree)
    worktree: Path  # the worker's linked worktree, marked with po-task
    common: Path  # <git-common-dir>
    hooks: Path  # <git-common-dir>/po/hooks, where the hook is installed


def _abs_git_path(cwd: Path, what: str) -> Path:
    return Path(git(cwd, "rev-parse", "--path-format=absolute", what).strip())


def install(repo: Path, worktree: Path, orig_dir: Path | None = None) -> Po:
    """Set up a worker worktree and the hook exactly as the orchestrator would."""
    git(repo, "worktree", "add", "-q", "-b", "po/shop/api", str(worktree))
    (_abs_git_path(worktree, "--git-dir") / "po-task").write_text("shop/api\n")
    common = _abs_git_path(repo, "--git-common-dir")
    hooks = common / "po" / "hooks"
    hooks.mkdir(parents=True)
    shutil.copy2(HOOK, hooks / "commit-msg")
    if orig_dir is None:
        orig_dir = common / "hooks"
    (hooks / "po-orig-hooks-dir").write_text(f"{orig_dir}\n")
    return Po(main=repo, worktree=worktree, common=common, hooks=hooks)


@pytest.fixture
def po(repo: Path, tmp_path: Path) -> Po:
    return install(repo, tmp_path / "wt")


def commit(po: Po, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`git commit --allow-empty ARGS` in cwd, with the hooks path set like a worker gets it."""
    env = dict(os.environ)
    env.update(
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="core.hooksPath",
        GIT_CONFIG_VALUE_0=str(po.hooks),
    )
    return subprocess.run(
        ["git", "commit", "-q", "--allow-empty", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def head(cwd: Path) -> str:
    return git(cwd, "rev-parse", "HEAD").strip()


def message(cwd: Path) -> str:
    return git(cwd, "log", "-1", "--format=%B")


def user_hook(directory: Path, body: str) -> Path:
    """Write an executable commit-msg hook (sh) into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "commit-msg"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


APPEND_TRAILER = "printf '\\nHooked-By: user\\n' >> \"$1\"\n"
REJECT_WIP = 'if grep -q WIP "$1"; then echo "user hook: no WIP please" >&2; exit 3; fi\n'


def assert_rejected(po: Po, proc: subprocess.CompletedProcess[str], before: str) -> None:
    assert proc.returncode != 0, proc
    assert head(po.worktree) == before
    for form in FORMS:
        assert form in proc.stderr
    assert "shop/api" in proc.stderr


# --- the protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "[CHECKPOINT] add Order model",
        "[BLOCKED:which database?] pick storage",
        "[NEEDS:shop.db-2/schema v2] wait for the schema",
        "[COMPLETE] api done",
    ],
)
def test_valid_subjects_are_accepted(po: Po, subject: str) -> None:
    before = head(po.worktree)
    proc = commit(po, po.worktree, "-m", subject, "-m", "a body line")
    assert proc.returncode == 0, proc
    assert head(po.worktree) != before
    assert message(po.worktree).splitlines()[0] == subject


@pytest.mark.parametrize(
    "subject",
    [
        "fix stuff",
        "[CHECKPOINT]",
        "[CHECKPOINT] ",
        "[CHECKPOINT]x",
        "[BLOCKED:] x",
        "[BLOCKED:why]",
        "[NEEDS:api] x",
        "[NEEDS:api/] x",
        "[NEEDS:../x/y] z",
        "[complete] x",
        " [COMPLETE] leading space",
        "WIP [COMPLETE] x",
    ],
)
def test_invalid_subjects_are_rejected(po: Po, subject: str) -> None:
    before = head(po.worktree)
    proc = commit(po, po.worktree, "-m", subject)
    assert_rejected(po, proc, before)
    assert "commit rejected" in proc.stderr
    assert f'subject was: "{subject.rstrip()}"' in proc.stderr


def test_empty_message_is_rejected(po: Po) -> None:
    before = head(po.worktree)
    proc = commit(po, po.worktree, "--allow-empty-message", "-m", "")
    assert_rejected(po, proc, before)


def test_hooks_path_given_with_dash_c_works_too(po: Po) -> None:
    for subject, ok in (("[CHECKPOINT] one", True), ("two", False)):
        proc = subprocess.run(
            [
                "git",
                "-c",
                f"core.hooksPath={po.hooks}",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                subject,
            ],
            cwd=po.worktree,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert (proc.returncode == 0) is ok, proc
    assert message(po.worktree).strip() == "[CHECKPOINT] one"


def test_leading_comments_and_blank_lines_are_skipped(po: Po, tmp_path: Path) -> None:
    msg = tmp_path / "msg"
    msg.write_text("# a note to self\n\n   \t\n#another\n[CHECKPOINT] real subject\n\nbody\n")
    proc = commit(po, po.worktree, "--cleanup=strip", "-F", str(msg))
    assert proc.returncode == 0, proc
    assert message(po.worktree).splitlines()[0] == "[CHECKPOINT] real subject"


def test_a_prefix_inside_a_comment_does_not_count(po: Po, tmp_path: Path) -> None:
    msg = tmp_path / "msg"
    msg.write_text("# [CHECKPOINT] looks right\nfix stuff\n")
    before = head(po.worktree)
    proc = commit(po, po.worktree, "--cleanup=strip", "-F", str(msg))
    assert_rejected(po, proc, before)
    assert 'subject was: "fix stuff"' in proc.stderr


def test_core_comment_char_is_honoured(po: Po, tmp_path: Path) -> None:
    git(po.main, "config", "core.commentChar", ";")
    msg = tmp_path / "msg"
    msg.write_text("; a comment\n[COMPLETE] done\n")
    proc = commit(po, po.worktree, "--cleanup=strip", "-F", str(msg))
    assert proc.returncode == 0, proc
    assert message(po.worktree).strip() == "[COMPLETE] done"
    # with ';' as comment character, a '#' line is the subject
    msg.write_text("# not a comment now\n[COMPLETE] done\n")
    before = head(po.worktree)
    proc = commit(po, po.worktree, "--cleanup=strip", "-F", str(msg))
    assert_rejected(po, proc, before)
    assert 'subject was: "# not a comment now"' in proc.stderr


def test_comment_char_auto_means_hash(po: Po, tmp_path: Path) -> None:
    git(po.main, "config", "core.commentChar", "auto")
    msg = tmp_path / "msg"
    msg.write_text("# a comment\n[CHECKPOINT] step\n")
    proc = commit(po, po.worktree, "-F", str(msg))
    assert proc.returncode == 0, proc
    before = head(po.worktree)
    msg.write_text("# a comment\nfix stuff\n")
    proc = commit(po, po.worktree, "-F", str(msg))
    assert_rejected(po, proc, before)
    assert 'subject was: "fix stuff"' in proc.stderr


def test_lines_after_the_scissors_are_ignored(po: Po, tmp_path: Path) -> None:
    msg = tmp_path / "msg"
    msg.write_text(f"\n# {SCISSORS}\n[CHECKPOINT] below the cut\n")
    before = head(po.worktree)
    proc = commit(po, po.worktree, "--cleanup=scissors", "-F", str(msg))
    assert proc.returncode != 0, proc
    assert head(po.worktree) == before


# --- outside git po worktrees --------------------------------------------------------------------


def test_main_checkout_accepts_any_subject(po: Po) -> None:
    proc = commit(po, po.main, "-m", "fix stuff")
    assert proc.returncode == 0, proc
    assert message(po.main).strip() == "fix stuff"


def test_unmarked_worktree_accepts_any_subject(po: Po, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(po.main, "worktree", "add", "-q", "-b", "feature", str(other))
    proc = commit(po, other, "-m", "just a commit")
    assert proc.returncode == 0, proc
    assert message(other).strip() == "just a commit"


# --- chaining to the user's own hook -----------------------------------------------------------


@pytest.mark.parametrize("where", ["worktree", "main"])
def test_user_hook_still_runs(po: Po, where: str) -> None:
    user_hook(po.common / "hooks", APPEND_TRAILER)
    cwd = po.worktree if where == "worktree" else po.main
    proc = commit(po, cwd, "-m", "[CHECKPOINT] with trailer")
    assert proc.returncode == 0, proc
    assert "Hooked-By: user" in message(cwd)


@pytest.mark.parametrize("where", ["worktree", "main"])
def test_user_hook_rejection_is_respected(po: Po, where: str) -> None:
    user_hook(po.common / "hooks", REJECT_WIP)
    cwd = po.worktree if where == "worktree" else po.main
    before = head(cwd)
    proc = commit(po, cwd, "-m", "[CHECKPOINT] WIP half done")
    assert proc.returncode != 0, proc
    assert "user hook: no WIP please" in proc.stderr
    assert head(cwd) == before
    proc = commit(po, cwd, "-m", "[CHECKPOINT] all good")
    assert proc.returncode == 0, proc


def test_protocol_rejection_does_not_run_the_user_hook(po: Po, tmp_path: Path) -> None:
    ran = tmp_path / "ran"
    user_hook(po.common / "hooks", f"touch '{ran}'\n")
    proc = commit(po, po.worktree, "-m", "fix stuff")
    assert proc.returncode != 0
    assert not ran.exists()
    proc = commit(po, po.worktree, "-m", "[CHECKPOINT] fine")
    assert proc.returncode == 0, proc
    assert ran.exists()


def test_user_hook_receives_the_message_file(po: Po, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    user_hook(po.common / "hooks", f"cat \"$1\" > '{seen}'\necho \"$#\" >> '{seen}'\n")
    proc = commit(po, po.worktree, "-m", "[COMPLETE] done")
    assert proc.returncode == 0, proc
    assert seen.read_text() == "[COMPLETE] done\n1\n"


def test_user_hooks_path_is_chained(repo: Path, tmp_path: Path) -> None:
    user_dir = tmp_path / "my hooks"
    user_hook(user_dir, APPEND_TRAILER + REJECT_WIP)
    git(repo, "config", "core.hooksPath", str(user_dir))
    po = install(repo, tmp_path / "wt", orig_dir=user_dir)
    for cwd in (po.worktree, po.main):
        proc = commit(po, cwd, "-m", "[NEEDS:db/schema] waiting")
        assert proc.returncode == 0, proc
        assert "Hooked-By: user" in message(cwd)
        proc = commit(po, cwd, "-m", "[CHECKPOINT] WIP")
        assert proc.returncode != 0
        assert "no WIP please" in proc.stderr
    # the po hooks path given to the worker wins over the repository's own core.hooksPath
    proc = commit(po, po.worktree, "-m", "no prefix")
    assert proc.returncode != 0
    assert "commit rejected" in proc.stderr


def test_non_executable_user_hook_is_not_run(po: Po) -> None:
    path = user_hook(po.common / "hooks", "exit 1\n")
    path.chmod(0o644)
    proc = commit(po, po.worktree, "-m", "[CHECKPOINT] fine")
    assert proc.returncode == 0, proc


def test_missing_or_empty_orig_file_means_nothing_to_chain(po: Po) -> None:
    user_hook(po.common / "hooks", "exit 1\n")
    orig = po.hooks / "po-orig-hooks-dir"
    orig.write_text("")
    assert commit(po, po.worktree, "-m", "[CHECKPOINT] one").returncode == 0
    orig.unlink()
    assert commit(po, po.worktree, "-m", "[CHECKPOINT] two").returncode == 0
    assert commit(po, po.main, "-m", "anything").returncode == 0


@pytest.mark.parametrize("how", ["same", "symlink", "dotdot"])
def test_no_recursion_when_orig_dir_is_the_po_hooks_dir(po: Po, tmp_path: Path, how: str) -> None:
    if how == "same":
        orig = po.hooks
    elif how == "symlink":
        orig = tmp_path / "link to po hooks"
        orig.symlink_to(po.hooks, target_is_directory=True)
    else:
        orig = po.hooks / ".." / "hooks"
    (po.hooks / "po-orig-hooks-dir").write_text(f"{orig}\n")
    assert commit(po, po.worktree, "-m", "[CHECKPOINT] fine").returncode == 0
    assert commit(po, po.main, "-m", "anything").returncode == 0
    proc = commit(po, po.worktree, "-m", "bad")
    assert proc.returncode != 0
    assert proc.stderr.count("commit rejected") == 1


def test_no_endless_loop_between_two_po_hook_dirs(po: Po, tmp_path: Path) -> None:
    other = tmp_path / "other po hooks"
    other.mkdir()
    shutil.copy2(HOOK, other / "commit-msg")
    (other / "po-orig-hooks-dir").write_text(f"{po.hooks}\n")
    (po.hooks / "po-orig-hooks-dir").write_text(f"{other}\n")
    proc = commit(po, po.main, "-m", "anything")
    assert proc.returncode == 0, proc
    assert "chain to each other" in proc.stderr


# --- portability -------------------------------------------------------------------------------


def test_paths_with_spaces(tmp_path: Path) -> None:
    base = tmp_path / "a dir with spaces"
    main = base / "my repo"
    main.mkdir(parents=True)
    git(main, "init", "-q", "-b", "main")
    git(main, "commit", "-q", "--allow-empty", "-m", "initial")
    user_dir = base / "user hooks"
    user_hook(user_dir, APPEND_TRAILER)
    po = install(main, base / "work tree", orig_dir=user_dir)
    assert " " in str(po.hooks) and " " in str(po.worktree)
    proc = commit(po, po.worktree, "-m", "[BLOCKED:need a key] cannot call the API")
    assert proc.returncode == 0, proc
    assert "Hooked-By: user" in message(po.worktree)
    before = head(po.worktree)
    proc = commit(po, po.worktree, "-m", "nope")
    assert_rejected(po, proc, before)
    proc = commit(po, po.main, "-m", "nope")
    assert proc.returncode == 0, proc
    assert "Hooked-By: user" in message(po.main)


def test_hook_is_an_executable_posix_sh_script() -> None:
    assert HOOK.read_text().startswith("#!/bin/sh\n")
    assert os.access(HOOK, os.X_OK)
    proc = subprocess.run(["sh", "-n", str(HOOK)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


BASHISMS = (
    r"\[\[\s",  # [[ ... ]]
    r"\s==\s",  # == in test
    r"^\s*function\s",
    r"^\s*local\s",
    r"(^|[\s=(])\$'",  # $'...' quoting
    r"<<<",
    r"^\s*source\s",
    r"\$\{!",  # indirect expansion
    r"\$\{[^}]*//",  # ${var//pattern/repl}
    r"\$\{[A-Za-z_]+:[0-9]",  # ${var:offset}
    r"pipefail",
    r"\bdeclare\b",
    r"\$RANDOM",
    r"&>",
    r"\becho\s+-[neE]\b",
)


def test_hook_has_no_obvious_bashisms() -> None:
    for number, line in enumerate(HOOK.read_text().splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue
        for pattern in BASHISMS:
            assert not re.search(pattern, line), f"line {number}: {line!r} matches {pattern}"


DASH = shutil.which("dash")
SHELLS = {
    "dash": [DASH] if DASH else None,
    "bin-sh": ["/bin/sh"],
    "shebang": [],  # executed directly, as git does
    "bash-posix": ["bash", "--posix"] if shutil.which("bash") else None,
}


def test_bin_sh_is_dash_here() -> None:
    """On Debian /bin/sh is dash, so every real-commit test above runs the hook under dash."""
    if not Path("/etc/debian_version").exists():
        pytest.skip("not a Debian system")
    assert DASH is not None
    assert Path("/bin/sh").resolve() == Path(DASH).resolve()


@pytest.mark.skipif(DASH is None, reason="dash is not installed")
def test_dash_syntax_check() -> None:
    assert DASH is not None
    proc = subprocess.run([DASH, "-n", str(HOOK)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("shell", list(SHELLS))
def test_hook_runs_directly_under_each_shell(po: Po, tmp_path: Path, shell: str) -> None:
    argv = SHELLS[shell]
    if argv is None:
        pytest.skip(f"{shell} is not available")
    user_hook(po.common / "hooks", APPEND_TRAILER)
    hook = str(po.hooks / "commit-msg")
    msg = tmp_path / "msg"
    cases = [
        ("[CHECKPOINT] fine\n", 0),
        ("\n# c\n[COMPLETE] done", 0),  # no final newline
        ("[NEEDS:a/b] c\r\n", 0),  # CRLF
        ("fix stuff\n", 1),
        ("[NEEDS:api] x\n", 1),
    ]
    for text, expected in cases:
        for cwd, want in ((po.worktree, expected), (po.main, 0)):
            msg.write_bytes(text.encode())
            proc = subprocess.run(
                [*argv, hook, str(msg)],
                cwd=cwd,
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            assert proc.returncode == want, (text, cwd, proc)
            # accepted messages went on to the user's hook, rejected ones did not
            assert ("Hooked-By: user" in msg.read_text()) is (want == 0), (text, cwd)
