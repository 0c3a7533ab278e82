"""The shell profile: runs the task's `run` command with sh -c in its worktree.

For deterministic tasks (codemods, formatters) and the offline demo. The kickoff prompt is given
in the environment (PO_PROMPT) and the output is kept as a plain-text transcript.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from git_po.agents.base import Launch, TranscriptReader, TranscriptSummary
from git_po.plan import Task


class ShellProfile:
    name = "shell"
    transcript_suffix = ".log"
    resumes = False

    def executable(self) -> str | None:
        return shutil.which("sh")

    def launch(
        self, task: Task, prompt: str, resume_session: str | None, worktree: Path | None = None
    ) -> Launch:
        assert task.run is not None
        sh = self.executable() or "/bin/sh"
        return Launch([sh, "-c", task.run])

    def attach_argv(self, task: Task, session: str) -> list[str] | None:
        return None

    def reader(self, path: Path) -> TranscriptReader:
        return _TextReader(path, TranscriptSummary())


class _TextReader(TranscriptReader):
    def line(self, raw: bytes) -> None:
        super().line(raw)
        text = raw.decode(errors="replace").strip()
        if text:
            self.summary.last_text = text[:200]
