"""Watching workers and deciding, when one exits, what its attempt came to."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from git_po import attempts, faults, layout, secrets
from git_po.agents.base import TranscriptSummary
from git_po.errors import PoError
from git_po.plan import Task
from git_po.protocol import AUTOSAVE_TRAILER, Kind, Progress, progress_of
from git_po.repo import Oid
from git_po.run_base import _RunBase
from git_po.state import Attempt, State, now_iso
from git_po.supervisor import Worker


class FinishMixin(_RunBase):
    """How the run loop watches workers and takes their end."""

    # -- watching workers --

    def _poll_workers(self) -> None:
        for tid, w in list(self.workers.items()):
            if not w.poll():
                tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
                if tip != w.head_seen and tip is not None:
                    faults.point("mid-attempt")
                w.saw_commit(tip)
                self._note_done(tid, w, tip)
                over = w.overdue()
                if over:
                    w.request_stop(over)
                elif w.done_at is not None and time.monotonic() - w.done_at >= self._linger():
                    # the branch says the attempt is over: do not wait on what it left running
                    w.request_stop("finished")
                w.enforce_grace(self.prep.grace)
                view = self.views[tid]
                view.activity = w.reader.summary.last_text
                if w.reader.summary.cost_usd is not None:
                    view.cost_usd = self.states[tid].cost_usd + w.reader.summary.cost_usd
                self._refresh_branch_view(tid)
                continue
            del self.workers[tid]
            w.stop_group(0.0 if w.killed else self.prep.grace)
            self._finish(tid, w)

    def _linger(self) -> float:
        """How long a worker may go on running after its terminal protocol commit."""
        return max(1.0, 3 * self.prep.grace)

    def _note_done(self, tid: str, w: Worker, tip: Oid | None) -> None:
        """Note when the attempt's own [COMPLETE], [BLOCKED] or [NEEDS] reached the branch (a
        later [CHECKPOINT] means it goes on)."""
        if tip is None or tip == w.done_tip:
            return
        w.done_tip = tip
        prog = self._progress(tid, tip)
        before = Oid(self.states[tid].attempts[-1].head_before)
        ended = (
            prog.kind in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS)
            and prog.latest_oid is not None
            and not (before and self.repo.is_ancestor(Oid(prog.latest_oid), before))
        )
        if not ended:
            w.done_at = None
        elif w.done_at is None:
            w.done_at = time.monotonic()

    def _refresh_branch_view(self, tid: str) -> None:
        tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if tip is None or self._view_tips.get(tid) == tip:
            return
        self._view_tips[tid] = tip
        prog = self._progress(tid, tip)
        view = self.views[tid]
        view.checkpoints = prog.checkpoints
        view.last_subject = prog.last_subject

    def _progress(self, tid: str, tip: Oid) -> Progress:
        base = self.states[tid].base
        hist = self.repo.first_parent_history(tip, Oid(base) if base else None)
        return progress_of([(h.oid, h.message, h.time, h.autosave) for h in hist])

    # -- when a worker exits --

    def _finish(self, tid: str, w: Worker, *, lost: bool = False) -> None:
        plan = self.plan
        task = plan.task(tid)
        st = self.states[tid]
        attempt = st.attempts[-1]
        branch_ref = layout.branch_ref(plan.name, tid)
        path = Path(st.worktree) if st.worktree else None

        tip = self.repo.read_ref(branch_ref)
        prog = self._progress(tid, tip) if tip else None
        saved: Oid | None = None
        wip = layout.wip_ref(plan.name, tid)
        if path is not None and path.is_dir():
            try:
                done = self.repo.reattach_worktree(path, branch_ref, wip)
            except PoError:
                # not a worktree any more (its .git entry is gone): keep its files, as files
                saved = self.repo.snapshot_directory(
                    path,
                    wip,
                    tip,
                    f"po: files left in {tid}'s broken worktree after attempt {attempt.number}\n",
                )
                attempt.reason = "its worktree was broken (no .git); its files are kept in wip"
                path = None
            else:
                if done:
                    attempt.reason = done
                    tip = self.repo.read_ref(branch_ref)
                    prog = self._progress(tid, tip) if tip else None
        if path is not None and path.is_dir():
            terminal = prog is not None and prog.kind in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS)
            trailers = (
                f"{AUTOSAVE_TRAILER}: attempt {attempt.number}\n"
                f"Po-Plan: {plan.name}\nPo-Task: {tid}\n"
            )
            try:
                if terminal:
                    # keep the worker's own last protocol commit at the tip; park leftovers
                    saved = self.repo.save_worktree(
                        path,
                        f"po: uncommitted work left by {tid} after attempt "
                        f"{attempt.number}\n\n{trailers}",
                        snapshot_ref=wip,
                        before_ref_update=lambda: faults.point("during-autosave"),
                    )
                else:
                    saved = self.repo.save_worktree(
                        path,
                        f"[CHECKPOINT] git po: auto-saved uncommitted work of attempt "
                        f"{attempt.number}\n\n{trailers}",
                        before_ref_update=lambda: faults.point("during-autosave"),
                    )
            except (PoError, OSError) as exc:  # never lose the attempt record over this
                attempt.reason = f"could not save uncommitted work: {exc}"
            faults.point("after-autosave")
            tip = self.repo.read_ref(branch_ref)
            prog = self._progress(tid, tip) if tip else None

        secrets.mask_file_in_place(attempt.transcript, self.secret_values)
        secrets.mask_file_in_place(attempt.transcript + ".stderr", self.secret_values)
        s = w.reader.summary
        ended = time.time()
        attempt.ended_at = now_iso()
        attempt.duration_s = round(ended - w.started_wall, 3)
        code = w.exit_code
        if code is not None and code < 0:
            attempt.signal = -code
        elif code is not None:
            attempt.exit_code = code
        _fill(attempt, s)
        if attempt.refused:  # commands are committed to state refs too: never a key in them
            attempt.refused = [
                {k: secrets.mask(v, self.secret_values) for k, v in c.items()}
                for c in attempt.refused
            ]
        attempt.head_after = str(tip) if tip else None
        attempt.saved = str(saved) if saved else None
        self._annotate(tid, attempt)

        kind = prog.kind if prog else None
        changed = True  # whether the branch changed any file since the task's base
        if kind is Kind.COMPLETE and s.permission_denials and tip is not None and st.base:
            changed = bool(self.repo.changed_paths(Oid(st.base), tip))
        label = f"{plan.name}/{tid}"
        if lost and kind not in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS):
            verdict = attempts.Verdict("lost", "its orchestrator stopped and the worker is gone")
        elif w.adopted and code is None and kind not in (Kind.COMPLETE, Kind.BLOCKED, Kind.NEEDS):
            verdict = attempts.classify(
                code=0,
                summary=s,
                stop_reason=w.stop_reason,
                kind=kind,
                timeout=w.timeout,
                idle_timeout=w.idle_timeout,
                changed_files=changed,
                task=label,
            )
        else:
            verdict = attempts.classify(
                code=code if code is not None else 0,
                summary=s,
                stop_reason=w.stop_reason,
                kind=kind,
                stderr_tail=_tail(Path(attempt.transcript + ".stderr")),
                timeout=w.timeout,
                idle_timeout=w.idle_timeout,
                changed_files=changed,
                task=label,
            )
        # reasons are committed to state refs, which users push: never a key in them
        verdict = attempts.Verdict(verdict.cls, secrets.mask(verdict.why, self.secret_values))
        if w.stop_reason == "finished" and not attempt.reason:
            attempt.reason = (
                f"still running {self._linger():g}s after its "
                f"{f'[{kind.name}]' if kind else 'last'} commit: stopped, with what it left "
                "running"
            )
        attempt.outcome = verdict.cls
        if verdict.why and not attempt.reason:
            attempt.reason = verdict.why
        self.views[tid].ended = ended
        self.views[tid].cost_usd = st.cost_usd
        detail: dict[str, object] = {
            "attempt": attempt.number,
            "class": verdict.cls,
            "exit_code": attempt.exit_code,
            "signal": attempt.signal,
            "session_id": attempt.session_id,
            "cost_usd": attempt.cost_usd,
            "saved": attempt.saved,
            "permission_denials": attempt.permission_denials or None,
        }
        self._decide(task, verdict, prog, detail)
        self.workers_local.remove(tid)

    def _decide(
        self,
        task: Task,
        verdict: attempts.Verdict,
        prog: Progress | None,
        detail: Mapping[str, object],
    ) -> None:
        tid = task.id
        st = self.states[tid]
        attempt = st.attempts[-1]
        cls = verdict.cls
        if cls == "complete" and self.plan.verify:
            self._start_verify(task, Oid(attempt.head_after or ""), detail)
        elif cls == "complete":
            self._set(tid, State.COMPLETE, "complete", detail=detail)
        elif cls == "blocked":
            assert prog is not None and prog.latest is not None
            self._set(tid, State.BLOCKED, "blocked", reason=prog.latest.reason, detail=detail)
        elif cls == "needs":
            assert prog is not None and prog.latest is not None
            other = prog.latest.needs_task or ""
            other_tip = (
                self.repo.read_ref(layout.branch_ref(self.plan.name, other))
                if other in self.plan.ids
                else None
            )
            self.states[tid] = replace(st, waiting_on=other, waiting_tip=other_tip)
            self._set(tid, State.NEEDS, "needs", reason=prog.latest.detail, detail=detail)
        elif cls == attempts.PAUSED:
            self._set(tid, State.PAUSED, "paused", reason=verdict.why, detail=detail)
        elif cls in (attempts.INTERRUPTED, attempts.STOPPED, attempts.BUDGET):
            self._set(tid, State.INTERRUPTED, cls, reason=verdict.why, detail=detail)
        elif cls == "lost":
            # not the task's fault: continue it, and do not count this attempt
            self.states[tid] = replace(st, retries_from=attempt.number)
            self._set(tid, State.PENDING, "lost", reason=verdict.why, detail=detail)
        elif cls in attempts.RETRYABLE:
            streak = attempt.number - st.retries_from
            budget_left = task.budget_usd is None or st.cost_usd < task.budget_usd
            if streak <= task.retries and budget_left:
                delay = attempts.backoff(streak, self.prep.retry_delay)
                self.retry_at[tid] = time.monotonic() + delay
                self.states[tid] = replace(
                    st, retry_after=_iso_in(delay), message=f"The last attempt ended: {verdict.why}"
                )
                self._set(
                    tid,
                    State.PENDING,
                    "retry",
                    reason=f"retry {streak}/{task.retries} in {delay:.0f}s after {cls}: "
                    f"{verdict.why}",
                    detail=detail,
                )
                if cls in attempts.COOL_DOWN and self.prep.cooldown > 0:
                    self.cooldown_until = max(
                        self.cooldown_until, time.monotonic() + self.prep.cooldown
                    )
                    self.observer.changed(
                        self.views[tid],
                        f"{cls}: no new worker starts for {self.prep.cooldown:.0f}s",
                    )
            else:
                tries = (
                    f" (after {streak} attempt{'s' if streak != 1 else ''})" if streak > 1 else ""
                )
                if not budget_left:
                    tries += f"; not retried: its budget of ${task.budget_usd:.2f} is spent"
                self._set(tid, State.FAILED, cls, reason=verdict.why + tries, detail=detail)
        else:
            self._set(tid, State.FAILED, cls, reason=verdict.why, detail=detail)

    def _annotate(self, tid: str, attempt: Attempt) -> None:
        """Notes on the commits this attempt made: plan, task, attempt, session."""
        if not attempt.head_after or attempt.head_after == attempt.head_before:
            return
        hist = self.repo.first_parent_history(
            Oid(attempt.head_after), Oid(attempt.head_before), limit=500
        )
        lines = [
            f"po-plan: {self.plan.name}",
            f"po-task: {tid}",
            f"po-attempt: {attempt.number}",
            f"po-agent: {attempt.agent}",
        ]
        if attempt.session_id:
            lines.append(f"po-session: {attempt.session_id}")
        text = "\n".join(lines) + "\n"
        for h in hist:
            with contextlib.suppress(Exception):  # notes annotate; a failure loses no work
                self.repo.add_note(h.oid, text)


def _fill(attempt: Attempt, s: TranscriptSummary) -> None:
    attempt.is_error = s.is_error
    attempt.api_error_status = s.api_error_status
    attempt.result_subtype = s.result_subtype
    attempt.session_id = s.session_id or attempt.session_id
    attempt.cost_usd = s.cost_usd
    attempt.input_tokens = s.input_tokens
    attempt.output_tokens = s.output_tokens
    attempt.num_turns = s.num_turns
    attempt.permission_denials = s.permission_denials
    attempt.refused = list(s.refused) or None


def _tail(path: Path, size: int = 4096) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _iso_in(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))
