"""Work items from Markdown or plain text.

Items come from task lists (`- [ ]`), numbered lists, bullets under headings, and paragraphs as
a fallback, in that order of trust: a document is read at the most trusted kind it has. Each
item gets an action, a scope (file paths, resolved against the repository's tree), a priority,
a size and the dependency phrases it contains.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

KINDS = ("task-list", "numbered", "bullet", "paragraph")  # most trusted first
ACTIONS = ("fix", "add", "refactor", "test", "remove", "update")
SIZES = ("S", "M", "L", "XL")
SIZE_POINTS = {"S": 1, "M": 2, "L": 4, "XL": 8}

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TASK = re.compile(r"^(\s*)[-*+]\s+\[( |x|X)\]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,3})[.)]\s+(.*)$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")

ACTION_VERBS = frozenset(
    ("add", "fix", "write", "create", "implement", "update", "remove", "refactor", "make")
)
_ACTION_WORDS: dict[str, tuple[str, ...]] = {
    "fix": (
        "fix",
        "bug",
        "crash",
        "broken",
        "error",
        "leak",
        "wrong",
        "fail",
        "race",
        "repair",
        "correct",
        "handle",
        "prevent",
        "vulnerability",
        "vulnerable",
        "injection",
        "unsafe",
    ),
    "add": (
        "add",
        "implement",
        "create",
        "support",
        "introduce",
        "new",
        "build",
        "write",
        "provide",
        "allow",
        "enable",
    ),
    "refactor": (
        "refactor",
        "extract",
        "split",
        "rename",
        "move",
        "simplify",
        "clean",
        "restructure",
        "deduplicate",
        "consolidate",
        "reorganize",
    ),
    "test": ("test", "tests", "coverage", "regression"),
    "remove": ("remove", "delete", "drop", "deprecate", "strip", "get rid"),
    "update": (
        "update",
        "change",
        "bump",
        "upgrade",
        "document",
        "docs",
        "adjust",
        "migrate",
        "replace",
        "improve",
        "make",
    ),
}
_BIG = re.compile(
    r"\b(rewrite|redesign|re-architect|overhaul|migrate|migration|entire|whole|across|every|all "
    r"(?:the )?(?:modules|files|callers|endpoints)|end-to-end|framework|from scratch)\b",
    re.I,
)
_SMALL = re.compile(r"\b(typo|rename|one-line|one line|trivial|small|tiny|bump|comment)\b", re.I)
_VAGUE = re.compile(
    r"\b(improve|better|optimi[sz]e|performance|faster|nicer|cleaner|clean ?up|polish|"
    r"modernize|robust|tidy|revisit|look into|investigate|think about|consider|somehow|"
    r"general|overall|various|stuff|things|etc)\b",
    re.I,
)
_CONCRETE = re.compile(r"`[^`]+`|\b\w+\(\)|\b[a-z]+_[a-z_]+\b|\b[A-Z][a-z]+[A-Z]\w*\b|\"[^\"]+\"")
_PRIORITY = re.compile(
    r"(?<![\w-])(?:\[?\(?\b(P[0-4])\b\)?\]?|\b(CRITICAL|HIGH|MEDIUM|LOW|BLOCKER|MAJOR|MINOR)\b)"
)
_PRIORITY_WORDS = {
    "BLOCKER": "P0",
    "CRITICAL": "P0",
    "HIGH": "P1",
    "MAJOR": "P1",
    "MEDIUM": "P2",
    "MINOR": "P3",
    "LOW": "P3",
}
_LABEL = re.compile(
    r"^(?:\*\*|__)?\[?(?!P[0-4]\b)([A-Z][A-Z0-9]*-?\d+|#\d+)\]?(?:\*\*|__)?\s*[:.)\]-]?\s+"
)
_PATHLIKE = re.compile(
    r"(?<![\w/.@:-])((?:[\w.-]+/)+[\w.*-]*|[\w-][\w.-]*\.[A-Za-z][A-Za-z0-9]{0,7})(?![\w/-])"
)
_FILE = re.compile(
    r"[\w.-]*[\w-]\.(py|pyi|js|mjs|ts|tsx|jsx|md|toml|json|ya?ml|go|rs|c|h|cc|cpp|hpp|java|kt|"
    r"rb|php|sh|bash|txt|cfg|ini|conf|html|css|scss|sql|lock|rst|xml|proto|gradle|swift|cs|"
    r"vue|svelte|lua|ex|exs|erl|hs|ml|scala|clj|r|R|jl|dart|tf|env|csv|1|in)"
)
_BACKTICK = re.compile(r"`([^`\n]+)`")
_NOT_PATH_EXT = frozenset({"e.g", "i.e", "etc", "vs", "a.m", "p.m"})
# what a dependency phrase names, up to the end of the clause
_DEP = re.compile(
    r"\b(?:after|requires?|needs(?!\s+to\b)|depends on|dependent on|blocked by|builds on)"
    r"\s+([^.;\n()]+)",
    re.I,
)
_REF_TOKEN = re.compile(
    r"^(?:#?\d{1,3}|[A-Z][A-Z0-9]*-?\d+|(?:item|step|task|issue)\s*#?\d{1,3})$", re.I
)


def dep_targets(phrase: str) -> list[str]:
    """What a dependency phrase names: a list of labels ("A1, A2 and #3"), or its first clause."""
    parts = [p.strip() for p in re.split(r",|\band\b|&", phrase) if p.strip()]
    if parts and all(_REF_TOKEN.match(p) for p in parts):
        return parts
    return [phrase.split(",")[0].strip()]


@dataclass(frozen=True)
class Item:
    """One work item as found in a document."""

    number: int  # 1-based, in reading order across all documents
    title: str  # its first sentence, markdown and priority markers stripped
    text: str  # the whole item: first line and its continuation and sub-bullets
    source: str  # "file:line"
    kind: str  # one of KINDS
    heading: str | None  # the nearest heading above it
    label: str | None  # its own number or label ("3", "R2", "#12"), as others may refer to it
    action: str
    scope: tuple[str, ...]  # repository paths (existing, or new ones it creates)
    unknown_paths: tuple[str, ...]  # paths it names that are not in the repository
    priority: str | None  # P0..P4
    size: str  # S, M, L or XL
    dep_phrases: tuple[str, ...]  # what "after ...", "requires ..." name
    vague: str | None  # why it is too vague to act on, or None
    done: bool = False  # a checked task-list box
    creates: tuple[str, ...] = ()  # paths in its scope that are not in the repository yet

    @property
    def points(self) -> int:
        return SIZE_POINTS[self.size]


@dataclass
class _Raw:
    kind: str
    first: str
    lines: list[str]
    source: str
    heading: str | None
    label: str | None
    done: bool = False


def _strip_md(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return re.sub(r"\s+", " ", text).strip()


def _blocks(text: str, name: str) -> list[_Raw]:
    """Every candidate item of every kind, with its continuation lines."""
    out: list[_Raw] = []
    heading: str | None = None
    current: _Raw | None = None
    indent = 0
    para: _Raw | None = None
    in_fence = False
    for n, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            if current is not None:
                current.lines.append(line)
            continue
        where = f"{name}:{n}"
        h = _HEADING.match(line)
        if h:
            heading = _strip_md(h.group(2))
            current = para = None
            continue
        if not line.strip():
            para = None
            continue
        m = _TASK.match(line)
        kind = None
        if m:
            kind, ind, body, done = "task-list", len(m.group(1)), m.group(3), m.group(2) != " "
            label: str | None = None
        else:
            done = False
            m = _NUMBERED.match(line)
            if m:
                kind, ind, body, label = "numbered", len(m.group(1)), m.group(3), m.group(2)
            else:
                m = _BULLET.match(line)
                if m:
                    kind, ind, body, label = "bullet", len(m.group(1)), m.group(2), None
        if kind is not None:
            if current is not None and ind > indent:
                current.lines.append(line.strip())  # a sub-item: detail of its parent
                continue
            lm = _LABEL.match(body)
            if lm:
                label = lm.group(1)
                body = body[lm.end() :]
            current = _Raw(kind, body, [body], where, heading, label, done)
            indent = ind
            out.append(current)
            para = None
            continue
        if current is not None and line.startswith((" ", "\t")):
            current.lines.append(line.strip())
            continue
        current = None
        if para is None:
            lm = _LABEL.match(line.strip())
            body = line.strip()[lm.end() :] if lm else line.strip()
            para = _Raw("paragraph", body, [body], where, heading, lm.group(1) if lm else None)
            out.append(para)
        else:
            para.lines.append(line.strip())
    return out


def _is_path(word: str) -> bool:
    w = word.strip().strip("'\"").rstrip(".,:;")
    if not w or " " in w or "://" in w or w.lower() in _NOT_PATH_EXT or w.startswith(("-", "/")):
        return False
    if re.fullmatch(r"v?\d+(\.\d+)+", w) or re.fullmatch(r"\d+(\.\d+)*[a-z]*", w):
        return False
    if "/" in w:
        return bool(re.search(r"[A-Za-z]", w)) and not w.startswith("@")
    return bool(_FILE.fullmatch(w))


def mentioned_paths(text: str) -> list[str]:
    """File paths a text names: in backticks first, then path-like words, in order, unique."""
    found: list[str] = []
    for m in _BACKTICK.finditer(text):
        inner = m.group(1).strip()
        inner = re.sub(r":\d+(?:-\d+)?$", "", inner)  # file.py:42
        if _is_path(inner):
            found.append(inner.strip("'\"").rstrip(".,:;"))
    rest = _BACKTICK.sub(" ", text)
    for m in _PATHLIKE.finditer(rest):
        word = re.sub(r":\d+(?:-\d+)?$", "", m.group(1)).rstrip(".,:;")
        # in prose, "and/or" is no path: a folder needs a trailing '/' or two of them
        folder = word.endswith("/") or word.count("/") >= 2
        if _is_path(word) and ("/" not in word or folder or _FILE.fullmatch(word.rsplit("/")[-1])):
            found.append(word)
    seen: list[str] = []
    for p in found:
        p = p.removeprefix("./").rstrip("/")
        if p and p not in seen:
            seen.append(p)
    return seen


@functools.lru_cache(maxsize=8)
def _index(tree: frozenset[str]) -> tuple[frozenset[str], dict[str, tuple[str, ...]]]:
    """The folders of a tree, and its files and folders by their last name."""
    dirs = frozenset(p.rsplit("/", i)[0] for p in tree for i in range(1, p.count("/") + 1))
    by_name: dict[str, list[str]] = {}
    for p in sorted(tree | dirs):
        by_name.setdefault(p.rsplit("/", 1)[-1], []).append(p)
    return dirs, {k: tuple(v) for k, v in by_name.items()}


def _inside(path: str) -> bool:
    """Whether a path can name something in the repository (relative, no '..', no '\\')."""
    parts = path.split("/")
    return not (path.startswith("/") or "\\" in path or ".." in parts or "." in parts)


def resolve_paths(
    named: Iterable[str], tree: frozenset[str], creating: bool
) -> tuple[list[str], list[str], list[str]]:
    """(scope, new, unknown): named paths resolved against the repository's files. A bare file
    name (or the end of a path) matches a unique file of that name; a folder matches when files
    lie under it; a glob when it matches files; a path not in the tree is new when the item
    creates things, unknown otherwise."""
    scope: list[str] = []
    new: list[str] = []
    unknown: list[str] = []
    dirs, by_name = _index(tree)
    for p in named:
        hit = ""
        if not _inside(p):
            pass
        elif p in tree or p in dirs:
            hit = p
        elif "*" in p or "?" in p:
            hit = p if any(fnmatch.fnmatchcase(t, p) for t in tree) else ""
        else:
            ends = [t for t in by_name.get(p.rsplit("/", 1)[-1], ()) if t.endswith("/" + p)]
            hit = ends[0] if len(ends) == 1 else ""
            if len(ends) > 1:  # ambiguous: neither one of those files nor a new one
                if p not in unknown:
                    unknown.append(p)
                continue
        if hit:
            if hit not in scope:
                scope.append(hit)
        elif creating and _inside(p) and not any(c in p for c in "*?[") and "." in p:
            if p not in scope:
                scope.append(p)
                new.append(p)
        elif p not in unknown:
            unknown.append(p)
    return scope, new, unknown


def action_of(text: str) -> str:
    """fix, add, refactor, test, remove or update: the first action word the text uses."""
    lowered = text.lower()
    best: tuple[int, str] | None = None
    for action, words in _ACTION_WORDS.items():
        for w in words:
            m = re.search(rf"\b{re.escape(w)}(?:s|es)?\b", lowered)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), action)
    action = best[1] if best else "update"
    if action in ("add", "update") and re.search(r"\b(tests?|coverage)\b", lowered):
        return "test"
    return action


def priority_of(text: str) -> str | None:
    m = _PRIORITY.search(text)
    if not m:
        return None
    return m.group(1) or _PRIORITY_WORDS[m.group(2)]


def size_of(text: str, scope_count: int) -> str:
    """S, M, L or XL: from how many files it touches, how long it is and its wording."""
    level = 0 if scope_count <= 1 else 1 if scope_count <= 3 else 2 if scope_count <= 6 else 3
    if len(text) > 400:
        level += 1
    if _BIG.search(text):
        level += 1
    if _SMALL.search(text) and not _BIG.search(text):
        level -= 1
    return SIZES[max(0, min(3, level))]


def vagueness(text: str, scope: list[str], unknown: list[str]) -> str | None:
    """Why an item is too vague to hand to a worker, or None."""
    if scope or unknown or _CONCRETE.search(text):
        return None
    words = re.findall(r"[A-Za-z]{2,}", _DEP.sub("", text))
    if len(words) < 4:
        return "too short to act on, and it names no file"
    m = _VAGUE.search(text)
    if m:
        return f"{m.group(0)!r} without a file or a concrete change"
    return None


def _first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (not one inside `code` or a path)."""
    outside = _BACKTICK.sub(lambda m: "x" * len(m.group(0)), text)
    m = re.search(r"[.!?](?=\s|$)", outside)
    first = text[: m.end()] if m else text
    return first if len(first) <= 160 else first[:157].rsplit(" ", 1)[0] + "..."


def without_dependencies(text: str) -> str:
    """The text less its dependency phrases ("after A3", "depends on the parser fix")."""
    return _DEP.sub(" ", text)


def _clean_title(first: str) -> str:
    t = _PRIORITY.sub("", _strip_md(first))
    t = re.sub(r"^[\s:\-\u2014()\[\]*_]+", "", t)
    t = re.sub(r"(?<![\w)])(\[\]|\(\))", "", t)
    t = re.sub(r"\s+", " ", t)
    return t.rstrip(" :") or _strip_md(first)


def extract(docs: Iterable[tuple[str, str]], tree: frozenset[str]) -> tuple[Item, ...]:
    """Work items of documents given as (name, text), numbered in reading order."""
    items: list[Item] = []
    for name, text in docs:
        raws = _blocks(text, name)
        kinds = {r.kind for r in raws}
        kind = next((k for k in KINDS if k in kinds), None)
        if kind == "bullet":
            # bullets count under headings; a document of bare bullets has no other structure
            if any(r.heading for r in raws if r.kind == "bullet"):
                raws = [r for r in raws if r.kind == "bullet" and r.heading]
            else:
                raws = [r for r in raws if r.kind == "bullet"]
        elif kind is not None:
            raws = [r for r in raws if r.kind == kind]
        for raw in raws:
            body = "\n".join(raw.lines)
            flat = " ".join(raw.lines)
            if raw.kind == "paragraph" and len(re.findall(r"[A-Za-z]{2,}", body)) < 3:
                continue
            title = _clean_title(_first_sentence(flat))
            action = action_of(title)
            named = mentioned_paths(body)
            scope, new, unknown = resolve_paths(named, tree, action in ("add", "test", "refactor"))
            deps = tuple(t for m in _DEP.finditer(flat) for t in dep_targets(m.group(1)))
            item = Item(
                number=len(items) + 1,
                title=title,
                text=body.strip(),
                source=raw.source,
                kind=raw.kind,
                heading=raw.heading,
                label=raw.label,
                action=action,
                scope=tuple(scope),
                unknown_paths=tuple(unknown),
                priority=priority_of(body) or priority_of(raw.heading or ""),
                size=size_of(body, len(scope)),
                dep_phrases=deps,
                vague=vagueness(body, scope, unknown),
                done=raw.done,
                creates=tuple(new),
            )
            items.append(item)
    return tuple(items)
