"""The exception hierarchy and the exit-code table.

Every expected failure is a subclass of PoError carrying its exit code; the CLI maps them in one
place. Anything else is a bug and is reported as one (exit 70).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the run ended with a task that is not complete; an expected failure
    USAGE = 2  # bad plan, bad option, bad argument
    AGENT_MISSING = 3  # the agent executable cannot be found
    REPOSITORY = 4  # not a repository, or one git po cannot work on
    CONFLICT = 5  # state in the repository prevents the command (plan already running, ...)
    NOT_FOUND = 6  # unknown plan or task
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


class Interrupted(PoError):
    exit_code = ExitCode.INTERRUPTED
