"""Agent profiles: how to start an agent on a task and how to read what it printed."""

from __future__ import annotations

from git_po.agents.base import AgentProfile, Launch, TranscriptSummary
from git_po.agents.claude import ClaudeProfile
from git_po.agents.shell import ShellProfile

__all__ = [
    "AgentProfile",
    "ClaudeProfile",
    "Launch",
    "ShellProfile",
    "TranscriptSummary",
    "profile",
]


def profile(name: str, *, claude_path: str | None = None) -> AgentProfile:
    if name == "shell":
        return ShellProfile()
    if name == "claude":
        return ClaudeProfile(claude_path)
    raise KeyError(name)
