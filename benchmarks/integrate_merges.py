"""How much faster `git po integrate` merges than a checkout: 20 task branches integrated into a
repository of ~2,000 files, with in-process three-way merges (libgit2, no checkout) against a
loop of `git merge --no-ff` in a checkout, measured in the same run on the same branches.
Run on demand:

    python benchmarks/integrate_merges.py [--files 2000] [--tasks 20] [--rounds 3]

The tasks are real: a plan of `shell` tasks run by `git po start` (each changes a few files
spread over the tree, adds one, and commits [COMPLETE]). Each round integrates them into a
fresh integration branch through the real code path (`git_po.integrate.integrate`, in this
process, so Python's and pygit2's start-up is not counted; the `git po integrate` command's
wall time, start-up included, is printed too), and merges them, in the same order, into a fresh
checkout with `git merge --no-ff`. Both results must have the same tree. Prints the medians and
the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from git_po import integrate, integrate_text  # noqa: E402
from git_po.repo import Repo  # noqa: E402

ENV = dict(
    os.environ,
    GIT_CONFIG_NOSYSTEM="1",
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
    PYTHONPATH=str(ROOT),
)


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def make_repo(path: Path, files: int, tasks: int) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    per_dir = 20
    for i in range(files):
        f = path / "src" / f"pkg{i // per_dir:03d}" / f"mod{i:04d}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("".join(f"line {n} of module {i}\n" for n in range(30)))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    lines = ['name = "bench"', 'agent = "shell"', f"max_workers = {tasks}", ""]
    for t in range(tasks):
        # three existing files far apart in the tree, one new file: no two tasks overlap
        touched = [(t * 7 + k * (files // 3)) % files for k in range(3)]
        edits = "; ".join(
            f"echo 'changed by t{t}' >> src/pkg{i // per_dir:03d}/mod{i:04d}.py" for i in touched
        )
        lines += [
            f"[tasks.t{t}]",
            f'run = "{edits}; mkdir -p new; echo t{t} > new/t{t}.py; '
            f"git add -A && git commit -q -m '[COMPLETE] t{t}: three edits and a file'\"",
            "",
        ]
    (path.parent / "bench.toml").write_text("\n".join(lines))
    proc = subprocess.run(
        [sys.executable, "-m", "git_po", "start", str(path.parent / "bench.toml"), "--no-live"],
        cwd=path,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"git po start failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return path


def in_process(repo: Path, branch: str) -> tuple[float, str]:
    r = Repo.discover(repo)
    t0 = time.perf_counter()
    report = integrate.integrate(r, "bench", integrate.Options(branch=branch))
    took = time.perf_counter() - t0
    if not report.ok or report.after is None:
        sys.exit(integrate_text.report_text(report))
    return took, report.after


def command(repo: Path, branch: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "git_po", "integrate", "bench", "--branch", branch],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"git po integrate failed:\n{proc.stdout}\n{proc.stderr}")
    return took


def git_merge_loop(repo: Path, where: Path, branch: str, base: str, order: list[str]) -> float:
    git(repo, "worktree", "add", "-q", "-b", branch, str(where), base)
    t0 = time.perf_counter()
    for t in order:
        git(where, "merge", "--no-ff", "-q", "-m", f"Merge task {t}", f"po/bench/{t}")
    took = time.perf_counter() - t0
    return took


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--tasks", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as tmp:
        t0 = time.perf_counter()
        repo = make_repo(Path(tmp) / "repo", args.files, args.tasks)
        setup = time.perf_counter() - t0
        base = git(repo, "rev-parse", "refs/po/bench/plan:run.toml").strip()
        base = git(repo, "show", "refs/po/bench/plan:run.toml")
        base_oid = next(
            line.split('"')[1] for line in base.splitlines() if line.startswith("base =")
        )
        order = [f"t{t}" for t in range(args.tasks)]
        ours: list[float] = []
        cli: list[float] = []
        theirs: list[float] = []
        for n in range(args.rounds):
            took, tip = in_process(repo, f"bench/inproc{n}")
            ours.append(took)
            cli.append(command(repo, f"bench/cli{n}"))
            theirs.append(
                git_merge_loop(repo, Path(tmp) / f"checkout{n}", f"bench/merge{n}", base_oid, order)
            )
            same = git(repo, "rev-parse", f"{tip}^{{tree}}") == git(
                repo, "rev-parse", f"bench/merge{n}^{{tree}}"
            )
            if not same:
                sys.exit("the in-process result and git merge's differ")
        files = len(git(repo, "ls-files").splitlines())
    a, c, b = statistics.median(ours), statistics.median(cli), statistics.median(theirs)
    print(f"{files} files, {args.tasks} task branches, {args.rounds} rounds (setup {setup:.1f}s)")
    print(f"git po integrate, in process:        {a * 1000:7.0f} ms  ({a / args.tasks * 1000:.1f} ms/merge)")
    print(f"git po integrate, the command:       {c * 1000:7.0f} ms  (Python and pygit2 start-up included)")
    print(f"git merge --no-ff loop in a checkout: {b * 1000:7.0f} ms  ({b / args.tasks * 1000:.1f} ms/merge)")
    print(f"in process is {b / a:.1f}x faster than git merge in a checkout ({b / c:.1f}x as a command)")
    print("both produced the same tree in every round")


if __name__ == "__main__":
    main()
