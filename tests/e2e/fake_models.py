"""Scripted, offline stand-ins for the OpenAI Responses API (for the real Codex CLI) and the
Gemini API (for the real Gemini CLI), stdlib only, in the style of fake_api.py (the Messages
API for Claude Code). One server answers both:

* ``POST .../responses``: Codex, pointed here by a model provider in its config.toml
  (`base_url = "http://127.0.0.1:PORT/v1"`, `wire_api = "responses"`);
* ``POST /v1beta/models/MODEL:streamGenerateContent?alt=sse`` (and ``:generateContent``):
  Gemini CLI, pointed here by ``GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:PORT``;
* ``POST .../chat/completions``: aider (litellm), pointed here by
  ``OPENAI_API_BASE=http://127.0.0.1:PORT/v1`` with a model ``openai/NAME``.

Every request is answered statelessly:

* the *script* is picked by a ``[script:NAME]`` marker anywhere in the request body (the
  prompt, or the history of a resumed session);
* the *turn* is the number of model outputs already in the history (function calls and
  assistant messages), so a resumed session continues the script where the last run stopped.

A turn is a :class:`Run` (one call of the CLI's shell tool: codex's ``exec_command``, gemini's
``run_shell_command``), a :class:`Write` (gemini's ``write_file``), a :class:`Say` (a message
that ends the turn) or a :class:`Fail` (an HTTP error with the API's error body).
Past the last scripted turn the answer is FINAL_TEXT.
"""

from __future__ import annotations

import http.server
import json
import re
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

JSON = dict[str, Any]
SCRIPT_MARKER = re.compile(r"\[script:([A-Za-z0-9_.\-]+)\]")
FINAL_TEXT = "All scripted turns are done."


@dataclass(frozen=True)
class Run:
    """A call of the shell tool."""

    command: str


@dataclass(frozen=True)
class Write:
    """A call of the file-writing tool (gemini's ``write_file``; for codex a shell command)."""

    path: str
    content: str


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "scripted failure"


Turn = Run | Write | Say | Fail


@dataclass
class Request:
    path: str
    script: str | None
    turn: int
    body: JSON = field(repr=False)


_ERROR_CODES = {429: "rate_limit_exceeded", 401: "invalid_api_key", 500: "server_error"}
_GOOGLE_STATUS = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 503: "UNAVAILABLE"}


class FakeResponses:
    def __init__(self) -> None:
        self.scripts: dict[str, list[Turn]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_script(self, name: str, turns: Sequence[Turn]) -> None:
        self.scripts[name] = list(turns)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def turns_served(self, script: str) -> list[int]:
        return [r.turn for r in self.requests if r.script == script]

    def describe(self) -> str:
        return "\n".join(f"{r.path} script={r.script} turn={r.turn}" for r in self.requests)

    # --- answering ---------------------------------------------------------------------

    def _step(self, path: str, body: JSON, turn: int) -> tuple[str | None, Turn]:
        m = SCRIPT_MARKER.search(json.dumps(body))
        script = m.group(1) if m else None
        with self._lock:
            self.requests.append(Request(path, script, turn, body))
        turns = self.scripts.get(script or "", [])
        return script, turns[turn] if turn < len(turns) else Say(FINAL_TEXT)

    def gemini(self, path: str, body: JSON) -> tuple[int, str, bytes]:
        given = body.get("contents")
        contents: list[Any] = given if isinstance(given, list) else []
        turn = sum(1 for c in contents if isinstance(c, dict) and c.get("role") == "model")
        _, step = self._step(path, body, turn)
        if isinstance(step, Fail):
            err = {
                "error": {
                    "code": step.status,
                    "message": step.message,
                    "status": _GOOGLE_STATUS.get(step.status, "INTERNAL"),
                }
            }
            return step.status, "application/json", json.dumps(err).encode()
        if isinstance(step, Write):
            args = {"file_path": step.path, "content": step.content}
            part: JSON = {"functionCall": {"name": "write_file", "args": args}}
        elif isinstance(step, Run):
            part = {
                "functionCall": {"name": "run_shell_command", "args": {"command": step.command}}
            }
        else:
            part = {"text": step.text}
        chunk = {
            "candidates": [
                {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 100,
                "candidatesTokenCount": 20,
                "totalTokenCount": 120,
            },
        }
        if "alt=sse" in path:
            return 200, "text/event-stream", f"data: {json.dumps(chunk)}\n\n".encode()
        return 200, "application/json", json.dumps(chunk).encode()

    def chat(self, path: str, body: JSON) -> tuple[int, str, bytes]:
        """Chat Completions (aider, through litellm), not streamed: a Write is an edit in
        aider's `whole` format (the file name, then the whole file fenced)."""
        given = body.get("messages")
        messages: list[Any] = given if isinstance(given, list) else []
        # aider's system prompt carries example exchanges: count only the replies after the
        # first message that names the script
        first = next(
            (i for i, m in enumerate(messages) if SCRIPT_MARKER.search(json.dumps(m))),
            len(messages),
        )
        turn = sum(
            1 for m in messages[first:] if isinstance(m, dict) and m.get("role") == "assistant"
        )
        _, step = self._step(path, body, turn)
        if isinstance(step, Fail):
            code = _ERROR_CODES.get(step.status, "api_error")
            err = {"error": {"message": step.message, "type": code, "code": code}}
            return step.status, "application/json", json.dumps(err).encode()
        if isinstance(step, Write):
            content = f"{step.path}\n```\n{step.content}```\n"
        elif isinstance(step, Run):
            content = f"```bash\n{step.command}\n```\n"
        else:
            content = step.text
        reply = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model") or "gpt-test"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
        }
        return 200, "application/json", json.dumps(reply).encode()

    def answer(self, path: str, body: JSON) -> tuple[int, str, bytes]:
        raw = json.dumps(body)
        m = SCRIPT_MARKER.search(raw)
        script = m.group(1) if m else None
        given = body.get("input")
        items: list[Any] = given if isinstance(given, list) else []
        turn = sum(
            1
            for it in items
            if isinstance(it, dict)
            and (
                it.get("type") == "function_call"
                or (it.get("type") == "message" and it.get("role") == "assistant")
            )
        )
        with self._lock:
            self.requests.append(Request(path, script, turn, body))
        turns = self.scripts.get(script or "", [])
        step: Turn = turns[turn] if turn < len(turns) else Say(FINAL_TEXT)
        if isinstance(step, Fail):
            err = {
                "error": {
                    "message": step.message,
                    "type": _ERROR_CODES.get(step.status, "api_error"),
                    "code": _ERROR_CODES.get(step.status, "api_error"),
                }
            }
            return step.status, "application/json", json.dumps(err).encode()
        n = len(self.requests)
        if isinstance(step, Write):
            step = Run(f"printf %s {shlex.quote(step.content)} > {shlex.quote(step.path)}")
        if isinstance(step, Run):
            item: JSON = {
                "type": "function_call",
                "id": f"fc_{n}",
                "call_id": f"call_{n}",
                "name": "exec_command",
                "arguments": json.dumps({"cmd": step.command}),
            }
        else:
            item = {
                "type": "message",
                "role": "assistant",
                "id": f"msg_{n}",
                "content": [{"type": "output_text", "text": step.text}],
            }
        usage = {
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 20,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 120,
        }
        events: list[JSON] = [
            {"type": "response.created", "response": {"id": f"resp_{n}"}},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": {"id": f"resp_{n}", "usage": usage}},
        ]
        data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
        return 200, "text/event-stream", data.encode()

    # --- server --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, "application/json", b'{"object":"list","data":[],"models":[]}')

            def do_POST(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(size) or b"{}")
                except ValueError:
                    body = {}
                if ":countTokens" in self.path:
                    self._send(200, "application/json", b'{"totalTokens": 100}')
                    return
                if "GenerateContent" in self.path or ":generateContent" in self.path:
                    self._send(*fake.gemini(self.path, body if isinstance(body, dict) else {}))
                    return
                if self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(*fake.chat(self.path, body if isinstance(body, dict) else {}))
                    return
                if not self.path.rstrip("/").endswith("/responses"):
                    self._send(404, "application/json", b'{"error":{"message":"not found"}}')
                    return
                self._send(*fake.answer(self.path, body if isinstance(body, dict) else {}))

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
