"""What an attempt's end means: its class, taken from the exit status, the stream-json result
(`is_error`, `api_error_status`, `subtype`) and the branch — never from `subtype` alone — and
when to try again."""

from __future__ import annotations

import random
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from git_po.agents.base import TranscriptSummary
from git_po.protocol import Kind

# classes of an attempt that ended without a terminal protocol commit
RATE_LIMITED = "rate-limited"
OVERLOADED = "overloaded"
# the message Claude Code ends with when it stops retrying 529s on its own (no status is set)
_REPEATED_529 = "Repeated 529 Overloaded errors"
API_ERROR = "api-error"
TIMEOUT = "timeout"
IDLE = "idle"
CRASHED = "crashed"
NO_PROGRESS = "no-progress"
PERMANENT = "permanent"
INTERRUPTED = "interrupted"
BUDGET = "budget"
STOPPED = "stopped"
PAUSED = "paused"
REFUSED = "refused"  # [COMPLETE] with no file changed while tool calls were refused

RETRYABLE = frozenset({RATE_LIMITED, OVERLOADED, API_ERROR, TIMEOUT, IDLE, CRASHED, NO_PROGRESS})
COOL_DOWN = frozenset({RATE_LIMITED, OVERLOADED})

_PERMANENT_SUBTYPES = {"error_max_budget_usd": "budget exhausted"}
_BAD_USAGE = (
    "unknown option",
    "error: option",
    "invalid value",
    "not logged in",
    "invalid api key",
)


@dataclass(frozen=True)
class Verdict:
    cls: str  # one of the classes above, or complete / blocked / needs
    why: str


def classify(
    *,
    code: int,
    summary: TranscriptSummary,
    stop_reason: str | None,
    kind: Kind | None,
    stderr_tail: str = "",
    timeout: float | None = None,
    idle_timeout: float | None = None,
    changed_files: bool = True,
    task: str = "TASK",
) -> Verdict:
    """changed_files: whether the branch's tree differs from the task's base."""
    if kind is Kind.COMPLETE:
        if summary.permission_denials and not changed_files:
            return Verdict(REFUSED, refused_why(summary.permission_denials, summary.refused, task))
        return Verdict("complete", "")
    if kind is Kind.BLOCKED:
        return Verdict("blocked", "")
    if kind is Kind.NEEDS:
        return Verdict("needs", "")
    if stop_reason == "interrupted":
        return Verdict(INTERRUPTED, "stopped by the user (Ctrl-C)")
    if stop_reason == "stopped":
        return Verdict(STOPPED, "stopped with git po stop")
    if stop_reason == "paused":
        return Verdict(PAUSED, "paused with git po pause")
    if stop_reason == "budget":
        return Verdict(BUDGET, "stopped: the plan's budget is spent")
    if stop_reason == "timeout":
        return Verdict(TIMEOUT, f"timed out after {timeout or 0:g}s without a [COMPLETE] commit")
    if stop_reason == "idle":
        return Verdict(IDLE, f"idle for {idle_timeout or 0:g}s (no output, no commit)")
    status = summary.api_error_status
    if status == 429:
        return Verdict(RATE_LIMITED, "API rate limit (429)")
    if status in (529, 503):
        return Verdict(OVERLOADED, f"API overloaded ({status})")
    if status in (401, 403):
        return Verdict(PERMANENT, f"API refused the credentials ({status})")
    if status is not None and 400 <= status < 500:
        return Verdict(PERMANENT, f"API rejected the request ({status})")
    if status is not None:
        return Verdict(API_ERROR, f"API error ({status})")
    if summary.is_error and _REPEATED_529 in (summary.last_text or ""):
        # after a few 529s in a row the CLI gives up with this text and no api_error_status
        return Verdict(OVERLOADED, "API overloaded (repeated 529)")
    if summary.result_subtype in _PERMANENT_SUBTYPES:
        return Verdict(PERMANENT, _PERMANENT_SUBTYPES[summary.result_subtype])
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return Verdict(CRASHED, f"worker killed by {name}")
    low = stderr_tail.lower()
    if code != 0 and not summary.result_seen and any(s in low for s in _BAD_USAGE):
        line = next((ln for ln in stderr_tail.splitlines() if ln.strip()), "").strip()
        return Verdict(PERMANENT, f"the agent refused to start: {line[:160]}")
    if summary.is_error:
        text = (summary.last_text or "").strip()
        said = f": {text[:120]}" if text else ""
        return Verdict(API_ERROR, f"exited with status {code}: the agent reported an error{said}")
    if summary.result_subtype == "error_max_turns":
        return Verdict(NO_PROGRESS, "reached its turn limit without a [COMPLETE] commit")
    if code != 0:
        return Verdict(NO_PROGRESS, f"exited with status {code} without a [COMPLETE] commit")
    return Verdict(NO_PROGRESS, "exited without a [COMPLETE], [BLOCKED:...] or [NEEDS:...] commit")


def refused_text(calls: Sequence[Mapping[str, str]], count: int | None = None) -> str:
    """`Write a.txt, Bash printf x > b` (and how many more when not all are listed)."""
    shown = [f"{c.get('tool', '?')} {c.get('target', '')}".strip() for c in calls[:5]]
    more = max(len(calls), count or 0) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def refused_why(count: int, calls: Sequence[Mapping[str, str]], task: str) -> str:
    """Why a [COMPLETE] that changed nothing while calls were refused is not accepted."""
    plural = "s were" if count != 1 else " was"
    return (
        f"[COMPLETE] changed no file while {count} tool call{plural} refused: "
        f"{refused_text(calls, count)}; let the worker write (permission_mode, allowed_tools; "
        f"git po doctor shows what stops it), then git po retry {task}"
    )


def backoff(retry: int, base: float, cap: float = 300.0) -> float:
    """Seconds before retry number `retry` (1-based): exponential, with jitter."""
    delay = min(cap, base * float(2 ** max(0, retry - 1)))
    return delay * (0.75 + 0.5 * random.random())
