"""Claims: which machine runs a task of a shared plan (`git po work --remote`).

A claim is a commit chain on refs/po/<plan>/claims/<task> on the remote; its tree holds
claim.toml. A machine takes a task by pushing the first commit with a lease that says "only if
the ref does not exist", renews it (a new commit on top, lease on the old one) while it runs the
task, and marks it done or released at the end. Another machine takes a task over only with a
lease on the claim it saw, once that claim has not moved for a whole lease: exactly one machine
wins every race. Expiry is judged by the observer's own clock (how long it has seen the same
claim), so machines need no synchronised clocks. Pure decisions; no I/O here."""

from __future__ import annotations

import os
import secrets
import socket
import tomllib
from dataclasses import dataclass

import tomli_w

from git_po.repo import Repo

HELD, DONE, RELEASED = "held", "done", "released"
CLAIM_FILE = "claim.toml"


def claim_ref(plan: str, task: str) -> str:
    return f"refs/po/{plan}/claims/{task}"


def machine_id() -> str:
    """This process's name in claims: host, pid and a nonce (a pid is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Claim:
    plan: str
    task: str
    holder: str  # host:pid:nonce of the claiming process
    state: str  # held, done (the task ended there), released (given back, anyone may take it)
    lease_seconds: float
    renewed_at: str  # the holder's clock, for people; expiry is judged by the observer's
    generation: int  # one more with every write, so every write is a new commit

    @property
    def host(self) -> str:
        return self.holder.split(":", 1)[0]

    def to_toml(self) -> str:
        return tomli_w.dumps(self.__dict__)

    @classmethod
    def from_toml(cls, text: str) -> Claim | None:
        try:
            d = tomllib.loads(text)
            return cls(
                plan=str(d["plan"]),
                task=str(d["task"]),
                holder=str(d["holder"]),
                state=str(d["state"]),
                lease_seconds=float(d["lease_seconds"]),
                renewed_at=str(d["renewed_at"]),
                generation=int(d["generation"]),
            )
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
            return None

    def message(self) -> str:
        what = {HELD: "held by", DONE: "done by", RELEASED: "released by"}.get(self.state, "by")
        return (
            f"claim: {self.task} {what} {self.holder} (lease {self.lease_seconds:g}s, "
            f"#{self.generation})\n\nPo-Plan: {self.plan}\nPo-Task: {self.task}\n"
        )


TAKE, TAKE_OVER, BUSY, MINE, FINISHED = "take", "take-over", "busy", "mine", "finished"


def decide(
    current: Claim | None, me: str, unchanged_for: float, *, stale_after: float | None = None
) -> str:
    """What this machine may do about a task's claim as it sees it now.

    current: the claim on the remote (None: no claim); unchanged_for: seconds this machine has
    seen that same claim commit (0 when just seen). A held claim is stale after its own lease
    (or stale_after when given) without a renewal."""
    if current is None:
        return TAKE
    if current.holder == me:
        return MINE if current.state == HELD else FINISHED
    if current.state == RELEASED:
        return TAKE_OVER
    if current.state == DONE:
        return FINISHED
    limit = current.lease_seconds if stale_after is None else stale_after
    return TAKE_OVER if unchanged_for >= limit else BUSY


def backoff(failures: int, *, first: float = 1.0, most: float = 30.0) -> float:
    """Seconds to wait before trying an unreachable remote again after failures in a row."""
    return float(min(most, first * 2 ** max(0, failures - 1)))


def holders(repo: Repo, plan: str) -> dict[str, Claim]:
    """Each task's claim as this clone knows it: its own refs/po/<plan>/claims/ (a clone that
    mirrors the remote), else what the last fetch saw under refs/po-remotes/*/."""
    out: dict[str, Claim] = {}
    refs = [r for r in repo.refs_under("refs/po-remotes/") if f"/po/{plan}/claims/" in r]
    refs += repo.refs_under(f"refs/po/{plan}/claims/")  # last: it wins
    for ref in refs:
        oid = repo.read_ref(ref)
        data = repo.read_blob(oid, CLAIM_FILE) if oid else None
        claim = Claim.from_toml(data.decode(errors="replace")) if data else None
        if claim is not None:
            out[ref.rsplit("/", 1)[1]] = claim
    return out
