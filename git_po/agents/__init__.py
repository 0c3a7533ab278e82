"""Agent profiles: how to start an agent on a task and how to read what it printed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from git_po.agents.base import AgentProfile, Launch, TranscriptSummary
from git_po.agents.claude import ClaudeProfile
from git_po.agents.generic import GenericProfile
from git_po.agents.shell import ShellProfile
from git_po.agents.spec import AgentSpec

__all__ = [
    "AgentProfile",
    "ClaudeProfile",
    "GenericProfile",
    "Launch",
    "ShellProfile",
    "TranscriptSummary",
    "profile",
]


def profile(
    name: str,
    *,
    claude_path: str | None = None,
    specs: Mapping[str, AgentSpec] | None = None,
    gitdir: Path | None = None,
) -> AgentProfile:
    if name == "shell":
        return ShellProfile()
    if name == "claude":
        return ClaudeProfile(claude_path)
    if specs is not None and name in specs:
        return GenericProfile(specs[name], gitdir)
    raise KeyError(name)
