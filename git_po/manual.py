"""The manual page and completion scripts shipped inside the package, and installing them into
the user's XDG directories, for installers that do not put a wheel's data files where `man` and
the shells look (`uv tool install`; pipx before 1.3): `git po man --install`,
`git po completion --install [SHELL]`."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from git_po import completion, proc
from git_po.errors import UsageError

MAN_NAME = "git-po.1"


def _bundled(packaged: str, in_checkout: Path) -> Path:
    """A file shipped in the wheel (git_po/<packaged>), or its source in a checkout (an editable
    install)."""
    found = resources.files("git_po").joinpath(packaged)
    if found.is_file():
        return Path(str(found))
    return in_checkout


def man_page() -> Path:
    """The manual page shipped with this git po."""
    return _bundled(f"_man/{MAN_NAME}", Path(__file__).resolve().parent.parent / "man" / MAN_NAME)


def data_home(env: Mapping[str, str]) -> Path:
    raw = env.get("XDG_DATA_HOME", "")
    return (
        Path(raw)
        if os.path.isabs(raw)
        else Path(env.get("HOME", "~")).expanduser() / ".local/share"
    )


def config_home(env: Mapping[str, str]) -> Path:
    raw = env.get("XDG_CONFIG_HOME", "")
    return Path(raw) if os.path.isabs(raw) else Path(env.get("HOME", "~")).expanduser() / ".config"


def man_target(env: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME/man/man1/git-po.1: man-db finds ~/.local/share/man from ~/.local/bin on
    PATH, where pipx and uv put git-po."""
    return data_home(env) / "man" / "man1" / MAN_NAME


def completion_target(shell: str, env: Mapping[str, str]) -> Path:
    """Where each shell loads a user's completion from without configuration (zsh: a folder
    to add to fpath)."""
    if shell == "bash":  # bash-completion 2 loads $XDG_DATA_HOME/bash-completion/completions
        return data_home(env) / "bash-completion" / "completions" / "git-po"
    if shell == "zsh":
        return data_home(env) / "zsh" / "site-functions" / "_git-po"
    if shell == "fish":  # conf.d: `git po <Tab>` completes in every fish version
        return config_home(env) / "fish" / "conf.d" / "git-po.fish"
    raise UsageError(f"unknown shell {shell!r}", hint="one of: bash, zsh, fish")


def default_shell(env: Mapping[str, str]) -> str:
    shell = Path(env.get("SHELL", "")).name
    if shell not in completion.FILES:
        raise UsageError(
            f"cannot tell your shell from SHELL={env.get('SHELL', '')!r}",
            hint="name it: git po completion --install bash|zsh|fish",
        )
    return shell


@dataclass(frozen=True)
class Installed:
    path: Path
    note: str | None  # what the user still has to do, if anything


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def install_man(env: Mapping[str, str]) -> Installed:
    target = man_target(env)
    _write(target, man_page().read_text(encoding="utf-8"))
    found = man_finds(env)
    note = None
    if found is None or Path(found).resolve() != target.resolve():
        note = (
            f"man does not find it there yet: add {target.parent.parent} to MANPATH "
            f'(export MANPATH="{target.parent.parent}:$MANPATH")'
            if found is None
            else f"man finds another page first: {found}"
        )
    return Installed(target, note)


def install_completion(shell: str, env: Mapping[str, str]) -> Installed:
    target = completion_target(shell, env)
    _write(target, completion.script(shell))
    note = None
    if shell == "zsh":
        note = f"add to ~/.zshrc before compinit: fpath=({target.parent} $fpath)"
    elif shell == "bash":
        note = "bash-completion 2 loads it in new shells (after git's own completion)"
    return Installed(target, note)


def man_finds(env: Mapping[str, str]) -> str | None:
    """The file `man -w git-po` finds, or None (no man, or no page on its path)."""
    exe = shutil.which("man", path=env.get("PATH"))
    if exe is None:
        return None
    try:
        done = proc.run([exe, "-w", "git-po"], cwd=Path.cwd(), env=dict(env), timeout=30)
    except OSError:
        return None
    out = done.stdout.decode(errors="replace").strip()
    return out.splitlines()[0] if done.returncode == 0 and out else None


def show_argv(env: Mapping[str, str]) -> list[str] | None:
    """How to show the manual: `man git-po` when man finds the installed page, else man on the
    bundled file (a path: man-db and macOS's man both read it); None without man."""
    exe = shutil.which("man", path=env.get("PATH"))
    if exe is None:
        return None
    if man_finds(env) is not None:
        return [exe, "git-po"]
    return [exe, str(man_page())]


def show(env: Mapping[str, str]) -> int:
    """Show the manual on this terminal; man's exit status."""
    argv = show_argv(env)
    if argv is None:
        raise UsageError("man is not installed", hint=f"read {man_page()}")
    return proc.run_foreground(argv, cwd=Path.cwd(), env=env)
