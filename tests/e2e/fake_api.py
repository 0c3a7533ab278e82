"""A scripted, offline stand-in for the Anthropic Messages API (stdlib only).

The real Claude Code CLI is pointed at it with ``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT``.
Every request is answered statelessly:

* the *script* is picked from a ``[script:NAME]`` marker: first in the prompt text of the first
  user message (the text blocks that are not ``<system-reminder>``), then anywhere in that
  message, then anywhere in the request body; a base URL ending in ``/s/NAME`` also picks NAME;
  a script added with ``match=REGEX`` is picked when the prompt text matches it and no marker
  is found (so a prompt written for people, e.g. the README's, needs no marker);
* the *turn* is the number of assistant turns already in ``messages``, so a run resumed with
  ``--resume`` simply continues the script where the last run stopped.

A script is a list of turns, each a :class:`Reply` (assistant content blocks, e.g. ``text()``
and ``bash()``) or a :class:`Fail` (an HTTP error with an Anthropic-shaped body, or an SSE
``error`` event in the middle of a stream). Past the last scripted turn the server answers with a
final text turn that ends with ``stop_reason: end_turn``. Requests without any script get that
same final text turn, so side requests the CLI may make never break a run.

Usage numbers are reported in ``message_start`` / ``message_delta`` (and in non-streamed
replies) so the CLI computes a non-zero ``total_cost_usd``. Every request is recorded (see
:class:`RecordedRequest`) for tests to assert on; unknown paths are answered with a 404 error
body and logged to stderr.
"""

from __future__ import annotations

import gzip
import http.server
import json
import re
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit

JSON = dict[str, Any]

SCRIPT_MARKER = re.compile(r"\[script:([A-Za-z0-9_.\-]+)\]")
_PATH_SCRIPT = re.compile(r"^/s/([A-Za-z0-9_.\-]+)(/.*)?$")
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]")

FINAL_TEXT = "All scripted turns are done."

ERROR_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


# --------------------------------------------------------------------------- script model


def text(value: str) -> JSON:
    """An assistant text block."""
    return {"type": "text", "text": value}


def tool_use(name: str, tool_input: Mapping[str, Any]) -> JSON:
    """An assistant tool_use block (its id is filled in when it is served)."""
    return {"type": "tool_use", "name": name, "input": dict(tool_input)}


def bash(command: str, description: str | None = None) -> JSON:
    """A call of Claude Code's Bash tool."""
    tool_input: JSON = {"command": command}
    if description is not None:
        tool_input["description"] = description
    return tool_use("Bash", tool_input)


@dataclass(frozen=True)
class Reply:
    """One assistant turn: its content blocks, served after an optional delay (seconds).

    ``stop_reason`` defaults to ``tool_use`` when a block is a tool call, else ``end_turn``.
    """

    blocks: Sequence[JSON]
    delay: float = 0.0
    stop_reason: str | None = None
    input_tokens: int = 1200
    output_tokens: int = 80

    def resolved_stop_reason(self) -> str:
        if self.stop_reason is not None:
            return self.stop_reason
        if any(block.get("type") == "tool_use" for block in self.blocks):
            return "tool_use"
        return "end_turn"


@dataclass(frozen=True)
class Fail:
    """An error answer for this turn.

    ``mode="http"`` answers with ``status`` and ``{"type":"error","error":{...}}``;
    ``mode="sse_error"`` starts a 200 stream, sends ``message_start`` and then an SSE ``error``
    event; ``mode="drop"`` sends ``message_start`` and closes the connection (a non-streamed
    request gets a plain HTTP 500 in those two modes).

    ``times=None`` fails every request of this turn. ``times=N`` makes a transient failure: it
    belongs to the turn of the next script entry (or to the final text turn when none follows),
    fires on the first N requests for that turn, and then that entry is served. These counters
    are the only state the server keeps between requests.
    """

    status: int = 529
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    mode: Literal["http", "sse_error", "drop"] = "http"
    times: int | None = None

    def body(self) -> JSON:
        error_type = self.error_type or ERROR_TYPES.get(self.status, "api_error")
        message = self.message or {
            529: "Overloaded",
            429: "Rate limited",
        }.get(self.status, f"Scripted error {self.status}")
        return {"type": "error", "error": {"type": error_type, "message": message}}


Turn = Reply | Fail


@dataclass(frozen=True)
class RecordedRequest:
    """What the server saw and how it answered (``status`` 200 also for streamed errors)."""

    index: int
    time: float
    method: str
    path: str
    script: str | None
    turn: int | None
    model: str | None
    stream: bool | None
    status: int
    answer: str
    body: JSON | None = field(repr=False, default=None)
    headers: Mapping[str, str] = field(repr=False, default_factory=dict)


# --------------------------------------------------------------------------- request helpers


def _blocks_text(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, dict) and block.get("type") == "text":
                value = block.get("text")
                if isinstance(value, str):
                    out.append(value)
    return out


def find_script(
    body: JSON, raw: str, path: str, matches: Mapping[str, re.Pattern[str]] | None = None
) -> str | None:
    """The script a request belongs to (see module docstring for the search order)."""
    match = _PATH_SCRIPT.match(path)
    if match:
        return match.group(1)
    prompts: list[str] = []
    messages = body.get("messages")
    if isinstance(messages, list):
        first_user = next(
            (m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None
        )
        if first_user is not None:
            texts = _blocks_text(first_user.get("content"))
            prompts = [t for t in texts if not t.lstrip().startswith("<system-reminder>")]
            for candidates in (prompts, texts):
                for value in candidates:
                    found = SCRIPT_MARKER.search(value)
                    if found:
                        return found.group(1)
    found = SCRIPT_MARKER.search(raw)
    if found:
        return found.group(1)
    if matches:
        for value in prompts:
            for name, pattern in matches.items():
                if pattern.search(value):
                    return name
    return None


_WORKING_DIRECTORY = re.compile(r"[Ww]orking directory: (/[^\s<\\\"]*)")
CWD = "{cwd}"


def working_directory(body: JSON) -> str | None:
    """The CLI's working directory, as its system prompt states it."""
    found = _WORKING_DIRECTORY.search(json.dumps(body.get("system", "")))
    return found.group(1) if found else None


def _with_cwd(tool_input: Any, cwd: str) -> Any:
    """Tool input with every ``{cwd}`` in its strings replaced by the working directory, so a
    script can give the absolute paths the file tools want."""
    if isinstance(tool_input, str):
        return tool_input.replace(CWD, cwd)
    if isinstance(tool_input, dict):
        return {k: _with_cwd(v, cwd) for k, v in tool_input.items()}
    if isinstance(tool_input, list):
        return [_with_cwd(v, cwd) for v in tool_input]
    return tool_input


def count_assistant_turns(body: JSON) -> int:
    """Assistant turns already in ``messages`` (consecutive assistant messages count once)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    turns = 0
    previous: Any = None
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role == "assistant" and previous != "assistant":
            turns += 1
        previous = role
    return turns


def _api_path(path: str) -> str:
    """The request path without query and without a ``/s/NAME`` prefix."""
    bare = urlsplit(path).path
    match = _PATH_SCRIPT.match(bare)
    if match:
        bare = match.group(2) or "/"
    return bare


# --------------------------------------------------------------------------- server


class FakeAnthropic:
    """The scripted server; use as a context manager (``with FakeAnthropic() as api``)."""

    def __init__(
        self,
        scripts: Mapping[str, Sequence[Turn]] | None = None,
        *,
        verbose: bool = False,
    ) -> None:
        self._scripts: dict[str, list[Turn]] = {}
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._fail_counts: dict[tuple[str, int], int] = {}
        self._matches: dict[str, re.Pattern[str]] = {}
        self.unknown_paths: list[str] = []
        self.verbose = verbose
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for name, turns in (scripts or {}).items():
            self.add_script(name, turns)

    # ---- configuration

    def add_script(self, name: str, turns: Sequence[Turn], match: str | None = None) -> None:
        """Serve ``turns`` to requests marked ``[script:NAME]`` or, with ``match``, to those
        whose prompt text matches that regular expression."""
        if not SCRIPT_MARKER.fullmatch(f"[script:{name}]"):
            raise ValueError(f"bad script name {name!r}")
        with self._lock:
            self._scripts[name] = list(turns)
            if match is not None:
                self._matches[name] = re.compile(match)

    # ---- lifecycle

    def start(self) -> None:
        if self._server is not None:
            return
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-anthropic", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ---- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def message_requests(self, script: str | None = None) -> list[RecordedRequest]:
        """Recorded ``POST /v1/messages`` requests, optionally of one script only."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and _api_path(r.path) == "/v1/messages"
            and (script is None or r.script == script)
        ]

    def turns_served(self, script: str) -> list[int]:
        """Turn numbers requested for a script, in order (retries show up as repeats)."""
        return [r.turn for r in self.message_requests(script) if r.turn is not None]

    def describe(self) -> str:
        """A readable log of every request, for assertion messages."""
        lines = [
            f"#{r.index} {r.method} {r.path} script={r.script} turn={r.turn} model={r.model}"
            f" stream={r.stream} -> {r.status} {r.answer}"
            for r in self.requests
        ]
        if self.unknown_paths:
            lines.append(f"unknown paths: {self.unknown_paths}")
        return "\n".join(lines) or "(no requests)"

    # ---- answering (called from handler threads)

    def _record(self, **kwargs: Any) -> None:
        with self._lock:
            record = RecordedRequest(index=len(self._requests), time=time.monotonic(), **kwargs)
            self._requests.append(record)
        if self.verbose:
            print(f"fake-api: {record}", file=sys.stderr)

    def _pick_turn(self, script: str | None, turn: int) -> Turn | None:
        """The entry to serve; None means the final text turn.

        A ``Fail(times=N)`` belongs to the turn of the next entry that is not such a transient
        failure (or to the final text turn when none follows) and fires N times before it.
        """
        if script is None:
            return None
        with self._lock:
            turns = self._scripts.get(script)
            if turns is None:
                return None
            position = 0
            pending: list[int] = []
            for index, entry in enumerate(turns):
                if isinstance(entry, Fail) and entry.times is not None:
                    pending.append(index)
                    continue
                if position == turn:
                    return self._transient(script, turns, pending) or entry
                position += 1
                pending = []
            if position <= turn:
                return self._transient(script, turns, pending)
            return None

    def _transient(self, script: str, turns: list[Turn], pending: list[int]) -> Fail | None:
        for index in pending:
            entry = turns[index]
            assert isinstance(entry, Fail) and entry.times is not None
            used = self._fail_counts.get((script, index), 0)
            if used < entry.times:
                self._fail_counts[(script, index)] = used + 1
                return entry
        return None


def _sse(event: str, data: JSON) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _make_handler(api: FakeAnthropic) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "fake-anthropic/1"

        def log_message(self, format: str, *args: Any) -> None:
            if api.verbose:
                super().log_message(format, *args)

        # ---- plumbing

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                while True:
                    size_line = self.rfile.readline().strip()
                    size = int(size_line.split(b";")[0] or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                raw = b"".join(chunks)
            else:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            encoding = self.headers.get("Content-Encoding", "").lower()
            if encoding == "gzip":
                raw = gzip.decompress(raw)
            elif encoding == "deflate":
                raw = zlib.decompress(raw)
            return raw

        def _send_json(
            self, status: int, payload: JSON, extra: Mapping[str, str] | None = None
        ) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("request-id", f"req_fake_{int(time.monotonic() * 1e6)}")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
                self.wfile.flush()

        def _start_stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.send_header("request-id", f"req_fake_{int(time.monotonic() * 1e6)}")
            self.end_headers()
            self.close_connection = True

        def _write(self, data: bytes) -> None:
            self.wfile.write(data)
            self.wfile.flush()

        # ---- verbs

        def do_HEAD(self) -> None:
            api._record(
                method="HEAD",
                path=self.path,
                script=None,
                turn=None,
                model=None,
                stream=None,
                status=200,
                answer="head",
                headers=dict(self.headers),
            )
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self._unknown(b"")

        def do_POST(self) -> None:
            raw = self._read_body()
            path = _api_path(self.path)
            if path == "/v1/messages":
                self._messages(raw)
            elif path == "/v1/messages/count_tokens":
                self._count_tokens(raw)
            else:
                self._unknown(raw)

        # ---- endpoints

        def _parse(self, raw: bytes) -> tuple[JSON, str]:
            text_body = raw.decode("utf-8", "replace")
            try:
                parsed = json.loads(text_body) if text_body else {}
            except json.JSONDecodeError:
                parsed = {}
            return (parsed if isinstance(parsed, dict) else {}), text_body

        def _unknown(self, raw: bytes) -> None:
            api.unknown_paths.append(f"{self.command} {self.path}")
            print(f"fake-api: unknown endpoint {self.command} {self.path}", file=sys.stderr)
            body, _ = self._parse(raw)
            api._record(
                method=self.command,
                path=self.path,
                script=None,
                turn=None,
                model=body.get("model"),
                stream=None,
                status=404,
                answer="unknown",
                body=body,
                headers=dict(self.headers),
            )
            self._send_json(
                404,
                {
                    "type": "error",
                    "error": {"type": "not_found_error", "message": f"no {self.path}"},
                },
            )

        def _count_tokens(self, raw: bytes) -> None:
            body, text_body = self._parse(raw)
            api._record(
                method="POST",
                path=self.path,
                script=find_script(body, text_body, urlsplit(self.path).path),
                turn=None,
                model=body.get("model"),
                stream=None,
                status=200,
                answer="count_tokens",
                body=body,
                headers=dict(self.headers),
            )
            self._send_json(200, {"input_tokens": max(1, len(text_body) // 4)})

        def _messages(self, raw: bytes) -> None:
            body, text_body = self._parse(raw)
            script = find_script(body, text_body, urlsplit(self.path).path, api._matches)
            turn = count_assistant_turns(body)
            model = str(body.get("model") or "claude-fake")
            stream = bool(body.get("stream"))
            entry = api._pick_turn(script, turn)
            common: dict[str, Any] = {
                "method": "POST",
                "path": self.path,
                "script": script,
                "turn": turn,
                "model": model,
                "stream": stream,
                "body": body,
                "headers": dict(self.headers),
            }
            if isinstance(entry, Fail):
                self._fail(entry, model, common)
                return
            reply = entry if isinstance(entry, Reply) else Reply([text(FINAL_TEXT)])
            answer = "reply" if isinstance(entry, Reply) else "final"
            api._record(status=200, answer=answer, **common)
            if reply.delay:
                time.sleep(reply.delay)
            message = self._message(reply, model, script, turn, working_directory(body))
            try:
                if stream:
                    self._stream(message, reply)
                else:
                    self._send_json(200, message)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. killed by a test timeout)

        def _message(
            self, reply: Reply, model: str, script: str | None, turn: int, cwd: str | None = None
        ) -> JSON:
            tag = _UNSAFE_ID.sub("_", script or "none")
            stamp = int(time.monotonic() * 1e6)
            content: list[JSON] = []
            for index, block in enumerate(reply.blocks):
                block = dict(block)
                if block.get("type") == "tool_use":
                    block.setdefault("id", f"toolu_{tag}_{turn}_{index}_{stamp}")
                    if cwd is not None:
                        block["input"] = _with_cwd(block.get("input"), cwd)
                content.append(block)
            return {
                "id": f"msg_{tag}_{turn}_{stamp}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": reply.resolved_stop_reason(),
                "stop_sequence": None,
                "usage": {
                    "input_tokens": reply.input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": reply.output_tokens,
                },
            }

        def _message_start(self, message: JSON) -> bytes:
            start = dict(message)
            start["content"] = []
            start["stop_reason"] = None
            start["usage"] = dict(message["usage"], output_tokens=1)
            return _sse("message_start", {"type": "message_start", "message": start})

        def _stream(self, message: JSON, reply: Reply) -> None:
            self._start_stream()
            self._write(self._message_start(message))
            for index, block in enumerate(message["content"]):
                if block["type"] == "tool_use":
                    start = {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    }
                    delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
                elif block["type"] == "text":
                    start = {"type": "text", "text": ""}
                    delta = {"type": "text_delta", "text": block["text"]}
                else:
                    start, delta = block, None
                self._write(
                    _sse(
                        "content_block_start",
                        {"type": "content_block_start", "index": index, "content_block": start},
                    )
                )
                if delta is not None:
                    self._write(
                        _sse(
                            "content_block_delta",
                            {"type": "content_block_delta", "index": index, "delta": delta},
                        )
                    )
                self._write(
                    _sse("content_block_stop", {"type": "content_block_stop", "index": index})
                )
            self._write(
                _sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                        "usage": {"output_tokens": reply.output_tokens},
                    },
                )
            )
            self._write(_sse("message_stop", {"type": "message_stop"}))

        def _fail(self, fail: Fail, model: str, common: dict[str, Any]) -> None:
            if fail.mode == "http" or not common["stream"]:
                status = fail.status if fail.mode == "http" else 500
                api._record(status=status, answer=f"error {fail.error_type or status}", **common)
                extra: dict[str, str] = {}
                if fail.retry_after is not None:
                    extra["retry-after"] = f"{fail.retry_after:g}"
                    extra["retry-after-ms"] = str(int(fail.retry_after * 1000))
                self._send_json(status, fail.body(), extra)
                return
            api._record(status=200, answer=f"stream {fail.mode}", **common)
            placeholder = Reply([])
            message = self._message(placeholder, model, common["script"], common["turn"])
            try:
                self._start_stream()
                self._write(self._message_start(message))
                if fail.mode == "sse_error":
                    self._write(_sse("error", fail.body()))
                # "drop": just close the connection after message_start
            except (BrokenPipeError, ConnectionResetError):
                pass

    return Handler


__all__ = [
    "FINAL_TEXT",
    "Fail",
    "FakeAnthropic",
    "RecordedRequest",
    "Reply",
    "Turn",
    "bash",
    "count_assistant_turns",
    "find_script",
    "text",
    "tool_use",
]
