"""What git hands an extension in its environment: the repository (`GIT_DIR`, `GIT_WORK_TREE`,
`GIT_CEILING_DIRECTORIES`, set by `git --git-dir/--work-tree`) and the command-line
configuration (`git -c`, `--config-env`: `GIT_CONFIG_PARAMETERS`, and `GIT_CONFIG_COUNT` with
`GIT_CONFIG_KEY_<n>`/`GIT_CONFIG_VALUE_<n>`), which libgit2 does not read.

Pure functions: parsing follows git's config.c (`git_config_from_parameters`) and quote.c
(`sq_dequote_step`) exactly, including the pre-2.31 `'key=value'` form and the implicit boolean
`'key'=`; anything git would reject is a UsageError with git's own words."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from git_po.errors import UsageError

PARAMETERS = "GIT_CONFIG_PARAMETERS"
COUNT = "GIT_CONFIG_COUNT"
ORIGIN = "command line"  # as `git config --show-scope` names it


@dataclass(frozen=True)
class Entry:
    """One command-line setting; value None is a bare `-c key` (boolean true)."""

    key: str  # canonical: section and name lower case, subsection as given
    value: str | None


def _keychar(c: str) -> bool:
    return c == "-" or (c.isascii() and c.isalnum())


def canonical_key(key: str) -> str | None:
    """git_config_parse_key: `Section.Sub.Section.Name` -> `section.Sub.Section.name` (the
    section and the name lower case, the subsection as given), or None when git would refuse
    the key."""
    last = key.rfind(".")
    if last <= 0 or last == len(key) - 1:
        return None
    out: list[str] = []
    dot = False
    for i, c in enumerate(key):
        dot = dot or c == "."
        if not dot or i > last:
            if not _keychar(c) or (i == last + 1 and not (c.isascii() and c.isalpha())):
                return None
            c = c.lower()
        elif c == "\n":
            return None
        out.append(c)
    return "".join(out)


def _pair(key: str, value: str | None, where: str) -> Entry:
    if not key:
        raise UsageError(f"empty config key in {where}")
    canonical = canonical_key(key)
    if canonical is None:
        raise UsageError(f"invalid key in {where}: {key}")
    return Entry(canonical, value)


def _sq_dequote_step(text: str, i: int) -> tuple[str, int | None] | None:
    """quote.c sq_dequote_step from text[i] (a single quote): (word, index after it, or None at
    the end of text), or None when text is not quoted the way git quotes."""
    if i >= len(text) or text[i] != "'":
        return None
    out: list[str] = []
    i += 1
    while True:
        if i >= len(text):
            return None
        c = text[i]
        if c != "'":
            out.append(c)
            i += 1
            continue
        i += 1  # stepped out of the quotes
        if i >= len(text):
            return "".join(out), None
        if text[i] == "\\" and i + 2 < len(text) and text[i + 1] in "'!" and text[i + 2] == "'":
            out.append(text[i + 1])
            i += 3
            continue
        return "".join(out), i


def parse_parameters(text: str) -> list[Entry]:
    """GIT_CONFIG_PARAMETERS as git writes it: `'key'='value'` (`'key'=` for a bare key) or,
    before git 2.31, `'key=value'`, separated by whitespace."""
    bogus = UsageError(
        f"bogus format in {PARAMETERS}",
        hint=f"unset {PARAMETERS}, or set it with git -c key=value",
    )
    out: list[Entry] = []
    i: int | None = 0
    while i is not None and i < len(text):
        step = _sq_dequote_step(text, i)
        if step is None:
            raise bogus
        word, i = step
        if i is None or text[i].isspace():
            key, eq, value = word.partition("=")  # old style 'key=value'
            out.append(_pair(key.strip(), value if eq else None, PARAMETERS))
        elif text[i] == "=":
            i += 1
            if i < len(text) and text[i] == "'":
                step = _sq_dequote_step(text, i)
                if step is None or (step[1] is not None and not text[step[1]].isspace()):
                    raise bogus
                value_or_none: str | None
                value_or_none, i = step
            elif i >= len(text) or text[i].isspace():
                value_or_none = None  # implicit boolean: 'key'=
            else:
                raise bogus
            out.append(_pair(word, value_or_none, PARAMETERS))
        else:
            raise bogus
        while i is not None and i < len(text) and text[i].isspace():
            i += 1
    return out


def parse_count(env: Mapping[str, str]) -> list[Entry]:
    """GIT_CONFIG_COUNT entries, GIT_CONFIG_KEY_<n> = GIT_CONFIG_VALUE_<n> for n below it."""
    raw = env.get(COUNT)
    if raw is None:
        return []
    if raw and not raw.isdigit():
        raise UsageError(f"bogus count in {COUNT}: {raw!r}")
    out: list[Entry] = []
    for n in range(int(raw or "0")):
        key, value = env.get(f"GIT_CONFIG_KEY_{n}"), env.get(f"GIT_CONFIG_VALUE_{n}")
        if key is None:
            raise UsageError(f"missing config key GIT_CONFIG_KEY_{n}")
        if value is None:
            raise UsageError(f"missing config value GIT_CONFIG_VALUE_{n}")
        out.append(_pair(key, value, f"GIT_CONFIG_KEY_{n}"))
    return out


def command_line_config(env: Mapping[str, str]) -> tuple[Entry, ...]:
    """Every command-line setting in the order git reads them (GIT_CONFIG_COUNT's first, then
    GIT_CONFIG_PARAMETERS'); for a single value, the last one wins."""
    return (*parse_count(env), *parse_parameters(env.get(PARAMETERS, "")))


def quote(word: str) -> str:
    """quote.c sq_quote_buf: the word in single quotes, a quote as '\\''."""
    return "'" + word.replace("'", "'\\''").replace("!", "'\\!'") + "'"


def append_parameter(env: Mapping[str, str], key: str, value: str) -> str:
    """GIT_CONFIG_PARAMETERS of env with key=value added last (so it wins), as git adds -c."""
    current = env.get(PARAMETERS, "")
    item = f"{quote(key)}={quote(value)}"
    return f"{current} {item}" if current else item


@dataclass(frozen=True)
class Location:
    """Where git would look for the repository: an explicit git dir or a directory to search
    up from, a work tree when one is given, and the directories the search stops at."""

    git_dir: Path | None
    work_tree: Path | None
    start: Path
    ceilings: tuple[str, ...]


def location(cwd: Path, env: Mapping[str, str]) -> Location:
    """GIT_DIR and GIT_WORK_TREE (relative to cwd, as git takes them) and
    GIT_CEILING_DIRECTORIES (absolute entries only, as git)."""
    git_dir = env.get("GIT_DIR") or None
    work_tree = env.get("GIT_WORK_TREE") or None
    ceilings = tuple(
        c for c in env.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if os.path.isabs(c)
    )
    return Location(
        git_dir=Path(os.path.normpath(cwd / git_dir)) if git_dir else None,
        work_tree=Path(os.path.normpath(cwd / work_tree)) if work_tree else None,
        start=cwd,
        ceilings=ceilings,
    )
