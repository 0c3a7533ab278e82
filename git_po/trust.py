"""Consent for a plan's commands: which plan revisions the user of this machine approved.

A plan recorded in `refs/po/<plan>/plan` travels by fetch, so the commands it holds (`verify`,
a shell task's `run`, what its prompts ask an agent to do) are someone else's until the user
approves that exact revision. The record is local and never in a ref: files under
`<git-common-dir>/po/trust/<plan>/`, keyed by the repository (its common dir), the plan and the
revision (a digest of `plan.toml` and the prompt files, not of `run.toml`, which every run
rewrites). Starting a plan from a file trusts that revision by the act; `git po trust PLAN`
approves a fetched one after showing what changed since the last revision trusted here.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from git_po import layout
from git_po.errors import ExitCode, NotFound, PoError
from git_po.repo import Oid, Repo
from git_po.state import StoredPlan, now_iso, read_plan_ref

LAST = "last"  # names the digest trusted most recently
LOG = "log"  # one line per approval: "<digest> <time> <how>"


class UntrustedPlan(PoError):
    """The plan revision in refs was never approved on this machine; its commands stay off."""

    exit_code = ExitCode.UNTRUSTED

    def __init__(self, plan: str, revision: str, diff: str) -> None:
        super().__init__(
            f"plan {plan!r} at revision {revision[:12]} is not trusted on this machine: its "
            "commands (verify, run, agent prompts) were written elsewhere and nothing of it runs",
            hint=f"read what changed (git po trust {plan} --show), then approve it with: "
            f"git po trust {plan}",
        )
        self.plan = plan
        self.revision = revision
        self.diff = diff


@dataclass(frozen=True)
class Review:
    """The plan revision in refs and how it stands against what this machine trusted."""

    plan: str
    revision: str  # digest of plan.toml and the prompt files
    tip: Oid  # the plan ref's commit
    trusted: bool
    previous: str | None  # the revision trusted last, if any
    diff: str  # unified diff from the previous trusted revision (or from nothing)


def trust_dir(repo: Repo, plan: str) -> Path:
    return layout.private_dir(repo.common_dir) / "trust" / plan


def bundle(stored: StoredPlan) -> str:
    """The parts of a recorded plan that decide what runs, as one text (for digest and diff)."""
    parts = ["# plan.toml\n", _ended(stored.text)]
    for name in sorted(stored.prompts):
        parts += [f"# prompts/{name}.md\n", _ended(stored.prompts[name])]
    return "".join(parts)


def _ended(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def revision_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _stored(repo: Repo, plan: str) -> StoredPlan:
    stored = read_plan_ref(repo, plan)
    if stored is None:
        raise NotFound(f"no plan named {plan!r} has been started in this repository")
    return stored


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def review(repo: Repo, plan: str) -> Review:
    """Where the plan in refs stands: trusted or not, and its diff from the last trusted one."""
    return _review(repo, plan, _stored(repo, plan))


def _review(repo: Repo, plan: str, stored: StoredPlan) -> Review:
    text = bundle(stored)
    rev = revision_of(text)
    folder = trust_dir(repo, plan)
    trusted = (folder / rev).is_file()
    last = _read(folder / LAST)
    previous = last.strip() if last else None
    old = _read(folder / previous) if previous else None
    diff = "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"trusted {previous[:12]}" if previous and old is not None else "/dev/null",
            tofile=f"refs/po/{plan}/plan {stored.tip[:12]} (revision {rev[:12]})",
        )
    )
    return Review(plan, rev, stored.tip, trusted, previous, diff)


def require_trusted(repo: Repo, plan_name: str) -> None:
    """Raise UntrustedPlan (with the diff since the last trusted revision) unless the plan's
    recorded revision was approved on this machine."""
    seen = review(repo, plan_name)
    if not seen.trusted:
        raise UntrustedPlan(plan_name, seen.revision, seen.diff)


def trust(
    repo: Repo, plan_name: str, *, how: str = "git po trust", expected: Oid | None = None
) -> Review:
    """Approve the plan revision now in refs; returns what was approved (and its diff).
    expected: the plan ref's commit the caller means (approve nothing if the ref is elsewhere).
    """
    stored = _stored(repo, plan_name)
    if expected is not None and stored.tip != expected:
        raise PoError(
            f"refs/po/{plan_name}/plan moved while it was being approved; nothing was trusted",
            hint=f"run git po trust {plan_name} again",
        )
    seen = _review(repo, plan_name, stored)
    folder = trust_dir(repo, plan_name)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = bundle(stored)
    rev = seen.revision
    _write(folder / rev, text)
    _write(folder / LAST, rev + "\n")
    with (folder / LOG).open("a", encoding="utf-8") as log:
        log.write(f"{rev} {now_iso()} {stored.tip} {how}\n")
    return seen


def _write(path: Path, text: str) -> None:
    """Replace a file atomically (never a half-written record)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
