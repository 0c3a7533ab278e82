"""`git po init`: prepare a repository for git po, idempotently, and `--uninstall` to undo it.

- a commit-msg shim in the repository's hooks directory (core.hooksPath or <common>/hooks) that
  runs git po's protocol check in git po task worktrees only (for commits a person makes there by
  hand; workers get the check through their environment anyway) and then the hook it replaced,
  which is kept beside it as commit-msg.po-legacy and put back by --uninstall;
- log.excludeDecoration=refs/po/* in the repository's config, so git log shows no state refs;
- with --share REMOTE, non-forced fetch refspecs that bring git po's refs into
  refs/po-remotes/REMOTE/ (never over local state; `git po fetch` reconciles them);
- plan.example.toml, a commented example plan, unless it exists.

A hooks directory inside the work tree (husky's .husky, a tracked githooks/) is the user's files:
init writes nothing there, says so, and proposes the one line to add to their own hook.
`--uninstall` leaves nothing behind: the shim (the user's hook put back), the config (empty
sections too), the worker hooks when no plan is recorded, the example plan if untouched.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from git_po import hookinstall, layout, remote
from git_po.errors import StateConflict, UsageError
from git_po.repo import Repo
from git_po.state import list_plans

SHIM_MARKER = "git-po-shim"
LEGACY_SUFFIX = ".po-legacy"
HOOKS = ("commit-msg",)
DECORATION = ("log.excludeDecoration", "refs/po/*")
# what git po init --share installed before 0.3: forced, over local state (removed on sight)
LEGACY_SHARE_REFSPECS = ("+refs/po/*:refs/po/*", "+refs/notes/po:refs/notes/po")


def share_refspecs(name: str) -> list[str]:
    """Non-forced, into the tracking namespace: a plain git fetch never moves local state and
    never fails for a ref the remote lacks (they are globs)."""
    return remote.fetch_refspecs(name, forced=False)


EXAMPLE_PLAN = "plan.example.toml"

SHIM = """#!/bin/sh
# git-po-shim 1: installed by `git po init`; `git po init --uninstall` removes it and puts back
# the hook it replaced, kept beside it as {name}.po-legacy.
#
# In a git po task worktree (its git dir holds a po-task file) this runs git po's commit
# protocol check, <git-common-dir>/po/hooks/commit-msg; then, in every worktree, the hook it
# replaced, whose exit status is ours.
gd=$(git rev-parse --absolute-git-dir 2>/dev/null) || gd=
if [ -n "$gd" ] && [ -f "$gd/po-task" ] && [ -z "${{GIT_PO_HOOK_DEPTH:-}}" ]; then
    common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null) || common=
    check=$common/po/hooks/commit-msg
    if [ -n "$common" ] && [ -f "$check" ] && [ -x "$check" ]; then
        GIT_PO_CHECK_ONLY=1 "$check" "$@" || exit $?
    else
        echo "git po: $check is missing, so the commit protocol was not checked" \\
            "(git po init puts it back)" >&2
    fi
fi
legacy=$0.po-legacy
[ -f "$legacy" ] && [ -x "$legacy" ] && exec "$legacy" "$@"
exit 0
"""

EXAMPLE = """\
# An example plan for git po, written by `git po init` (edit it, or write your own).
#
#     git po start --dry-run plan.example.toml   # check it and see the schedule; writes nothing
#     git po start plan.example.toml             # run it
#
# The format: `man git-po` (THE PLAN); `git po schema` prints a JSON Schema of it for editors.

name = "example"          # namespace in refs and branch names: po/example/<task>
base = "HEAD"             # the revision tasks without dependencies branch from
max_workers = 2           # most agents at once (also --max-workers, git config po.maxWorkers)

[defaults]                # for every task that does not set these itself
permission_mode = "acceptEdits"
allowed_tools = ["Bash(git *)", "Edit", "Write", "Read"]
timeout = "30m"           # a whole attempt
idle_timeout = "10m"      # no output and no new commit for this long
budget_usd = 2.0          # per task, across its attempts (each gets what remains)
# model = "sonnet"

[tasks.overview]
prompt = "Write docs/overview.md: what this project does and how to build and test it."
writes = ["docs/overview.md"]   # the files it owns: tasks that run at once must not overlap

[tasks.changelog]
prompt = "Start CHANGELOG.md with an Unreleased section that links to docs/overview.md."
depends_on = ["overview"] # starts once overview is [COMPLETE], from its branch
writes = ["CHANGELOG.md"]
"""


@dataclass
class InitReport:
    """What init did, one line per thing, for the CLI to print."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.lines.append(text)


def is_shim(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return SHIM_MARKER.encode() in f.read(400)
    except OSError:
        return False


def _write_executable(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.po-tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(path)


def _show(path: Path, repo: Repo) -> str:
    top = repo.workdir
    try:
        return str(path.relative_to(top)) if top is not None else str(path)
    except ValueError:
        return str(path)


def _hooks_dir(repo: Repo) -> Path:
    folder = repo.hooks_dir()
    if folder.resolve() == layout.hooks_dir(repo.common_dir).resolve():
        raise StateConflict(
            f"core.hooksPath points at git po's own worker hooks ({folder})",
            hint="unset core.hooksPath or point it at your own hooks directory",
        )
    return folder


# The line init proposes for a hooks folder inside the work tree (husky and the like): it runs
# git po's protocol check in task worktrees, and nothing when git po's hooks are not there.
PROPOSED_LINE = (
    'c="$(git rev-parse --git-common-dir)/po/hooks/commit-msg"; '
    '[ ! -x "$c" ] || GIT_PO_CHECK_ONLY=1 "$c" "$1" || exit 1'
)


def in_work_tree(repo: Repo, folder: Path) -> bool:
    """Whether folder lies in the user's work tree (not under the git dir): a hooks folder
    there is the user's files (husky's .husky, a tracked githooks/), never git po's to write."""
    top = repo.workdir
    if top is None:
        return False
    where = folder.resolve()
    if where.is_relative_to(repo.common_dir.resolve()) or where.is_relative_to(
        repo.git_dir.resolve()
    ):
        return False
    return where.is_relative_to(top)


def _propose(repo: Repo, folder: Path, report: InitReport) -> None:
    """A hooks folder in the work tree: say what would change there, change nothing."""
    shown = _show(folder, repo)
    tracked = " and tracked" if repo.tracked_under(folder) else ""
    report.add(
        f"hooks: core.hooksPath is {shown}, inside your work tree{tracked}: git po writes "
        "nothing there (workers get the commit protocol check through their environment)"
    )
    name = HOOKS[0]
    if os.path.lexists(folder / name) and is_shim(folder / name):
        report.warnings.append(
            f"{_show(folder / name, repo)} is git po's shim from an earlier init: "
            "git po init --uninstall takes it out"
        )
        return
    report.add(
        f"hooks: to check the protocol for commits made by hand in task worktrees too, add "
        f"this line to your {name} hook (husky: .husky/{name}):"
    )
    report.add(f"    {PROPOSED_LINE}")


def install_hooks(repo: Repo, report: InitReport) -> None:
    hookinstall.install(repo)  # the protocol check the shim runs, in <common>/po/hooks
    folder = _hooks_dir(repo)
    if in_work_tree(repo, folder):
        _propose(repo, folder, report)
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        path = folder / name
        legacy = folder / (name + LEGACY_SUFFIX)
        text = SHIM.format(name=name)
        shown = _show(path, repo)
        if os.path.lexists(path) and is_shim(path):
            if path.read_text() != text or not os.access(path, os.X_OK):
                _write_executable(path, text)
                report.add(f"hook {shown}: updated git po's shim")
            else:
                report.add(f"hook {shown}: git po's shim is installed (unchanged)")
            continue
        if os.path.lexists(path):
            if os.path.lexists(legacy):
                raise StateConflict(
                    f"{path} is not git po's shim, and {legacy} exists too",
                    hint="move one of them away, then run git po init again",
                )
            os.rename(path, legacy)
            _write_executable(path, text)
            report.add(
                f"hook {shown}: installed git po's shim; your hook runs after it, "
                f"kept as {_show(legacy, repo)}"
            )
        else:
            _write_executable(path, text)
            chained = " (it runs the kept " + legacy.name + ")" if legacy.exists() else ""
            report.add(f"hook {shown}: installed git po's shim{chained}")


def uninstall_hooks(repo: Repo, report: InitReport) -> None:
    folder = repo.hooks_dir()
    for name in HOOKS:
        path = folder / name
        legacy = folder / (name + LEGACY_SUFFIX)
        shown = _show(path, repo)
        if os.path.lexists(path) and is_shim(path):
            path.unlink()
            if os.path.lexists(legacy):
                os.rename(legacy, path)
                report.add(f"hook {shown}: removed git po's shim and put your hook back")
            else:
                report.add(f"hook {shown}: removed git po's shim")
        elif os.path.lexists(path):
            if os.path.lexists(legacy):
                report.warnings.append(
                    f"{path} is not git po's shim: left it, and {legacy}, as they are"
                )
            else:
                report.add(f"hook {shown}: not git po's (left as it is)")
        elif os.path.lexists(legacy):
            os.rename(legacy, path)
            report.add(f"hook {shown}: put your hook back from {legacy.name}")
        else:
            report.add(f"hook {shown}: none installed")


def _remove_worker_hooks(repo: Repo, report: InitReport) -> None:
    """<common>/po/hooks, unless a plan is recorded (its workers use them; start puts them
    back anyway), then <common>/po if nothing else is in it."""
    folder = layout.hooks_dir(repo.common_dir)
    if not folder.is_dir():
        return
    if list_plans(repo):
        report.add(
            f"worker hooks: kept {folder} (plans are recorded here; git po clean --all "
            "removes a plan)"
        )
        return
    hookinstall.remove_tree(folder)
    with contextlib.suppress(OSError):
        folder.parent.rmdir()  # only when empty
    report.add(f"worker hooks: removed {folder}")


def _remove_example(repo: Repo, report: InitReport) -> None:
    top = repo.workdir
    if top is None:
        return
    target = top / EXAMPLE_PLAN
    if not target.is_file() or target.is_symlink():
        return
    if target.read_text(errors="replace") != EXAMPLE:
        report.add(f"example plan: {EXAMPLE_PLAN} was edited (kept)")
    elif repo.tracked_under(target):
        report.add(f"example plan: {EXAMPLE_PLAN} is tracked (kept)")
    else:
        target.unlink()
        report.add(f"example plan: removed {EXAMPLE_PLAN} (unchanged since init)")


def _check_remote(repo: Repo, remote: str) -> None:
    if not remote or remote.startswith("-") or repo.config(f"remote.{remote}.url") is None:
        raise UsageError(f"no remote named {remote!r}", hint="see git remote -v")


def init(
    repo: Repo,
    *,
    share: str | None = None,
    example: bool = True,
    uninstall: bool = False,
) -> InitReport:
    report = InitReport()
    key, value = DECORATION
    if share is not None:
        _check_remote(repo, share)
    if uninstall:
        uninstall_hooks(repo, report)
        _remove_worker_hooks(repo, report)
        _remove_example(repo, report)
        if repo.remove_local_config(key, value):
            report.add(f"config: removed {key}={value}")
        if share is not None:
            for spec in [*share_refspecs(share), *LEGACY_SHARE_REFSPECS]:
                if repo.remove_local_config(f"remote.{share}.fetch", spec):
                    report.add(f"remote {share}: no longer fetches {spec}")
        return report

    install_hooks(repo, report)
    if repo.add_local_config(key, value):
        report.add(f"config: set {key}={value} (git log shows no refs/po/ decorations)")
    else:
        report.add(f"config: {key}={value} is set (unchanged)")
    if share is not None:
        for spec in LEGACY_SHARE_REFSPECS:
            if repo.remove_local_config(f"remote.{share}.fetch", spec):
                report.add(f"remote {share}: removed the forced refspec {spec}")
        added = [
            spec
            for spec in share_refspecs(share)
            if repo.add_local_config(f"remote.{share}.fetch", spec)
        ]
        if added:
            report.add(
                f"remote {share}: git fetch now also brings git po's refs into "
                f"{remote.TRACKING}{share}/ (git po fetch {share} takes them in)"
            )
        else:
            report.add(f"remote {share}: already fetches git po's refs (unchanged)")
    if example:
        top = repo.workdir
        if top is not None:
            target = top / EXAMPLE_PLAN
            if os.path.lexists(target):
                report.add(f"example plan: {EXAMPLE_PLAN} exists (unchanged)")
            else:
                target.write_text(EXAMPLE)
                report.add(f"example plan: wrote {EXAMPLE_PLAN}")
    return report
