"""The exception hierarchy and the exit-code table.

Every expected failure is a subclass of PoError carrying its exit code; the CLI maps them in one
place. Anything else is a bug and is reported as one (exit 70).
"""

from __future__ import annotations

import re
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the run ended with a task that is not complete; an expected failure
    USAGE = 2  # bad plan, bad option, bad argument
    AGENT_MISSING = 3  # the agent executable cannot be found
    REPOSITORY = 4  # not a repository, or one git po cannot work on
    CONFLICT = 5  # state in the repository prevents the command (plan already running, ...)
    NOT_FOUND = 6  # unknown plan or task
    UNTRUSTED = 7  # the plan's recorded revision was not approved on this machine
    EXTRA_MISSING = 8  # an optional extra (git-po[web]) is not installed
    INTERNAL = 70  # a bug
    INTERRUPTED = 130  # Ctrl-C


class PoError(Exception):
    """An expected failure, reported as one line and a distinct exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(PoError):
    exit_code = ExitCode.USAGE


class ExtraMissing(PoError):
    exit_code = ExitCode.EXTRA_MISSING


class PlanError(PoError):
    """A plan that cannot run; carries every problem found, not just the first."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: list[PlanProblem]) -> None:
        n = len(problems)
        super().__init__(f"the plan has {n} problem{'s' if n != 1 else ''}")
        self.problems = problems


class PlanProblem:
    """One thing wrong with a plan: where, what, and how to fix it."""

    def __init__(self, file: str, line: int | None, message: str, fix: str | None = None) -> None:
        self.file = file
        self.line = line
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" ({self.fix})"
        return text

    def __repr__(self) -> str:
        return f"PlanProblem({self!s})"


class AgentMissing(PoError):
    exit_code = ExitCode.AGENT_MISSING


class RepositoryError(PoError):
    exit_code = ExitCode.REPOSITORY


class StateConflict(PoError):
    exit_code = ExitCode.CONFLICT


class NotFound(PoError):
    exit_code = ExitCode.NOT_FOUND


class RefRace(StateConflict):
    """A compare-and-swap on a ref lost: someone else moved it."""


class RefLocked(PoError):
    """A ref cannot be written: its lock file stays, left by a writer that died (or held by
    one that does not let go). Not a RefRace: writing again on top does not help."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, ref: str, lock: str, age: float, holders: list[int]) -> None:
        held = (
            f"held open by pid {', '.join(map(str, holders))}" if holders else "no process holds it"
        )
        super().__init__(
            f"{ref} is locked: {lock} exists ({age:.0f} s old, {held})",
            hint=f"if no git process is running in this repository, remove it: {rm_command(lock)}",
        )
        self.ref = ref
        self.lock = lock


def rm_command(path: str) -> str:
    """`rm '<path>'`, quoted for a POSIX shell whatever the path holds."""
    return "rm '" + path.replace("'", "'\\''") + "'"


class MissingObject(RepositoryError):
    """An object a ref or a commit names is not in the repository (pruned by a gc that raced a
    writer, or a damaged object store)."""

    def __init__(self, oid: str) -> None:
        super().__init__(
            f"object {oid} is missing from the repository",
            hint="git fsck --full names what is damaged; a git gc --prune=now while git po ran "
            "can remove objects a worker just wrote",
        )
        self.oid = oid


_OID = re.compile(r"\b([0-9a-f]{40}|[0-9a-f]{64})\b")


def missing_object(exc: BaseException) -> MissingObject | None:
    """The MissingObject a KeyError from pygit2 stands for (an object id that was not found),
    or None for any other KeyError."""
    if not isinstance(exc, KeyError):
        return None
    found = _OID.search(" ".join(str(a) for a in exc.args))
    return MissingObject(found.group(1)) if found else None


class Interrupted(PoError):
    exit_code = ExitCode.INTERRUPTED
