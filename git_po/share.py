"""Sharing plans between clones: `git po fetch`, `git po push`, `git po sync`.

A fetch brings every shared ref into refs/po-remotes/<remote>/ and reconciles it with the local
one: a state, branch or notes ref is a commit chain, so the newer value is the descendant and
only ever moves a local ref forward; notes that grew on both sides are merged; any other
divergence is reported and the remote's value is kept under refs/po-diverged/<remote>/, never
dropped. A push sends each local ref with a lease on the value the remote was seen to hold, and
only where that is an ancestor of ours (claims are pushed only by `git po work`)."""

from __future__ import annotations

import tempfile
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from git_po import layout, remote
from git_po.errors import RefRace
from git_po.repo import Oid, Repo

CREATE, FORWARD, SAME, OURS_NEWER, DIVERGED = "create", "forward", "same", "ours-newer", "diverged"
PUSH, REMOTE_NEWER = "push", "remote-newer"


def decide_fetch(local: Oid | None, theirs: Oid, ancestor: Callable[[Oid, Oid], bool]) -> str:
    """What a fetched value does to the local ref: a pure decision."""
    if local is None:
        return CREATE
    if local == theirs:
        return SAME
    if ancestor(local, theirs):
        return FORWARD
    if ancestor(theirs, local):
        return OURS_NEWER
    return DIVERGED


def decide_push(
    local: Oid,
    theirs: Oid | None,
    known: Callable[[Oid], bool],
    ancestor: Callable[[Oid, Oid], bool],
) -> str:
    """Whether a local value may go to the remote: only over an ancestor of it."""
    if theirs is None:
        return PUSH
    if theirs == local:
        return SAME
    if known(theirs) and ancestor(theirs, local):
        return PUSH
    if known(theirs) and ancestor(local, theirs):
        return REMOTE_NEWER
    return DIVERGED


def combine_notes(ref: str) -> Callable[[bytes, bytes], bytes]:
    """How two notes on one object merge: verify results keep the newer (each is one TOML
    record); other notes keep every line of both, sorted, once (git's cat_sort_uniq)."""
    if ref == layout.VERIFY_NOTES_REF:
        return _newer_verify
    return cat_sort_uniq


def cat_sort_uniq(ours: bytes, theirs: bytes) -> bytes:
    lines = sorted(set(ours.splitlines()) | set(theirs.splitlines()))
    return b"\n".join(line for line in lines if line.strip()) + b"\n"


def _newer_verify(ours: bytes, theirs: bytes) -> bytes:
    def at(text: bytes) -> str:
        try:
            return str(tomllib.loads(text.decode()).get("at", ""))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError):
            return ""

    return theirs if at(theirs) > at(ours) else ours


def is_claim(ref: str) -> bool:
    return ref.startswith(layout.PO_REFS) and "/claims/" in ref


def in_plan(ref: str, plan: str | None) -> bool:
    if plan is None:
        return True
    return (
        ref.startswith(f"refs/po/{plan}/")
        or ref.startswith(f"refs/heads/po/{plan}/")
        or ref.startswith("refs/notes/po")
    )


@dataclass(frozen=True)
class Change:
    ref: str
    what: str  # created, forwarded, same, ours-newer, diverged, merged, checked-out, pushed, ...
    detail: str = ""


@dataclass
class ShareReport:
    changes: list[Change] = field(default_factory=list)

    def count(self, what: str) -> int:
        return sum(1 for c in self.changes if c.what == what)

    @property
    def problems(self) -> list[Change]:
        return [
            c
            for c in self.changes
            if c.what in ("diverged", "rejected", "checked-out", REMOTE_NEWER)
        ]

    def summary(self) -> str:
        order = (
            "created", "forwarded", "merged", "pushed", "ours-newer",
            REMOTE_NEWER, "diverged", "rejected", "checked-out",
        )  # fmt: skip
        parts = [f"{self.count(w)} {w}" for w in order if self.count(w)]
        return ", ".join(parts) if parts else "nothing to do"


def fetch(repo: Repo, name: str, plan: str | None = None) -> ShareReport:
    """Fetch the remote's shared refs into refs/po-remotes/<name>/ and reconcile."""
    remote.fetch(repo, name, remote.fetch_refspecs(name, forced=True))
    return reconcile(repo, name, plan)


def reconcile(
    repo: Repo, name: str, plan: str | None = None, *, skip: Callable[[str], bool] | None = None
) -> ShareReport:
    """Take in what refs/po-remotes/<name>/ holds (refs skip() names stay as they are)."""
    report = ShareReport()
    checked_out = {f"refs/heads/{b}" for b in repo.checked_out_branches()}
    for tracking in repo.refs_under(f"{remote.TRACKING}{name}/"):
        ref = remote.local_of(name, tracking)
        if is_claim(ref) or not in_plan(ref, plan) or (skip is not None and skip(ref)):
            continue
        theirs = repo.read_ref(tracking)
        if theirs is not None:
            report.changes.append(_take(repo, name, ref, theirs, checked_out))
    return report


def _take(repo: Repo, name: str, ref: str, theirs: Oid, checked_out: set[str]) -> Change:
    for _try in range(3):
        local = repo.read_ref(ref)
        what = decide_fetch(local, theirs, repo.is_ancestor)
        try:
            if what == CREATE:
                repo.create_ref(ref, theirs, f"po fetch: from {name}")
                return Change(ref, "created")
            if what == FORWARD:
                if ref in checked_out:
                    return Change(ref, "checked-out", f"{name} has {theirs[:12]}; not moved")
                assert local is not None
                repo.update_ref(ref, theirs, local, f"po fetch: fast-forward from {name}")
                return Change(ref, "forwarded")
            if what == DIVERGED and ref.startswith("refs/notes/"):
                repo.merge_notes(ref, theirs, combine_notes(ref), f"po fetch: notes from {name}")
                return Change(ref, "merged")
            if what == DIVERGED:
                kept = f"{remote.DIVERGED}{name}/{ref.removeprefix('refs/')}"
                repo.keep_reachable(kept, theirs, f"po fetch: {name}'s {ref}, diverged from ours")
                return Change(ref, "diverged", f"{name}'s {theirs[:12]} kept as {kept}")
            return Change(ref, what)
        except RefRace:
            continue  # the local ref moved meanwhile: decide again
    return Change(ref, "diverged", "the local ref kept moving; try again")


def push(repo: Repo, name: str, plan: str | None = None) -> ShareReport:
    """Push every shared local ref (claims aside) the remote holds an ancestor of, or lacks."""
    report = ShareReport()
    prefixes = _prefixes(plan)
    mine: dict[str, Oid] = {}
    for prefix in prefixes:
        for ref in repo.refs_under(prefix):
            oid = repo.read_ref(ref)
            if oid is not None and not is_claim(ref) and in_plan(ref, plan):
                mine[ref] = oid
    theirs = remote.ls_remote(repo, name, prefixes)
    updates: dict[str, tuple[Oid | None, Oid | None]] = {}
    for ref, oid in sorted(mine.items()):
        what = decide_push(oid, theirs.get(ref), repo.has_object, repo.is_ancestor)
        if what == PUSH:
            updates[ref] = (theirs.get(ref), oid)
        elif what != SAME:
            report.changes.append(
                Change(ref, what, f"{name} has {theirs[ref][:12]}; git po fetch {name} first")
            )
    for out in remote.push(repo, name, updates):
        report.changes.append(Change(out.ref, "pushed" if out.ok else "rejected", out.summary))
    return report


def _prefixes(plan: str | None) -> list[str]:
    if plan is None:
        return list(remote.SHARED_PREFIXES)
    return [f"refs/po/{plan}/", f"refs/heads/po/{plan}/", "refs/notes/po"]


def sync(repo: Repo, name: str, plan: str | None = None) -> tuple[ShareReport, ShareReport]:
    return fetch(repo, name, plan), push(repo, name, plan)


def remote_url(repo: Repo, name: str) -> str:
    """The remote's URL, a local path made absolute (a scratch repository fetches it)."""
    url = repo.config(f"remote.{name}.url") or name
    if "://" not in url and not _scp_like(url):
        base = repo.workdir or repo.common_dir
        url = str((base / url).resolve())
    return url


def _scp_like(url: str) -> bool:
    head = url.split("/", 1)[0]
    return ":" in head and not Path(url).exists()


def with_remote_view(repo: Repo, name: str, read: Callable[[Repo], object]) -> object:
    """read(view): view is a scratch repository holding the remote's shared refs (and borrowing
    our objects); the local refs stay as they are."""
    url = remote_url(repo, name)
    with tempfile.TemporaryDirectory(prefix="git-po-remote-") as tmp:
        view = Repo.scratch(Path(tmp) / "view.git", repo)
        specs: Sequence[str] = [f"+{p}*:{p}*" for p in remote.SHARED_PREFIXES]
        remote.fetch(view, url, specs)
        return read(view)


def check(repo: Repo, name: str) -> str:
    return remote.check_remote(repo, name)


def push_refs(repo: Repo, name: str, refs: Sequence[str]) -> ShareReport:
    """Push these refs (git po integrate --remote: the integration branch, --into) each with a
    lease on what the remote holds, and only over an ancestor of ours."""
    report = ShareReport()
    full = [r if r.startswith("refs/") else f"refs/heads/{r}" for r in refs]
    theirs = remote.ls_remote(repo, name, full)
    updates: dict[str, tuple[Oid | None, Oid | None]] = {}
    for ref in full:
        oid = repo.read_ref(ref)
        if oid is None:
            continue
        there = theirs.get(ref)
        what = decide_push(oid, there, repo.has_object, repo.is_ancestor)
        if what == PUSH:
            updates[ref] = (there, oid)
        elif what != SAME:
            shown = there[:12] if there else "nothing"
            report.changes.append(Change(ref, what, f"{name} has {shown}; not pushed"))
    for out in remote.push(repo, name, updates):
        report.changes.append(Change(out.ref, "pushed" if out.ok else "rejected", out.summary))
    return report
