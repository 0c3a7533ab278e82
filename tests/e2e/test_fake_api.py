"""The scripted Messages API on its own (no CLI needed): what the e2e tests rely on."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.e2e.fake_api import (
    FINAL_TEXT,
    Fail,
    FakeAnthropic,
    Reply,
    bash,
    count_assistant_turns,
    find_script,
    text,
)

pytestmark = pytest.mark.e2e


def _body(prompt: str, assistant_turns: int = 0, stream: bool = False) -> dict[str, Any]:
    messages: list[dict[str, Any]] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>\n[script:decoy]\n</system-reminder>"},
                {"type": "text", "text": prompt},
            ],
        },
        {"role": "system", "content": "agents"},
    ]
    for _ in range(assistant_turns):
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "a"}]})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": "b"}]})
        messages.append({"role": "user", "content": "ok"})
    return {"model": "claude-test", "messages": messages, "stream": stream, "max_tokens": 10}


def _post(url: str, body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _sse_events(payload: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len("data: ") :])
        for line in payload.splitlines()
        if line.startswith("data: ")
    ]


def test_script_and_turn_are_found_statelessly() -> None:
    body = _body("Do it [script:real]", assistant_turns=2)
    assert find_script(body, json.dumps(body), "/v1/messages") == "real"
    assert find_script({}, "... [script:raw] ...", "/v1/messages") == "raw"
    assert find_script({}, "[script:raw]", "/s/bypath/v1/messages") == "bypath"
    assert find_script({}, "nothing", "/v1/messages") is None
    assert count_assistant_turns(body) == 2


def test_stream_json_error_and_transient_failures() -> None:
    scripts: dict[str, list[Reply | Fail]] = {
        "s": [
            Reply([text("hi"), bash("true")]),
            Fail(429, retry_after=1, times=1),
            Reply([text("second")]),
        ],
        "down": [Fail(529)],
    }
    with FakeAnthropic(scripts) as api:
        url = f"{api.base_url}/v1/messages?beta=true"

        status, headers, payload = _post(url, _body("[script:s]", 0, stream=True))
        assert status == 200
        assert headers["Content-Type"] == "text/event-stream"
        events = _sse_events(payload)
        assert [e["type"] for e in events] == [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
        ]
        assert events[0]["message"]["usage"]["input_tokens"] > 0
        assert events[4]["content_block"]["name"] == "Bash"
        assert json.loads(events[5]["delta"]["partial_json"]) == {"command": "true"}
        assert events[-2]["delta"]["stop_reason"] == "tool_use"
        assert events[-2]["usage"]["output_tokens"] > 0

        status, headers, payload = _post(url, _body("[script:s]", 1))
        assert status == 429
        assert headers["retry-after"] == "1"
        assert json.loads(payload)["error"]["type"] == "rate_limit_error"
        status, _, payload = _post(url, _body("[script:s]", 1))
        assert status == 200
        message = json.loads(payload)
        assert message["content"] == [{"type": "text", "text": "second"}]
        assert message["stop_reason"] == "end_turn"

        status, _, payload = _post(url, _body("[script:s]", 5))
        assert json.loads(payload)["content"][0]["text"] == FINAL_TEXT

        for _ in range(2):
            status, _, payload = _post(url, _body("[script:down]"))
            assert status == 529
            assert json.loads(payload) == {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }

        status, _, payload = _post(f"{api.base_url}/v1/messages/count_tokens", _body("x"))
        assert status == 200
        assert json.loads(payload)["input_tokens"] > 0
        status, _, _ = _post(f"{api.base_url}/v1/elsewhere", {})
        assert status == 404

        assert api.turns_served("s") == [0, 1, 1, 5]
        assert api.turns_served("down") == [0, 0]
        assert api.unknown_paths == ["POST /v1/elsewhere"]
        assert {r.model for r in api.message_requests()} == {"claude-test"}
