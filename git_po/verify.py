"""The verify gate's building blocks: run a plan's `verify` command on one exact commit, keep the
result as a note on that commit, and read it back.

Results live in their own notes ref, `refs/notes/po-verify` (TOML text, one result per commit:
the latest), so they never overwrite the worker notes in `refs/notes/po`:

    git log --notes=po-verify            git notes --ref=po-verify show <commit>

A pass is noted on the commit's tree too, so a commit with the same tree (a merge that equals
a task's head, the same merges made again on another branch) is not verified again: the pass
is noted on it as reused, naming the commit where it ran (`passed_on_same_tree`, `reuse`).

The run loop calls `run_verify` in a task's worktree when it commits [COMPLETE]; `integrate`
verifies each merge in a temporary worktree (`run_in_temp_worktree`) before its branch moves.

A verify the run loop starts is tracked like a worker (`Tracking`): its pid and start time are
recorded, its output and exit status go to files, so an orchestrator that resumes after a crash
adopts a verify that still runs (`adopt`) instead of starting a second one beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from git_po import layout, liveness, proc, secrets, worktrees
from git_po.errors import Interrupted, RefRace, StateConflict
from git_po.local import process_start
from git_po.repo import Oid, Repo
from git_po.state import now_iso

TAIL_LINES = 40
SHOW_LINES = 20  # of the tail, what `git po show` prints of a verify that sent a task back
_TAIL_LINE_CHARS = 400
_READ_BYTES = 256 * 1024
_STOP_GRACE = 5.0
# runs the command and leaves its exit status in a file, for an orchestrator that adopts it
_WRAPPER = 'sh -c "$1"; s=$?; echo "$s" > "$2.tmp" && mv "$2.tmp" "$2"; exit "$s"'


@dataclass(frozen=True)
class Tracking:
    """Where the run loop records the verify of a task (liveness.TrackedStore)."""

    store: liveness.TrackedStore
    plan: str
    task: str


def _from_status(code: int) -> int:
    """The wrapper's exit status as Popen would give the command's: a shell reports death by
    signal N as 128+N."""
    return -(code - 128) if 128 < code < 160 else code


@dataclass(frozen=True)
class VerifyResult:
    commit: Oid
    command: str
    exit_code: int | None  # None when it was killed (timeout or signal)
    signal: int | None
    timed_out: bool
    duration_s: float
    output_tail: str  # the last lines of stdout and stderr together, secrets masked
    at: str
    plan: str | None = None
    task: str | None = None  # the task, or the integration step's task ("into" for --into)
    reused_from: Oid | None = None  # not run: the commit, with the same tree, where it passed

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def summary(self) -> str:
        if self.reused_from is not None:
            return f"reused from {self.reused_from[:12]} (passed there on the same tree)"
        took = f"{self.duration_s:.1f}s"
        if self.passed:
            return f"passed in {took}"
        if self.timed_out:
            return f"timed out after {took}"
        if self.signal is not None:
            return f"failed (killed by signal {self.signal}) after {took}"
        return f"failed (exit {self.exit_code}) after {took}"

    def to_toml(self) -> str:
        d: dict[str, Any] = {
            "command": self.command,
            "commit": self.commit,
            "passed": self.passed,
            "duration_s": self.duration_s,
            "at": self.at,
            "timed_out": self.timed_out,
        }
        if self.exit_code is not None:
            d["exit_code"] = self.exit_code
        if self.signal is not None:
            d["signal"] = self.signal
        if self.plan is not None:
            d["plan"] = self.plan
        if self.task is not None:
            d["task"] = self.task
        if self.reused_from is not None:
            d["reused_from"] = self.reused_from
        d["output_tail"] = self.output_tail
        return tomli_w.dumps(d, multiline_strings=True)

    @classmethod
    def from_toml(cls, text: str) -> VerifyResult:
        d = tomllib.loads(text)
        return cls(
            commit=Oid(str(d["commit"])),
            command=str(d["command"]),
            exit_code=int(d["exit_code"]) if "exit_code" in d else None,
            signal=int(d["signal"]) if "signal" in d else None,
            timed_out=bool(d.get("timed_out", False)),
            duration_s=float(d.get("duration_s", 0.0)),
            output_tail=str(d.get("output_tail", "")),
            at=str(d.get("at", "")),
            plan=d.get("plan"),
            task=d.get("task"),
            reused_from=Oid(str(d["reused_from"])) if "reused_from" in d else None,
        )

    def to_json(self) -> dict[str, Any]:
        """What `git po status --json` shows of it."""
        return {
            "passed": self.passed,
            "command": self.command,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": self.duration_s,
            "commit": self.commit,
            "at": self.at,
        }


def run_verify(
    repo: Repo,
    worktree: Path,
    commit: Oid,
    command: str,
    *,
    timeout: float | None,
    stop: threading.Event | None = None,
    track: Tracking | None = None,
) -> VerifyResult:
    """Run `sh -c command` in worktree, which must be at commit with nothing uncommitted, so
    what passes is exactly that commit. The command runs in its own process group: on timeout,
    on Ctrl-C, or when stop is set (from another thread) the whole group gets SIGTERM, then
    SIGKILL, and stop raises Interrupted; whatever it leaves running in the background when it
    exits is stopped too. Output is kept only as a masked tail. With track, the process is
    recorded while it runs (see Tracking)."""
    head = repo.worktree_head(worktree)
    if head != commit:
        at = head[:12] if head else "no commit"
        raise StateConflict(
            f"cannot verify {commit[:12]} in {worktree}: the worktree is at {at}",
            hint="verify runs on the exact commit it judges",
        )
    changes = repo.worktree_changes(worktree)
    if changes:
        listed = ", ".join(f"{p} ({w})" for p, w in sorted(changes.items())[:5])
        more = f" and {len(changes) - 5} more" if len(changes) > 5 else ""
        raise StateConflict(
            f"cannot verify {commit[:12]} in {worktree}: it holds uncommitted changes "
            f"({listed}{more})",
            hint="verify runs on the exact commit it judges; commit or remove them",
        )
    env = proc.child_env({"PO_VERIFY_COMMIT": commit})
    argv = ["sh", "-c", command]
    status: Path | None = None
    if track is not None:
        # found by this if its orchestrator dies before the record below is written
        env[liveness.VERIFY_MARK] = f"{track.plan}/{track.task}"
        track.store.remove("verify", track.task)
        status = track.store.file("verify", track.task, ".status")
        status.parent.mkdir(parents=True, exist_ok=True)
        argv = ["sh", "-c", _WRAPPER, "po-verify", command, str(status)]
        out: Any = track.store.file("verify", track.task, ".out").open("w+b")
    else:
        out = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    try:
        with out:
            started = time.monotonic()
            child = proc.spawn(
                argv, cwd=worktree, env=env, stdout=out, stderr=subprocess.STDOUT, new_session=True
            )
            family = liveness.Family(child.pid)
            if track is not None:
                track.store.write(
                    liveness.Tracked(
                        kind="verify",
                        task=track.task,
                        pid=child.pid,
                        start=process_start(child.pid) or "",
                        worktree=str(worktree),
                        started_at=time.time(),
                        commit=commit,
                        command=command,
                        output=out.name,
                        status=str(status),
                    )
                )
            timed_out = False
            try:
                code = _wait(child, timeout, stop, family)
            except subprocess.TimeoutExpired:
                timed_out = True
                family.stop(_STOP_GRACE)
                code = child.wait()
            except BaseException:  # Ctrl-C or stop: leave nothing running behind us
                family.stop(_STOP_GRACE)
                child.wait()
                raise
            finally:
                family.stop(_STOP_GRACE)  # what it left running in the background
            if track is not None and code > 0:
                code = _from_status(code)
            duration = round(time.monotonic() - started, 3)
            tail = _tail(out)
    finally:
        if track is not None:
            track.store.remove("verify", track.task)
    return VerifyResult(
        commit=commit,
        command=command,
        exit_code=None if (timed_out or code < 0) else code,
        signal=-code if code < 0 else None,
        timed_out=timed_out,
        duration_s=duration,
        output_tail=tail,
        at=now_iso(),
    )


def _wait(
    child: subprocess.Popen[bytes],
    timeout: float | None,
    stop: threading.Event | None,
    family: liveness.Family,
) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        if stop is not None and stop.is_set():
            raise Interrupted("verify was stopped")
        family.track(every=1.0)  # what it starts, so that it can be stopped with it
        step = 0.1 if deadline is None else min(0.1, max(0.0, deadline - time.monotonic()))
        try:
            return child.wait(timeout=step)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                raise


def adopt(
    repo: Repo,
    plan: str,
    rec: liveness.Tracked,
    *,
    root: Path,
    timeout: float | None,
    stop: threading.Event | None = None,
    track: Tracking,
) -> VerifyResult | None:
    """Wait for a verify that an orchestrator now gone started (see Tracking), and read its
    result from its files; None when it cannot be known (it was killed before it wrote its
    exit status): then verify again. Its temporary worktree, if it ran in one, is removed
    afterwards. Stop and timeout end it as run_verify would."""
    family = liveness.Family(rec.pid)
    deadline = None if timeout is None else rec.started_at + timeout
    timed_out = False
    try:
        while rec.alive():
            if stop is not None and stop.is_set():
                family.stop(_STOP_GRACE)
                raise Interrupted("verify was stopped")
            if deadline is not None and time.time() >= deadline:
                timed_out = True
                family.stop(_STOP_GRACE)
                break
            family.track(every=1.0)
            time.sleep(0.1)
        family.stop(_STOP_GRACE)  # what it left running in the background
        try:
            code: int | None = _from_status(int(Path(rec.status).read_text().strip()))
        except (OSError, ValueError):
            code = None
        if code is None and not timed_out:
            return None
        try:
            with Path(rec.output).open("rb") as out:
                tail = _tail(out)
        except OSError:
            tail = ""
        return VerifyResult(
            commit=Oid(rec.commit),
            command=rec.command,
            exit_code=None if (timed_out or code is None or code < 0) else code,
            signal=-code if code is not None and code < 0 else None,
            timed_out=timed_out,
            duration_s=round(max(0.0, time.time() - rec.started_at), 3),
            output_tail=tail,
            at=now_iso(),
        )
    finally:
        track.store.remove("verify", track.task)
        temp = layout.verify_worktree_path(root, plan, track.task)
        if Path(rec.worktree) == temp:
            discard_temp_worktree(
                repo,
                layout.verify_worktree_name(plan, track.task),
                temp,
                f"refs/heads/{layout.verify_branch(plan, track.task)}",
                root,
            )


def last_output_line(path: str) -> str | None:
    """The last non-empty line a running verify printed (secrets masked), for the live view;
    None when it printed nothing yet or its output file is gone."""
    try:
        with Path(path).open("rb") as out:
            lines = [line for line in _tail(out).splitlines() if line.strip()]
    except OSError:
        return None
    return lines[-1].strip() if lines else None


def _tail(out: Any) -> str:
    out.seek(0, os.SEEK_END)
    size = out.tell()
    out.seek(max(0, size - _READ_BYTES))
    data: bytes = out.read()
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > _READ_BYTES and lines:
        lines = lines[1:]  # the first line read is probably cut
    tail = [
        line if len(line) <= _TAIL_LINE_CHARS else line[: _TAIL_LINE_CHARS - 1] + "…"
        for line in lines[-TAIL_LINES:]
    ]
    return secrets.mask("\n".join(tail), secrets.secret_values(os.environ))


def record(repo: Repo, result: VerifyResult, plan: str, task: str) -> VerifyResult:
    """Keep result as the note on the verified commit in refs/notes/po-verify (replacing an
    earlier result for that commit), and a pass on the commit's tree as well, for
    `passed_on_same_tree`. Returns the result as stored."""
    stored = replace(result, plan=plan, task=task)
    repo.set_note(layout.VERIFY_NOTES_REF, stored.commit, stored.to_toml())
    if stored.passed:
        tree = repo.tree_of(stored.commit)
        repo.set_note(layout.VERIFY_NOTES_REF, tree, stored.to_toml())
        if stored.reused_from is None:
            _remember_pass(repo, tree, stored.command)
    return stored


# Notes travel with fetches, so a pass noted in refs/notes/po-verify may have been written by
# anyone who can push. A pass is reused only when it ran on this machine: each one is also kept
# in a local file (never in a ref) as "<tree> <sha256 of the command>".
def _passes_file(repo: Repo) -> Path:
    return layout.private_dir(repo.common_dir) / "verified-here"


def _pass_key(tree: Oid, command: str) -> str:
    return f"{tree} {hashlib.sha256(command.encode()).hexdigest()}"


def _remember_pass(repo: Repo, tree: Oid, command: str) -> None:
    path = _passes_file(repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:  # one short line: appends do not interleave
        f.write(_pass_key(tree, command) + "\n")


def _passed_here(repo: Repo, tree: Oid, command: str) -> bool:
    try:
        lines = _passes_file(repo).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return _pass_key(tree, command) in lines


def passed_on_same_tree(
    repo: Repo, commit: Oid, command: str, *, also: Sequence[Oid] = ()
) -> VerifyResult | None:
    """A pass of command on commit's exact tree: noted on commit, on the tree, or on one of
    also (commits that may have the same tree: noted before passes were noted on trees).
    None when command never passed on that tree, or its pass did not run on this machine (a note
    fetched from elsewhere is shown, never trusted to skip a verify)."""
    tree = repo.tree_of(commit)
    if not _passed_here(repo, tree, command):
        return None
    places = [commit, tree, *(c for c in also if c != commit and repo.tree_of(c) == tree)]
    for place in places:
        found = latest(repo, place)
        if found is not None and found.passed and found.command == command:
            return found
    return None


def reuse(repo: Repo, found: VerifyResult, commit: Oid, plan: str, task: str) -> VerifyResult:
    """Note on commit that found, a pass on a commit with the same tree, holds for it: nothing
    is run. Returns the result as stored (reused_from names the commit where it ran)."""
    if found.commit == commit:
        return found if found.reused_from else replace(found, reused_from=commit)
    stored = replace(
        found,
        commit=commit,
        plan=plan,
        task=task,
        duration_s=0.0,
        at=now_iso(),
        reused_from=found.reused_from or found.commit,
    )
    repo.set_note(layout.VERIFY_NOTES_REF, commit, stored.to_toml())
    return stored


def latest(repo: Repo, commit: Oid) -> VerifyResult | None:
    """The verify result noted on commit, if any (None when absent or unreadable)."""
    text = repo.read_note(layout.VERIFY_NOTES_REF, commit)
    if text is None:
        return None
    try:
        return VerifyResult.from_toml(text)
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError):
        return None


def run_in_temp_worktree(
    repo: Repo,
    plan: str,
    label: str,
    commit: Oid,
    command: str,
    *,
    root: Path,
    timeout: float | None = None,
    stop: threading.Event | None = None,
    track: Tracking | None = None,
) -> VerifyResult:
    """Verify commit in a temporary worktree (branch po/<plan>/verify+<label>, under root),
    removed again afterwards whatever happens. Nothing in it is work: it only ever holds a
    checkout of commit and what the command leaves behind."""
    branch = layout.verify_branch(plan, label)
    ref = f"refs/heads/{branch}"
    name = layout.verify_worktree_name(plan, label)
    path = layout.verify_worktree_path(root, plan, label)
    discard_temp_worktree(repo, name, path, ref, root)
    repo.create_ref(ref, commit, f"po: verify {commit[:12]}")
    try:
        repo.add_worktree(name, path, branch)
        return run_verify(repo, path, commit, command, timeout=timeout, stop=stop, track=track)
    finally:
        discard_temp_worktree(repo, name, path, ref, root)


def discard_temp_worktree(repo: Repo, name: str, path: Path, ref: str, root: Path) -> None:
    """Remove a verify worktree and its branch (left over by a crash, or done with)."""
    if path.exists() or name in repo.worktree_names():
        worktrees.remove_worktree(repo, name, path, root)
    tip = repo.read_ref(ref)
    if tip is not None:
        with contextlib.suppress(RefRace):
            repo.delete_ref(ref, tip)
