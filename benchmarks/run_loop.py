"""The run loop against its baselines, measured in the same run on throwaway repositories. Run on
demand:

    python benchmarks/run_loop.py [--only makespan|short|cpu]

- makespan: a 30-task DAG of known lengths (0.5-3 s, `shell` tasks that sleep and commit
  [COMPLETE]) with 4 workers, against the lower bound max(critical path, work / workers) and
  against a wave scheduler (each level of the graph run with 4 workers in parallel, the next
  level started once the whole level is done; real `sh -c` processes). Target: <= 1.05 x the
  bound, better than waves.
- short: the same DAG with tasks 5 x shorter. Target: better than waves.
- cpu: the orchestrator's CPU (user + system, its own process, not its workers) while 20
  workers sleep; target < 1 % of a core.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# the code measured: this checkout, or another (an export of an older commit, for "before")
CODE = os.environ.get("GIT_PO_BENCH_CODE", str(ROOT))
ENV = dict(os.environ, PYTHONPATH=CODE, GIT_CONFIG_NOSYSTEM="1")


def git(path: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=path, check=True, env=ENV, capture_output=True)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.com")
    for i in range(50):
        f = path / "src" / f"file{i}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"x = {i}\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def dag(n: int = 30, seed: int = 7) -> dict[str, tuple[float, list[str]]]:
    """Task -> (seconds, dependencies): 30 tasks in 6 levels, each depending on 1-2 of the
    level before, lengths 0.5-3 s."""
    rnd = random.Random(seed)
    out: dict[str, tuple[float, list[str]]] = {}
    levels: list[list[str]] = []
    for i in range(n):
        lvl = min(5, i // 5)
        while len(levels) <= lvl:
            levels.append([])
        deps = rnd.sample(levels[lvl - 1], k=min(2, len(levels[lvl - 1]))) if lvl else []
        name = f"t{i}"
        out[name] = (round(rnd.uniform(0.5, 3.0), 2), deps[: rnd.randint(1, 2)] if deps else [])
        levels[lvl].append(name)
    return out


def lower_bound(tasks: dict[str, tuple[float, list[str]]], workers: int) -> float:
    finish: dict[str, float] = {}
    for t, (secs, deps) in tasks.items():  # written in dependency order
        finish[t] = secs + max((finish[d] for d in deps), default=0.0)
    return max(max(finish.values()), sum(s for s, _ in tasks.values()) / workers)


def command(name: str, secs: float) -> str:
    return (
        f"sleep {secs}; mkdir -p out; echo {name} > out/{name}.txt; "
        f"git add -A && git commit -q -m '[COMPLETE] {name}'"
    )


def plan_text(tasks: dict[str, tuple[float, list[str]]], workers: int) -> str:
    lines = ['name = "loop"', 'agent = "shell"', f"max_workers = {workers}", ""]
    for t, (secs, deps) in tasks.items():
        lines += [
            f"[tasks.{t}]",
            "depends_on = [" + ", ".join(f'"{d}"' for d in deps) + "]",
            f'run = "{command(t, secs)}"',
            "",
        ]
    return "\n".join(lines)


def run_po(repo: Path, text: str, workers: int) -> float:
    (repo / "plan.toml").write_text(text)
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
        sys.exit(f"git po failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return wall


def run_waves(repo: Path, tasks: dict[str, tuple[float, list[str]]], workers: int) -> float:
    """Level by level, `workers` at a time, each task in its own worktree (git worktree add)."""
    level: dict[str, int] = {}
    for t, (_, deps) in tasks.items():
        level[t] = 1 + max((level[d] for d in deps), default=-1)
    waves: dict[int, list[str]] = {}
    for t, lv in level.items():
        waves.setdefault(lv, []).append(t)

    def one(t: str) -> None:
        wt = repo.parent / f"wave-{repo.name}-{t}"
        git(repo, "worktree", "add", "-q", "-b", f"wave/{t}", str(wt), "main")
        subprocess.run(["sh", "-c", command(t, tasks[t][0])], cwd=wt, env=ENV, check=True)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for lv in sorted(waves):
            list(pool.map(one, waves[lv]))
    return time.perf_counter() - t0


def makespan(tmp: Path, scale: float, label: str) -> None:
    tasks = {t: (round(s * scale, 3), d) for t, (s, d) in dag().items()}
    bound = lower_bound(tasks, 4)
    po = run_po(make_repo(tmp / f"po-{label}"), plan_text(tasks, 4), 4)
    waves = run_waves(make_repo(tmp / f"waves-{label}"), tasks, 4)
    print(f"{label}: lower bound {bound:.2f}s; git po {po:.2f}s = {po / bound:.3f} x bound; ")
    print(f"  waves {waves:.2f}s = {waves / bound:.3f} x bound; git po / waves = {po / waves:.3f}")
    target = " (target <= 1.05 x bound, < waves)" if scale == 1 else " (target: < waves)"
    ok = po < waves and (scale != 1 or po / bound <= 1.05)
    print(f"  {'MET' if ok else 'NOT MET'}{target}")


def cpu(tmp: Path, workers: int = 20, seconds: float = 12.0) -> None:
    tasks = {f"t{i}": (seconds, []) for i in range(workers)}
    repo = make_repo(tmp / "cpu")
    (repo / "plan.toml").write_text(plan_text(tasks, workers))
    p = subprocess.Popen(
        [sys.executable, "-m", "git_po", "start", "plan.toml", "--no-live", "-j", str(workers)],
        cwd=repo,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    me = psutil.Process(p.pid)
    time.sleep(4.0)  # every worker started
    a = me.cpu_times()
    t0 = time.perf_counter()
    time.sleep(seconds - 6.0)
    b = me.cpu_times()
    wall = time.perf_counter() - t0
    used = (b.user + b.system) - (a.user + a.system)
    p.wait()
    share = used / wall * 100
    print(
        f"cpu: orchestrator while {workers} workers run: {used * 1000:.0f} ms CPU in {wall:.1f}s "
        f"= {share:.2f} % of a core ({'MET' if share < 1 else 'NOT MET'}, target < 1 %)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--only", choices=["makespan", "short", "cpu"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as d:
        tmp = Path(d)
        if args.only in (None, "cpu"):
            cpu(tmp)
        if args.only in (None, "makespan"):
            makespan(tmp, 1.0, "makespan")
        if args.only in (None, "short"):
            makespan(tmp, 0.2, "short")


if __name__ == "__main__":
    main()
