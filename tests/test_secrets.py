"""Secret masking against a corpus of token shapes and near misses (tests/corpus/secrets.txt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from git_po.secrets import MASK, mask, secret_values

CORPUS = Path(__file__).parent / "corpus" / "secrets.txt"
_MARKED = re.compile("«(.*?)»")


def _lines(kind: str) -> list[str]:
    out = []
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if line.startswith(kind + ": "):
            out.append(line[len(kind) + 2 :])
    assert out, f"no {kind} lines in the corpus"
    return out


@pytest.mark.parametrize("line", _lines("mask"))
def test_a_token_shape_is_masked_and_nothing_else(line: str) -> None:
    text = _MARKED.sub(lambda m: m.group(1), line)
    secrets = _MARKED.findall(line)

    masked = mask(text)

    assert masked == _MARKED.sub(MASK, line)
    for secret in secrets:
        assert secret not in masked


@pytest.mark.parametrize("line", _lines("keep"))
def test_a_near_miss_is_left_alone(line: str) -> None:
    assert mask(line) == line


def test_values_of_secret_variables_are_masked_wherever_they_appear() -> None:
    env = {"MY_SERVICE_TOKEN": "hunter2-but-longer", "HOME": "/home/someone-long", "PW": "x"}
    values = secret_values(env)

    assert values == ["hunter2-but-longer"]
    assert mask("got hunter2-but-longer in /home/someone-long", values) == (
        f"got {MASK} in /home/someone-long"
    )
