"""The commit-subject protocol: how a worker reports progress, and how to read it back.

[CHECKPOINT] <summary>            a step is done, work goes on
[BLOCKED:<reason>] <summary>      cannot go on without a human answer
[NEEDS:<task>/<item>] <summary>   waits for something another task produces
[COMPLETE] <summary>              all of the task is done
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"

_SUBJECT = re.compile(
    r"^\[(?:(?P<simple>CHECKPOINT|COMPLETE)"
    r"|BLOCKED:(?P<reason>[^\]]+)"
    r"|NEEDS:(?P<needs_task>" + ID_PATTERN + r")/(?P<needs_item>[^\]]+))\] (?P<summary>\S.*)$"
)

# git po's own commits on a worker branch carry this trailer; they never decide a task's state
AUTOSAVE_TRAILER = "Po-Auto-Save"

FORMS = (
    "[CHECKPOINT] <summary>            a step is done, work goes on",
    "[BLOCKED:<reason>] <summary>      cannot go on without a human answer",
    "[NEEDS:<task>/<item>] <summary>   waits for something another task produces",
    "[COMPLETE] <summary>              all of the task is done",
)


class Kind(Enum):
    CHECKPOINT = "checkpoint"
    BLOCKED = "blocked"
    NEEDS = "needs"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Report:
    """One protocol commit subject, parsed."""

    kind: Kind
    summary: str
    reason: str | None = None  # BLOCKED
    needs_task: str | None = None  # NEEDS
    needs_item: str | None = None  # NEEDS

    @property
    def detail(self) -> str | None:
        if self.kind is Kind.BLOCKED:
            return self.reason
        if self.kind is Kind.NEEDS:
            return f"{self.needs_task}/{self.needs_item}"
        return None


def parse_subject(subject: str) -> Report | None:
    """The protocol report in a commit subject, or None if it carries none."""
    m = _SUBJECT.match(subject.strip("\r\n"))
    if m is None:
        return None
    simple = m.group("simple")
    summary = m.group("summary").strip()
    if simple == "CHECKPOINT":
        return Report(Kind.CHECKPOINT, summary)
    if simple == "COMPLETE":
        return Report(Kind.COMPLETE, summary)
    if m.group("reason") is not None:
        reason = m.group("reason").strip()
        return Report(Kind.BLOCKED, summary, reason=reason) if reason else None
    item = m.group("needs_item").strip()
    if not item:
        return None
    return Report(Kind.NEEDS, summary, needs_task=m.group("needs_task"), needs_item=item)


def subject_of(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return ""


@dataclass(frozen=True)
class Progress:
    """What a task's branch says, read from its first-parent history since its base."""

    latest: Report | None  # newest protocol report that decides the state
    latest_subject: str | None  # its subject line
    latest_oid: str | None
    checkpoints: int
    commits: int  # commits since base (first parent), git po's own included
    last_subject: str | None  # newest protocol subject of any kind, auto-saves included
    last_commit_time: int | None  # committer time of the tip, if any commit since base

    @property
    def kind(self) -> Kind | None:
        return self.latest.kind if self.latest else None


def progress_of(history: list[tuple[str, str, int, bool]]) -> Progress:
    """Fold a first-parent history, newest first: (oid, message, commit time, is_autosave)."""
    latest: Report | None = None
    latest_subject: str | None = None
    latest_oid: str | None = None
    last_subject: str | None = None
    checkpoints = 0
    for oid, message, _when, autosave in history:
        subject = subject_of(message)
        report = parse_subject(subject)
        if report is None:
            continue
        if last_subject is None:
            last_subject = subject
        if report.kind is Kind.CHECKPOINT:
            checkpoints += 1
        if latest is None and not autosave:
            latest, latest_subject, latest_oid = report, subject, oid
    return Progress(
        latest=latest,
        latest_subject=latest_subject,
        latest_oid=latest_oid,
        checkpoints=checkpoints,
        commits=len(history),
        last_subject=last_subject,
        last_commit_time=history[0][2] if history else None,
    )
