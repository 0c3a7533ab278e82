"""The one module that talks to pygit2: refs with compare-and-swap, commits, merges, worktrees,
notes and config, behind a small typed surface."""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NewType, TypeVar

import pygit2
from pygit2.enums import CheckoutStrategy, ConfigLevel, FileMode, FileStatus, SortMode

from git_po.errors import RefRace, RepositoryError
from git_po.protocol import AUTOSAVE_TRAILER

Oid = NewType("Oid", str)  # a full hex object id
T = TypeVar("T")

NOTES_REF = "refs/notes/po"
_LOCK_RETRIES = 40


@dataclass(frozen=True)
class HistoryEntry:
    oid: Oid
    message: str
    time: int
    autosave: bool


@dataclass(frozen=True)
class MergeResult:
    oid: Oid | None  # the merged commit (None when conflicted)
    conflicts: tuple[str, ...]


def _retry_locked(fn: Callable[[], T]) -> T:
    """libgit2 fails at once on a held ref lock; git waits. Retry briefly with jitter."""
    delay = 0.005
    for attempt in range(_LOCK_RETRIES):
        try:
            return fn()
        except (OSError, pygit2.GitError) as exc:
            text = str(exc).lower()
            if "lock" not in text or attempt == _LOCK_RETRIES - 1:
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.2)
    raise AssertionError("unreachable")


class Repo:
    """A repository opened for git po. All pygit2 access goes through here."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self._r = repo
        gitdir = Path(repo.path)
        commondir_file = gitdir / "commondir"
        if commondir_file.exists():
            common = (gitdir / commondir_file.read_text().strip()).resolve()
        else:
            common = gitdir.resolve()
        self.git_dir = gitdir.resolve()
        self.common_dir = common
        self.workdir = Path(repo.workdir).resolve() if repo.workdir else None

    # --- opening ------------------------------------------------------------------------

    @classmethod
    def discover(cls, start: Path) -> Repo:
        try:
            found = pygit2.discover_repository(str(start))
        except pygit2.GitError as exc:
            raise RepositoryError(f"cannot open a repository at {start}: {exc}") from None
        if found is None:
            raise RepositoryError(
                f"not a git repository (or any parent up to /): {start}",
                hint="run git po inside a repository",
            )
        try:
            repo = pygit2.Repository(found)
        except pygit2.GitError as exc:
            raise RepositoryError(_unsupported_message(found, exc)) from None
        if repo.is_bare:
            raise RepositoryError(
                f"{found} is a bare repository: git po needs a repository with a working tree",
                hint="clone it with a working tree and run git po there",
            )
        return cls(repo)

    # --- objects and revisions ----------------------------------------------------------

    def resolve(self, rev: str) -> Oid | None:
        """The commit a revision names, or None."""
        if not rev or rev.startswith("-"):
            return None
        try:
            obj = self._r.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        return Oid(str(commit.id))

    def commit_message(self, oid: Oid) -> str:
        return self._commit(oid).message

    def commit_time(self, oid: Oid) -> int:
        return int(self._commit(oid).commit_time)

    def _commit(self, oid: Oid | str) -> pygit2.Commit:
        obj = self._r[oid]
        assert isinstance(obj, pygit2.Commit)
        return obj

    def is_ancestor(self, ancestor: Oid, descendant: Oid) -> bool:
        return ancestor == descendant or bool(self._r.descendant_of(descendant, ancestor))

    def read_blob(self, commit: Oid, path: str) -> bytes | None:
        try:
            entry = self._commit(commit).tree[path]
        except KeyError:
            return None
        obj = self._r[entry.id]
        return obj.data if isinstance(obj, pygit2.Blob) else None

    def list_tree(self, commit: Oid, folder: str) -> list[str]:
        try:
            sub = self._commit(commit).tree[folder]
        except KeyError:
            return []
        obj = self._r[sub.id]
        if not isinstance(obj, pygit2.Tree):
            return []
        return [e.name for e in obj if e.name is not None]

    def tree_paths(self, commit: Oid) -> set[str]:
        out: set[str] = set()

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for e in tree:
                name = f"{prefix}{e.name}"
                obj = self._r[e.id]
                if isinstance(obj, pygit2.Tree):
                    walk(obj, name + "/")
                else:
                    out.add(name)

        walk(self._commit(commit).tree, "")
        return out

    # --- refs with compare-and-swap -----------------------------------------------------

    def read_ref(self, name: str) -> Oid | None:
        try:
            ref = self._r.lookup_reference(name)
        except (KeyError, pygit2.InvalidSpecError):
            return None
        target = ref.resolve().target
        return Oid(str(target))

    def refs_under(self, prefix: str) -> list[str]:
        return sorted(n for n in self._r.references if n.startswith(prefix))

    def create_ref(self, name: str, oid: Oid, message: str) -> None:
        """Create a ref that must not exist yet (CAS against absence)."""
        try:
            _retry_locked(
                lambda: self._r.create_reference_direct(
                    name, pygit2.Oid(hex=oid), False, message=message
                )
            )
        except pygit2.AlreadyExistsError:
            raise RefRace(f"{name} already exists") from None
        except ValueError as exc:
            if "exists" in str(exc):
                raise RefRace(f"{name} already exists") from None
            raise

    def update_ref(self, name: str, new: Oid, expected: Oid | None, message: str) -> None:
        """Move name from expected to new; RefRace if it holds anything else."""
        if expected is None:
            self.create_ref(name, new, message)
            return

        def swap() -> None:
            try:
                held = self._r.lookup_reference(name)
            except KeyError:
                raise RefRace(f"{name} vanished (expected {expected[:12]})") from None
            if str(held.target) != expected:
                raise RefRace(f"{name} moved to {str(held.target)[:12]} (expected {expected[:12]})")
            held.set_target(pygit2.Oid(hex=new), message)

        _retry_locked(swap)

    def delete_ref(self, name: str, expected: Oid) -> None:
        def drop() -> None:
            held = self._r.lookup_reference(name)
            if str(held.target) != expected:
                raise RefRace(f"{name} moved (expected {expected[:12]})")
            held.delete()

        _retry_locked(drop)

    # --- commits that touch no checkout -------------------------------------------------

    def signature(self) -> pygit2.Signature:
        cfg = self._r.config
        name = os.environ.get("GIT_COMMITTER_NAME") or _cfg(cfg, "user.name") or "git po"
        email = (
            os.environ.get("GIT_COMMITTER_EMAIL") or _cfg(cfg, "user.email") or "git-po@localhost"
        )
        return pygit2.Signature(name, email)

    def write_tree(self, files: Mapping[str, bytes], base_tree_of: Oid | None = None) -> Oid:
        """A tree holding files (path -> content), on top of a commit's tree if given."""
        idx = pygit2.Index()
        if base_tree_of is not None:
            idx.read_tree(self._commit(base_tree_of).tree)
        for path, data in files.items():
            blob = self._r.create_blob(data)
            idx.add(pygit2.IndexEntry(path, blob, FileMode.BLOB))
        return Oid(str(idx.write_tree(self._r)))

    def commit_files(
        self,
        ref: str,
        files: Mapping[str, bytes],
        message: str,
        expected: Oid | None,
        *,
        keep_tree: bool = True,
        before_ref_update: Callable[[], None] | None = None,
    ) -> Oid:
        """Commit files on top of ref's tip (expected) and move ref there, compare-and-swap."""
        tree = self.write_tree(files, expected if (expected and keep_tree) else None)
        sig = self.signature()
        parents = [expected] if expected else []
        oid = Oid(str(self._r.create_commit(None, sig, sig, message, tree, parents)))
        if before_ref_update is not None:
            before_ref_update()
        self.update_ref(ref, oid, expected, message.splitlines()[0])
        return oid

    # --- history ------------------------------------------------------------------------

    def first_parent_history(
        self, tip: Oid, stop: Oid | None, limit: int = 10_000
    ) -> list[HistoryEntry]:
        """Commits from tip back along first parents, newest first, excluding stop's history."""
        walker = self._r.walk(tip, SortMode.TOPOLOGICAL)
        walker.simplify_first_parent()
        if stop is not None:
            walker.hide(stop)
        out: list[HistoryEntry] = []
        for c in walker:
            msg = c.message
            out.append(
                HistoryEntry(
                    Oid(str(c.id)), msg, int(c.commit_time), f"\n{AUTOSAVE_TRAILER}:" in msg
                )
            )
            if len(out) >= limit:
                break
        return out

    # --- merges in memory ---------------------------------------------------------------

    def merge_commits(self, heads: list[Oid], message: str) -> MergeResult:
        """Three-way merge several commits in memory into one commit with all of them as parents.

        Heads already contained in another are dropped; a single head is returned as is.
        No ref, index or worktree is touched.
        """
        uniq: list[Oid] = []
        for h in heads:
            if h not in uniq:
                uniq.append(h)
        kept = [h for h in uniq if not any(o != h and self.is_ancestor(h, o) for o in uniq)]
        if len(kept) == 1:
            return MergeResult(kept[0], ())
        sig = self.signature()
        current = kept[0]
        for other in kept[1:]:
            idx = self._r.merge_commits(current, other)
            if idx.conflicts is not None:
                names = sorted(
                    {e.path for triple in idx.conflicts for e in triple if e is not None}
                )
                return MergeResult(None, tuple(names))
            tree = idx.write_tree(self._r)
            current = Oid(
                str(self._r.create_commit(None, sig, sig, message, tree, [current, other]))
            )
        if len(kept) > 2:
            # one commit with every head as a parent reads better than a chain of merges
            tree = self._commit(current).tree_id
            current = Oid(str(self._r.create_commit(None, sig, sig, message, tree, list(kept))))
        return MergeResult(current, ())

    # --- branches and worktrees ---------------------------------------------------------

    def branch_exists(self, short: str) -> bool:
        return self._r.lookup_branch(short) is not None

    def checked_out_branches(self) -> dict[str, Path]:
        """refs/heads/... -> worktree path, for the main checkout and every linked worktree."""
        out: dict[str, Path] = {}
        head = self._main_head()
        if head and self.workdir is not None:
            out[head] = self.main_workdir()
        for name in self._r.list_worktrees():
            try:
                wt = self._r.lookup_worktree(name)
            except pygit2.GitError:
                continue
            headfile = self.common_dir / "worktrees" / name / "HEAD"
            try:
                text = headfile.read_text().strip()
            except OSError:
                continue
            if text.startswith("ref: "):
                out[text[5:]] = Path(wt.path)
        return out

    def _main_head(self) -> str | None:
        try:
            text = (self.common_dir / "HEAD").read_text().strip()
        except OSError:
            return None
        return text[5:] if text.startswith("ref: ") else None

    def main_workdir(self) -> Path:
        if (self.common_dir / "commondir").exists():
            raise RepositoryError("unexpected repository layout")
        # the common dir of a non-bare repository is <workdir>/.git unless core.worktree says so
        wt = _cfg(self._r.config, "core.worktree")
        if wt:
            return (self.common_dir / wt).resolve()
        return self.common_dir.parent

    def add_worktree(self, name: str, path: Path, branch: str) -> None:
        """Check out branch (short name) in a new linked worktree at path (created by libgit2)."""
        br = self._r.lookup_branch(branch)
        if br is None:
            raise RepositoryError(f"branch {branch} does not exist")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._r.add_worktree(name, str(path), br)
        except (pygit2.GitError, ValueError) as exc:
            debris = self.common_dir / "worktrees" / name
            if debris.is_dir() and not (debris / "gitdir").exists():
                for f in debris.iterdir():
                    f.unlink()
                debris.rmdir()
            raise RepositoryError(f"cannot create worktree {path}: {exc}") from None

    def worktree_names(self) -> list[str]:
        return list(self._r.list_worktrees())

    def worktree_gitdir(self, name: str) -> Path:
        return self.common_dir / "worktrees" / name

    def hooks_dir(self) -> Path:
        """Where the user's hooks live: core.hooksPath, else <common>/hooks."""
        configured = _cfg(self._r.config, "core.hooksPath")
        if configured:
            p = Path(os.path.expanduser(configured))
            if not p.is_absolute():
                p = self.main_workdir() / p
            return p
        return self.common_dir / "hooks"

    # --- saving a worktree's uncommitted work -------------------------------------------

    def save_worktree(
        self,
        worktree: Path,
        message: str,
        *,
        snapshot_ref: str | None = None,
        before_ref_update: Callable[[], None] | None = None,
    ) -> Oid | None:
        """Commit everything uncommitted (tracked changes, deletions, untracked files not
        ignored) in worktree.

        Without snapshot_ref, the commit goes on the worktree's branch (compare-and-swap) and the
        worktree's index is updated to match, so the tree looks clean afterwards. With
        snapshot_ref, the commit (child of the branch tip) goes to that ref and the worktree and
        its branch are left exactly as they were. Returns None when there was nothing to save.
        """
        wt = pygit2.Repository(str(worktree))
        if wt.head_is_unborn:
            return None
        status = wt.status(untracked_files="all", ignored=False)
        changed = {
            p: s
            for p, s in status.items()
            if s not in (FileStatus.CURRENT, FileStatus.IGNORED) and not (s & FileStatus.IGNORED)
        }
        if not changed:
            return None
        head_ref = wt.head.name
        tip = Oid(str(wt.head.target))
        idx = wt.index
        idx.read(force=True)
        if snapshot_ref is not None:
            idx = pygit2.Index()
            idx.read_tree(self._commit(tip).tree)
            # re-read the worktree's own index so staged-but-uncommitted content is kept too
            staged = wt.index
            for entry in staged:
                idx.add(entry)
        for path, st in changed.items():
            full = worktree / path
            if st & (FileStatus.WT_DELETED | FileStatus.INDEX_DELETED) and not full.exists():
                if path in idx:
                    idx.remove(path)
            elif full.is_file() or full.is_symlink():
                if full.is_symlink():
                    blob = wt.create_blob(os.readlink(full).encode())
                    mode = FileMode.LINK
                else:
                    blob = wt.create_blob_fromdisk(str(full))
                    mode = FileMode.BLOB_EXECUTABLE if os.access(full, os.X_OK) else FileMode.BLOB
                idx.add(pygit2.IndexEntry(path, blob, mode))
        tree = idx.write_tree(wt)
        if snapshot_ref is None and str(tree) == str(self._commit(tip).tree_id):
            idx.write()
            return None
        sig = self.signature()
        parents = [tip]
        previous = self.read_ref(snapshot_ref) if snapshot_ref is not None else None
        if previous is not None and not self.is_ancestor(previous, tip):
            parents.append(previous)  # an earlier snapshot stays reachable from the new one
        oid = Oid(str(wt.create_commit(None, sig, sig, message, tree, parents)))
        if before_ref_update is not None:
            before_ref_update()
        if snapshot_ref is None:
            self.update_ref(head_ref, oid, tip, message.splitlines()[0])
            idx.write()
        else:
            self.update_ref(snapshot_ref, oid, previous, message.splitlines()[0])
        return oid

    def worktree_head(self, worktree: Path) -> Oid | None:
        try:
            wt = pygit2.Repository(str(worktree))
        except pygit2.GitError:
            return None
        return None if wt.head_is_unborn else Oid(str(wt.head.target))

    def merge_into_branch(self, branch_ref: str, other: Oid, message: str) -> MergeResult:
        """Merge other into a branch in memory and move the branch to the merge commit
        (compare-and-swap). Nothing happens when the branch already contains other."""
        tip = self.read_ref(branch_ref)
        if tip is None:
            raise RepositoryError(f"{branch_ref} does not exist")
        if self.is_ancestor(other, tip):
            return MergeResult(tip, ())
        if self.is_ancestor(tip, other):
            self.update_ref(branch_ref, other, tip, message.splitlines()[0])
            return MergeResult(other, ())
        idx = self._r.merge_commits(tip, other)
        if idx.conflicts is not None:
            names = sorted({e.path for t in idx.conflicts for e in t if e is not None})
            return MergeResult(None, tuple(names))
        tree = idx.write_tree(self._r)
        sig = self.signature()
        oid = Oid(str(self._r.create_commit(None, sig, sig, message, tree, [tip, other])))
        self.update_ref(branch_ref, oid, tip, message.splitlines()[0])
        return MergeResult(oid, ())

    def sync_worktree(self, worktree: Path) -> None:
        """Make a worktree's index and tracked files match its HEAD, after its branch was moved
        while no worker ran there (its uncommitted work was saved first)."""
        wt = pygit2.Repository(str(worktree))
        wt.checkout_head(strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]

    # --- notes ----------------------------------------------------------------------------

    def add_note(self, oid: Oid, text: str) -> None:
        sig = self.signature()

        def write() -> None:
            self._r.create_note(text, sig, sig, str(oid), NOTES_REF, True)

        _retry_locked(write)

    def note(self, oid: Oid) -> str | None:
        try:
            return str(self._r.lookup_note(str(oid), NOTES_REF).message)
        except KeyError:
            return None

    # --- config ---------------------------------------------------------------------------

    def config(self, key: str) -> str | None:
        return _cfg(self._r.config, key)

    def config_items(self, prefix: str) -> Iterator[tuple[str, str]]:
        for entry in self._r.config:
            if entry.name.startswith(prefix):
                yield entry.name, entry.value or ""

    def config_origin(self, key: str) -> tuple[str, str] | None:
        """(value, scope) of the entry that decides key: the last one at the highest level.

        scope is git's name for the level: system, global, local or worktree."""
        want = key.lower()
        best: tuple[int, str, str] | None = None
        for entry in self._r.config:
            if entry.name.lower() != want:
                continue
            level = int(entry.level)
            if best is None or level >= best[0]:
                best = (level, entry.value or "", _SCOPES.get(level, "local"))
        return None if best is None else (best[1], best[2])

    def config_values(self, key: str) -> list[str]:
        """Every value of a multi-valued key, all levels."""
        try:
            return [str(v) for v in self._r.config.get_multivar(key)]
        except (KeyError, pygit2.GitError):
            return []

    def local_config_values(self, key: str) -> list[str]:
        """Every value of a multi-valued key in this repository's own config file."""
        try:
            return [str(v) for v in self._local_config().get_multivar(key)]
        except (KeyError, pygit2.GitError):
            return []

    def add_local_config(self, key: str, value: str) -> bool:
        """Add value to a multi-valued key of the repository's config file unless it is there;
        True when it was added."""
        if value in self.local_config_values(key):
            return False
        self._local_config().set_multivar(key, "^" + re.escape(value) + "$", value)
        return True

    def remove_local_config(self, key: str, value: str) -> bool:
        """Remove one value of a multi-valued key from the repository's config file; True when
        it was there."""
        if value not in self.local_config_values(key):
            return False
        self._local_config().delete_multivar(key, "^" + re.escape(value) + "$")
        return True

    def _local_config(self) -> pygit2.Config:
        return pygit2.Config(str(self.common_dir / "config"))


_SCOPES = {
    int(ConfigLevel.PROGRAMDATA): "system",
    int(ConfigLevel.SYSTEM): "system",
    int(ConfigLevel.XDG): "global",
    int(ConfigLevel.GLOBAL): "global",
    int(ConfigLevel.LOCAL): "local",
    int(ConfigLevel.WORKTREE): "worktree",
    int(ConfigLevel.APP): "app",
}


def _cfg(cfg: pygit2.Config, key: str) -> str | None:
    try:
        value = cfg[key]
    except (KeyError, pygit2.GitError):
        return None
    return str(value) if value is not None else None


def _unsupported_message(path: str, exc: Exception) -> str:
    text = str(exc)
    low = text.lower()
    if "objectformat" in low or "sha256" in low:
        why = "it uses the SHA-256 object format, which libgit2 cannot read"
    elif "reftable" in low or "refstorage" in low:
        why = "it stores refs as a reftable, which libgit2 cannot read"
    elif "extension" in low:
        why = f"it uses a repository extension libgit2 does not support ({text})"
    else:
        why = text
    return f"git po cannot open the repository at {path}: {why}"


def init_repository(
    path: Path, files: Mapping[str, bytes], message: str, identity: tuple[str, str]
) -> Repo:
    """A new repository at path with one commit of files on main, and a local identity."""
    raw = pygit2.init_repository(str(path), initial_head="main")
    raw.config["user.name"] = identity[0]
    raw.config["user.email"] = identity[1]
    for rel, data in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    idx = raw.index
    idx.add_all()
    idx.write()
    tree = idx.write_tree()
    sig = pygit2.Signature(identity[0], identity[1])
    raw.create_commit("HEAD", sig, sig, message, tree, [])
    return Repo(raw)
