"""Every `--json` output, from real runs, validated against the JSON Schema shipped for it
(git_po/schemas/), and the README's "JSON outputs" section checked against those schemas.

Regenerate that section with: python -m tests.test_json_schemas"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from git_po import jsonout
from tests.conftest import ROOT, git, run_po
from tests.helpers import fake_env, run_git_po, start, write_plan

CORPUS = Path(__file__).resolve().parent / "corpus"

PLAN = """
verify = "test -n \\"$PO_VERIFY_COMMIT\\""
[tasks.a]
prompt = "A."
writes = ["a.txt"]
[tasks.b]
prompt = "B."
depends_on = ["a"]
[tasks.c]
agent = "shell"
run = "echo c > c.txt && git add c.txt && git commit -q -m '[COMPLETE] c'"
[tasks.d]
prompt = "D."
depends_on = ["b"]
"""

SCRIPTS = {
    "a": [
        {"refuse": "Read", "file_path": "/etc/shadow"},
        {"write": "a.txt", "content": "a\n"},
        {"commit": "[CHECKPOINT] a: half"},
        {"commit": "[COMPLETE] a done", "allow_empty": True},
    ],
    "b": [{"commit": "[BLOCKED:which colour?] need a decision", "allow_empty": True}],
}


def validate(name: str, data: Any) -> None:
    schema = jsonout.schema(name)
    jsonschema.Draft202012Validator(schema).validate(data)


def _json(res: Any) -> Any:
    assert res.code in (0, 1), res
    return json.loads(res.out)


def test_every_schema_is_a_valid_json_schema() -> None:
    for name in jsonout.OUTPUTS:
        schema = jsonout.schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["schema_version"] == {
            "const": jsonout.SCHEMA_VERSION,
            "description": f"the vocabulary's version: {jsonout.SCHEMA_VERSION}",
        }
    shipped = {p.stem for p in (ROOT / "git_po" / "schemas").glob("*.json")}
    assert shipped == set(jsonout.OUTPUTS)


def test_status_show_and_report_of_a_real_run(repo: Path, tmp_path: Path) -> None:
    """Plan `house`: a complete with a refused call and a passed verify, b blocked, c a shell
    task, d pending; plan `other` complete."""
    env = fake_env(tmp_path, SCRIPTS)
    assert start(repo, write_plan(tmp_path, "house", PLAN), env=env).code == 1
    assert (
        start(repo, write_plan(tmp_path, "other", '[tasks.x]\nprompt = "x"\n'), env=env).code == 0
    )

    one = _json(run_po(repo, "status", "house", "--json"))
    every = _json(run_po(repo, "status", "--json"))
    shown = {t: _json(run_po(repo, "show", f"house/{t}", "--json")) for t in "abcd"}
    report = _json(run_po(repo, "report", "house", "--format", "json"))

    validate("status", one)
    validate("status-plans", every)
    for data in shown.values():
        validate("show", data)
    validate("report", report)
    logs = {t: _json(run_po(repo, "logs", f"house/{t}", "--json")) for t in "ac"}
    for data in logs.values():
        validate("logs", data)
    assert logs["a"]["agent"] == "claude" and logs["a"]["session_id"] == a_session(shown["a"])
    assert any("[COMPLETE] a done" in line for line in logs["a"]["lines"]), logs["a"]["lines"]
    assert logs["c"]["agent"] == "shell" and logs["c"]["outcome"]
    sessions = _json(run_po(repo, "sessions", "--json"))
    validate("sessions", sessions)
    assert {(s["plan"], s["task"]) for s in sessions["sessions"]} >= {
        ("house", "a"),
        ("house", "b"),
    }
    tasks = {t["task"]: t for t in one["tasks"]}
    assert tasks["a"]["refused_count"] == 1 and tasks["a"]["verify"]["passed"] is True
    assert tasks["b"]["state"] == "blocked" and tasks["d"]["attempt_count"] == 0
    assert {p["plan"]: p["complete_count"] for p in every["plans"]} == {"house": 2, "other": 1}
    a = shown["a"]
    assert a["attempts"][0]["refused_calls"] == [{"tool": "Read", "target": "/etc/shadow"}]
    assert a["attempts"][0]["refused_count"] == 1
    assert a["checkpoint_count"] == 1 and len(a["commits"]) == 2
    assert report["totals"]["refused_count"] == 1
    # the schemas bite: the old name of a field does not pass
    tasks["a"]["id"] = tasks["a"].pop("task")
    with pytest.raises(jsonschema.ValidationError):
        validate("status", one)


def a_session(shown: dict[str, Any]) -> str:
    sid = shown["attempts"][-1]["session_id"]
    assert isinstance(sid, str) and sid
    return sid


def test_logs_json_refuses_follow_and_raw(repo: Path) -> None:
    res = run_po(repo, "logs", "x", "--json", "--raw")
    assert res.code == 2 and "--json cannot be combined" in res.err, res


def test_config_with_every_origin(repo: Path, tmp_path: Path) -> None:
    git(repo, "config", "po.retries", "2")
    try:
        data = _json(
            run_git_po(repo, tmp_path, "config", "--json", git_args=["-c", "po.agent=shell"])
        )
    finally:
        git(repo, "config", "--unset", "po.retries")

    validate("config", data)
    by_key = {s["key"]: s for s in data["settings"]}
    assert by_key["po.agent"]["origin"] == "command line"
    assert by_key["po.retries"]["origin"] == "local"
    # machine values, words apart
    assert by_key["po.claudePath"]["value"] is None
    assert by_key["po.claudePath"]["default_text"] == "claude (on PATH)"
    assert by_key["po.maxWorkers"]["value"] == by_key["po.maxWorkers"]["default"] == "3"


def test_doctor(repo: Path, tmp_path: Path) -> None:
    plan = write_plan(tmp_path, "doc", '[tasks.t]\nprompt = "t"\n')

    data = _json(run_po(repo, "doctor", str(plan), "--json"))

    validate("doctor", data)
    assert data["problem_count"] == sum(1 for f in data["findings"] if f["level"] == "problem")


def test_plan_draft(repo: Path, tmp_path: Path) -> None:
    res = run_po(
        repo, "plan", "draft", str(CORPUS / "todo.md"), "-o", str(tmp_path / "p.toml"), "--json"
    )

    data = _json(res)
    validate("plan-draft", data)
    assert data["plan"] == "todo" and data["tasks"][0]["task"]


# --- the README's section ------------------------------------------------------------------------

BEGIN = "<!-- json-outputs: generated from git_po/schemas by python -m tests.test_json_schemas -->"
END = "<!-- /json-outputs -->"
COMMANDS = {
    "status": "git po status PLAN --json",
    "status-plans": "git po status --json (several plans, none named)",
    "show": "git po show TASK --json",
    "report": "git po report --format json",
    "config": "git po config --json",
    "doctor": "git po doctor --json",
    "plan-draft": "git po plan draft --json",
    "logs": "git po logs TASK --json",
    "sessions": "git po sessions --json",
}


def _type(schema: dict[str, Any]) -> tuple[str, bool]:
    """(short type, nullable) of a property's schema."""
    if "const" in schema:
        return f"={schema['const']}", False
    if "enum" in schema:
        return "=" + "|".join(str(v) for v in schema["enum"]), False
    options = schema.get("anyOf")
    if options:
        real = [o for o in options if o.get("type") != "null"]
        return _type(real[0])[0], len(real) < len(options)
    kind = schema.get("type", "any")
    kinds = kind if isinstance(kind, list) else [kind]
    nullable = "null" in kinds
    main = next((k for k in kinds if k != "null"), "any")
    short = {"string": "", "integer": ":int", "number": ":num", "boolean": ":bool"}.get(main)
    if short is not None:
        return short, nullable
    if main == "array":
        return "[]" + _type(schema.get("items", {}))[0], nullable
    if main == "object":
        return "{}", nullable
    return ":any", nullable


def _lines(path: str, schema: dict[str, Any]) -> list[str]:
    props: dict[str, Any] = schema.get("properties", {})
    if not props:
        return []
    fields = []
    nested: list[str] = []
    for name, sub in props.items():
        short, nullable = _type(sub)
        fields.append(f"{name}{short}{'?' if nullable else ''}")
        inner = sub.get("anyOf", [sub])
        for option in inner:
            if option.get("type") == "object" or (
                isinstance(option.get("type"), list) and "object" in option["type"]
            ):
                nested += _lines(f"{path}.{name}", option)
            items = option.get("items")
            if isinstance(items, dict) and items.get("type") == "object":
                nested += _lines(f"{path}.{name}[]", items)
    return [f"{path}: {', '.join(fields)}", *nested]


def readme_section() -> str:
    out = [BEGIN, ""]
    for name in jsonout.OUTPUTS:
        out += [f"`{COMMANDS[name]}` (`git_po/schemas/{name}.json`):", "", "```"]
        out += _lines(name, jsonout.schema(name))
        out += ["```", ""]
    return "\n".join([*out, END])


def test_the_readme_lists_every_field_of_every_schema() -> None:
    readme = (ROOT / "README.md").read_text()
    assert BEGIN in readme and END in readme, "the README has no generated JSON section"
    found = readme[readme.index(BEGIN) : readme.index(END) + len(END)]

    assert found == readme_section(), "regenerate it: python -m tests.test_json_schemas"


if __name__ == "__main__":
    sys.stdout.write(readme_section() + "\n")
