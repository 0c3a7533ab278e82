"""How much a plan gains from parallel workers: the same plan run with 1 worker (baseline) and
with N workers, in the same process, on throwaway repositories. Run on demand:

    python benchmarks/run_parallel.py [--tasks 12] [--workers 4] [--seconds 1.0]

Tasks are `shell` tasks that sleep, write a file and commit [COMPLETE], arranged as a layered
graph (every task of a layer depends on one task of the layer before), so scheduling, worktree
creation, in-memory dependency merges, state refs and auto-save all take part. Prints wall
times and the speed-up ratio against the 1-worker baseline.
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


def make_repo(path: Path, tasks: int, seconds: float) -> Path:
    path.mkdir(parents=True)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=path, check=True, env=env, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.name", "bench")
    git("config", "user.email", "bench@example.com")
    for i in range(200):
        f = path / "src" / f"mod{i // 20}" / f"file{i}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"x = {i}\n")
    git("add", "-A")
    git("commit", "-q", "-m", "initial")
    lines = ['name = "bench"', 'agent = "shell"', ""]
    width = 4
    for i in range(tasks):
        deps = [f"t{i - width}"] if i >= width else []
        lines += [
            f"[tasks.t{i}]",
            f"depends_on = {deps!r}".replace("'", '"'),
            f'writes = ["out/t{i}.txt"]',
            f'run = "sleep {seconds}; mkdir -p out; echo {i} > out/t{i}.txt; '
            f"git add -A && git commit -q -m '[COMPLETE] t{i}'\"",
            "",
        ]
    (path / "plan.toml").write_text("\n".join(lines))
    return path


def run(repo: Path, workers: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(ROOT), GIT_CONFIG_NOSYSTEM="1")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "git_po", "start", "plan.toml", "--no-live", "-j", str(workers)],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", type=int, default=12)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=1.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as tmp:
        base = run(make_repo(Path(tmp) / "serial", args.tasks, args.seconds), 1)
        par = run(make_repo(Path(tmp) / "parallel", args.tasks, args.seconds), args.workers)
    ideal = args.tasks * args.seconds
    print(f"tasks {args.tasks}, {args.seconds:g}s of work each ({ideal:g}s in all)")
    print(f"1 worker (baseline):  {base:6.2f}s")
    print(f"{args.workers} workers:            {par:6.2f}s")
    print(f"speed-up: {base / par:.2f}x (ideal {min(args.workers, 4)}x for this graph)")
    print(f"orchestration overhead per task, 1 worker: {(base - ideal) / args.tasks * 1000:.0f} ms")


if __name__ == "__main__":
    main()
