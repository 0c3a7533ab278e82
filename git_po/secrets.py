"""Masking of API keys and tokens in transcripts and logs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

MASK = "***"
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.I)
# token shapes, each masked whole (or, with a group, what follows the group); near misses such as
# `sk-learn`, a 40-hex commit id or `https://host:8080/` are left alone (tests/corpus/secrets.txt)
_B = r"(?<![A-Za-z0-9_\-])"  # not in the middle of a word
_PATTERNS = (
    re.compile(_B + r"sk-ant-[A-Za-z0-9_\-]{8,}"),  # Anthropic
    re.compile(_B + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}"),  # OpenAI project/service
    re.compile(_B + r"sk-[A-Za-z0-9]{32,}(?![A-Za-z0-9_\-])"),  # OpenAI legacy
    re.compile(_B + r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])"),  # AWS access key id
    re.compile(  # AWS secret access key: only where it is named (40 characters alone are a sha)
        r"(?i)(aws_?secret_?(?:access_?)?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"
    ),
    re.compile(_B + r"AIza[0-9A-Za-z_\-]{35}"),  # Google API key
    re.compile(_B + r"glpat-[0-9A-Za-z_\-]{20,}"),  # GitLab personal access token
    re.compile(_B + r"xox[abposr]-[0-9A-Za-z\-]{10,}"),  # Slack
    re.compile(_B + r"gh[pousr]_[A-Za-z0-9]{20,}"),  # GitHub
    re.compile(_B + r"github_pat_[A-Za-z0-9_]{22,}"),  # GitHub fine-grained
    re.compile(  # JWT: three base64url parts, the first two JSON objects
        _B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    ),
    re.compile(  # the password of a URL: scheme://user:PASSWORD@host
        r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:)[^\s/@]+(?=@)"
    ),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{12,}"),
    re.compile(r"(?i)((?:x-api-key|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
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
