"""What starting a task costs: `git po start` of N independent `shell` tasks that commit
[COMPLETE] at once, in a repository of --files files, against a loop doing the bare minimum
(`git worktree add -b` + `sh -c` running the same command), with 1 and with 4 workers, measured
in the same run. Run on demand:

    python benchmarks/launch.py [--files 2000] [--tasks 40] [--workers 1,4]

Prints the wall time per task of each and the ratio. Target: <= 1.3 x the loop at 1 worker and
at 4. (git po's own start-up, recording the plan and the final status table are in its time.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = os.environ.get("GIT_PO_BENCH_CODE", str(ROOT))
ENV = dict(os.environ, PYTHONPATH=CODE, GIT_CONFIG_NOSYSTEM="1")
COMMAND = "echo done > done-{t}.txt && git add -A && git commit -q -m '[COMPLETE] {t}'"


def git(path: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=path, check=True, env=ENV, capture_output=True)


def make_repo(path: Path, files: int, tasks: int, workers: int) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.com")
    for i in range(files):
        f = path / "src" / f"mod{i // 50}" / f"file{i}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"x = {i}\n" * 20)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    lines = ['name = "launch"', 'agent = "shell"', f"max_workers = {workers}", ""]
    for t in range(tasks):
        lines += [f"[tasks.t{t}]", f'run = "{COMMAND.format(t=f"t{t}")}"', ""]
    (path / "plan.toml").write_text("\n".join(lines))
    return path


def po(repo: Path, workers: int) -> float:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "git_po", "start", "plan.toml", "--no-live", "-j", str(workers)],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"git po failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr}")
    return wall


def loop(repo: Path, tasks: int, workers: int) -> float:
    def one(t: int) -> None:
        wt = repo.parent / f"{repo.name}-wt{t}"
        git(repo, "worktree", "add", "-q", "-b", f"loop/t{t}", str(wt), "main")
        subprocess.run(["sh", "-c", COMMAND.format(t=f"t{t}")], cwd=wt, env=ENV, check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(tasks)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--tasks", type=int, default=40)
    ap.add_argument("--workers", default="1,4")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as d:
        for w in (int(x) for x in args.workers.split(",")):
            ours = po(make_repo(Path(d) / f"po{w}", args.files, args.tasks, w), w)
            base = loop(make_repo(Path(d) / f"loop{w}", args.files, args.tasks, w), args.tasks, w)
            r = ours / base
            print(
                f"launch, {args.files} files, {w} worker(s): git po {ours / args.tasks * 1000:.0f} "
                f"ms/task, loop {base / args.tasks * 1000:.0f} ms/task, ratio {r:.2f} "
                f"({'MET' if r <= 1.3 else 'NOT MET'}, target <= 1.3)"
            )


if __name__ == "__main__":
    main()
