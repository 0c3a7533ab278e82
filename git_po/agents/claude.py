"""The claude profile: Claude Code headless, `claude -p PROMPT --output-format stream-json
--verbose`, with plan keys mapped to the CLI's real flags, and a reader for its stream-json."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from git_po.agents.base import Launch, TranscriptReader, TranscriptSummary
from git_po.confine import session_id_ok
from git_po.plan import Task

# Linux refuses a single argv string over 128 KiB (MAX_ARG_STRLEN); longer prompts go on stdin
MAX_ARGV_PROMPT = 100_000


class ClaudeProfile:
    name = "claude"
    transcript_suffix = ".jsonl"
    resumes = True

    def __init__(self, claude_path: str | None = None) -> None:
        self.claude_path = claude_path

    def executable(self) -> str | None:
        want = self.claude_path or "claude"
        if os.sep in want:
            p = Path(want).expanduser()
            # absolute: the agent runs in the task's worktree, not here
            return str(p.resolve()) if p.is_file() and os.access(p, os.X_OK) else None
        return shutil.which(want)

    def launch(
        self, task: Task, prompt: str, resume_session: str | None, worktree: Path | None = None
    ) -> Launch:
        exe = self.executable()
        assert exe is not None
        argv = [exe, "-p"]
        stdin: bytes | None = None
        if len(prompt.encode()) <= MAX_ARGV_PROMPT:
            argv.append(prompt)
        else:
            stdin = prompt.encode()
        argv += ["--output-format", "stream-json", "--verbose"]
        if resume_session and session_id_ok(resume_session):  # read from a state ref: data
            argv += ["--resume", resume_session]
        if task.model:
            argv += ["--model", task.model]
        if task.permission_mode:
            argv += ["--permission-mode", task.permission_mode]
        if task.max_turns is not None:
            argv += ["--max-turns", str(task.max_turns)]
        if task.budget_usd is not None:
            argv += ["--max-budget-usd", f"{task.budget_usd:g}"]
        if task.allowed_tools:
            # variadic in the CLI: keep it last so it swallows nothing else
            argv += ["--allowedTools", *task.allowed_tools]
        return Launch(argv, stdin)

    def attach_argv(self, task: Task, session: str) -> list[str] | None:
        exe = self.executable()
        if exe is None:
            return None
        return [exe, "--resume", session, *(["--model", task.model] if task.model else [])]

    def reader(self, path: Path) -> TranscriptReader:
        return StreamJsonReader(path, TranscriptSummary())


class StreamJsonReader(TranscriptReader):
    """Folds Claude Code stream-json events into a summary."""

    def line(self, raw: bytes) -> None:
        super().line(raw)
        try:
            ev = json.loads(raw)
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        s = self.summary
        sid = ev.get("session_id")
        if isinstance(sid, str) and sid:
            s.session_id = sid
        kind = ev.get("type")
        if kind == "assistant":
            msg = ev.get("message")
            if isinstance(msg, dict):
                for block in msg.get("content") or []:
                    if isinstance(block, dict) and block.get("type") == "text":
                        text = str(block.get("text", "")).strip()
                        if text:
                            s.last_text = text.splitlines()[0][:200]
                    elif isinstance(block, dict) and block.get("type") == "tool_use":
                        s.last_text = f"[{block.get('name')}]"
        elif kind == "result":
            s.result_seen = True
            s.is_error = bool(ev.get("is_error"))
            status = ev.get("api_error_status")
            s.api_error_status = status if isinstance(status, int) else None
            subtype = ev.get("subtype")
            s.result_subtype = subtype if isinstance(subtype, str) else None
            cost = ev.get("total_cost_usd")
            if isinstance(cost, int | float):
                s.cost_usd = float(cost)
            turns = ev.get("num_turns")
            if isinstance(turns, int):
                s.num_turns = turns
            usage = ev.get("usage")
            if isinstance(usage, dict):
                inp = sum(
                    int(usage.get(k) or 0)
                    for k in (
                        "input_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens",
                    )
                )
                s.input_tokens = inp
                s.output_tokens = int(usage.get("output_tokens") or 0)
            denials = ev.get("permission_denials")
            if isinstance(denials, list):
                s.permission_denials = len(denials)
                s.refused = [refused_call(d) for d in denials[:MAX_REFUSED] if isinstance(d, dict)]


MAX_REFUSED = 20  # refused calls kept per attempt (the count keeps them all)
_TARGET_KEYS = ("file_path", "notebook_path", "command", "path", "url", "pattern")
_TARGET_CHARS = 200


def refused_call(denial: dict[str, object]) -> dict[str, str]:
    """A `permission_denials` entry as {"tool", "target"}: the file path of a Write, Edit or
    Read, the command of a Bash call (its first line, cut), else the first telling input."""
    tool = str(denial.get("tool_name") or "?")
    given = denial.get("tool_input")
    target = ""
    if isinstance(given, dict):
        for key in _TARGET_KEYS:
            value = given.get(key)
            if isinstance(value, str) and value.strip():
                target = value
                break
    lines = target.strip().splitlines()
    first = lines[0] if lines else ""
    if len(lines) > 1 or len(first) > _TARGET_CHARS:
        first = first[: _TARGET_CHARS - 1] + "…"
    return {"tool": tool, "target": first}
