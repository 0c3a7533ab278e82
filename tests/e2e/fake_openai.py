"""A scripted, offline stand-in for the OpenAI Responses API (stdlib only), for the real Codex
CLI, in the style of fake_api.py (the Messages API for Claude Code).

Codex is pointed at it with a model provider in its config.toml (`base_url =
"http://127.0.0.1:PORT/v1"`, `wire_api = "responses"`). Every request is answered statelessly:

* the *script* is picked by a ``[script:NAME]`` marker anywhere in the request body (the
  prompt, or the history of a resumed session);
* the *turn* is the number of model outputs already in ``input`` (function calls and assistant
  messages), so a resumed session simply continues the script where the last run stopped.

A turn is a :class:`Run` (one call of codex's ``exec_command`` tool with a shell command), a
:class:`Say` (an assistant message that ends the turn) or a :class:`Fail` (an HTTP error with an
OpenAI-shaped body). Past the last scripted turn the answer is a final message, FINAL_TEXT.
"""

from __future__ import annotations

import http.server
import json
import re
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
class Say:
    text: str


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "scripted failure"


Turn = Run | Say | Fail


@dataclass
class Request:
    path: str
    script: str | None
    turn: int
    body: JSON = field(repr=False)


_ERROR_CODES = {429: "rate_limit_exceeded", 401: "invalid_api_key", 500: "server_error"}


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
