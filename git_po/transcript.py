"""Reading a worker's transcript: Claude Code's stream-json rendered for people (assistant text,
tool calls with their arguments, tool results shortened, errors, the final result with its
cost), shell output as it is, and following a live attempt until it ends.

Pure text building and file reading; the CLI prints what these yield."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from git_po.errors import NotFound
from git_po.local import RunLock, pid_alive
from git_po.lookup import TaskRef
from git_po.repo import Repo
from git_po.state import Attempt, State, StateStore, TaskState
from git_po.transcript_events import EventRenderer

RESULT_LINES = 6  # lines of a tool result shown
LINE_CHARS = 240  # characters of one shown line
ARG_CHARS = 400  # characters of a tool argument shown

_RED, _GREEN, _YELLOW, _CYAN, _DIM, _BOLD = "31", "32", "33", "36", "2", "1"


def _paint(text: str, code: str, enabled: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and text else text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _money(x: object) -> str | None:
    return f"${x:.4f}" if isinstance(x, int | float) and not isinstance(x, bool) else None


def _seconds(ms: object) -> str | None:
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return f"{ms / 1000:.1f}s"
    return None


def _text_of(content: object) -> str:
    """A tool result's content: a string, or a list of blocks of which text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text":
                    parts.append(str(block.get("text", "")))
                else:
                    parts.append(f"[{block.get('type', 'block')}]")
            else:
                parts.append(str(block))
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


def tool_call_text(name: str, args: object) -> str:
    """A tool call's arguments as a person reads them: the command of Bash, the path of a file
    tool, the pattern of a search, else compact JSON."""
    if not isinstance(args, dict):
        return _cut(json.dumps(args, ensure_ascii=False), ARG_CHARS)
    if name == "Bash" and isinstance(args.get("command"), str):
        out = args["command"]
        if isinstance(args.get("description"), str) and args["description"]:
            out += f"   # {args['description']}"
        return _cut(out, ARG_CHARS)
    path = args.get("file_path") or args.get("notebook_path") or args.get("path")
    if isinstance(path, str):
        extra = ""
        if isinstance(args.get("content"), str):
            n = len(args["content"].splitlines())
            extra = f" ({n} line{'s' if n != 1 else ''})"
        elif isinstance(args.get("old_string"), str):
            extra = " (edit)"
        elif isinstance(args.get("edits"), list):
            extra = f" ({len(args['edits'])} edits)"
        if isinstance(args.get("pattern"), str):
            return _cut(f"{args['pattern']} in {path}", ARG_CHARS)
        return path + extra
    for key in ("pattern", "url", "query", "description", "prompt"):
        if isinstance(args.get(key), str):
            return _cut(str(args[key]), ARG_CHARS)
    return _cut(json.dumps(args, ensure_ascii=False, separators=(",", ":")), ARG_CHARS)


@dataclass
class ClaudeRenderer:
    """Turns stream-json lines into readable lines; keeps which tool each result answers."""

    color: bool = False
    tools: dict[str, str] = field(default_factory=dict)
    result_seen: bool = False
    last_text: str = ""

    def line(self, raw: str) -> list[str]:
        raw = raw.strip()
        if not raw:
            return []
        try:
            ev = json.loads(raw)
        except ValueError:
            return [raw]  # not JSON: the agent printed something else; show it as it is
        if not isinstance(ev, dict):
            return [raw]
        kind = ev.get("type")
        if kind == "system":
            return self._system(ev)
        if kind == "assistant":
            return self._assistant(ev)
        if kind == "user":
            return self._user(ev)
        if kind == "result":
            return self._result(ev)
        return []  # stream events and kinds to come: nothing a person needs

    def _system(self, ev: dict[str, Any]) -> list[str]:
        sub = ev.get("subtype")
        if sub == "init":
            parts = [str(ev.get("model") or "?")]
            if ev.get("permissionMode"):
                parts.append(f"permission {ev['permissionMode']}")
            if ev.get("claude_code_version"):
                parts.append(f"Claude Code {ev['claude_code_version']}")
            if ev.get("cwd"):
                parts.append(f"in {ev['cwd']}")
            return [
                _paint("session " + str(ev.get("session_id") or "?"), _DIM, self.color)
                + _paint(" · " + " · ".join(parts), _DIM, self.color)
            ]
        if sub == "api_retry":
            delay = _seconds(ev.get("retry_delay_ms"))
            text = (
                f"! API retry {ev.get('attempt', '?')}/{ev.get('max_retries', '?')}: "
                f"{ev.get('error_status', '')} {ev.get('error', '')}".rstrip()
            )
            if delay:
                text += f", next in {delay}"
            return [_paint(text, _YELLOW, self.color)]
        if sub == "model_fallback":
            return [
                _paint(
                    f"! model fallback: {json.dumps(ev, ensure_ascii=False)}", _YELLOW, self.color
                )
            ]
        return []

    def _assistant(self, ev: dict[str, Any]) -> list[str]:
        msg = ev.get("message")
        if not isinstance(msg, dict):
            return []
        out: list[str] = []
        for block in msg.get("content") or []:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                text = str(block.get("text", "")).rstrip()
                if text:
                    self.last_text = text.strip()
                    out += text.splitlines()
            elif kind == "tool_use":
                name = str(block.get("name") or "tool")
                if isinstance(block.get("id"), str):
                    self.tools[block["id"]] = name
                args = tool_call_text(name, block.get("input"))
                first, *rest = args.splitlines() or [""]
                out.append(_paint(f"→ {name}", _CYAN, self.color) + f": {first}")
                out += [f"    {line}" for line in rest[:RESULT_LINES]]
                if len(rest) > RESULT_LINES:
                    out.append(f"    … ({len(rest) - RESULT_LINES} more lines)")
            elif kind == "thinking":
                text = str(block.get("thinking", "")).strip()
                if text:
                    out.append(
                        _paint(
                            f"(thinking) {_cut(text.splitlines()[0], LINE_CHARS)}", _DIM, self.color
                        )
                    )
        return out

    def _user(self, ev: dict[str, Any]) -> list[str]:
        msg = ev.get("message")
        if not isinstance(msg, dict) or not isinstance(msg.get("content"), list):
            return []
        out: list[str] = []
        for block in msg["content"]:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            text = _text_of(block.get("content")).rstrip("\n")
            lines = text.splitlines() or ["(empty)"]
            error = bool(block.get("is_error"))
            shown = [_cut(line, LINE_CHARS) for line in lines[:RESULT_LINES]]
            if len(lines) > RESULT_LINES:
                shown.append(f"… ({len(lines) - RESULT_LINES} more lines)")
            head = "  ⎿ " + ("error: " if error else "")
            for i, line in enumerate(shown):
                prefix = head if i == 0 else "    "
                out.append(_paint(prefix + line, _RED, self.color) if error else prefix + line)
        return out

    def _result(self, ev: dict[str, Any]) -> list[str]:
        self.result_seen = True
        error = bool(ev.get("is_error"))
        sub = str(ev.get("subtype") or "")
        parts: list[str] = []
        if isinstance(ev.get("num_turns"), int):
            parts.append(f"{ev['num_turns']} turns")
        cost = _money(ev.get("total_cost_usd"))
        if cost:
            parts.append(cost)
        took = _seconds(ev.get("duration_ms"))
        if took:
            parts.append(took)
        usage = ev.get("usage")
        if isinstance(usage, dict):
            inp = sum(
                int(usage.get(k) or 0)
                for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
            )
            parts.append(f"{inp} in / {int(usage.get('output_tokens') or 0)} out tokens")
        denials = ev.get("permission_denials")
        if isinstance(denials, list) and denials:
            parts.append(f"{len(denials)} permission denials")
        if error:
            what = "error"
            if isinstance(ev.get("api_error_status"), int):
                what += f" (API {ev['api_error_status']})"
            elif sub and sub != "success":
                what += f" ({sub})"
        else:
            what = "done"
        head = _paint(f"result: {what}", _RED if error else _GREEN, self.color)
        out = [head + (" — " + ", ".join(parts) if parts else "")]
        errors = ev.get("errors")
        if isinstance(errors, list):
            out += [_paint(f"  {e}", _RED, self.color) for e in errors if e]
        final = ev.get("result")
        if isinstance(final, str) and final.strip() and final.strip() != self.last_text:
            lines = final.strip().splitlines()
            out += [f"  {_cut(line, LINE_CHARS)}" for line in lines[:RESULT_LINES]]
            if len(lines) > RESULT_LINES:
                out.append(f"  … ({len(lines) - RESULT_LINES} more lines)")
        return out


class PlainRenderer:
    """Shell transcripts are plain text: shown as they are."""

    result_seen = False

    def line(self, raw: str) -> list[str]:
        return [raw.rstrip("\n")]


Renderer = ClaudeRenderer | PlainRenderer | EventRenderer


def renderer_for(attempt: Attempt, *, color: bool = False) -> Renderer:
    if attempt.transcript.endswith(".jsonl") and attempt.agent not in ("claude", ""):
        return EventRenderer(color=color)
    if attempt.transcript.endswith(".jsonl"):
        return ClaudeRenderer(color=color)
    return PlainRenderer()


# --- finding an attempt -----------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptLog:
    ref: TaskRef
    state: TaskState
    attempt: Attempt
    path: Path

    @property
    def is_last(self) -> bool:
        return self.attempt.number == len(self.state.attempts)

    def header(self) -> str:
        a = self.attempt
        parts = [f"{self.ref} attempt {a.number}/{len(self.state.attempts)}", a.agent]
        if a.session_id:
            parts.append(f"session {a.session_id}")
        parts.append(f"started {a.started_at}")
        if a.ended_at:
            parts.append(f"ended {a.ended_at}")
        if a.outcome:
            parts.append(a.outcome)
        return " · ".join(parts)

    def stderr_path(self) -> Path:
        return self.path.with_name(self.path.name + ".stderr")


def read_state(repo: Repo, ref: TaskRef) -> TaskState | None:
    return StateStore(repo, ref.plan).read(ref.task)


def find_attempt(repo: Repo, ref: TaskRef, number: int | None) -> AttemptLog:
    """The attempt asked for (default: the last), with its transcript path."""
    st = read_state(repo, ref)
    if st is None or not st.attempts:
        state = st.state if st else State.PENDING
        if state in (State.PENDING, State.RUNNING):
            raise NotFound(
                f"task {ref} has no attempt yet (it is {state.value})",
                hint=f"follow it once it starts: git po logs --follow {ref}",
            )
        why = f": {st.reason}" if st and st.reason else ""
        raise NotFound(f"task {ref} never ran (it is {state.value}{why})")
    if number is None:
        attempt = st.attempts[-1]
    else:
        found = [a for a in st.attempts if a.number == number]
        if not found:
            raise NotFound(
                f"task {ref} has no attempt {number}",
                hint=f"its attempts are 1 to {len(st.attempts)}",
            )
        attempt = found[0]
    return AttemptLog(ref, st, attempt, Path(attempt.transcript))


def _missing(log: AttemptLog) -> NotFound:
    return NotFound(
        f"the transcript of {log.ref} attempt {log.attempt.number} is not on this machine "
        f"({log.path})",
        hint="transcripts are private files of the clone that ran the task",
    )


def read_lines(log: AttemptLog) -> list[str]:
    try:
        data = log.path.read_bytes()
    except FileNotFoundError:
        raise _missing(log) from None
    return data.decode("utf-8", "replace").splitlines()


def raw_bytes(log: AttemptLog) -> bytes:
    try:
        return log.path.read_bytes()
    except FileNotFoundError:
        raise _missing(log) from None


def render(lines: Iterable[str], renderer: Renderer) -> Iterator[str]:
    for line in lines:
        yield from renderer.line(line)


def as_json(log: AttemptLog) -> dict[str, Any]:
    """`git po logs --json`: the attempt, its transcript rendered as `logs` prints it (no
    colour), and its stderr."""
    from git_po import jsonout

    a = log.attempt
    return {
        "schema_version": jsonout.SCHEMA_VERSION,
        "plan": log.ref.plan,
        "task": log.ref.task,
        "attempt": a.number,
        "attempt_count": len(log.state.attempts),
        "agent": a.agent,
        "session_id": a.session_id or None,
        "started_at": a.started_at or None,
        "ended_at": a.ended_at or None,
        "outcome": a.outcome or None,
        "lines": list(render(read_lines(log), renderer_for(a, color=False))),
        "stderr": stderr_lines(log),
    }


def stderr_lines(log: AttemptLog) -> list[str]:
    try:
        text = log.stderr_path().read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return text.rstrip("\n").splitlines() if text.strip() else []


# --- following a live attempt -----------------------------------------------------------------


def _attempt_over(repo: Repo, ref: TaskRef, number: int) -> bool:
    """Whether the attempt has ended, by the task's state ref (or its worker is gone)."""
    st = read_state(repo, ref)
    if st is None:
        return False
    found = [a for a in st.attempts if a.number == number]
    if not found:
        return False
    a = found[0]
    if a.ended_at is not None or st.state is not State.RUNNING or len(st.attempts) > number:
        return True
    return a.pid is not None and not pid_alive(a.pid)


def wait_for_attempt(
    repo: Repo,
    ref: TaskRef,
    number: int | None,
    *,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> AttemptLog:
    """The attempt asked for, waiting while the task has not started it yet."""
    while True:
        st = read_state(repo, ref)
        if st is not None and st.attempts:
            if number is None or any(a.number == number for a in st.attempts):
                return find_attempt(repo, ref, number)
            if st.state.terminal:
                return find_attempt(repo, ref, number)  # raises: it will never come
        elif st is not None and st.state.terminal:
            return find_attempt(repo, ref, number)  # raises: skipped, failed before starting
        if RunLock(repo, ref.plan).alive_holder() is None:
            state = st.state.value if st else State.PENDING.value
            raise NotFound(
                f"task {ref} has no attempt yet (it is {state}) and no orchestrator runs "
                f"plan {ref.plan}",
                hint=f"continue the run with: git po resume {ref.plan}",
            )
        sleep(poll)


def follow(
    repo: Repo,
    log: AttemptLog,
    *,
    poll: float = 0.25,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[bytes]:
    """Yield the transcript's complete lines (bytes, with their newline) as the worker writes
    them, from the start, until the attempt ends: its state ref records the end, its worker is
    gone, or (stream-json) the result event arrived. Then what is left is drained."""
    offset = 0
    partial = b""
    number = log.attempt.number
    result_seen = False
    while True:
        over = _attempt_over(repo, log.ref, number)
        try:
            with log.path.open("rb") as f:
                f.seek(offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
            if over:
                if offset == 0 and not log.path.parent.exists():
                    raise _missing(log) from None
                return
        if data:
            offset += len(data)
            chunk = partial + data
            lines = chunk.split(b"\n")
            partial = lines.pop()
            for line in lines:
                if b'"result"' in line and _is_result(line):
                    result_seen = True
                yield line + b"\n"
        if over or result_seen:
            if partial:
                yield partial + b"\n"
            return
        sleep(poll)


def _is_result(line: bytes) -> bool:
    try:
        ev = json.loads(line)
    except ValueError:
        return False
    return isinstance(ev, dict) and ev.get("type") == "result"
