"""The shell completion scripts, shipped inside the package (git_po/_completions in the wheel)
so `git po completion SHELL` can print them however git po was installed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

FILES = {"bash": "git-po.bash", "zsh": "git-po.zsh", "fish": "git-po.fish"}


def script(shell: str) -> str:
    name = FILES[shell]
    packaged = resources.files("git_po").joinpath(f"_completions/{name}")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "completions" / name).read_text(
        encoding="utf-8"
    )
