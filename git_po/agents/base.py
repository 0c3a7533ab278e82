from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from git_po.plan import Task


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    stdin: bytes | None = None  # fed to the agent when the prompt is too long for argv


@dataclass
class TranscriptSummary:
    """What an agent's output says about an attempt (never used to decide progress)."""

    session_id: str | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    is_error: bool | None = None
    api_error_status: int | None = None
    result_subtype: str | None = None
    num_turns: int | None = None
    permission_denials: int | None = None
    # the refused tool calls, as {"tool": name, "target": file path or command}
    refused: list[dict[str, str]] = field(default_factory=list)
    result_seen: bool = False
    last_text: str | None = None
    events: int = 0
    extra: dict[str, str] = field(default_factory=dict)


class TranscriptReader:
    """Reads an attempt's transcript incrementally as the agent appends to it."""

    def __init__(self, path: Path, summary: TranscriptSummary) -> None:
        self.path = path
        self.summary = summary
        self._offset = 0
        self._partial = b""

    def feed(self) -> bool:
        """Read what was appended since the last call; True if anything new arrived."""
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return False
        if not data:
            return False
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self.line(line)
        return True

    def finish(self) -> None:
        self.feed()
        if self._partial:
            self.line(self._partial)
            self._partial = b""

    def line(self, raw: bytes) -> None:  # overridden by profiles that parse their stream
        self.summary.events += 1


class AgentProfile(Protocol):
    name: str
    transcript_suffix: str
    resumes: bool  # a later attempt can continue the session of the one before

    def executable(self) -> str | None:
        """The resolved executable, or None when it cannot be found."""

    def launch(
        self, task: Task, prompt: str, resume_session: str | None, worktree: Path | None = None
    ) -> Launch: ...

    def reader(self, path: Path) -> TranscriptReader: ...

    def attach_argv(self, task: Task, session: str) -> list[str] | None:
        """The interactive command that resumes session, or None when the agent has none."""
