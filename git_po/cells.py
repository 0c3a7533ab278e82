"""Text measured in terminal cells, not characters: a CJK character takes two cells, a combining
accent none, and colour codes none. Tables and the live view pad and cut with these, so a wide
subject never wraps a line."""

from __future__ import annotations

import re
from functools import lru_cache

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@lru_cache(maxsize=4096)
def char_cells(ch: str) -> int:
    """Cells one character takes; control characters count as none (git po never prints them
    inside a line, and a terminal does not advance for them)."""
    if " " <= ch < "\x7f":
        return 1
    from wcwidth import wcwidth  # imported on first need: most output is ASCII

    return max(0, wcwidth(ch))


def width(text: str) -> int:
    """Cells text takes on a terminal, colour codes left out."""
    plain = ANSI.sub("", text)
    if plain.isascii() and plain.isprintable():
        return len(plain)
    return sum(char_cells(ch) for ch in plain)


def pad(text: str, cells: int) -> str:
    """text followed by spaces up to cells (never shortened)."""
    return text + " " * max(0, cells - width(text))


def clip(text: str, cells: int, mark: str = "…") -> str:
    """Cut text to at most cells, ending in mark when cut; colour codes are kept whole and
    a colour left open is reset."""
    if width(text) <= cells:
        return text
    room = max(0, cells - width(mark))
    out: list[str] = []
    seen = 0
    i = 0
    while i < len(text):
        m = ANSI.match(text, i)
        if m:
            out.append(m.group())
            i = m.end()
            continue
        w = char_cells(text[i])
        if seen + w > room:
            break
        out.append(text[i])
        seen += w
        i += 1
    return "".join(out) + mark + ("\x1b[0m" if "\x1b[" in text else "")
