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
from pygit2.enums import (
    CheckoutStrategy,
    ConfigLevel,
    FileMode,
    FileStatus,
    RepositoryOpenFlag,
    SortMode,
)

from git_po import gitenv, proc
from git_po.errors import RefLocked, RefRace, RepositoryError, StateConflict
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


STALE_LOCK_AFTER = 10.0  # seconds a ref lock may stand before it is reported as left behind
_LOCK_FILE = re.compile(r"'([^']+\.lock)'")


def _retry_locked(fn: Callable[[], T], ref: str) -> T:
    """libgit2 fails at once on a held ref lock; git waits. Retry with backoff and jitter while
    the lock is young or held open by a live process (for up to 20 s); a lock file that stands
    longer than STALE_LOCK_AFTER with no process holding it was left by a writer that died:
    RefLocked at once, naming the file to remove."""
    delay = 0.002
    deadline = time.monotonic() + 20
    while True:
        try:
            return fn()
        except (OSError, pygit2.GitError) as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise
            found = _LOCK_FILE.search(text)
            lock = found.group(1) if found else None
            if lock is not None:
                try:
                    age = time.time() - os.stat(lock).st_mtime
                except OSError:
                    age = 0.0  # let go meanwhile
                if time.monotonic() > deadline or age >= STALE_LOCK_AFTER:
                    holders = proc.holders(Path(lock))
                    if not holders or time.monotonic() > deadline:
                        raise RefLocked(ref, lock, age, holders) from None
            elif time.monotonic() > deadline:
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.1)


class Repo:
    """A repository opened for git po. All pygit2 access goes through here."""

    def __init__(
        self,
        repo: pygit2.Repository,
        command_config: tuple[gitenv.Entry, ...] = (),
        work_tree: Path | None = None,
    ) -> None:
        self._r = repo
        self._command_config = command_config  # `git -c`, which libgit2 does not read
        self._work_tree = work_tree  # --work-tree / GIT_WORK_TREE, when given
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
        """The repository start is in (searching up), ignoring the environment."""
        return cls._open(gitenv.Location(None, None, start, ()), ())

    @classmethod
    def from_environment(cls, cwd: Path, env: Mapping[str, str]) -> Repo:
        """The repository git would use from cwd with env: GIT_DIR (`git --git-dir`),
        GIT_WORK_TREE (`--work-tree`), GIT_CEILING_DIRECTORIES, and the command-line config
        (`git -c`) on top of the repository's own."""
        return cls._open(gitenv.location(cwd, env), gitenv.command_line_config(env))

    @classmethod
    def _open(cls, where: gitenv.Location, command: tuple[gitenv.Entry, ...]) -> Repo:
        start = where.start
        if where.git_dir is not None:
            found: str | None = str(where.git_dir)
            if not where.git_dir.is_dir():
                raise RepositoryError(
                    f"not a git repository: {where.git_dir} (GIT_DIR)",
                    hint="check --git-dir / GIT_DIR",
                )
            flags = RepositoryOpenFlag.NO_SEARCH
        else:
            try:
                found = pygit2.discover_repository(
                    str(start), False, os.pathsep.join(where.ceilings)
                )
            except pygit2.GitError as exc:
                raise RepositoryError(f"cannot open a repository at {start}: {exc}") from None
            flags = RepositoryOpenFlag(0)
        if found is None:
            raise RepositoryError(
                f"not a git repository (or any parent up to /): {start}",
                hint="run git po inside a repository",
            )
        try:
            repo = pygit2.Repository(found, flags)
        except pygit2.GitError as exc:
            if where.git_dir is not None and "not found" in str(exc).lower():
                raise RepositoryError(
                    f"not a git repository: {found} (GIT_DIR)", hint="check --git-dir / GIT_DIR"
                ) from None
            raise RepositoryError(_unsupported_message(found, exc)) from None
        work_tree = where.work_tree
        if work_tree is None and where.git_dir is not None:
            # git: with GIT_DIR and neither GIT_WORK_TREE nor core.worktree, the current
            # directory is the top of the work tree (unless core.bare says there is none)
            bare = _override(command, "core.bare") or _cfg(repo.config, "core.bare") or ""
            if not _cfg(repo.config, "core.worktree") and bare.lower() not in _TRUE:
                work_tree = start
        if work_tree is not None:
            repo.workdir = str(work_tree)
        if repo.is_bare:
            raise RepositoryError(
                f"{found} is a bare repository: git po needs a repository with a working tree",
                hint="clone it with a working tree and run git po there",
            )
        return cls(repo, command, where.work_tree)

    @classmethod
    def scratch(cls, path: Path, objects_of: Repo) -> Repo:
        """A new bare repository at path that borrows objects_of's objects (alternates): a
        place to fetch a remote's refs into without touching objects_of's refs."""
        pygit2.init_repository(str(path), bare=True)
        alternates = path / "objects" / "info" / "alternates"
        alternates.write_text(str(objects_of.common_dir / "objects") + "\n")
        return cls(pygit2.Repository(str(path)))

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

    def ref_targets(self, *prefixes: str) -> dict[str, str]:
        """Every ref under prefixes with what it points at (an id, or a symbolic ref's name):
        one pass, for noticing that anything moved."""
        out: dict[str, str] = {}
        for ref in self._r.references.iterator():
            if ref.name.startswith(prefixes):
                out[ref.name] = str(ref.target)
        return out

    def create_ref(self, name: str, oid: Oid, message: str) -> None:
        """Create a ref that must not exist yet: a compare-and-swap against absence.

        libgit2's create-if-absent checks for the ref before it takes the ref's lock, so two
        creators can both succeed, the second silently replacing the first; here the absence is
        checked while holding the lock, in a reference transaction."""
        target = pygit2.Oid(hex=oid)

        def create() -> None:
            with self._r.transaction() as tx:
                tx.lock_ref(name)
                if self.read_ref(name) is not None:
                    raise RefRace(f"{name} already exists")
                tx.set_target(name, target, message=message)

        try:
            _retry_locked(create, name)
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
            try:
                held.set_target(pygit2.Oid(hex=new), message)
            except pygit2.GitError as exc:
                # libgit2's own compare-and-swap: the ref moved after we looked
                if "does not match" in str(exc) or "old reference" in str(exc):
                    raise RefRace(f"{name} moved (expected {expected[:12]})") from None
                raise

        _retry_locked(swap, name)

    def delete_ref(self, name: str, expected: Oid) -> None:
        def drop() -> None:
            held = self._r.lookup_reference(name)
            if str(held.target) != expected:
                raise RefRace(f"{name} moved (expected {expected[:12]})")
            held.delete()

        _retry_locked(drop, name)

    # --- commits that touch no checkout -------------------------------------------------

    def signature(self) -> pygit2.Signature:
        name = os.environ.get("GIT_COMMITTER_NAME") or self.config("user.name") or "git po"
        email = (
            os.environ.get("GIT_COMMITTER_EMAIL") or self.config("user.email") or "git-po@localhost"
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

    def commits_since(self, tip: Oid, base: Oid, limit: int = 100_000) -> list[Oid] | None:
        """The commits of tip not in base, when each has one parent (a straight line on top of
        base); None when one is a merge, or there are more than limit."""
        walker = self._r.walk(tip, SortMode.NONE)
        walker.hide(base)
        out: list[Oid] = []
        for c in walker:
            if len(c.parent_ids) != 1 or len(out) >= limit:
                return None
            out.append(Oid(str(c.id)))
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
        if self._work_tree is not None and self.git_dir == self.common_dir:
            return self._work_tree  # --work-tree / GIT_WORK_TREE on the main git dir
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

    def tracked_under(self, path: Path) -> bool:
        """Whether this checkout's index holds path, or a file below it."""
        if self.workdir is None:
            return False
        try:
            rel = path.resolve().relative_to(self.workdir).as_posix()
        except ValueError:
            return False
        prefix = "" if rel == "." else rel + "/"
        return any(e.path == rel or e.path.startswith(prefix) for e in self._r.index)

    # --- saving a worktree's uncommitted work -------------------------------------------

    def open_worktree(self, worktree: Path) -> pygit2.Repository:
        """A task worktree opened as itself and nothing else: never a repository above it (a
        worktree whose .git file is gone would otherwise open the user's own checkout), and only
        when it is a worktree of this repository."""
        try:
            wt = pygit2.Repository(str(worktree), RepositoryOpenFlag.NO_SEARCH)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise RepositoryError(f"{worktree} is not a git worktree any more ({exc})") from None
        workdir = Path(wt.workdir).resolve() if wt.workdir else None
        gitdir = Path(wt.path).resolve()
        ours = gitdir == self.common_dir or gitdir.parent.parent == self.common_dir
        if workdir != worktree.resolve() or not ours:
            raise RepositoryError(f"{worktree} is not a working tree of this repository")
        return wt

    def save_worktree(
        self,
        worktree: Path,
        message: str,
        *,
        snapshot_ref: str | None = None,
        before_ref_update: Callable[[], None] | None = None,
    ) -> Oid | None:
        """Commit everything uncommitted (tracked changes, deletions, untracked files not
        ignored, conflicted files as they are on disk) in worktree.

        Without snapshot_ref, the commit goes on the worktree's branch (compare-and-swap) and the
        worktree's index is updated to match, so the tree looks clean afterwards. With
        snapshot_ref, the commit (child of the worktree's HEAD) goes to that ref and the worktree
        and its branch are left exactly as they were. Returns None when there was nothing to
        save. A detached HEAD is always saved as a snapshot (to snapshot_ref, or refused).
        """
        try:
            return self._save_worktree(worktree, message, snapshot_ref, before_ref_update)
        except pygit2.GitError as exc:
            raise RepositoryError(f"cannot save the work in {worktree}: {exc}") from None

    def _save_worktree(
        self,
        worktree: Path,
        message: str,
        snapshot_ref: str | None,
        before_ref_update: Callable[[], None] | None,
    ) -> Oid | None:
        wt = self.open_worktree(worktree)
        if wt.head_is_unborn:
            return None
        if wt.head_is_detached and snapshot_ref is None:
            raise RepositoryError(f"{worktree} has a detached HEAD; save it as a snapshot")
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
        conflicted: set[str] = set()
        if idx.conflicts is not None:
            conflicted = {e.path for t in idx.conflicts for e in t if e is not None}
        if snapshot_ref is not None:
            staged = idx
            idx = pygit2.Index()
            idx.read_tree(self._commit(tip).tree)
            # keep what was staged but not committed too (conflicted paths come from disk)
            for entry in staged:
                if entry.path not in conflicted:
                    idx.add(entry)
        elif conflicted:
            for path in conflicted:
                del idx.conflicts[path]
        for path in changed:
            full = worktree / path
            if not full.exists() and not full.is_symlink():
                if path in idx:
                    idx.remove(path)
            elif full.is_symlink():
                blob = wt.create_blob(os.readlink(full).encode())
                idx.add(pygit2.IndexEntry(path, blob, FileMode.LINK))
            elif full.is_file():
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

    def reattach_worktree(self, worktree: Path, branch_ref: str, keep_ref: str) -> str | None:
        """A worktree whose HEAD a worker detached (a rebase or checkout left half done): keep
        the detached commit reachable, move the branch to it when that is a fast-forward, and
        point HEAD back at the branch. Returns what was done, or None if HEAD was attached."""
        wt = self.open_worktree(worktree)
        if not wt.head_is_detached:
            return None
        detached = Oid(str(wt.head.target))
        tip = self.read_ref(branch_ref)
        if tip is not None and detached != tip and self.is_ancestor(tip, detached):
            self.update_ref(branch_ref, detached, tip, "po: fast-forward to the worker's commits")
            done = f"fast-forwarded {branch_ref} to the detached HEAD {detached[:12]}"
        elif tip is None or detached != tip:
            self.keep_reachable(keep_ref, detached, f"po: detached HEAD {detached[:12]} kept\n")
            done = f"detached HEAD {detached[:12]} kept in {keep_ref}"
        else:
            done = "HEAD re-attached"
        wt.state_cleanup()
        wt.set_head(branch_ref)
        return done

    def snapshot_directory(self, path: Path, ref: str, parent: Oid | None, message: str) -> Oid:
        """Keep every file under path (its .git entry aside) in a commit at ref, without opening
        path as a repository: for a worktree too broken to open."""
        idx = pygit2.Index()
        for root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in files:
                if name == ".git" and Path(root) == path:
                    continue
                full = Path(root) / name
                rel = full.relative_to(path).as_posix()
                if full.is_symlink():
                    blob = self._r.create_blob(os.readlink(full).encode())
                    idx.add(pygit2.IndexEntry(rel, blob, FileMode.LINK))
                elif full.is_file():
                    blob = self._r.create_blob_fromdisk(str(full))
                    mode = FileMode.BLOB_EXECUTABLE if os.access(full, os.X_OK) else FileMode.BLOB
                    idx.add(pygit2.IndexEntry(rel, blob, mode))
        tree = idx.write_tree(self._r)
        sig = self.signature()
        previous = self.read_ref(ref)
        parents = [p for p in (parent, previous) if p is not None]
        oid = Oid(str(self._r.create_commit(None, sig, sig, message, tree, parents)))
        self.update_ref(ref, oid, previous, message.splitlines()[0])
        return oid

    def reopen(self) -> Repo:
        """Another handle on the same repository, for use from another thread."""
        raw = pygit2.Repository(str(self.git_dir), RepositoryOpenFlag.NO_SEARCH)
        if self.workdir is not None and raw.workdir != str(self.workdir) + os.sep:
            raw.workdir = str(self.workdir)
        return Repo(raw, self._command_config, self._work_tree)

    def worktree_head(self, worktree: Path) -> Oid | None:
        try:
            wt = self.open_worktree(worktree)
        except RepositoryError:
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
        wt = self.open_worktree(worktree)
        wt.checkout_head(strategy=CheckoutStrategy.FORCE)  # type: ignore[no-untyped-call]

    # --- notes ----------------------------------------------------------------------------

    def add_note(self, oid: Oid, text: str) -> None:
        self.set_note(NOTES_REF, oid, text)

    def note(self, oid: Oid) -> str | None:
        try:
            return str(self._r.lookup_note(str(oid), NOTES_REF).message)
        except KeyError:
            return None

    # --- config ---------------------------------------------------------------------------

    def config(self, key: str) -> str | None:
        """A setting as git reads it: `git -c` (the last one) over the repository's config."""
        found = _override(self._command_config, key)
        return found if found is not None else _cfg(self._r.config, key)

    def config_items(self, prefix: str) -> Iterator[tuple[str, str]]:
        for entry in self._r.config:
            if entry.name.startswith(prefix):
                yield entry.name, entry.value or ""
        for item in self._command_config:
            if item.key.startswith(prefix):
                yield item.key, "true" if item.value is None else item.value

    def config_origin(self, key: str) -> tuple[str, str] | None:
        """(value, scope) of the entry that decides key: the last one at the highest level.

        scope is git's name for the level: system, global, local, worktree or command line."""
        found = _override(self._command_config, key)
        if found is not None:
            return found, gitenv.ORIGIN
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
            found = [str(v) for v in self._r.config.get_multivar(key)]
        except (KeyError, pygit2.GitError):
            found = []
        want = gitenv.canonical_key(key)
        return found + [
            "true" if e.value is None else e.value for e in self._command_config if e.key == want
        ]

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
        section = key.rpartition(".")[0]
        if "." not in section:
            self._drop_empty_section(section)
        return True

    def _drop_empty_section(self, section: str) -> None:
        """Take out a `[section]` header left with no entries (libgit2, like git config
        --unset, leaves it), so undoing a setting leaves the file as it was. Written through
        config.lock as git does; skipped when someone else holds it."""
        prefix = section.lower() + "."
        if any(e.name.lower().startswith(prefix) for e in self._local_config()):
            return
        path = self.common_dir / "config"
        lines = path.read_text().splitlines(keepends=True)
        header = re.compile(r"\s*\[\s*" + re.escape(section) + r"\s*\]\s*$", re.IGNORECASE)
        keep: list[str] = []
        for i, line in enumerate(lines):
            if header.match(line):
                rest = [x.strip() for x in lines[i + 1 :] if x.strip()]
                if not rest or rest[0].startswith("["):
                    continue
            keep.append(line)
        if len(keep) == len(lines):
            return
        lock = path.with_name("config.lock")
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as f:
            f.write("".join(keep))
        os.replace(lock, path)

    def _local_config(self) -> pygit2.Config:
        return pygit2.Config(str(self.common_dir / "config"))

    # --- integration, conflict radar, verify notes and clean-up -------------------------

    def relax_object_checks(self) -> None:
        """Let libgit2 skip checking that every object a new tree or commit names exists.

        Merges only combine objects that are already in the repository, and that check
        dominates their cost (pygit2.md). The setting is process-wide."""
        pygit2.option(pygit2.enums.Option.ENABLE_STRICT_OBJECT_CREATION, 0)

    def merge_base(self, a: Oid, b: Oid) -> Oid | None:
        found = self._r.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        return Oid(str(found)) if found is not None else None

    def tree_of(self, commit: Oid) -> Oid:
        """The oid of commit's tree."""
        return Oid(str(self._commit(commit).tree_id))

    def parents(self, oid: Oid) -> list[Oid]:
        return [Oid(str(p)) for p in self._commit(oid).parent_ids]

    def trailers(self, oid: Oid) -> dict[str, str]:
        """A commit message's trailers (a repeated key keeps its last value)."""
        try:
            found = self._commit(oid).message_trailers
        except (pygit2.GitError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()}

    def changed_paths(self, old: Oid | None, new: Oid) -> set[str]:
        """Paths whose content or mode differ between two commits (both names of a rename);
        every path of new when old is None."""
        if old is None:
            return self.tree_paths(new)
        diff = self._commit(old).tree.diff_to_tree(self._commit(new).tree)
        out: set[str] = set()
        for delta in diff.deltas:
            out.add(delta.old_file.path)
            out.add(delta.new_file.path)
        return out

    def diff_patch(self, old: Oid, new: Oid, limit: int = 400_000) -> tuple[str, bool]:
        """The patch from old's tree to new's (as `git diff old new`), cut at limit characters;
        and whether it was cut."""
        diff = self._commit(old).tree.diff_to_tree(self._commit(new).tree)
        diff.find_similar()
        text = diff.patch or ""
        return (text[:limit], True) if len(text) > limit else (text, False)

    def merge_pair(self, ours: Oid, theirs: Oid, message: str | None) -> PairMerge:
        """Three-way merge of theirs into ours, in memory; no ref, index or worktree moves.

        With a message, a clean result is written as a commit whose parents are ours and
        theirs (also when one contains the other: the merge always gets its own commit).
        Without one, only whether it conflicts is found out."""
        try:
            idx = self._r.merge_commits(ours, theirs)
        except (pygit2.GitError, KeyError, ValueError) as exc:
            raise RepositoryError(f"cannot merge {theirs[:12]} into {ours[:12]}: {exc}") from None
        if idx.conflicts is not None:
            found = {}
            for anc, mine, other in idx.conflicts:
                entry = mine or other or anc
                assert entry is not None
                found[entry.path] = ConflictFile(entry.path, _conflict_kind(anc, mine, other))
            return PairMerge(None, tuple(found[p] for p in sorted(found)))
        if message is None:
            return PairMerge(None, ())
        tree = idx.write_tree(self._r)
        sig = self.signature()
        oid = self._r.create_commit(None, sig, sig, message, tree, [ours, theirs])
        return PairMerge(Oid(str(oid)), ())

    def worktree_changes(self, worktree: Path) -> dict[str, str]:
        """What a worktree holds that its HEAD does not: path -> modified, deleted, added,
        untracked or conflicted. Ignored files are not work and are left out."""
        wt = self.open_worktree(worktree)
        out: dict[str, str] = {}
        for path, st in wt.status(untracked_files="all", ignored=False).items():
            if st == FileStatus.CURRENT or st & FileStatus.IGNORED:
                continue
            out[path] = _change_word(st)
        return out

    def worktree_dir(self, name: str) -> Path | None:
        """The working directory of a linked worktree, from its administrative files."""
        try:
            text = (self.worktree_gitdir(name) / "gitdir").read_text().strip()
        except OSError:
            return None
        return Path(text).parent

    def merge_head(self, worktree: Path) -> Oid | None:
        """The commit being merged in a worktree (its MERGE_HEAD), if a merge is under way."""
        wt = self.open_worktree(worktree)
        try:
            text = (Path(wt.path) / "MERGE_HEAD").read_text().split()
        except OSError:
            return None
        return Oid(text[0]) if text else None

    def start_merge(
        self, worktree: Path, theirs: Oid, message: str, theirs_ref: str | None = None
    ) -> tuple[str, ...]:
        """Merge theirs into a worktree's HEAD as `git merge` would: clean parts staged,
        conflicts left in the index and as conflict markers in the files, MERGE_HEAD and
        MERGE_MSG (this message) written, so `git commit` concludes it. Returns the
        conflicting paths."""
        wt = self.open_worktree(worktree)
        if theirs_ref is not None and self.read_ref(theirs_ref) == theirs:
            wt.merge(wt.lookup_reference(theirs_ref))  # conflict markers then name the branch
        else:
            wt.merge(pygit2.Oid(hex=theirs))
        idx = wt.index
        idx.read(force=True)
        paths: set[str] = set()
        if idx.conflicts is not None:
            for triple in idx.conflicts:
                paths |= {e.path for e in triple if e is not None}
        (Path(wt.path) / "MERGE_MSG").write_text(message)
        return tuple(sorted(paths))

    def move_checked_out_branch(
        self, worktree: Path, ref: str, expected: Oid, new: Oid, message: str
    ) -> None:
        """Move a branch checked out in worktree from expected to new, and bring that
        worktree's files and index along, holding the branch's ref lock throughout: a
        compare-and-swap during which nobody can commit there. The caller makes sure the
        worktree is clean; if libgit2 still finds a file in the way, nothing changes."""
        wt = pygit2.Repository(str(worktree), RepositoryOpenFlag.NO_SEARCH)
        target = wt[pygit2.Oid(hex=new)].peel(pygit2.Tree)  # checkout needs wt's own object

        def move() -> None:
            with wt.transaction() as tx:
                tx.lock_ref(ref)
                held = str(wt.lookup_reference(ref).target)
                if held != expected:
                    raise RefRace(f"{ref} moved to {held[:12]} (expected {expected[:12]})")
                try:
                    wt.checkout_tree(target, strategy=CheckoutStrategy.SAFE)  # type: ignore[no-untyped-call]
                except pygit2.GitError as exc:
                    raise StateConflict(f"cannot update the files of {worktree}: {exc}") from None
                tx.set_target(ref, pygit2.Oid(hex=new), message=message)

        _retry_locked(move, ref)

    def set_note(self, notes_ref: str, oid: Oid, text: str) -> None:
        """Write (or replace) the note on oid in notes_ref.

        libgit2's own note writing moves the notes ref without a compare-and-swap, so two
        processes noting at once lose notes; this builds the notes commit itself and moves the
        ref by compare-and-swap, writing again on top when another writer got there first.
        Notes are kept in folders by the first two hex digits of the object (git's fan-out),
        so a note costs the same at 100 notes and at 100,000."""
        sig = self.signature()
        blob = self._r.create_blob(text.encode())
        flat = str(oid)
        folder, rest = flat[:2], flat[2:]
        for _attempt in range(_LOCK_RETRIES):
            tip = self.read_ref(notes_ref)
            # fan-out like git's (ab/cdef...): one note rewrites the root (at most 256 folders,
            # plus flat notes an older version wrote) and one folder, never every note
            root = self._commit(tip).tree if tip is not None else None
            top = self._r.TreeBuilder(root) if root is not None else self._r.TreeBuilder()
            if root is not None and flat in root:
                top.remove(flat)
            sub = root[folder] if root is not None and folder in root else None
            inner = (
                self._r.TreeBuilder(sub) if isinstance(sub, pygit2.Tree) else self._r.TreeBuilder()
            )
            inner.insert(rest, blob, FileMode.BLOB)
            top.insert(folder, inner.write(), FileMode.TREE)
            tree = top.write()
            parents = [tip] if tip is not None else []
            commit = Oid(
                str(
                    self._r.create_commit(
                        None, sig, sig, "Notes added by 'git po'\n", tree, parents
                    )
                )
            )
            try:
                self.update_ref(notes_ref, commit, tip, f"notes: {str(oid)[:12]}")
                return
            except RefRace:
                time.sleep(0.002 * (1 + random.random()))
        raise RefRace(f"{notes_ref} keeps moving; the note on {str(oid)[:12]} was not written")

    def read_note(self, notes_ref: str, oid: Oid) -> str | None:
        try:
            return str(self._r.lookup_note(str(oid), notes_ref).message)
        except (KeyError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def commits_not_in(self, tip: Oid, hide: list[Oid], limit: int = 50) -> list[HistoryEntry]:
        """Commits reachable from tip and from none of hide, newest first (at most limit)."""
        walker = self._r.walk(tip, SortMode.TOPOLOGICAL)
        for h in hide:
            walker.hide(h)
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

    def keep_reachable(self, ref: str, oid: Oid, message: str) -> Oid:
        """Make oid reachable from ref, compare-and-swap: create ref at oid, or move it to a
        new commit with oid's tree whose parents are oid and ref's old tip."""
        previous = self.read_ref(ref)
        if previous is not None and self.is_ancestor(oid, previous):
            return previous
        if previous is None:
            self.create_ref(ref, oid, message.splitlines()[0])
            return oid
        sig = self.signature()
        tree = self._commit(oid).tree_id
        new = Oid(str(self._r.create_commit(None, sig, sig, message, tree, [oid, previous])))
        self.update_ref(ref, new, previous, message.splitlines()[0])
        return new

    # --- sharing (git po push / fetch / work) ----------------------------------------------

    def has_object(self, oid: Oid) -> bool:
        return pygit2.Oid(hex=oid) in self._r

    def make_commit(self, files: Mapping[str, bytes], message: str, parents: list[Oid]) -> Oid:
        """A commit of files (a tree of its own) on parents, on no ref."""
        tree = self.write_tree(files)
        sig = self.signature()
        return Oid(str(self._r.create_commit(None, sig, sig, message, tree, list(parents))))

    def note_entries(self, notes_commit: Oid) -> dict[str, Oid]:
        """Annotated object id -> note blob id in a notes commit (fan-out flattened)."""
        out: dict[str, Oid] = {}

        def walk(tree: pygit2.Tree, prefix: str) -> None:
            for e in tree:
                name = prefix + (e.name or "")
                if e.type_str == "tree":
                    walk(self._r[e.id].peel(pygit2.Tree), name)
                else:
                    out[name] = Oid(str(e.id))

        walk(self._commit(notes_commit).tree, "")
        return out

    def blob_bytes(self, oid: Oid) -> bytes:
        return bytes(self._r[pygit2.Oid(hex=oid)].peel(pygit2.Blob).data)

    def merge_notes(
        self,
        notes_ref: str,
        theirs: Oid,
        combine: Callable[[bytes, bytes], bytes],
        message: str,
    ) -> Oid:
        """Merge the notes commit theirs into notes_ref (compare-and-swap): a note on only one
        side is kept; a note on both sides becomes combine(ours, theirs). The result is a merge
        commit whose parents are both sides, so each side's history stays reachable."""
        for _attempt in range(_LOCK_RETRIES):
            ours = self.read_ref(notes_ref)
            if ours is None:
                self.create_ref(notes_ref, theirs, message)
                return theirs
            if self.is_ancestor(theirs, ours):
                return ours
            if self.is_ancestor(ours, theirs):
                self.update_ref(notes_ref, theirs, ours, message)
                return theirs
            mine, other = self.note_entries(ours), self.note_entries(theirs)
            idx = pygit2.Index()
            for obj, blob in {**other, **mine}.items():
                if obj in mine and obj in other and mine[obj] != other[obj]:
                    data = combine(self.blob_bytes(mine[obj]), self.blob_bytes(other[obj]))
                    blob = Oid(str(self._r.create_blob(data)))
                path = f"{obj[:2]}/{obj[2:]}" if len(obj) >= 40 else obj
                idx.add(pygit2.IndexEntry(path, pygit2.Oid(hex=blob), FileMode.BLOB))
            tree = idx.write_tree(self._r)
            sig = self.signature()
            merged = Oid(
                str(self._r.create_commit(None, sig, sig, message + "\n", tree, [ours, theirs]))
            )
            try:
                self.update_ref(notes_ref, merged, ours, message)
                return merged
            except RefRace:
                time.sleep(0.002 * (1 + random.random()))
        raise RefRace(f"{notes_ref} keeps moving; notes from {theirs[:12]} were not merged")


@dataclass(frozen=True, order=True)
class ConflictFile:
    path: str
    kind: str  # both-modified, both-added, deleted-by-ours, deleted-by-theirs


@dataclass(frozen=True)
class PairMerge:
    oid: Oid | None  # the merge commit, when one was written
    conflicts: tuple[ConflictFile, ...]

    @property
    def clean(self) -> bool:
        return not self.conflicts


def _conflict_kind(
    anc: pygit2.IndexEntry | None, ours: pygit2.IndexEntry | None, theirs: pygit2.IndexEntry | None
) -> str:
    if ours is None:
        return "deleted-by-ours"
    if theirs is None:
        return "deleted-by-theirs"
    if anc is None:
        return "both-added"
    return "both-modified"


def _change_word(st: int) -> str:
    if st & FileStatus.CONFLICTED:
        return "conflicted"
    if st & (FileStatus.WT_DELETED | FileStatus.INDEX_DELETED):
        return "deleted"
    if st & FileStatus.INDEX_NEW:
        return "added"
    if st & FileStatus.WT_NEW:
        return "untracked"
    return "modified"


_SCOPES = {
    int(ConfigLevel.PROGRAMDATA): "system",
    int(ConfigLevel.SYSTEM): "system",
    int(ConfigLevel.XDG): "global",
    int(ConfigLevel.GLOBAL): "global",
    int(ConfigLevel.LOCAL): "local",
    int(ConfigLevel.WORKTREE): "worktree",
    int(ConfigLevel.APP): "app",
}


_TRUE = ("true", "yes", "on", "1")


def _override(command: tuple[gitenv.Entry, ...], key: str) -> str | None:
    """The value `git -c` gives key (the last one; a bare `-c key` is true), or None."""
    want = gitenv.canonical_key(key)
    for entry in reversed(command):
        if entry.key == want:
            return "true" if entry.value is None else entry.value
    return None


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
    return f"cannot open the repository at {path}: {why}"


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
