"""The conflict radar: which live or finished tasks will conflict with each other, and on which
files, predicted by in-memory three-way merges of their current branch tips.

Cheap first: a pair whose tips are related, or whose changes since their merge base touch no
common path, cannot conflict and is never merged. Tasks whose branches are straight lines on the
same base are paired through an index of their changed paths (read once per tip), so only pairs
whose changes meet cost anything. The answer for a pair depends only on its two
tips, so it is cached by them in <git-common-dir>/po/plans/<plan>/radar-cache.json, a local file
that may vanish or be garbled at any time without harm: `status` never fails because of it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from git_po import layout
from git_po.errors import RepositoryError
from git_po.repo import Oid, Repo
from git_po.state import State

# tasks whose branches the radar compares: live and finished ones
STATES = frozenset(
    {State.RUNNING, State.VERIFYING, State.COMPLETE, State.BLOCKED, State.NEEDS, State.FAILED}
)
_CACHE_VERSION = 1


@dataclass(frozen=True)
class Collision:
    task: str  # the other task
    files: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"task": self.task, "files": list(self.files)}


def predict(
    repo: Repo,
    plan: str,
    tips: dict[str, Oid],
    *,
    integrated: Oid | None = None,
    bases: Mapping[str, Oid] | None = None,
) -> dict[str, list[Collision]]:
    """task -> the other tasks its branch would conflict with, and on which files.

    tips: branch tip of each task to compare. A pair both already contained in integrated (the
    integration branch's tip) is history, not a prediction, and is left out. bases: the commit
    each task's branch started from; tasks whose branch is a straight line of commits on top of
    the same base have that base as their merge base, so a pair of them whose changes share no
    path (and no commit) is clean without a merge: only pairs whose changed paths meet are
    merged, and each tip's changed paths are read once."""
    path = layout.radar_cache(repo.common_dir, plan)
    cache = _load(path)
    fresh: dict[str, list[str]] = {}
    out: dict[str, list[Collision]] = {t: [] for t in tips}
    items = sorted(tips.items())
    contained = {
        t: integrated is not None and repo.is_ancestor(tip, integrated) for t, tip in items
    }
    line_base, meet = _lines(repo, tips, bases or {})
    for i, (a, tip_a) in enumerate(items):
        for b, tip_b in items[i + 1 :]:
            if tip_a == tip_b or (contained[a] and contained[b]):
                continue
            base = line_base.get(a)
            if base is not None and base == line_base.get(b) and (a, b) not in meet:
                continue  # changes since their common base share no path: clean
            key = "..".join(sorted((tip_a, tip_b)))
            files = cache.get(key)
            if files is None:
                files = _pair(repo, tip_a, tip_b)
                if files is None:
                    continue  # could not tell; try again next time
            fresh[key] = files
            if files:
                out[a].append(Collision(b, tuple(files)))
                out[b].append(Collision(a, tuple(files)))
    if fresh != cache:
        _save(path, fresh)  # only the current pairs: the file never grows beyond them
    return out


def _lines(
    repo: Repo, tips: Mapping[str, Oid], bases: Mapping[str, Oid]
) -> tuple[dict[str, Oid], set[tuple[str, str]]]:
    """The base of each task whose branch is a straight line on top of it, and the pairs (a < b)
    of such tasks with the same base whose changed paths meet (a path, or a file and a folder)
    or who share a commit; found through an index, never by trying every pair."""
    line_base: dict[str, Oid] = {}
    files: dict[tuple[Oid, str], list[str]] = {}
    dirs: dict[tuple[Oid, str], list[str]] = {}
    commits: dict[Oid, list[str]] = {}
    for t, tip in sorted(tips.items()):
        base = bases.get(t)
        if base is None or base == tip:
            continue
        try:
            own = repo.commits_since(tip, base)
            if not own:
                continue
            changed = repo.changed_paths(base, tip)
        except (RepositoryError, KeyError, ValueError):
            continue
        line_base[t] = base
        for p in changed:
            files.setdefault((base, p), []).append(t)
            for d in _folders(p):
                dirs.setdefault((base, d), []).append(t)
        for c in own:
            commits.setdefault(c, []).append(t)
    meet: set[tuple[str, str]] = set()

    def add(xs: list[str], ys: list[str]) -> None:
        for x in xs:
            for y in ys:
                if x != y:
                    meet.add((x, y) if x < y else (y, x))

    for key, ts in files.items():
        add(ts, ts)
        add(ts, dirs.get(key, []))
    for ts in commits.values():
        add(ts, ts)
    return line_base, meet


def _folders(p: str) -> list[str]:
    return [p.rsplit("/", i)[0] for i in range(1, p.count("/") + 1)]


def _pair(repo: Repo, a: Oid, b: Oid) -> list[str] | None:
    """The files a merge of a and b would conflict on ([] when clean), None if unknown."""
    try:
        if repo.is_ancestor(a, b) or repo.is_ancestor(b, a):
            return []
        base = repo.merge_base(a, b)
        if base is None:
            return []  # unrelated histories are not merged by git po
        if not _overlap(repo.changed_paths(base, a), repo.changed_paths(base, b)):
            return []
        merged = repo.merge_pair(a, b, None)
    except (RepositoryError, KeyError, ValueError):
        return None
    return sorted(c.path for c in merged.conflicts)


def _overlap(x: set[str], y: set[str]) -> bool:
    """Whether two sets of changed paths share a path, or one's file is the other's folder."""
    if x & y:
        return True
    dirs_x = {d for p in x for d in _folders(p)}
    dirs_y = {d for p in y for d in _folders(p)}
    return bool(dirs_x & y or dirs_y & x)


def _load(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != _CACHE_VERSION:
        return {}
    pairs = data.get("pairs")
    if not isinstance(pairs, dict):
        return {}
    out: dict[str, list[str]] = {}
    for key, files in pairs.items():
        if (
            isinstance(key, str)
            and isinstance(files, list)
            and all(isinstance(f, str) for f in files)
        ):
            out[key] = files
    return out


def _save(path: Path, pairs: dict[str, list[str]]) -> None:
    text = json.dumps({"version": _CACHE_VERSION, "pairs": pairs}, sort_keys=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
