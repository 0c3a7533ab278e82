"""Asking an agent to refine a draft: a prompt with the draft and a JSON schema, and checks on
the answer. Running the agent is the caller's (through git_po.proc); everything here is pure."""

from __future__ import annotations

import json
import re
from typing import Any

from git_po.drafting.extract import SIZES
from git_po.drafting.model import Draft, TaskDraft
from git_po.plan import globs_overlap, id_problem

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tasks"],
    "properties": {
        "tasks": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "description", "prompt", "items"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                    "description": {"type": "string"},
                    "prompt": {"type": "string", "minLength": 1},
                    "items": {"type": "array", "items": {"type": "integer"}},
                    "depends_on": {"type": "array", "items": {"type": "string"}},
                    "writes": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "notes": {"type": "string"},
    },
}


def prompt(draft: Draft, documents: list[tuple[str, str]]) -> str:
    """What the agent is asked: refine the draft, answer with one JSON object."""
    current = {
        "tasks": [
            {
                "id": t.id,
                "description": t.description,
                "prompt": t.prompt,
                "items": list(t.items),
                "depends_on": list(t.depends_on),
                "writes": list(t.writes),
            }
            for t in draft.tasks
        ]
    }
    items = [
        {"number": i.number, "title": i.title, "source": i.source, "scope": list(i.scope)}
        for i in draft.items
        if not i.vague and not i.done
    ]
    docs = "\n\n".join(f"--- {name} ---\n{text.strip()}" for name, text in documents)
    return (
        "You are refining a draft plan for git po, which runs one coding agent per task, in "
        "parallel, each on its own branch. Read the documents and the repository (do not change "
        "any file). Improve the draft: clearer descriptions; each prompt written as kickoff "
        "instructions for the worker that does the task; dependencies you can infer from the "
        "code (a task that needs another's change must depend on it). Keep every work item in "
        "exactly one task, keep task ids short (letters, digits, '-', '.', '_'), and give "
        "`writes` only as repository paths. Tasks that may run at the same time must not write "
        "the same files.\n\n"
        f"Documents:\n\n{docs}\n\n"
        f"Work items:\n{json.dumps(items, indent=1)}\n\n"
        f"Draft:\n{json.dumps(current, indent=1)}\n\n"
        "Answer with only one JSON object, no prose and no code fence, matching this JSON "
        f"schema:\n{json.dumps(ANSWER_SCHEMA)}\n"
    )


def result_text(stdout: bytes) -> str:
    """The answer text of `claude -p --output-format json`; ValueError when it failed."""
    try:
        data = json.loads(stdout.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        raise ValueError("the agent's output is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the agent's output is not a JSON object")
    if data.get("is_error") or data.get("subtype", "success") != "success":
        raise ValueError(f"the agent ended with an error: {str(data.get('result', ''))[:200]}")
    text = data.get("result")
    if not isinstance(text, str):
        raise ValueError("the agent's output has no result text")
    return text


def _answer_object(text: str) -> dict[str, Any]:
    body = text.strip()
    fence = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fence:
        body = fence.group(1).strip()
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end < start:
        raise ValueError("the answer holds no JSON object")
    try:
        data = json.loads(body[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    return data


def _strings(value: object, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(x, str) and x.strip() for x in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def apply(draft: Draft, text: str, tree: frozenset[str]) -> tuple[TaskDraft, ...]:
    """The tasks of an agent's answer; ValueError saying why the answer cannot be used."""
    data = _answer_object(text)
    raw = data.get("tasks")
    if not isinstance(raw, list) or not raw:
        raise ValueError("the answer has no tasks")
    wanted = {n for t in draft.tasks for n in t.items}
    seen: set[int] = set()
    known_writes = {w for t in draft.tasks for w in t.writes}
    out: list[TaskDraft] = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise ValueError("a task is not an object")
        tid = entry.get("id")
        problem = id_problem(tid, "task id")
        if problem:
            raise ValueError(problem)
        assert isinstance(tid, str)
        body = entry.get("prompt")
        if not isinstance(body, str) or not body.strip():
            raise ValueError(f"task {tid!r} has no prompt")
        desc = entry.get("description")
        items = entry.get("items")
        if not isinstance(items, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in items
        ):
            raise ValueError(f"task {tid!r}: items must be a list of item numbers")
        if set(items) - wanted:
            raise ValueError(f"task {tid!r} names items the draft does not have")
        if set(items) & seen:
            raise ValueError(f"task {tid!r} repeats items of another task")
        seen |= set(items)
        writes = _strings(entry.get("writes"), f"task {tid!r}: writes")
        for w in writes:
            if w not in known_writes and not any(globs_overlap(w, p) for p in tree):
                raise ValueError(f"task {tid!r} writes {w!r}, which is not in the repository")
        sizes = [t for t in draft.tasks if set(t.items) & set(items)]
        out.append(
            TaskDraft(
                id=tid,
                description=desc.strip() if isinstance(desc, str) and desc.strip() else tid,
                prompt=body.strip() + "\n",
                depends_on=_strings(entry.get("depends_on"), f"task {tid!r}: depends_on"),
                writes=writes,
                items=tuple(items),
                size=max((t.size for t in sizes), key=SIZES.index, default="M") if sizes else "M",
                priority=min((t.priority for t in sizes if t.priority), default=None),
            )
        )
    if seen != wanted:
        missing = sorted(wanted - seen)
        raise ValueError(f"the answer leaves out item(s) {', '.join(f'#{n}' for n in missing)}")
    return tuple(out)
