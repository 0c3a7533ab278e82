"""A profile made of data (an AgentSpec): launches its command line and reads its output
through the field paths of its spec, for jsonl events or plain text."""

from __future__ import annotations

import json
import re
import shutil
from os import X_OK, access, sep
from pathlib import Path
from typing import Any

from git_po.agents.base import Launch, TranscriptReader, TranscriptSummary
from git_po.agents.spec import SESSION_ID, AgentSpec, expand
from git_po.confine import session_id_ok
from git_po.plan import Task

MAX_ARGV_PROMPT = 100_000  # longer prompts go on stdin (Linux: 128 KiB per argv string)
_STATUS = {"rate_limit": 429, "overloaded": 529, "auth": 401}
_STDERR_TAIL = 16_000


class GenericProfile:
    def __init__(self, spec: AgentSpec, gitdir: Path | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        self.transcript_suffix = ".jsonl" if spec.format == "jsonl" else ".log"
        self.gitdir = gitdir
        self.resumes = bool(spec.resume)

    def executable(self) -> str | None:
        want = self.spec.program
        if sep in want:
            p = Path(want).expanduser()
            return str(p.resolve()) if p.is_file() and access(p, X_OK) else None
        return shutil.which(want)

    def _values(
        self,
        task: Task,
        prompt: str | None,
        session: str | None,
        worktree: Path | None = None,
    ) -> dict[str, str | None]:
        own = _worktree_gitdir(worktree) if worktree is not None else None
        return {
            "commondir": str(self.gitdir) if self.gitdir is not None else None,
            "gitdir": str(own or self.gitdir) if (own or self.gitdir) is not None else None,
            "prompt": prompt,
            "model": task.model,
            "session": session,
            "max_turns": str(task.max_turns) if task.max_turns is not None else None,
        }

    def _argv(
        self, template: tuple[str, ...], values: dict[str, str | None], task: Task
    ) -> list[str]:
        mode = task.permission_mode
        perm_words = self.spec.permission.get(mode, ()) if mode else ()
        permission = expand(perm_words, values, ())
        argv = expand(template, values, permission)
        exe = self.executable()
        if exe is not None:
            argv[0] = exe
        return argv

    def launch(
        self, task: Task, prompt: str, resume_session: str | None, worktree: Path | None = None
    ) -> Launch:
        if resume_session and not session_id_ok(resume_session):  # read from a state ref
            resume_session = None
        template = self.spec.resume if resume_session and self.spec.resume else self.spec.command
        stdin: bytes | None = None
        arg_prompt: str | None = prompt
        if len(prompt.encode()) > MAX_ARGV_PROMPT or not any("{prompt}" in w for w in template):
            arg_prompt, stdin = None, prompt.encode()
        values = self._values(task, arg_prompt, resume_session, worktree)
        return Launch(self._argv(template, values, task), stdin)

    def attach_argv(self, task: Task, session: str) -> list[str] | None:
        if not self.spec.attach:
            return None
        return self._argv(self.spec.attach, self._values(task, None, session), task)

    def reader(self, path: Path) -> TranscriptReader:
        if self.spec.format == "jsonl":
            return JsonlReader(path, TranscriptSummary(), self.spec)
        return TextReader(path, TranscriptSummary(), self.spec)


def _worktree_gitdir(worktree: Path) -> Path | None:
    """The git dir of a linked worktree (its `.git` file names it), else its `.git` dir."""
    dot = worktree / ".git"
    try:
        if dot.is_file():
            text = dot.read_text().strip()
            if text.startswith("gitdir:"):
                return (worktree / text.removeprefix("gitdir:").strip()).resolve()
        return dot if dot.is_dir() else None
    except OSError:
        return None


# --- reading -----------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmM]?)\s*", value)
        if m:
            scale = {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
            return float(m.group(1)) * scale
    return None


def _dig(ev: Any, path: str) -> object:
    for part in path.split("."):
        if not isinstance(ev, dict) or part not in ev:
            return None
        ev = ev[part]
    return ev


class _Fields(TranscriptReader):
    """Folds values found for the spec's fields into the summary, and classifies errors."""

    def __init__(self, path: Path, summary: TranscriptSummary, spec: AgentSpec) -> None:
        super().__init__(path, summary)
        self.spec = spec
        self.sums: dict[str, float] = {}
        self.error_text: list[str] = []

    def found(self, name: str, value: object, summed: bool) -> None:
        s = self.summary
        if name in ("cost", "input_tokens", "output_tokens"):
            number = _number(value)
            if number is None:
                return
            if summed:
                number = self.sums[name] = self.sums.get(name, 0.0) + number
            if name == "cost":
                s.cost_usd = number
            elif name == "input_tokens":
                s.input_tokens = int(number)
            else:
                s.output_tokens = int(number)
        elif name == "session_id":
            if isinstance(value, str) and SESSION_ID.match(value):
                s.session_id = value
        elif isinstance(value, str) and value.strip():
            first = value.strip().splitlines()[0][:200]
            if name == "error":
                s.is_error = True
                self.error_text.append(value.strip()[:2000])
                s.last_text = first
            elif name == "result":
                s.result_seen = True
                s.extra["result"] = first
            elif name == "text":
                s.last_text = first

    def finish(self) -> None:
        super().finish()
        stderr = self.path.with_name(self.path.name + ".stderr")
        tail = ""
        try:
            with stderr.open("rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - _STDERR_TAIL))
                tail = f.read().decode(errors="replace")
        except OSError:
            pass
        said = "\n".join([*self.error_text, tail])
        for cls, pattern in self.spec.errors.items():
            if said.strip() and re.search(pattern, said):
                self.summary.api_error_status = _STATUS[cls]
                self.summary.is_error = True
                break


class JsonlReader(_Fields):
    def line(self, raw: bytes) -> None:
        super().line(raw)
        try:
            ev = json.loads(raw)
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        kind = ev.get("type")
        for name, paths in self.spec.fields.items():
            for spec_path in paths:
                summed = spec_path.startswith("+")
                want_type, _, path = spec_path.lstrip("+").rpartition(":")
                if want_type and kind != want_type:
                    continue
                value = _dig(ev, path)
                if value is not None:
                    self.found(name, value, summed)
                    break


class TextReader(_Fields):
    """Plain output; the spec's fields are regular expressions whose first group is the value."""

    def line(self, raw: bytes) -> None:
        super().line(raw)
        text = raw.decode(errors="replace").strip()
        if not text:
            return
        self.summary.last_text = text[:200]
        for name, patterns in self.spec.fields.items():
            for pattern in patterns:
                summed = pattern.startswith("+")
                m = re.search(pattern[1:] if summed else pattern, text)
                if m:
                    self.found(name, m.group(1) if m.groups() else m.group(0), summed)
                    break
