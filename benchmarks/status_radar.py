"""`git po status` (with its conflict radar) against a `git log` loop, and the end-of-run status
table as tasks grow, measured in the same run on throwaway repositories. Run on demand:

    python benchmarks/status_radar.py [--tasks 50] [--commits 200] [--only status|end]

- status: a finished plan of --tasks tasks, each branch --commits commits on the base (a few
  pairs of tasks change the same file, so some pairs conflict). `git po status --json` with the
  radar cache removed (cold) and again (warm), against a loop of `git log` over the same
  branches (one `git log main..<branch>` each). Targets: status <= 1.5 x the loop, cold <= 2 x
  warm. Both sides pay one process start each time.
- end: the final status table (`git po status`, in process, as `git po start` prints it after
  a run) for plans of 50, 100 and 200 tasks: linear in tasks when the time per task stays flat.
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
CODE = os.environ.get("GIT_PO_BENCH_CODE", str(ROOT))
ENV = dict(os.environ, PYTHONPATH=CODE, GIT_CONFIG_NOSYSTEM="1")


def git(path: Path, *args: str, stdin: bytes | None = None) -> str:
    p = subprocess.run(
        ["git", *args], cwd=path, check=True, env=ENV, capture_output=True, input=stdin
    )
    return p.stdout.decode()


def make_plan(path: Path, tasks: int, commits: int) -> Path:
    """A repository whose plan `bench` ran to the end: each task fast-forwards its branch to a
    prepared line of commits (written with git fast-import), the last one [COMPLETE]."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "bench")
    git(path, "config", "user.email", "bench@example.com")
    for i in range(200):
        f = path / "src" / f"mod{i // 20}" / f"file{i}.py"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f"x = {i}\n")
    (path / "shared.txt").write_text("shared\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    stream: list[str] = []
    mark = 0
    for t in range(tasks):
        stream.append(f"reset refs/prepared/t{t}\nfrom refs/heads/main\n")
        for c in range(commits):
            mark += 1
            last = c == commits - 1
            subject = f"[COMPLETE] t{t}" if last else f"[CHECKPOINT] t{t} step {c}"
            # tasks 0 and 1, 5 and 6, ... add the same file differently: those pairs conflict
            name = f"shared{t - t % 5}.txt" if (t % 5 < 2 and last) else f"work/t{t}/f{c % 20}.txt"
            data = f"t{t} c{c}\n"
            stream.append(
                f"commit refs/prepared/t{t}\nmark :{mark}\n"
                f"committer bench <bench@example.com> {1_700_000_000 + mark} +0000\n"
                f"data {len(subject)}\n{subject}\n"
                f"M 100644 inline {name}\ndata {len(data)}\n{data}\n"
            )
    git(path, "fast-import", "--quiet", stdin="".join(stream).encode())
    lines = ['name = "bench"', 'agent = "shell"', f"max_workers = {min(tasks, 8)}", ""]
    for t in range(tasks):
        lines += [f"[tasks.t{t}]", f'run = "git merge -q --ff-only refs/prepared/t{t}"', ""]
    (path / "plan.toml").write_text("\n".join(lines))
    p = subprocess.run(
        [sys.executable, "-m", "git_po", "start", "plan.toml", "--no-live"],
        cwd=path,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if p.returncode != 0:
        sys.exit(f"git po start failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr}")
    return path


def timed(path: Path, argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=path, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - t0


def best(n: int, f: object) -> float:
    return min(f() for _ in range(n))  # type: ignore[operator]


def status_row(tmp: Path, tasks: int, commits: int) -> None:
    repo = make_plan(tmp / "status", tasks, commits)
    cache = next(repo.joinpath(".git").rglob("radar-cache.json"), None)
    po = [sys.executable, "-m", "git_po", "status", "bench", "--json"]

    def cold() -> float:
        for f in repo.joinpath(".git").rglob("radar-cache.json"):
            f.unlink()
        return timed(repo, po)

    def log_loop() -> float:
        t0 = time.perf_counter()
        for t in range(tasks):
            git(repo, "log", "--format=%H %s", f"main..po/bench/t{t}")
        return time.perf_counter() - t0

    c = best(3, cold)
    w = best(3, lambda: timed(repo, po))
    g = best(3, log_loop)
    _ = cache
    print(f"status, {tasks} tasks x {commits} commits:")
    print(f"  git log loop {g * 1000:.0f} ms; status cold {c * 1000:.0f} ms, warm {w * 1000:.0f} ms")
    print(
        f"  status (cold) / loop = {c / g:.2f} (target <= 1.5); cold / warm = {c / w:.2f} "
        f"(target <= 2)"
    )


def end_row(tmp: Path) -> None:
    print("end of a run (the final status table, in process):")
    per: list[float] = []
    for n in (50, 100, 200):
        repo = make_plan(tmp / f"end{n}", n, 3)
        code = (
            "import sys, time; from git_po.repo import Repo; from git_po import status, render;"
            "from pathlib import Path; r = Repo.discover(Path('.')); t0 = time.perf_counter();"
            "render.status_table(status.plan_status(r, 'bench'), use_color=False, width=100);"
            "print(time.perf_counter() - t0)"
        )
        times = []
        for _ in range(3):
            for f in repo.joinpath(".git").rglob("radar-cache.json"):
                f.unlink()
            p = subprocess.run(
                [sys.executable, "-c", code], cwd=repo, env=ENV, capture_output=True, text=True
            )
            if p.returncode != 0:
                sys.exit(p.stderr)
            times.append(float(p.stdout.strip()))
        t = min(times)
        per.append(t / n)
        print(f"  {n} tasks: {t * 1000:.0f} ms ({t / n * 1000:.2f} ms per task)")
    print(
        f"  per-task cost, 200 vs 50 tasks: {per[-1] / per[0]:.2f} x (linear: about 1; "
        f"quadratic: 4)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tasks", type=int, default=50)
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--only", choices=["status", "end"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="git-po-bench-") as d:
        if args.only in (None, "status"):
            status_row(Path(d), args.tasks, args.commits)
        if args.only in (None, "end"):
            end_row(Path(d))


if __name__ == "__main__":
    main()
