"""How much work one conflict holds back: a plan of 20 `shell` tasks in which task 2 conflicts
with task 1 (and a few tasks build on task 2), integrated by `git po integrate`, against the
baseline in the same run: merging the same branches in the same order with `git merge --no-ff`
in a checkout and stopping at the first conflict (what `git po integrate` did before it learned
to set a conflict aside). Run on demand:

    python benchmarks/integrate_conflict.py [--tasks 20] [--conflict-at 2] [--dependents 3]

The plan sets `verify` to a command that counts its runs, so the figures also show how many
merges were verified and how many reused a pass on the same tree. Then the conflict is resolved
(`integrate --resolve`, a commit) and a second `git po integrate` merges the rest. Prints the
tasks merged by each, the ratio, and the verify counts.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(
    os.environ,
    GIT_CONFIG_NOSYSTEM="1",
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    PYTHONPATH=str(ROOT),
)


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def po(cwd: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "git_po", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc, time.perf_counter() - t0


def make_plan(path: Path, tasks: int, conflict_at: int, dependents: int, count: Path) -> Path:
    """Tasks t1..tN; t<conflict_at> changes the line t1 changes; the next `dependents` tasks
    after it each build on the one before (a chain from the conflicting task)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "shared.txt").write_text("one\ntwo\nthree\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    lines = ['name = "bench"', 'agent = "shell"', f"max_workers = {tasks}"]
    lines += [f'verify = "echo run >> {count}"', ""]
    chain = list(range(conflict_at + 1, conflict_at + 1 + dependents))
    for i in range(1, tasks + 1):
        if i in (1, conflict_at):
            edit = f"printf 'one\\\\nt{i}\\\\nthree\\\\n' > shared.txt"
        else:
            edit = f"echo t{i} > t{i}.txt"
        deps = [f"t{i - 1}"] if i in chain else []
        lines += [
            f"[tasks.t{i}]",
            f"depends_on = {deps!r}".replace("'", '"'),
            f"run = \"{edit}; git add -A && git commit -q -m '[COMPLETE] t{i}'\"",
            "",
        ]
    plan = path.parent / "bench.toml"
    plan.write_text("\n".join(lines))
    proc, _ = po(path, "start", str(plan), "--no-live")
    if proc.returncode != 0:
        sys.exit(f"git po start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return path


def baseline(repo: Path, where: Path, order: list[str]) -> tuple[int, float]:
    """Merge in order in a checkout, stopping at the first conflict: how many merged."""
    base = git(repo, "rev-parse", "main").stdout.strip()
    git(repo, "worktree", "add", "-q", "-b", "bench/baseline", str(where), base)
    merged = 0
    t0 = time.perf_counter()
    for t in order:
        if git(
            where, "merge", "--no-ff", "-q", "-m", f"Merge {t}", f"po/bench/{t}", check=False
        ).returncode:
            git(where, "merge", "--abort")
            break
        merged += 1
    return merged, time.perf_counter() - t0


def lines_of(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--conflict-at", type=int, default=2)
    ap.add_argument("--dependents", type=int, default=3)
    args = ap.parse_args()
    if not 1 < args.conflict_at <= args.tasks - args.dependents:
        sys.exit("--conflict-at must be after task 1, with room for its dependents")
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as tmp:
        count = Path(tmp) / "verify-runs.txt"
        repo = make_plan(Path(tmp) / "repo", args.tasks, args.conflict_at, args.dependents, count)
        at_start = lines_of(count)
        order = [f"t{i}" for i in range(1, args.tasks + 1)]  # the plan's dependency order

        old, old_s = baseline(repo, Path(tmp) / "baseline", order)

        first, first_s = po(repo, "integrate", "bench")
        if first.returncode != 1:
            sys.exit(f"expected exit 1 (something set aside):\n{first.stdout}\n{first.stderr}")
        merged = len(re.findall(r"^  t\d+: merged", first.stdout, re.M))
        aside = len(re.findall(r"^  t\d+: (conflict|set aside)", first.stdout, re.M))
        verified = lines_of(count) - at_start
        reused = first.stdout.count("verify reused from")

        res, _ = po(repo, "integrate", "bench", "--resolve", f"t{args.conflict_at}")
        found = re.search(r"at (\S+)\n", res.stdout)
        if res.returncode != 0 or not found:
            sys.exit(f"--resolve failed:\n{res.stdout}\n{res.stderr}")
        where = Path(found.group(1))
        (where / "shared.txt").write_text(f"one\nt1 and t{args.conflict_at}\nthree\n")
        git(where, "commit", "-q", "-a", "--no-edit")
        second, second_s = po(repo, "integrate", "bench")
        if second.returncode != 0:
            sys.exit(f"the second integrate failed:\n{second.stdout}\n{second.stderr}")
        rest = len(re.findall(r"^  t\d+: (merged|resolution taken)", second.stdout, re.M))

    n = args.tasks
    print(
        f"{n} tasks; task {args.conflict_at} conflicts with task 1; {args.dependents} build on it"
    )
    print(
        f"baseline, git merge stopping at the first conflict: {old:3d} of {n} merged "
        f"({old_s * 1000:.0f} ms)"
    )
    print(
        f"git po integrate, conflicts set aside:              {merged:3d} of {n} merged, "
        f"{aside} set aside ({first_s * 1000:.0f} ms, start-up included)"
    )
    print(
        f"{merged / max(old, 1):.1f}x the tasks integrated past one conflict ({merged - old} more)"
    )
    print(
        f"verify: {verified} runs for {merged} merges ({reused} reused a pass on the same tree; "
        f"before, every merge ran it)"
    )
    print(
        f"after --resolve, a second integrate merged the other {rest} "
        f"({second_s * 1000:.0f} ms): {merged + rest} of {n}"
    )


if __name__ == "__main__":
    main()
