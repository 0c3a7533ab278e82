"""Masking of API keys and tokens in transcripts and logs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.I)
_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{12,}"),
    re.compile(r"(?i)((?:x-api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret)\s*=\s*)[^\s\"']{8,}"),
)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of variables whose names say they are secrets, longest first."""
    vals = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 8}
    return sorted(vals, key=len, reverse=True)


def mask(text: str, values: list[str] | None = None) -> str:
    for v in values or ():
        text = text.replace(v, MASK)
    for pat in _PATTERNS:
        text = pat.sub(lambda m: m.group(1) + MASK, text) if pat.groups else pat.sub(MASK, text)
    return text


def mask_file_in_place(path: str, values: list[str]) -> bool:
    """Rewrite a finished transcript with secrets masked; True if anything changed."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError:
        return False
    masked = mask(text, values)
    if masked == text:
        return False
    tmp = path + ".masking"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(masked)
    os.replace(tmp, path)
    return True
