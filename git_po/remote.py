"""Talking to a git remote: list, fetch and push refs with the git command (the transports,
credentials and URL rewriting the user configured), every push with a lease."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from git_po import proc
from git_po.errors import PoError, UsageError
from git_po.repo import Oid, Repo

# where `git po fetch` keeps what a remote holds (like refs/remotes/): refs/po-remotes/<remote>/
TRACKING = "refs/po-remotes/"
# local copies of remote values that diverged from ours, kept reachable (never dropped)
DIVERGED = "refs/po-diverged/"
# what is shared: state, task branches, every notes ref of git po
SHARED_PREFIXES = ("refs/po/", "refs/heads/po/", "refs/notes/po")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ZERO = "0" * 40


class Unreachable(PoError):
    """The remote could not be reached (network, daemon down, permissions)."""


@dataclass(frozen=True)
class PushOutcome:
    ref: str
    ok: bool
    summary: str


def check_remote(repo: Repo, remote: str) -> str:
    """The remote's name, checked: configured, and safe as a ref component."""
    if not _NAME.match(remote) or remote.endswith(".lock") or ".." in remote:
        raise UsageError(f"{remote!r} cannot name a remote here", hint="see git remote -v")
    if repo.config(f"remote.{remote}.url") is None:
        raise UsageError(f"no remote named {remote!r}", hint="see git remote -v")
    return remote


def tracking_ref(remote: str, ref: str) -> str:
    """refs/po/p/tasks/a -> refs/po-remotes/<remote>/po/p/tasks/a (and heads/, notes/)."""
    return f"{TRACKING}{remote}/{ref.removeprefix('refs/')}"


def local_of(remote: str, tracking: str) -> str:
    return "refs/" + tracking.removeprefix(f"{TRACKING}{remote}/")


def fetch_refspecs(remote: str, *, forced: bool) -> list[str]:
    """Refspecs that bring every shared ref into refs/po-remotes/<remote>/ (globs: a remote
    without notes, or without any git po ref, fetches nothing and fails nothing)."""
    plus = "+" if forced else ""
    return [f"{plus}{p}*:{tracking_ref(remote, p)}*" for p in SHARED_PREFIXES]


def _git(repo: Repo, args: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    cwd = repo.workdir or repo.common_dir
    env = proc.child_env({"GIT_DIR": str(repo.git_dir)})
    try:
        return proc.run(["git", *args], cwd=cwd, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Unreachable(f"git {args[0]} timed out after {timeout:.0f}s") from None


def _failed(done: subprocess.CompletedProcess[bytes], what: str) -> Unreachable:
    err = done.stderr.decode(errors="replace").strip().splitlines()
    last = next((line for line in reversed(err) if line.strip()), "no message")
    return Unreachable(f"{what} failed: {last.removeprefix('fatal: ')}")


def ls_remote(
    repo: Repo, remote: str, prefixes: Iterable[str], *, timeout: float = 60
) -> dict[str, Oid]:
    """What the remote holds under prefixes: ref -> oid."""
    prefixes = list(prefixes)
    done = _git(
        repo, ["ls-remote", "--refs", remote, *[p + "*" for p in prefixes]], timeout=timeout
    )
    if done.returncode not in (0, 2):
        raise _failed(done, f"git ls-remote {remote}")
    out: dict[str, Oid] = {}
    for line in done.stdout.decode(errors="replace").splitlines():
        oid, _, ref = line.partition("\t")
        if ref and any(ref.startswith(p) for p in prefixes):
            out[ref] = Oid(oid)
    return out


def fetch(repo: Repo, remote: str, refspecs: Sequence[str], *, timeout: float = 120) -> None:
    """git fetch refspecs from remote (objects and the refs the refspecs name; --refmap= so
    the remote's own fetch refspecs update nothing else). A tracking ref that another fetch of
    this clone held locked at that moment is fetched again."""
    args = ["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap="]
    for attempt in range(4):
        done = _git(repo, [*args, remote, *refspecs], timeout=timeout)
        if done.returncode == 0:
            return
        err = done.stderr.decode(errors="replace")
        if "cannot lock ref" not in err and "unable to update local ref" not in err:
            break
        time.sleep(0.1 * (attempt + 1))
    raise _failed(done, f"git fetch {remote}")


def push(
    repo: Repo,
    remote: str,
    updates: Mapping[str, tuple[Oid | None, Oid | None]],
    *,
    atomic: bool = False,
    timeout: float = 120,
) -> list[PushOutcome]:
    """Push ref -> (expected, new) with a lease each: the remote ref moves only while it holds
    expected (None: only while it does not exist). new None deletes. Returns one outcome per ref;
    Unreachable when the remote cannot be reached at all."""
    if not updates:
        return []
    args = ["push", "--porcelain", "--no-verify"]
    if atomic:
        args.append("--atomic")
    specs = []
    for ref, (expected, new) in sorted(updates.items()):
        args.append(f"--force-with-lease={ref}:{expected or ''}")
        specs.append(f"{new or ''}:{ref}")
    done = _git(repo, [*args, remote, *specs], timeout=timeout)
    outcomes: dict[str, PushOutcome] = {}
    for line in done.stdout.decode(errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[0]) != 1:
            continue
        flag, spec, summary = parts[0], parts[1], parts[2]
        ref = spec.rpartition(":")[2]
        if ref in updates:
            outcomes[ref] = PushOutcome(ref, flag in (" ", "+", "-", "*", "="), summary.strip())
    if not outcomes and done.returncode != 0:
        raise _failed(done, f"git push {remote}")
    return [outcomes.get(r, PushOutcome(r, False, "no answer")) for r in sorted(updates)]
