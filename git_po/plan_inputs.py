"""What a plan brings in from outside its own text, checked: prompt files (confined to the
plan's folder or the repository, regular files only, size-capped, UTF-8) and the values that
reach an agent's command line (never option-shaped, only what the agent accepts).

A plan is often written by someone else; these checks keep it from reading a file it has no
business with (`../.aws/credentials`, a symlink out, `/dev/zero`, a FIFO) into a ref that gets
pushed, and from turning a value into a command-line option (`--dangerously-skip-permissions`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

MAX_PROMPT_BYTES = 1_000_000


class PromptFileProblem(Exception):
    """Why a prompt file cannot be used, and what to do."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


# a reader returns the prompt text, None when there is no such file, or raises
PromptReader = Callable[[str], "str | None"]


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def file_reader(folder: Path, repo_root: Path | None = None) -> PromptReader:
    """Prompt files relative to folder (the plan file's), resolved, symlinks followed, inside
    folder or repo_root; regular files of at most MAX_PROMPT_BYTES, UTF-8."""
    base = folder.resolve()
    roots = [base] + ([repo_root.resolve()] if repo_root is not None else [])
    where = "the plan file's folder" + (" or the repository" if repo_root is not None else "")

    def read(rel: str) -> str | None:
        if os.path.isabs(rel) or rel.startswith("~"):
            raise PromptFileProblem(
                f"prompt_file {rel!r} is an absolute path",
                f"give a path relative to the plan file, inside {where}",
            )
        if "\x00" in rel:
            raise PromptFileProblem(f"prompt_file {rel!r} holds a NUL character")
        lexical = Path(os.path.normpath(base / rel))
        if not _inside(lexical, roots):
            raise PromptFileProblem(
                f"prompt_file {rel!r} points outside {where}",
                "keep prompt files beside the plan or in the repository",
            )
        try:
            real = (base / rel).resolve(strict=True)
        except FileNotFoundError:
            return None
        except (OSError, RuntimeError) as exc:  # a symlink loop, a permission
            raise PromptFileProblem(f"prompt_file {rel!r} cannot be resolved: {exc}") from None
        if not _inside(real, roots):
            raise PromptFileProblem(
                f"prompt_file {rel!r} is a symlink that leads outside {where} ({real})",
                "copy the text into a file beside the plan",
            )
        return _read_regular(rel, real)

    return read


def _read_regular(rel: str, real: Path) -> str:
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except IsADirectoryError:
        raise PromptFileProblem(
            f"prompt_file {rel!r} is a directory", "name a file in it"
        ) from None
    except OSError as exc:
        raise PromptFileProblem(f"prompt_file {rel!r} cannot be read: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise PromptFileProblem(f"prompt_file {rel!r} is a directory", "name a file in it")
        if not stat.S_ISREG(mode):
            kind = (
                "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "a socket"
                if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise PromptFileProblem(
                f"prompt_file {rel!r} is {kind}, not a regular file", "name a text file"
            )
        data = b""
        while len(data) <= MAX_PROMPT_BYTES:
            chunk = os.read(fd, MAX_PROMPT_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_PROMPT_BYTES:
        raise PromptFileProblem(
            f"prompt_file {rel!r} is larger than {MAX_PROMPT_BYTES // 1000} kB",
            "a prompt is instructions, not data: point the task at the files instead",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PromptFileProblem(
            f"prompt_file {rel!r} is not UTF-8 text (byte {exc.start})", "save it as UTF-8"
        ) from None


# --- values that reach an agent's command line ------------------------------------------------

# claude model names and aliases: sonnet, claude-sonnet-4-5, claude-3-5-sonnet@20240620,
# us.anthropic.claude-...-v1:0, arn:aws:bedrock:..., sonnet[1m]
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]{0,199}")
# a tool rule: a name, optionally a specifier in parentheses: Edit, Bash(git *), mcp__srv__x
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.*-]*")


def option_shaped(value: str) -> bool:
    return value.lstrip().startswith("-")


def model_problem(value: str) -> str | None:
    if option_shaped(value):
        return f"model {value!r} looks like an option"
    if not _MODEL.fullmatch(value):
        return (
            f"model {value!r} is not a model name (letters, digits and . _ : / @ + [ ] -, "
            "no spaces)"
        )
    return None


def tool_rules(entry: str) -> list[str] | None:
    """The tool rules in an allowed_tools entry (claude splits on commas and spaces outside
    parentheses), or None when the entry is not a list of well-formed rules."""
    rules: list[str] = []
    depth = 0
    current = ""
    for c in entry:
        if ord(c) < 32 or c == "\x7f":
            return None
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        if depth == 0 and c in ", ":
            if current:
                rules.append(current)
            current = ""
            continue
        current += c
    if depth != 0:
        return None
    if current:
        rules.append(current)
    for rule in rules:
        name, paren, _rest = rule.partition("(")
        if not _TOOL_NAME.fullmatch(name) or (paren and not rule.endswith(")")):
            return None
    return rules or None


def tools_problem(key: str, value: str) -> str | None:
    if option_shaped(value):
        return f"{key} entry {value!r} looks like an option"
    if tool_rules(value) is None:
        return (
            f"{key} entry {value!r} is not a tool rule (a tool name, optionally with a "
            'specifier in parentheses: "Edit", "Bash(git *)")'
        )
    return None
