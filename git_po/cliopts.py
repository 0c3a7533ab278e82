"""Options every command takes, as in git: `--color=auto|always|never`, `-q`/`--quiet` and
`-v`/`--verbose`. They are added to every command (and to `git po` itself, before the command)
once the command tree is built, and what they say is kept in PREFS for the CLI to read."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from git_po import proc, secrets

COLOR_CHOICES = ("auto", "always", "never")


@dataclass
class Prefs:
    color: str | None = None  # None: as git config says (color.ui), else this
    quiet: bool = False
    verbose: int = 0


PREFS = Prefs()


class CommonOption(click.Option):
    """An option of every command (documented once, under `git po [options]`)."""


def _set_color(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        PREFS.color = str(value)


def _set_quiet(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:
        PREFS.quiet = True


def _set_verbose(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:
        PREFS.verbose += int(value)
        proc.trace = _print_command


def _print_command(argv: Sequence[str]) -> None:
    """-v: each command git po runs, on stderr, shortened and with secrets masked."""
    text = shlex.join(argv)
    if len(text) > 300:
        text = text[:299] + "…"
    click.echo(f"git po: run: {secrets.mask(text)}", err=True)


def _options() -> list[click.Option]:
    return [
        CommonOption(
            ["--color"],
            type=click.Choice(COLOR_CHOICES),
            metavar="WHEN",
            expose_value=False,
            callback=_set_color,
            help="Colour: auto (on a terminal or git's pager), always or never; default color.ui.",
        ),
        CommonOption(
            ["-q", "--quiet"],
            is_flag=True,
            expose_value=False,
            callback=_set_quiet,
            help="Print only errors, warnings and what the command was asked for.",
        ),
        CommonOption(
            ["-v", "--verbose"],
            count=True,
            expose_value=False,
            callback=_set_verbose,
            help="Also print each command git po runs (git, the agent, hooks) on stderr.",
        ),
    ]


def add_everywhere(cmd: click.Command) -> None:
    """Give cmd and every command under it the common options (an option string a command
    already uses for itself stays its own)."""
    taken = {o for p in cmd.params for o in (*p.opts, *getattr(p, "secondary_opts", []))}
    for option in _options():
        if not taken & {*option.opts}:
            cmd.params.append(option)
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_everywhere(sub)


def color_choice(tty: bool) -> bool | None:
    """What --color decides for an output that is (or is paged to) a terminal or not; None when
    it was not given."""
    if PREFS.color is None:
        return None
    if PREFS.color == "auto":
        return tty
    return PREFS.color == "always"
