"""How `git po start --dry-run` scales with the size of a plan: time for 200 and 1,000 tasks
against a baseline measured in the same run (tomllib + a topological sort of the same plan, the
least any validation must do), and the peak memory of chain plans of 4,000 and 20,000 tasks.
Run on demand:

    python benchmarks/plan_scale.py [--sizes 200,1000] [--chains 4000,20000] [--rounds 3]

The DAG plans are layered (each task depends on one or two tasks of the layer before, owns
two files of its own and a folder glob, so the `writes` overlap check has work to do); the
chain plans are one long `depends_on` chain. Each dry-run is the real command, `git po start
--dry-run PLAN`, run in a fresh process in a throwaway repository, timed from the outside
(Python start-up included); memory is the child's peak resident set (ru_maxrss). Targets
(issue 10): 1,000 tasks <= 0.5 s; a 20,000-task chain within 500 MB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import deque
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


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True)


def dag_plan(n: int) -> str:
    lines = ['name = "scale"', "max_workers = 8", "", "[defaults]", 'agent = "shell"', ""]
    width = max(1, int(n**0.5))
    for i in range(n):
        deps = []
        if i >= width:
            deps.append(f"t{i - width}")
            if (i % width) + 1 < width and i - width + 1 >= 0:
                deps.append(f"t{i - width + 1}")
        lines += [
            f"[tasks.t{i}]",
            f'run = "echo {i}"',
            f"depends_on = [{', '.join(repr(d).replace(chr(39), chr(34)) for d in deps)}]",
            f'writes = ["src/m{i}/**", "tests/test_m{i}.py", "docs/m{i}.md"]',
            "",
        ]
    return "\n".join(lines)


def chain_plan(n: int) -> str:
    lines = ['name = "chain"', "", "[defaults]", 'agent = "shell"', ""]
    for i in range(n):
        dep = f'depends_on = ["t{i - 1}"]' if i else ""
        lines += [f"[tasks.t{i}]", f'run = "echo {i}"', dep, f'writes = ["src/m{i}.py"]', ""]
    return "\n".join(lines)


def _baseline(text: str) -> float:
    """tomllib + Kahn's topological sort: the least a validation must do."""
    t0 = time.perf_counter()
    data = tomllib.loads(text)
    tasks = data["tasks"]
    indeg = {k: len(v.get("depends_on", [])) for k, v in tasks.items()}
    users: dict[str, list[str]] = {k: [] for k in tasks}
    for k, v in tasks.items():
        for d in v.get("depends_on", []):
            users[d].append(k)
    queue = deque(k for k, d in indeg.items() if d == 0)
    order = []
    while queue:
        k = queue.popleft()
        order.append(k)
        for u in users[k]:
            indeg[u] -= 1
            if indeg[u] == 0:
                queue.append(u)
    assert len(order) == len(tasks)
    return time.perf_counter() - t0


def dry_run(repo: Path, plan: Path) -> tuple[float, float, float, int]:
    """`git po start --dry-run PLAN` in a fresh process: the command's wall time (start-up
    included), the wall and CPU time of the command itself (imports done), and the process's
    peak RSS in KiB."""
    code = (
        "import resource, sys, time\n"
        "from git_po.cli import main\n"
        "sys.argv = ['git-po', 'start', '--dry-run', sys.argv[1]]\n"
        "w, c = time.perf_counter(), time.process_time()\n"
        "try:\n    main()\n"
        "except SystemExit as e:\n    rc = e.code or 0\n"
        "else:\n    rc = 0\n"
        "w, c = time.perf_counter() - w, time.process_time() - c\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(w, c, rss, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(plan)],
        cwd=repo,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"dry-run of {plan.name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    wall, cpu, rss = proc.stderr.strip().splitlines()[-1].split()
    return took, float(wall), float(cpu), int(rss)


def baseline(text: str) -> tuple[float, float]:
    """Wall and CPU time of the baseline, best of 3 (it is short: noise dominates)."""
    runs = []
    for _ in range(3):
        w, c = time.perf_counter(), time.process_time()
        _baseline(text)
        runs.append((time.perf_counter() - w, time.process_time() - c))
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="200,1000")
    ap.add_argument("--chains", default="4000,20000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    chains = [int(s) for s in args.chains.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        git(repo, "init", "-q", "-b", "main")
        (repo / "README.md").write_text("x\n")
        git(repo, "add", "README.md")
        git(repo, "commit", "-q", "-m", "init")
        print("dry-run of DAG plans with writes (median of rounds; in-process: the command")
        print("itself, imports done; CPU time is steadier than wall time on a busy machine)")
        print(
            f"{'tasks':>7} {'command':>9} {'in-process':>11} {'baseline':>9} {'ratio':>6}"
            f" {'CPU':>8} {'baseline':>9} {'ratio':>6}"
        )
        for n in sizes:
            plan = Path(tmp) / f"dag{n}.toml"
            text = dag_plan(n)
            plan.write_text(text)
            runs = [dry_run(repo, plan) for _ in range(args.rounds)]
            cmd = statistics.median(r[0] for r in runs)
            wall = statistics.median(r[1] for r in runs)
            cpu = statistics.median(r[2] for r in runs)
            bw, bc = baseline(text)
            print(
                f"{n:>7} {cmd:>8.3f}s {wall:>10.3f}s {bw:>8.3f}s {wall / bw:>5.1f}x"
                f" {cpu:>7.3f}s {bc:>8.3f}s {cpu / bc:>5.1f}x"
            )
        print("\ndry-run of chain plans: peak memory")
        print(f"{'tasks':>7} {'command':>9} {'CPU':>8} {'peak RSS':>10}")
        for n in chains:
            plan = Path(tmp) / f"chain{n}.toml"
            plan.write_text(chain_plan(n))
            took, _wall, cpu, rss = dry_run(repo, plan)
            print(f"{n:>7} {took:>8.2f}s {cpu:>7.2f}s {rss / 1024:>8.0f} MB")
        ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"\n(this script's own peak RSS: {ru / 1024:.0f} MB)")
        print("targets: 1,000 tasks <= 0.5 s (in-process); a 20,000-task chain within 500 MB")


if __name__ == "__main__":
    main()
