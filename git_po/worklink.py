"""What `git po work --remote` says to the remote: fetch and take in others' progress, take,
renew and give back claims, and push the tasks this machine holds — every push with a lease,
and, while the remote cannot be reached, nothing but retries with backoff."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from git_po import claims, layout, remote, share
from git_po.claims import Claim
from git_po.errors import RefRace
from git_po.remote import Unreachable
from git_po.repo import Oid, Repo
from git_po.state import now_iso


@dataclass
class Counters:
    taken: int = 0  # claims won (tasks started here)
    races_lost: int = 0  # claims another machine won first
    takeovers: int = 0  # stale claims of other machines taken over
    leases_lost: int = 0  # tasks of ours another machine took over
    push_failures: int = 0  # pushes or fetches that could not reach the remote


@dataclass
class Link:
    repo: Repo
    name: str  # the remote
    plan: str
    lease: float
    fetch_every: float
    me: str = field(default_factory=claims.machine_id)
    held: dict[str, Oid] = field(default_factory=dict)  # task -> our claim commit on the remote
    remote_has: dict[str, Oid] = field(default_factory=dict)  # ref -> value on the remote
    seen: dict[str, tuple[Oid, float]] = field(default_factory=dict)  # task -> claim, since
    counters: Counters = field(default_factory=Counters)
    failures: int = 0
    retry_at: float = 0.0
    next_fetch: float = 0.0
    renewed: dict[str, float] = field(default_factory=dict)
    last_error: str | None = None
    lost_tasks: set[str] = field(default_factory=set)  # leases the heartbeat found taken over
    lock: threading.Lock = field(default_factory=threading.Lock)
    _beating: threading.Event = field(default_factory=threading.Event)
    _beat: threading.Thread | None = None

    # -- the heartbeat: claims are renewed apart from the run loop, which may be busy --

    def start_heartbeat(self) -> None:
        self._beat = threading.Thread(target=self._heartbeat, name="po-lease", daemon=True)
        self._beat.start()

    def stop_heartbeat(self) -> None:
        self._beating.set()
        if self._beat is not None:
            self._beat.join(timeout=30)

    def _heartbeat(self) -> None:
        repo = self.repo.reopen()  # a repository object of its own, for its own thread
        while not self._beating.wait(max(0.05, self.lease / 6)):
            with self.lock:
                for task in self.renew_due():
                    if self.renew(task, repo) is False:
                        self.lost_tasks.add(task)

    # -- reachability --

    def offline(self) -> bool:
        """The last exchange with the remote failed: claim nothing new."""
        return self.failures > 0

    def can_try(self) -> bool:
        return time.monotonic() >= self.retry_at

    def _failed(self, exc: Unreachable) -> None:
        self.failures += 1
        self.counters.push_failures += 1
        self.last_error = exc.message
        self.retry_at = time.monotonic() + claims.backoff(self.failures)

    def _ok(self) -> None:
        self.failures = 0
        self.retry_at = 0.0

    # -- fetching --

    def fetch(self, skip: Callable[[str], bool]) -> share.ShareReport | None:
        """Fetch and take in every ref of the plan but those skip() names (the tasks this
        machine runs); None while the remote cannot be reached."""
        if not self.can_try():
            return None
        try:
            remote.fetch(self.repo, self.name, remote.fetch_refspecs(self.name, forced=True))
        except Unreachable as exc:
            self._failed(exc)
            return None
        self._ok()
        self.next_fetch = time.monotonic() + self.fetch_every
        prefix = f"{remote.TRACKING}{self.name}/"
        for tracking in self.repo.refs_under(prefix):
            oid = self.repo.read_ref(tracking)
            if oid is not None:
                self.remote_has[remote.local_of(self.name, tracking)] = oid
        report = share.reconcile(self.repo, self.name, self.plan, skip=skip)
        now = time.monotonic()
        for task, oid in self.remote_claims().items():
            old = self.seen.get(task)
            if old is None or old[0] != oid:
                self.seen[task] = (oid, now)
        return report

    def remote_claims(self) -> dict[str, Oid]:
        prefix = remote.tracking_ref(self.name, f"refs/po/{self.plan}/claims/")
        out: dict[str, Oid] = {}
        for ref in self.repo.refs_under(prefix):
            oid = self.repo.read_ref(ref)
            if oid is not None:
                out[ref.removeprefix(prefix)] = oid
        return out

    def claim_of(self, oid: Oid) -> Claim | None:
        data = self.repo.read_blob(oid, claims.CLAIM_FILE)
        return Claim.from_toml(data.decode(errors="replace")) if data else None

    def decision(self, task: str) -> str:
        if task in self.held:
            return claims.MINE
        seen = self.seen.get(task)
        if seen is None:
            return claims.TAKE
        current = self.claim_of(seen[0])
        if current is None:  # unreadable: treat as held until it goes stale
            return claims.BUSY if time.monotonic() - seen[1] < self.lease else claims.TAKE_OVER
        return claims.decide(current, self.me, time.monotonic() - seen[1])

    def holder_of(self, task: str) -> Claim | None:
        seen = self.seen.get(task)
        return self.claim_of(seen[0]) if seen else None

    # -- claims --

    def _write_claim(
        self, task: str, expected: Oid | None, state: str, repo: Repo | None = None
    ) -> bool | None:
        """Push a claim commit on expected; True won, False lost, None unreachable."""
        repo = repo or self.repo
        data = repo.read_blob(expected, claims.CLAIM_FILE) if expected else None
        previous = Claim.from_toml(data.decode(errors="replace")) if data else None
        claim = Claim(
            plan=self.plan,
            task=task,
            holder=self.me,
            state=state,
            lease_seconds=self.lease,
            renewed_at=now_iso(),
            generation=(previous.generation + 1) if previous else 1,
        )
        commit = repo.make_commit(
            {claims.CLAIM_FILE: claim.to_toml().encode()},
            claim.message(),
            [expected] if expected else [],
        )
        ref = claims.claim_ref(self.plan, task)
        try:
            out = remote.push(repo, self.name, {ref: (expected, commit)}, atomic=True)
        except Unreachable as exc:
            self._failed(exc)
            return None
        self._ok()
        if out and out[0].ok:
            self.held[task] = commit
            self.renewed[task] = time.monotonic()
            self.seen[task] = (commit, time.monotonic())
            self.remote_has[ref] = commit
            return True
        return False

    def take(self, task: str) -> bool:
        """Claim a task (or take a stale claim over): True when this machine won it."""
        if self.offline() and not self.can_try():
            return False
        seen = self.seen.get(task)
        expected = seen[0] if seen else None
        with self.lock:
            won = self._write_claim(task, expected, claims.HELD)
        if won:
            self.counters.taken += 1
            if expected is not None:
                self.counters.takeovers += 1
            return True
        if won is False:
            self.counters.races_lost += 1
            self.next_fetch = 0.0  # learn who won, soon
        return False

    def renew_due(self) -> list[str]:
        now = time.monotonic()
        return [t for t in self.held if now - self.renewed.get(t, 0.0) >= self.lease / 3]

    def renew(self, task: str, repo: Repo | None = None) -> bool | None:
        """Renew our claim; False: another machine took it over (the lease is lost)."""
        if not self.can_try():
            return None
        won = self._write_claim(task, self.held[task], claims.HELD, repo)
        if won is False:
            del self.held[task]
            self.counters.leases_lost += 1
        return won

    def give_back(self, task: str, state: str) -> None:
        """Mark our claim done (the task ended here) or released (anyone may take it)."""
        with self.lock:
            done = task in self.held and self.can_try()
            if done and self._write_claim(task, self.held[task], state) is not None:
                self.held.pop(task, None)

    def lost(self, task: str) -> bool:
        """Whether the remote shows another machine's claim over ours."""
        if task not in self.held:
            return False
        seen = self.seen.get(task)
        if seen is None or seen[0] == self.held[task]:
            return False
        claim = self.claim_of(seen[0])
        return claim is not None and claim.holder != self.me  # not an older view of ours

    # -- pushing --

    def push(self, refs: list[str]) -> bool | None:
        """Push the refs whose local value the remote does not have, each with a lease on the
        value the remote was last seen to hold, all or none; None while unreachable."""
        updates: dict[str, tuple[Oid | None, Oid | None]] = {}
        for ref in refs:
            local = self.repo.read_ref(ref)
            if local is not None and local != self.remote_has.get(ref):
                updates[ref] = (self.remote_has.get(ref), local)
        if not updates:
            return True
        if not self.can_try():
            return None
        try:
            out = remote.push(self.repo, self.name, updates, atomic=True)
        except Unreachable as exc:
            self._failed(exc)
            return None
        self._ok()
        ok = bool(out) and all(o.ok for o in out)
        if ok:
            for ref, (_old, new) in updates.items():
                assert new is not None
                self.remote_has[ref] = new
        return ok

    def task_refs(self, task: str) -> list[str]:
        """In push order: what the task's state points at goes first."""
        return [
            layout.branch_ref(self.plan, task),
            layout.base_ref(self.plan, task),
            layout.wip_ref(self.plan, task),
            layout.task_ref(self.plan, task),
        ]

    def push_notes(self) -> None:
        """Notes that grew here only: pushed over the remote's (a merge happens at a fetch)."""
        for ref in self.repo.refs_under("refs/notes/po"):
            local = self.repo.read_ref(ref)
            there = self.remote_has.get(ref)
            if local is None or local == there:
                continue
            if there is None or (
                self.repo.has_object(there) and self.repo.is_ancestor(there, local)
            ):
                self.push([ref])

    # -- a lost lease --

    def keep_lost(self, task: str) -> list[str]:
        """Keep this machine's work on a task another machine took over: its branch and state
        under refs/po-lost/<plan>/<task>/; then its state ref follows the remote again."""
        kept = []
        for kind, ref in (
            ("branch", layout.branch_ref(self.plan, task)),
            ("state", layout.task_ref(self.plan, task)),
        ):
            local = self.repo.read_ref(ref)
            if local is None or local == self.remote_has.get(ref):
                continue
            keep = f"refs/po-lost/{self.plan}/{task}/{kind}"
            self.repo.keep_reachable(keep, local, f"po work: {task}'s {kind}, lease lost")
            kept.append(keep)
            theirs = self.remote_has.get(ref)
            if kind == "state" and theirs is not None:
                with contextlib.suppress(RefRace):
                    self.repo.update_ref(ref, theirs, local, "po work: lease lost; remote state")
        return kept
