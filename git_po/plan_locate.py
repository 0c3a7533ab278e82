"""Line numbers in a plan's TOML text (tomllib gives none), and "did you mean" hints: so that
every problem is reported where it is."""

from __future__ import annotations

import difflib
import re


class Locator:
    """Best-effort line numbers for tables and keys (tomllib gives none)."""

    _ARRAY = re.compile(r"^\s*\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?$")
    _HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?$")
    _KEY = re.compile(
        r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_.-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*="""
    )

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, ...], int] = {}
        self.keys: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_string: str | None = None  # inside a multi-line string opened by this delimiter
        for n, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            for delim in ('"""', "'''"):
                if line.count(delim) % 2 == 1:
                    in_string = delim
                    break
            a = self._ARRAY.match(line)
            if a:  # [[x]]: an array of tables; its later keys are not placed
                table = ("\0",)
                self.tables.setdefault(self._split(a.group(1)), n)
                continue
            h = self._HEADER.match(line)
            if h:
                table = self._split(h.group(1))
                self.tables.setdefault(table, n)
                continue
            k = self._KEY.match(line)
            if k:
                path = table + self._split(k.group(1))
                self.keys.setdefault(path, n)
                for i in range(len(table) + 1, len(path)):
                    self.tables.setdefault(path[:i], n)

    @staticmethod
    def _split(dotted: str) -> tuple[str, ...]:
        parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', dotted)
        return tuple(a or b or c for a, b, c in parts)

    def line(self, *path: str) -> int | None:
        while path:
            if path in self.keys:
                return self.keys[path]
            if path in self.tables:
                return self.tables[path]
            path = path[:-1]
        return None


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None
