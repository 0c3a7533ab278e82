"""The command line: parse, call the core, print, and map errors to exit codes in one place."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from git_po import __version__, demo, render, scheduler, status
from git_po.errors import ExitCode, NotFound, PlanError, PoError
from git_po.repo import Repo
from git_po.scheduler import StartOptions, TaskView
from git_po.state import list_plans

F = TypeVar("F", bound=Callable[..., Any])


def _err(text: str) -> None:
    click.echo(text, err=True)


def _use_color(stream: Any) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _width(stream: Any) -> int | None:
    """Columns of the terminal stream writes to, or None when it is not a terminal."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else None
    except (OSError, ValueError, AttributeError):
        return None


def _open_repo() -> Repo:
    return Repo.discover(Path.cwd())


# --- observers ----------------------------------------------------------------------------


class LineObserver:
    """One line per state change: for logs, pipes and CI."""

    def __init__(self) -> None:
        self.started = time.time()

    def changed(self, view: TaskView, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        click.echo(f"{stamp} {view.id}: {message}")

    def tick(self, views: list[TaskView]) -> None:
        pass


class LiveObserver:
    """A table redrawn in place on a terminal: task, state, last protocol subject, elapsed, cost."""

    def __init__(self, plan: str) -> None:
        self.plan = plan
        self.started = time.time()
        self.drawn = 0
        self.last_draw = 0.0
        self.color = _use_color(sys.stdout)
        self.views: list[TaskView] = []

    def changed(self, view: TaskView, message: str) -> None:
        self.last_draw = 0.0  # redraw on the next tick

    def tick(self, views: list[TaskView]) -> None:
        self.views = views
        now = time.monotonic()
        if now - self.last_draw < 0.5:
            return
        self.last_draw = now
        self.draw()

    def draw(self) -> None:
        width = 100
        with contextlib.suppress(OSError):
            width = os.get_terminal_size(sys.stdout.fileno()).columns
        lines = render.live_lines(
            self.plan, self.views, use_color=self.color, width=width, started=self.started
        )
        out = []
        if self.drawn:
            out.append(f"\x1b[{self.drawn}F")
        for line in lines:
            out.append("\x1b[2K" + line + "\n")
        sys.stdout.write("".join(out))
        sys.stdout.flush()
        self.drawn = len(lines)


# --- the error boundary ---------------------------------------------------------------------


def _boundary(fn: F) -> F:
    """Map expected failures to a one-line message and their exit code; bugs to exit 70."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PlanError as exc:
            for p in exc.problems:
                _err(f"error: {p}")
            _err(f"git po: {exc.message}; nothing was written")
            sys.exit(exc.exit_code)
        except PoError as exc:
            _err(f"git po: {exc.message}")
            if exc.hint:
                _err(f"hint: {exc.hint}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _err("git po: interrupted")
            sys.exit(ExitCode.INTERRUPTED)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:
            log = Path(tempfile.gettempdir()) / f"git-po-crash-{os.getpid()}.log"
            try:
                log.write_text(traceback.format_exc())
                where = f"; details in {log}"
            except OSError:
                where = ""
            _err(f"git po: internal error: {type(exc).__name__}: {exc}{where}")
            _err("hint: this is a bug in git po; please report it with that file")
            sys.exit(ExitCode.INTERNAL)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper  # type: ignore[return-value]


# --- commands -------------------------------------------------------------------------------

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="git po", message="%(prog)s %(version)s")
def cli() -> None:
    """git po: run coding agents in parallel, each on its own branch and worktree, and keep
    every bit of state in git.

    \b
    Exit codes: 0 success; 1 a task did not complete; 2 bad plan or usage;
    3 agent executable missing; 4 not a usable repository; 5 conflicting state
    (plan already running); 6 unknown plan or task; 70 internal error; 130 interrupted.
    """


@cli.command(context_settings=CONTEXT)
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--dry-run", "-n", is_flag=True, help="Validate the plan and print the schedule; write nothing."
)
@click.option(
    "--max-workers",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Most workers at once (overrides the plan and po.maxWorkers).",
)
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@click.option(
    "--restart",
    is_flag=True,
    help="Start over a plan whose earlier run did not finish, or whose refs were left "
    "behind (they are kept under refs/po/<plan>/runs/).",
)
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def start(
    plan_file: Path,
    dry_run: bool,
    max_workers: int | None,
    claude_path: str | None,
    restart: bool,
    no_live: bool,
) -> None:
    """Validate PLAN_FILE, record it under refs/po/<plan>/, and run its tasks.

    Each task gets a branch po/<plan>/<task> and its own worktree; a task starts as soon as its
    dependencies are complete, from the merge of their branches. Ends when every task has
    finished: exit 0 if all are complete, 1 otherwise, 130 on Ctrl-C (work is saved).
    """
    repo = _open_repo()
    options = StartOptions(max_workers=max_workers, claude_path=claude_path, restart=restart)
    prep = scheduler.prepare(repo, plan_file, options)
    for warning in prep.warnings:
        _err(f"warning: {warning}")
    if dry_run:
        click.echo(render.schedule_text(scheduler.schedule(prep)))
        return
    code = _run(repo, prep, options, live=not no_live and sys.stdout.isatty())
    sys.exit(code)


def _run(repo: Repo, prep: scheduler.Prepared, options: StartOptions, *, live: bool) -> int:
    stop = threading.Event()
    presses = [0]

    def on_signal(signum: int, frame: FrameType | None) -> None:
        presses[0] += 1
        stop.set()

    previous = {
        s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    }
    observer: LiveObserver | LineObserver = LiveObserver(prep.plan.name) if live else LineObserver()
    try:
        outcome = scheduler.run_plan(repo, prep, options, observer, stop)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if isinstance(observer, LiveObserver):
        observer.draw()
    click.echo()
    st = status.plan_status(repo, prep.plan.name)
    click.echo(render.status_table(st, use_color=_use_color(sys.stdout), width=_width(sys.stdout)))
    if outcome.interrupted:
        _err("git po: interrupted; workers stopped and their work saved")
        return ExitCode.INTERRUPTED
    click.echo(f"wall time {render.duration(outcome.wall_seconds)}")
    return ExitCode.OK if outcome.all_complete else ExitCode.FAILED


@cli.command("status", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a stable JSON object (see the README)."
)
@_boundary
def status_cmd(plan: str | None, as_json: bool) -> None:
    """Show each task of PLAN: state, checkpoints, last protocol subject, reason, attempts,
    cost, age. Reads only refs and branches. With no PLAN and several plans, lists them."""
    repo = _open_repo()
    if plan is None:
        plans = list_plans(repo)
        if not plans:
            if as_json:
                click.echo(json.dumps({"version": status.JSON_VERSION, "plans": []}))
                return
            raise NotFound(
                "no plan has been started in this repository", hint="git po start plan.toml"
            )
        if len(plans) > 1:
            summaries = status.plan_summaries(repo)
            if as_json:
                click.echo(
                    json.dumps(
                        {"version": status.JSON_VERSION, "plans": [s.to_json() for s in summaries]},
                        indent=2,
                    )
                )
            else:
                click.echo(render.plans_table(summaries))
            return
        plan = plans[0]
    st = status.plan_status(repo, plan)
    if as_json:
        click.echo(json.dumps(st.to_json(), indent=2))
    else:
        click.echo(
            render.status_table(st, use_color=_use_color(sys.stdout), width=_width(sys.stdout))
        )


@cli.command("demo", context_settings=CONTEXT)
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--max-workers",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    default=3,
    show_default=True,
    help="Most workers at once.",
)
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def demo_cmd(directory: Path | None, max_workers: int, no_live: bool) -> None:
    """Run a sample plan (5 tasks with a diamond of dependencies, done by the offline shell
    agent) in a new throwaway repository in DIRECTORY (default: a new temporary directory)."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="git-po-demo-"))
    where = demo.create(directory)
    click.echo(f"demo repository: {where}")
    click.echo(f"plan: {where / demo.PLAN_FILE}\n")
    repo = Repo.discover(where)
    options = StartOptions(max_workers=max_workers)
    prep = scheduler.prepare(repo, where / demo.PLAN_FILE, options)
    click.echo(render.schedule_text(scheduler.schedule(prep)).rsplit("\n\n", 1)[0] + "\n")
    code = _run(repo, prep, options, live=not no_live and sys.stdout.isatty())
    click.echo(f"\nlook around: cd {where} && git log --oneline --graph --all && git po status")
    sys.exit(code)


def main() -> None:
    cli(prog_name="git po")


__all__ = ["cli", "main"]
