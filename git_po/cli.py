"""The command line: parse, call the core, print, and map errors to exit codes in one place."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from git_po import (
    __version__,
    actions,
    attach,
    clean,
    cliopts,
    completion,
    config,
    demo,
    doctor,
    initcmd,
    integrate,
    integrate_land,
    integrate_resolve,
    integrate_text,
    jsonout,
    liveview,
    lookup,
    manual,
    notify,
    pager,
    prepare,
    proc,
    render,
    report,
    rerun,
    scheduler,
    schema,
    share,
    show,
    signals,
    status,
    taskdiff,
    termout,
    transcript,
    trust,
    watch,
    work,
)
from git_po.drafting import command as drafting
from git_po.drafting import render as draft_render
from git_po.errors import (
    ExitCode,
    NotFound,
    PlanError,
    PoError,
    StateConflict,
    UsageError,
    missing_object,
)
from git_po.repo import Repo
from git_po.scheduler import StartOptions, TaskView
from git_po.state import list_plans
from git_po.trust import UntrustedPlan

F = TypeVar("F", bound=Callable[..., Any])


def _err(text: str) -> None:
    click.echo(text, err=True)


def _use_color(stream: Any, repo: Repo | None = None) -> bool:
    """Colour as git decides it: NO_COLOR, then color.ui (never/false: no; always: yes even in
    a pipe; auto, true or unset: on a terminal, or under git's pager). --color wins."""
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if not tty and pager.in_use():  # under git's pager (or ours): auto colour stays on
        tty = pager.pager_colors(repo)
    chosen = cliopts.color_choice(tty)  # --color wins over everything
    if chosen is not None:
        return chosen
    if os.environ.get("NO_COLOR"):
        return False
    setting = ((repo.config("color.ui") if repo else None) or "auto").strip().lower()
    if setting in ("never", "false", "no", "off", "0"):
        return False
    if setting == "always":
        return True
    return tty


def _width(stream: Any) -> int | None:
    """Columns of the terminal stream writes to, or None when it is not a terminal."""
    try:
        return os.get_terminal_size(stream.fileno()).columns if stream.isatty() else None
    except (OSError, ValueError, AttributeError):
        return None


def _open_repo() -> Repo:
    return Repo.from_environment(Path.cwd(), os.environ)


# --- observers ----------------------------------------------------------------------------


class LineObserver:
    """One line per state change: for logs, pipes and CI (none with -q)."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.started = time.time()
        self.quiet = quiet

    def changed(self, view: TaskView, message: str) -> None:
        if self.quiet:
            return
        stamp = time.strftime("%H:%M:%S")
        click.echo(f"{stamp} {view.id}: {message}")

    def tick(self, views: list[TaskView]) -> None:
        pass


# --- the error boundary ---------------------------------------------------------------------


def _boundary(fn: F) -> F:
    """Map expected failures to a one-line message and their exit code; bugs to exit 70."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UntrustedPlan as exc:
            _err(f"git po: {exc.message}")
            _err(exc.diff.rstrip("\n") or "(no change since the last trusted revision)")
            _err(f"hint: {exc.hint}")
            sys.exit(exc.exit_code)
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
        except BrokenPipeError:
            # the reader went away (git po logs | head): end as git does, by SIGPIPE
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGPIPE)
            raise
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:
            missing = missing_object(exc)
            if missing is not None:  # an object pruned or lost: say which, not a traceback
                _err(f"git po: {missing.message}")
                _err(f"hint: {missing.hint}")
                sys.exit(missing.exit_code)
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
    (plan already running); 6 unknown plan or task; 7 plan revision not trusted
    here; 8 optional extra missing; 70 internal error; 130 interrupted.
    """


@cli.command(context_settings=CONTEXT)
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Validate the plan and print the schedule (and, for a plan run before, what it keeps "
    "and runs); write nothing.",
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
    help="Run every task again, even complete and unchanged ones, and start over a plan "
    "whose earlier run did not finish (its refs are kept under refs/po/<plan>/runs/).",
)
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@click.option(
    "--remote",
    "remote_name",
    metavar="REMOTE",
    help="Publish the plan on REMOTE and work on it as git po work does; other machines join "
    "with git po work --remote REMOTE.",
)
@_boundary
def start(
    plan_file: Path,
    dry_run: bool,
    max_workers: int | None,
    claude_path: str | None,
    restart: bool,
    no_live: bool,
    remote_name: str | None,
) -> None:
    """Validate PLAN_FILE, record it under refs/po/<plan>/, and run its tasks.

    Each task gets a branch po/<plan>/<task> and its own worktree; a task starts as soon as its
    dependencies are complete, from the merge of their branches. Ends when every task has
    finished: exit 0 if all are complete, 1 otherwise, 130 on Ctrl-C (work is saved).

    A plan whose last run finished keeps its complete tasks whose definition and base are
    unchanged, and runs the new, changed and unfinished ones and what depends on them.
    """
    repo = _open_repo()
    options = StartOptions(max_workers=max_workers, claude_path=claude_path, restart=restart)
    prep = scheduler.prepare(repo, plan_file, options)
    for warning in prep.warnings:
        _err(f"warning: {warning}")
    if dry_run:
        for warning in drafting.collisions(prep.plan, drafting.repo_tree(repo)):
            _err(f"warning: {warning}")
        seen = rerun.preview(repo, prep.plan, prep.base, restart)
        kept = frozenset(seen.rerun.kept) if seen and seen.rerun else frozenset()
        text = render.schedule_text(scheduler.schedule(prep, kept))
        if seen is not None:
            body, _, last = text.rpartition("\n\n")
            text = f"{body}\n\n{render.rerun_text(seen)}\n\n{last}"
        click.echo(text)
        return
    runner = None
    if remote_name is not None:
        work.before_publish(repo, remote_name, prep.plan.name)
        runner = functools.partial(work.run_work, remote_name=remote_name, publish=True)
    code = _run(repo, prep, options, live=not no_live and sys.stdout.isatty(), runner=runner)
    sys.exit(code)


@cli.command("work", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--remote",
    "remote_name",
    metavar="REMOTE",
    required=True,
    help="The remote that coordinates: claims, state and branches go through it.",
)
@click.option(
    "--max-workers",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Most workers at once on this machine (overrides the plan and po.maxWorkers).",
)
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def work_cmd(
    plan: str | None,
    remote_name: str,
    max_workers: int | None,
    claude_path: str | None,
    no_live: bool,
) -> None:
    """Work on PLAN, published on REMOTE, beside other machines: take ready tasks by claiming
    each on REMOTE (a compare-and-swap push: no two machines run one task), push each task's
    branch and state as they change, take over tasks whose machine stopped renewing its claim.
    Ends when no task is left to run: exit 0 if all are complete, 1 otherwise."""
    repo = _open_repo()
    name = work.before_work(repo, remote_name, plan)
    options = StartOptions(max_workers=max_workers, claude_path=claude_path)
    prep = scheduler.prepare_resume(repo, name, options)
    for warning in prep.warnings:
        _err(f"warning: {warning}")
    runner = functools.partial(work.run_work, remote_name=remote_name)
    code = _run(repo, prep, options, live=not no_live and sys.stdout.isatty(), runner=runner)
    sys.exit(code)


def _run(
    repo: Repo,
    prep: scheduler.Prepared,
    options: StartOptions,
    *,
    live: bool,
    resume: bool = False,
    runner: Callable[..., scheduler.RunOutcome] | None = None,
) -> int:
    interrupts = signals.Interrupts()
    output = termout.Output(on_lost=interrupts.note)
    interrupts.install()
    view: liveview.LiveObserver | None = None
    quiet = cliopts.PREFS.quiet
    live = live and not quiet and not cliopts.PREFS.verbose  # -v lines would tear the table
    try:
        inner: liveview.LiveObserver | LineObserver = LineObserver(quiet=quiet)
        if live:
            view = liveview.LiveObserver(
                prep.plan.name, sys.stdout, use_color=_use_color(sys.stdout, repo)
            )
            inner = view
        notifier = notify.Notifier(
            inner,
            prep.plan.name,
            command=repo.config(notify.COMMAND_KEY),
            cwd=repo.workdir or repo.common_dir,
            alert=view.alert if view is not None and notify.terminal_wanted(repo) else None,
        )
        if runner is None:
            runner = scheduler.resume_plan if resume else scheduler.run_plan
        outcome = runner(
            repo,
            prep,
            options,
            output.observer(notifier),
            interrupts.stop,
            interrupts.hurry,
            interrupts,
        )
        with output.guard():
            notifier.tell(
                notify.run_ended(
                    prep.plan.name, outcome.run_state, outcome.states, outcome.interrupted
                )
            )
        # the handlers stay until the end: git's forward of a signal, or a closed terminal,
        # may come while the summary prints
        with output.guard():
            if view is not None:
                view.clear()
            elif not quiet:
                click.echo()
            if not quiet:
                st = status.plan_status(repo, prep.plan.name)
                click.echo(
                    render.status_table(
                        st, use_color=_use_color(sys.stdout, repo), width=_width(sys.stdout)
                    )
                )
        notifier.wait()
        with output.guard():
            for problem in notifier.errors:
                _err(f"warning: {problem}")
        if outcome.interrupted:
            with output.guard():
                _err("git po: interrupted; workers stopped and their work saved")
            return ExitCode.INTERRUPTED
        with output.guard():
            if not quiet:
                click.echo(f"wall time {render.duration(outcome.wall_seconds)}")
                for line in work.outcome_lines(outcome):
                    click.echo(line)
            if outcome.run_state == "waiting":
                _err(
                    f"git po: tasks wait for an answer or another task; "
                    f"see git po status {prep.plan.name}, then git po answer / retry / resume"
                )
    finally:
        if view is not None:  # the cursor comes back however the run ended
            with output.guard():
                view.close()
        interrupts.close()
    return ExitCode.OK if outcome.all_complete else ExitCode.FAILED


def _one_plan(repo: Repo, plan: str | None) -> str:
    return actions.one_plan(repo, plan)


def _plans_hint(plans: list[str]) -> str:
    return actions.plans_hint(plans)


def _task_arg(repo: Repo, spec: str, plan: str | None) -> tuple[str, str]:
    """TASK or PLAN/TASK -> (plan, task), checked against the recorded plan."""
    return actions.task_arg(repo, spec, plan)


@cli.command("resume", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--max-workers",
    "-j",
    type=click.IntRange(min=1),
    metavar="N",
    help="Most workers at once (default: as the run was started).",
)
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def resume_cmd(
    plan: str | None, max_workers: int | None, claude_path: str | None, no_live: bool
) -> None:
    """Continue a run that stopped: after a crash, a closed terminal, Ctrl-C, or with tasks
    that wait. Complete tasks stay complete; workers still running are adopted, never started
    twice; unfinished tasks continue from their branch, resuming the agent's session."""
    repo = _open_repo()
    name = _one_plan(repo, plan)
    options = StartOptions(max_workers=max_workers, claude_path=claude_path)
    prep = scheduler.prepare_resume(repo, name, options)
    for warning in prep.warnings:
        _err(f"warning: {warning}")
    sys.exit(_run(repo, prep, options, live=not no_live and sys.stdout.isatty(), resume=True))


def _message(command: str, spec: str, text: str, plan: str | None, no_live: bool) -> None:
    repo = _open_repo()
    done = actions.request(repo, command, spec, text, plan)
    if done.holder:
        click.echo(f"sent to the orchestrator of {done.plan} ({done.holder})")
        return
    if done.recorded:
        click.echo(f"{done.plan}/{done.task} paused; git po unpause {done.task} resumes it")
        return
    options = StartOptions()
    prep = scheduler.prepare_resume(repo, done.plan, options)
    for warning in prep.warnings:
        _err(f"warning: {warning}")
    sys.exit(_run(repo, prep, options, live=not no_live and sys.stdout.isatty(), resume=True))


@cli.command("answer", context_settings=CONTEXT)
@click.argument("task")
@click.argument("text", required=False)
@click.option(
    "--file",
    "-F",
    "text_file",
    type=click.File("r"),
    help="Read the answer from a file ('-' for standard input).",
)
@click.option("--plan", "-p", metavar="PLAN", help="The plan, when the repository has several.")
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def answer_cmd(
    task: str, text: str | None, text_file: Any, plan: str | None, no_live: bool
) -> None:
    """Answer a [BLOCKED] (or [NEEDS]) task: its worker's session resumes with TEXT, in the
    running orchestrator, or in one started now if none runs. TASK may be PLAN/TASK."""
    if text_file is not None:
        text = text_file.read()
    if not text or not text.strip():
        raise UsageError("give the answer as TEXT or with --file")
    _message("answer", task, text, plan, no_live)


@cli.command("retry", context_settings=CONTEXT)
@click.argument("task")
@click.option("--plan", "-p", metavar="PLAN", help="The plan, when the repository has several.")
@click.option("--note", metavar="TEXT", default="", help="A note for the worker's next attempt.")
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def retry_cmd(task: str, plan: str | None, note: str, no_live: bool) -> None:
    """Run a task again (failed, blocked, interrupted, skipped...), with its retries counted
    afresh; tasks skipped because of it run too. TASK may be PLAN/TASK."""
    _message("retry", task, note, plan, no_live)


@cli.command("stop", context_settings=CONTEXT)
@click.argument("task")
@click.option("--plan", "-p", metavar="PLAN", help="The plan, when the repository has several.")
@_boundary
def stop_cmd(task: str, plan: str | None) -> None:
    """Stop one task: its worker gets SIGTERM (then SIGKILL), its work is saved, and it is
    recorded as interrupted. TASK may be PLAN/TASK."""
    _message("stop", task, "", plan, True)


@cli.command("pause", context_settings=CONTEXT)
@click.argument("task")
@click.option("--plan", "-p", metavar="PLAN", help="The plan, when the repository has several.")
@_boundary
def pause_cmd(task: str, plan: str | None) -> None:
    """Pause one task: its worker is stopped with its work saved (as by stop), and the task is
    not scheduled again, by this run or any later one, until git po unpause. Recorded in its
    state ref. TASK may be PLAN/TASK."""
    _message("pause", task, "", plan, True)


@cli.command("unpause", context_settings=CONTEXT)
@click.argument("task")
@click.option("--plan", "-p", metavar="PLAN", help="The plan, when the repository has several.")
@click.option("--no-live", is_flag=True, help="Print one line per state change even on a terminal.")
@_boundary
def unpause_cmd(task: str, plan: str | None, no_live: bool) -> None:
    """Resume a paused task: its worker's session continues, in the running orchestrator, or
    in one started now if none runs. TASK may be PLAN/TASK."""
    _message("unpause", task, "", plan, no_live)


@cli.command("sessions", context_settings=CONTEXT)
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="Only sessions active in the last N hours (and those running).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a stable JSON object.")
@_boundary
def sessions_cmd(hours: float | None, as_json: bool) -> None:
    """List the Claude Code sessions of this repository's plans: from the session ids recorded
    in each task's attempts and the CLI's session files under its config directory
    (CLAUDE_CONFIG_DIR, else ~/.claude), with task, worktree, last activity and whether a
    process runs it now."""
    from git_po import sessions

    found = sessions.list_sessions(_open_repo(), hours=hours)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "schema_version": jsonout.SCHEMA_VERSION,
                    "sessions": [s.to_json() for s in found],
                },
                indent=2,
            )
        )
    else:
        click.echo(sessions.render_table(found))


@cli.command("web", context_settings=CONTEXT)
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8719,
    show_default=True,
    metavar="N",
    help="The port to listen on (0: any free port).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    metavar="H",
    help="The address to bind; another than loopback needs --token.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
@click.option(
    "--token",
    metavar="T",
    help="The token the page and every request need (default: a new random one).",
)
@_boundary
def web_cmd(port: int, host: str, open_browser: bool, token: str | None) -> None:
    """Serve a live dashboard of this repository's plans (needs pip install 'git-po[web]').

    Prints the page's URL, with the server's token in it; actions (answer, retry, stop, pause,
    unpause, integrate) do what the commands do. Ctrl-C stops the server, not the runs."""
    from git_po.web import launch

    repo = _open_repo()
    server = launch.prepare(repo, host=host, port=port, token=token)
    launch.serve(server, open_browser=open_browser, announce=_err)


@cli.command("status", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a stable JSON object (see the README)."
)
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="Keep the table up to date until the run ends (Ctrl-C stops watching).",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    metavar="SECONDS",
    help="Seconds between refreshes with --watch (default 2).",
)
@click.option(
    "--remote",
    "remote_name",
    metavar="REMOTE",
    help="Show REMOTE's state (fetched aside; local refs do not change).",
)
@_boundary
def status_cmd(
    plan: str | None,
    as_json: bool,
    watch: bool,
    interval: float | None,
    remote_name: str | None,
) -> None:
    """Show each task of PLAN: state, checkpoints, last protocol subject, reason, attempts,
    cost, age. Reads only refs and branches. With no PLAN and several plans, lists them."""
    if interval is not None and not watch:
        raise UsageError("--interval applies to --watch", hint="git po status --watch --interval 5")
    repo = _open_repo()
    if remote_name is not None:
        if watch:
            raise UsageError("--watch reads this clone; --remote reads a remote once")
        name = share.check(repo, remote_name)
        share.with_remote_view(repo, name, lambda view: _status(view, plan, as_json))
        return
    if watch:
        _watch(repo, lookup.resolve_plan(repo, plan), interval or 2.0, as_json)
        return
    _status(repo, plan, as_json)


def _status(repo: Repo, plan: str | None, as_json: bool) -> None:
    if plan is None:
        plans = list_plans(repo)
        if not plans:
            if as_json:
                click.echo(json.dumps({"schema_version": status.JSON_VERSION, "plans": []}))
                return
            raise NotFound(
                "no plan has been started in this repository", hint="git po start plan.toml"
            )
        if len(plans) > 1:
            summaries = status.plan_summaries(repo)
            if as_json:
                click.echo(
                    json.dumps(
                        {
                            "schema_version": status.JSON_VERSION,
                            "plans": [s.to_json() for s in summaries],
                        },
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
            render.status_table(
                st, use_color=_use_color(sys.stdout, repo), width=_width(sys.stdout)
            ),
            color=True,  # colour was decided above (color.ui always works in a pipe too)
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


# --- reading a run, setting up, attaching (issue 5) -----------------------------------------


_PLAN_OPTION = click.option(
    "--plan", "-p", metavar="PLAN", help="The plan of TASK, when several plans have that task."
)


@cli.command("logs", context_settings=CONTEXT)
@click.argument("task")
@_PLAN_OPTION
@click.option(
    "--attempt", type=click.IntRange(min=1), metavar="N", help="Show attempt N (default: the last)."
)
@click.option(
    "--follow",
    "-f",
    is_flag=True,
    help="Print the transcript as the worker writes it, until the attempt ends.",
)
@click.option("--raw", is_flag=True, help="Print the transcript file as it is (stream-json).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the attempt and its rendered lines as JSON."
)
@_boundary
def logs_cmd(
    task: str, plan: str | None, attempt: int | None, follow: bool, raw: bool, as_json: bool
) -> None:
    """Show a task's transcript, rendered readably.

    Assistant text, tool calls with their arguments, tool results shortened, errors, and the
    final result with its cost; shell output as it is. TASK may be PLAN/TASK."""
    if as_json and (follow or raw):
        raise click.UsageError("--json cannot be combined with --follow or --raw")
    repo = _open_repo()
    ref = lookup.resolve_task(repo, task, plan)
    if as_json:
        found = transcript.find_attempt(repo, ref, attempt)
        click.echo(json.dumps(transcript.as_json(found), indent=2))
        return
    log = (
        transcript.wait_for_attempt(repo, ref, attempt)
        if follow
        else transcript.find_attempt(repo, ref, attempt)
    )
    with pager.paged(repo, enabled=not follow):  # like git log: paged on a terminal
        out = sys.stdout.buffer
        if raw and not follow:
            out.write(transcript.raw_bytes(log))
            out.flush()
            return
        renderer = transcript.renderer_for(log.attempt, color=_use_color(sys.stdout, repo))
        if not raw:
            click.echo(log.header())
        if follow:
            try:
                for line in transcript.follow(repo, log):
                    if raw:
                        out.write(line)
                        out.flush()
                    else:
                        for text in renderer.line(line.decode("utf-8", "replace")):
                            click.echo(text, color=True)
                        sys.stdout.flush()
            except KeyboardInterrupt:
                return  # the user stopped following; the worker goes on
        else:
            for text in transcript.render(transcript.read_lines(log), renderer):
                click.echo(text, color=True)
        if not raw:
            errors = transcript.stderr_lines(log)
            if errors:
                click.echo("stderr:")
                for err_line in errors:
                    click.echo(f"  {err_line}")


@cli.command("show", context_settings=CONTEXT)
@click.argument("task")
@_PLAN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print a stable JSON object.")
@_boundary
def show_cmd(task: str, plan: str | None, as_json: bool) -> None:
    """Show everything about a task.

    State and reason, branch, base, worktree, files it owns, session, attempts (outcome,
    duration, cost, exit), commits since its base, predicted conflicts and its state history.
    TASK may be PLAN/TASK."""
    repo = _open_repo()
    detail = show.task_detail(repo, lookup.resolve_task(repo, task, plan))
    with pager.paged(repo):
        if as_json:
            click.echo(json.dumps(detail.to_json(), indent=2))
        else:
            click.echo(show.render_text(detail))


@cli.command("diff", context_settings=CONTEXT)
@click.argument("task")
@_PLAN_OPTION
@click.option("--stat", is_flag=True, help="Show a diffstat, as git diff --stat.")
@click.option("--name-only", is_flag=True, help="Show only the names of changed files.")
@_boundary
def diff_cmd(task: str, plan: str | None, stat: bool, name_only: bool) -> None:
    """Show TASK's change against its base, as git diff does (pager, colour, diff settings).

    The base is the commit the task branched from (for a dependent task, the merge of its
    dependencies); the other end is its branch. TASK may be PLAN/TASK."""
    repo = _open_repo()
    span = taskdiff.diff_range(repo, lookup.resolve_task(repo, task, plan))
    options = [f"--color={cliopts.PREFS.color}"] if cliopts.PREFS.color else []
    options += ["--stat"] if stat else []
    options += ["--name-only"] if name_only else []
    argv = taskdiff.git_argv(repo, span, options=options)
    sys.exit(proc.run_foreground(argv, cwd=repo.common_dir, env=proc.child_env()))


@cli.command("report", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Markdown or JSON.",
)
@_boundary
def report_cmd(plan: str | None, fmt: str) -> None:
    """Sum up a run of PLAN.

    Per task its state, attempts, duration and cost; the totals; the wall time and the
    speed-up over running the tasks one after another."""
    repo = _open_repo()
    rep = report.build(repo, lookup.resolve_plan(repo, plan))
    if fmt == "json":
        click.echo(json.dumps(rep.to_json(), indent=2))
    else:
        click.echo(report.markdown(rep))


@cli.command("config", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print a stable JSON object.")
@_boundary
def config_cmd(as_json: bool) -> None:
    """List the po.* settings, their values and where they come from.

    Where: git config (system, global, local or worktree) or the built-in default.
    Command-line options and the plan win over these."""
    repo = _open_repo()
    found = config.settings(repo)
    if as_json:
        out = {"schema_version": jsonout.SCHEMA_VERSION, "settings": [s.to_json() for s in found]}
        click.echo(json.dumps(out, indent=2))
        return
    rows = [(s.key, s.value, s.origin) for s in found]
    w0 = max(len("KEY"), *(len(r[0]) for r in rows))
    w1 = max(len("VALUE"), *(len(r[1]) for r in rows))
    click.echo(f"{'KEY':<{w0}}  {'VALUE':<{w1}}  FROM")
    for key, value, origin in rows:
        click.echo(f"{key:<{w0}}  {value:<{w1}}  {origin}")


@cli.command("doctor", context_settings=CONTEXT)
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a stable JSON object.")
@_boundary
def doctor_cmd(plan_file: Path | None, claude_path: str | None, as_json: bool) -> None:
    """Say what would stop workers from writing files or committing.

    Checks git, where task worktrees go (never under .git: Claude Code refuses edits there),
    the claude executable and its login, and with PLAN_FILE each task's permission settings
    (with the allow rules of Claude Code's settings files). Exit 1 when a problem is found."""
    repo = _open_repo()
    found = prepare.diagnose(repo, plan_file, claude_path)
    problems = sum(1 for f in found if f.level == "problem")
    if as_json:
        click.echo(json.dumps(doctor.to_json(found), indent=2))
    else:
        for f in found:
            click.echo(f"{f.level:<8} {f.topic}: {f.message}")
            if f.hint and f.level != "ok":
                click.echo(f"{'':<8} hint: {f.hint}")
        click.echo(f"{problems} problem{'s' if problems != 1 else ''} found")
    if problems:
        sys.exit(ExitCode.FAILED)


@cli.command("init", context_settings=CONTEXT)
@click.option(
    "--share",
    metavar="REMOTE",
    help="Also make git fetch from REMOTE bring git po's refs into refs/po-remotes/REMOTE/ "
    "(never over local state; git po fetch takes them in).",
)
@click.option("--no-example", is_flag=True, help="Do not write plan.example.toml.")
@click.option(
    "--uninstall",
    is_flag=True,
    help="Undo init: remove the hook shim (putting back the hook it replaced), the log "
    "setting, the worker hooks when no plan is recorded, the example plan if untouched (and, "
    "with --share, the fetch refspecs).",
)
@_boundary
def init_cmd(share: str | None, no_example: bool, uninstall: bool) -> None:
    """Prepare the repository for git po (idempotent).

    Installs a commit-msg shim that checks the commit protocol in task worktrees and runs the
    hook it replaced, sets log.excludeDecoration=refs/po/*, adds fetch refspecs for REMOTE
    with --share, and writes a commented example plan."""
    repo = _open_repo()
    done = initcmd.init(repo, share=share, example=not no_example, uninstall=uninstall)
    for line in [] if cliopts.PREFS.quiet else done.lines:
        click.echo(line)
    for warning in done.warnings:
        _err(f"warning: {warning}")


def _print_share(report: share.ShareReport, verb: str, name: str, verbose: bool) -> None:
    for c in report.changes:
        if c.what in ("same", "ours-newer") and not verbose:
            continue
        if c in report.problems:
            _err(f"warning: {c.ref}: {c.what}{': ' + c.detail if c.detail else ''}")
        elif verbose or c.what not in ("same",):
            click.echo(f"{c.what:<10} {c.ref}")
    click.echo(f"{verb} {name}: {report.summary()}")


_REMOTE_ARG = click.argument("remote", required=False, default="origin")
_VERBOSE = click.option("--verbose", "-v", is_flag=True, help="List refs that did not change too.")


@cli.command("fetch", context_settings=CONTEXT)
@_REMOTE_ARG
@click.argument("plan", required=False)
@_VERBOSE
@_boundary
def fetch_cmd(remote: str, plan: str | None, verbose: bool) -> None:
    """Fetch git po's refs from REMOTE (default origin) into refs/po-remotes/REMOTE/ and take
    them in: a newer state moves a local ref forward, never back; notes are merged; diverged
    refs are reported and kept under refs/po-diverged/REMOTE/. Exit 5 if any diverged."""
    repo = _open_repo()
    report = share.fetch(repo, share.check(repo, remote), plan)
    _print_share(report, "fetched from", remote, verbose)
    sys.exit(ExitCode.CONFLICT if report.count("diverged") else ExitCode.OK)


@cli.command("push", context_settings=CONTEXT)
@_REMOTE_ARG
@click.argument("plan", required=False)
@_VERBOSE
@_boundary
def push_cmd(remote: str, plan: str | None, verbose: bool) -> None:
    """Push PLAN's refs (default: every plan's) to REMOTE (default origin): state, bases,
    archives, task branches and every notes ref of git po, each with a lease on what the
    remote held. A ref the remote has newer is left alone (git po sync). Exit 5 if any was."""
    repo = _open_repo()
    report = share.push(repo, share.check(repo, remote), plan)
    _print_share(report, "pushed to", remote, verbose)
    sys.exit(ExitCode.CONFLICT if report.problems else ExitCode.OK)


@cli.command("sync", context_settings=CONTEXT)
@_REMOTE_ARG
@click.argument("plan", required=False)
@_VERBOSE
@_boundary
def sync_cmd(remote: str, plan: str | None, verbose: bool) -> None:
    """git po fetch, then git po push: afterwards this clone and REMOTE hold the same state
    (unless a ref diverged: exit 5, and it is named)."""
    repo = _open_repo()
    name = share.check(repo, remote)
    got, sent = share.sync(repo, name, plan)
    _print_share(got, "fetched from", remote, verbose)
    _print_share(sent, "pushed to", remote, verbose)
    sys.exit(ExitCode.CONFLICT if got.problems or sent.problems else ExitCode.OK)


@cli.command("schema", context_settings=CONTEXT)
@_boundary
def schema_cmd() -> None:
    """Print a JSON Schema of the plan format.

    Draft 2020-12, for editors that complete and check TOML files against a schema."""
    click.echo(json.dumps(schema.plan_schema(), indent=2))


@cli.command("attach", context_settings=CONTEXT)
@click.argument("task")
@_PLAN_OPTION
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@_boundary
def attach_cmd(task: str, plan: str | None, claude_path: str | None) -> None:
    """Talk to a task's worker in an interactive Claude Code session.

    Runs `claude --resume SESSION` in the task's worktree. The orchestrator does not run the
    task meanwhile and picks it up again from its branch afterwards. Refused (exit 5) while a
    worker of the task runs. TASK may be PLAN/TASK."""
    repo = _open_repo()
    session = attach.prepare(repo, lookup.resolve_task(repo, task, plan), claude_path)
    _err(f"git po: attaching to {session.ref} (session {session.session_id}) in {session.worktree}")
    code = attach.run(session)
    _err(f"git po: detached from {session.ref}")
    sys.exit(code)


@cli.group("plan", context_settings=CONTEXT)
def plan_group() -> None:
    """Draft a plan from documents; check a plan for tasks likely to collide."""


@plan_group.command("draft", context_settings=CONTEXT)
@click.argument("documents", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("plan.toml"),
    metavar="FILE",
    help="The plan file to write (default plan.toml).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Most tasks that run at the same time (default po.maxWorkers, else 3).",
)
@click.option("--force", is_flag=True, help="Overwrite the plan file if it exists.")
@click.option(
    "--agent",
    is_flag=True,
    help="Ask the claude agent to refine the draft; when its answer is not a valid plan, "
    "the deterministic draft is written.",
)
@click.option(
    "--claude",
    "claude_path",
    metavar="PATH",
    help="The claude executable (overrides po.claudePath).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as a JSON object.")
@_boundary
def plan_draft_cmd(
    documents: tuple[Path, ...],
    output: Path,
    workers: int | None,
    force: bool,
    agent: bool,
    claude_path: str | None,
    as_json: bool,
) -> None:
    """Read DOCUMENTS (Markdown or text: a review, an issue list, a TODO, a spec) and write a
    commented plan: work items, their dependencies, tasks that own their files, and whether
    parallel work pays. Prints a manifest for review. Exit 2 on unreadable documents or no
    work items, 3 when --agent finds no claude, 5 when the plan file exists (without --force).
    """
    repo = _open_repo()
    done = drafting.draft_plan(
        repo,
        list(documents),
        output,
        workers=workers,
        force=force,
        agent=agent,
        claude_path=claude_path,
    )
    for warning in done.warnings:
        _err(f"warning: {warning}")
    if as_json:
        data = draft_render.manifest(done.draft, str(output))
        data["warnings"] = list(done.warnings)
        click.echo(json.dumps(data, indent=2))
    else:
        for line in draft_render.manifest_text(done.draft, str(output)):
            click.echo(line)


@plan_group.command("check", context_settings=CONTEXT)
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False))
@_boundary
def plan_check_cmd(plan_file: Path) -> None:
    """Validate PLAN_FILE and warn about tasks that may run at the same time and touch the same
    files: one writes a file the other's prompt names, or both prompts name it (overlapping
    writes are plan errors). Exit 0 when none, 1 with warnings, 2 when the plan is not valid.
    """
    repo = _open_repo()
    plan, found = drafting.check_plan(repo, plan_file)
    for warning in found:
        _err(f"warning: {warning}")
    if found:
        _err(
            f"git po: {len(found)} likely collision{'s' if len(found) != 1 else ''} in {plan_file}"
        )
        sys.exit(ExitCode.FAILED)
    n = len(plan.tasks)
    click.echo(f"{plan_file}: {n} task{'s' if n != 1 else ''}, no likely collisions")


@cli.command("completion", context_settings=CONTEXT)
@click.argument("shell", type=click.Choice(sorted(completion.FILES)), required=False)
@click.option(
    "--install",
    is_flag=True,
    help="Write it where SHELL (default: $SHELL) loads it from, in your XDG directories.",
)
@_boundary
def completion_cmd(shell: str | None, install: bool) -> None:
    """Print the completion script for SHELL, or install it.

    bash, zsh or fish. --install writes it to $XDG_DATA_HOME/bash-completion/completions
    (bash), $XDG_DATA_HOME/zsh/site-functions (zsh, a folder for fpath) or
    $XDG_CONFIG_HOME/fish/conf.d (fish)."""
    if install:
        done = manual.install_completion(shell or manual.default_shell(os.environ), os.environ)
        click.echo(f"installed {done.path}")
        if done.note:
            click.echo(done.note)
        return
    if shell is None:
        raise UsageError("name a shell: bash, zsh or fish", hint="git po completion bash")
    click.echo(completion.script(shell), nl=False)


@cli.command("man", context_settings=CONTEXT)
@click.option(
    "--install",
    is_flag=True,
    help="Copy the page to $XDG_DATA_HOME/man/man1, where man (and git help po) finds it.",
)
@click.option("--path", "show_path", is_flag=True, help="Print the bundled page's path.")
@_boundary
def man_cmd(install: bool, show_path: bool) -> None:
    """Show the manual page, or install it where man finds it.

    Installers that leave the page out of man's reach (uv tool install) need --install once;
    git help po and git po --help then show it."""
    if show_path:
        click.echo(str(manual.man_page()))
        return
    if install:
        done = manual.install_man(os.environ)
        click.echo(f"installed {done.path}")
        if done.note:
            click.echo(done.note)
        return
    sys.exit(manual.show(os.environ))


def _watch(repo: Repo, plan: str, interval: float, as_json: bool) -> None:
    """status --watch: redraw in place on a terminal; elsewhere print each change."""
    terminal = sys.stdout.isatty()
    screen = watch.Screen()
    last_key: str | None = None
    try:
        if terminal:
            sys.stdout.write(watch.HIDE_CURSOR)
        while True:
            st = status.plan_status(repo, plan)
            over = watch.run_over(st)
            if terminal and not as_json:
                size = os.get_terminal_size(sys.stdout.fileno())
                table = render.status_table(
                    st, use_color=_use_color(sys.stdout, repo), width=size.columns
                )
                sys.stdout.write(
                    screen.frame(table.splitlines(), width=size.columns, height=size.lines)
                )
                sys.stdout.flush()
            else:
                key = watch.change_key(st)
                if key != last_key:
                    if as_json:
                        click.echo(json.dumps(st.to_json()))
                    else:
                        if last_key is not None:
                            click.echo()
                        click.echo(
                            render.status_table(st, use_color=_use_color(sys.stdout, repo)),
                            color=True,
                        )
                    last_key = key
                    sys.stdout.flush()
            if over:
                return
            time.sleep(interval)
    except KeyboardInterrupt:
        return  # Ctrl-C ends watching, not the run: exit 0
    finally:
        if terminal:
            sys.stdout.write(watch.SHOW_CURSOR)
            sys.stdout.flush()


@cli.command("integrate", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--only",
    multiple=True,
    metavar="TASK",
    help="Integrate only these tasks (repeat it, or separate tasks with commas).",
)
@click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Report what would merge and what would conflict; move no branch.",
)
@click.option(
    "--branch",
    metavar="BRANCH",
    help="The integration branch (overrides the plan's integration_branch and "
    "po.integrationBranch).",
)
@click.option(
    "--into",
    metavar="BRANCH",
    help="Then advance BRANCH to the integration result: fast-forward, else a merge commit.",
)
@click.option(
    "--resolve",
    "resolve_task",
    metavar="TASK",
    help="Prepare a worktree holding the conflicted merge of TASK, to resolve and commit there.",
)
@click.option(
    "--agent",
    is_flag=True,
    help="With --resolve: have a claude worker resolve the conflict and commit it.",
)
@click.option(
    "--remote",
    "remote_name",
    metavar="REMOTE",
    help="Fetch REMOTE's state first, then push the integration branch (and --into) to it, "
    "each with a lease.",
)
@_boundary
def integrate_cmd(
    plan: str | None,
    only: tuple[str, ...],
    dry_run: bool,
    branch: str | None,
    into: str | None,
    resolve_task: str | None,
    agent: bool,
    remote_name: str | None,
) -> None:
    """Merge the branches of PLAN's complete tasks, in dependency order, into its integration
    branch (po/<plan>/integration by default) with in-memory three-way merges; no checkout is
    touched. Tasks already integrated are skipped. With verify in the plan, each merge is
    verified in a temporary worktree before the branch moves (not again on a tree it passed on).
    A task that conflicts or fails verify is set aside with every task that depends on it; all
    others are still merged, and every conflict is listed with its files and the tasks that
    last touched them.

    Exit 0 when every complete task is integrated; 1 when something was set aside (--into
    still lands what merged); 5 when a checkout that would have to move is dirty.
    """
    repo = _open_repo()
    if remote_name is not None:
        if resolve_task:
            raise UsageError("--remote cannot be combined with --resolve")
        got = share.fetch(repo, share.check(repo, remote_name), plan)
        for c in got.problems:
            _err(f"warning: {c.ref}: {c.what}{': ' + c.detail if c.detail else ''}")
    name = _one_plan(repo, plan)
    if agent and not resolve_task:
        raise UsageError("--agent goes with --resolve TASK")
    if resolve_task:
        if only or into or dry_run:
            raise UsageError("--resolve cannot be combined with --only, --into or --dry-run")
        res = integrate_resolve.resolve(repo, name, resolve_task, branch=branch, agent=agent)
        click.echo(integrate_text.resolution_text(res, name))
        if agent and res.state not in ("resolved", "committed", "integrated", "merges cleanly"):
            sys.exit(ExitCode.FAILED)
        return
    tasks = tuple(t.strip() for spec in only for t in spec.split(",") if t.strip())
    if into:
        integrate_land.check_into(repo, name, into)
    progress = (
        liveview.ProgressLine(sys.stderr, "integrating")
        if sys.stderr.isatty() and not cliopts.PREFS.quiet
        else None
    )
    try:
        rep = integrate.integrate(
            repo,
            name,
            integrate.Options(only=tasks, dry_run=dry_run, branch=branch, progress=progress),
        )
    finally:
        if progress is not None:
            progress.close()
    click.echo(integrate_text.report_text(rep))
    if not rep.ok:
        hint = integrate_text.report_hint(rep)
        if hint:
            _err(f"hint: {hint}")
    if into:
        if rep.result is None:
            if not rep.ok:
                _err(f"git po: nothing was integrated: {into} was not changed")
                sys.exit(ExitCode.FAILED)
            raise StateConflict(
                f"{rep.branch} does not exist and nothing was integrated: {into} was not changed"
            )
        landing = integrate_land.land(repo, name, rep.result, into, dry_run=dry_run)
        click.echo(integrate_text.landing_text(landing))
        if not rep.ok:
            held = ", ".join(s.task for s in rep.held)
            verb = "would get" if dry_run else "got"
            _err(f"git po: {into} {verb} what merged, not what was set aside: {held}")
    if remote_name is not None and not dry_run:
        sent = share.push_refs(repo, remote_name, [rep.branch, *([into] if into else [])])
        _print_share(sent, "pushed to", remote_name, False)
        if sent.problems:
            sys.exit(ExitCode.CONFLICT)
    if not rep.ok:
        sys.exit(ExitCode.FAILED)


@cli.command("clean", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--branches",
    is_flag=True,
    help="Delete the task branches too, once their work is safe.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Remove also what holds work found nowhere else, after keeping that work under "
    "refs/po/<plan>/wip/<task>.",
)
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Also delete the plan's refs and files, once everything is integrated.",
)
@click.option("--dry-run", "-n", is_flag=True, help="Show what would be removed; remove nothing.")
@click.option(
    "--branch",
    metavar="BRANCH",
    help="The integration branch, when it is not the plan's (see integrate --branch).",
)
@_boundary
def clean_cmd(
    plan: str | None,
    branches: bool,
    force: bool,
    all_: bool,
    dry_run: bool,
    branch: str | None,
) -> None:
    """Remove the worktrees of PLAN's tasks whose work is contained in the integration branch
    or in a snapshot ref under refs/po/. Anything else (commits found nowhere else,
    uncommitted or untracked files) is kept and listed, unless --force. Only directories git
    po created are removed; a plan whose orchestrator is running is refused.

    Exit 0 when everything asked for was removed; 5 when something was kept.
    """
    repo = _open_repo()
    name = _one_plan(repo, plan)
    rep = clean.clean(
        repo,
        name,
        clean.Options(branches=branches, force=force, all=all_, dry_run=dry_run, branch=branch),
    )
    click.echo(clean.report_text(rep))
    if not rep.ok:
        hint = clean.report_hint(rep)
        if hint:
            _err(f"hint: {hint}")
        sys.exit(ExitCode.CONFLICT)


@cli.command("trust", context_settings=CONTEXT)
@click.argument("plan", required=False)
@click.option(
    "--show",
    "--diff",
    "show",
    is_flag=True,
    help="Print what changed since the last trusted revision, and whether it is trusted; "
    "approve nothing.",
)
@click.option("--yes", "-y", is_flag=True, help="Approve without asking, even on a terminal.")
@_boundary
def trust_cmd(plan: str | None, show: bool, yes: bool) -> None:
    """Approve the revision of PLAN recorded in refs/po/<plan>/plan (fetched, or written by
    someone else) so its commands may run here: verify, shell tasks' run, agent prompts.
    Prints what changed since the revision last trusted on this machine first. The record is
    local (<git-common-dir>/po/trust/), never in a ref; a plan started here from a file is
    trusted by that act.

    Exit 0 when trusted; with --show, 7 when the revision is not trusted.
    """
    repo = _open_repo()
    name = _one_plan(repo, plan)
    seen = trust.review(repo, name)
    click.echo(seen.diff.rstrip("\n") or "no change since the last trusted revision")
    if seen.trusted:
        click.echo(f"plan {name} revision {seen.revision[:12]} is trusted on this machine")
        return
    if show:
        click.echo(f"plan {name} revision {seen.revision[:12]} is not trusted on this machine")
        sys.exit(ExitCode.UNTRUSTED)
    if (
        not yes
        and sys.stdin.isatty()
        and not click.confirm(
            f"let plan {name} revision {seen.revision[:12]} run its commands here?", err=True
        )
    ):
        _err("git po: nothing was trusted")
        sys.exit(ExitCode.UNTRUSTED)
    done = trust.trust(repo, name, expected=seen.tip)
    click.echo(f"plan {name} revision {done.revision[:12]} is trusted on this machine")


cliopts.add_everywhere(cli)  # --color, -q, -v on every command


def main() -> None:
    cli(prog_name="git po")


__all__ = ["cli", "main"]
