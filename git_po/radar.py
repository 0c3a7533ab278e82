"""The conflict radar: which live or finished tasks will conflict with each other, and on which
files, predicted by in-memory three-way merges of their current branch tips.

Cheap first: a pair whose tips are related, or whose changes since their merge base touch no
common path, cannot conflict and is never merged. The answer for a pair depends only on its two
tips, so it is cached by them in <git-common-dir>/po/plans/<plan>/radar-cache.json, a local file
that may vanish or be garbled at any time without harm: `status` never fails because of it.
"""

from __future__ import annotations

import contextlib
import json
import os
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
    repo: Repo, plan: str, tips: dict[str, Oid], *, integrated: Oid | None = None
) -> dict[str, list[Collision]]:
    """task -> the other tasks its branch would conflict with, and on which files.

    tips: branch tip of each task to compare. A pair both already contained in integrated (the
    integration branch's tip) is history, not a prediction, and is left out."""
    path = layout.radar_cache(repo.common_dir, plan)
    cache = _load(path)
    fresh: dict[str, list[str]] = {}
    out: dict[str, list[Collision]] = {t: [] for t in tips}
    items = sorted(tips.items())
    contained = {
        t: integrated is not None and repo.is_ancestor(tip, integrated) for t, tip in items
    }
    for i, (a, tip_a) in enumerate(items):
        for b, tip_b in items[i + 1 :]:
            if tip_a == tip_b or (contained[a] and contained[b]):
                continue
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
    dirs_x = {p.rsplit("/", i)[0] for p in x for i in range(1, p.count("/") + 1)}
    dirs_y = {p.rsplit("/", i)[0] for p in y for i in range(1, p.count("/") + 1)}
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
