"""NEEDS delivered by merging the other task's branch, the inbox, and budgets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from git_po import layout
from git_po.errors import PoError
from git_po.local import Message, attached_pid
from git_po.protocol import AUTOSAVE_TRAILER, Kind, parse_subject
from git_po.repo import Oid
from git_po.run_base import _RunBase
from git_po.state import State


class NeedsMixin(_RunBase):
    """How the run loop delivers NEEDS, takes the inbox and keeps budgets."""

    # -- NEEDS, the inbox, budgets --

    def _deliver_needs(self) -> None:
        waiting = {
            tid: st for tid, st in self.states.items() if st.state is State.NEEDS and st.waiting_on
        }
        if not waiting:
            return
        for tid, st in waiting.items():
            other = st.waiting_on
            assert other is not None
            if other == tid:
                self._set(tid, State.BLOCKED, "blocked", reason=f"needs itself ({st.reason})")
                continue
            if other not in self.plan.ids:
                self._set(tid, State.BLOCKED, "blocked", reason=f"needs unknown task {other!r}")
                continue
            if self.plan.graph.reaches(tid, other):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} depends on {tid}",
                )
                continue
            if attached_pid(self.repo, self.plan.name, tid) is not None:
                continue  # someone is at work in that worktree: deliver afterwards
            otip = self.repo.read_ref(layout.branch_ref(self.plan.name, other))
            ost = self.states[other]
            mine = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
            if otip is not None and self._arrived(tid, other, otip, st.waiting_tip):
                try:
                    self._deliver(tid, other, otip)
                except PoError as exc:
                    self._set(
                        tid, State.BLOCKED, "blocked", reason=f"could not deliver {other}: {exc}"
                    )
            elif (
                ost.state is State.COMPLETE
                and otip is not None
                and mine is not None
                and self.repo.is_ancestor(otip, mine)
            ):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} is complete and all its work is "
                    "already on this branch",
                )
            elif ost.state in (State.FAILED, State.SKIPPED, State.INTERRUPTED):
                self._set(
                    tid,
                    State.BLOCKED,
                    "blocked",
                    reason=f"needs {st.reason}, but {other} is {ost.state.value}",
                )
        # NEEDS that wait on each other can never be met
        for tid in list(waiting):
            cycle = [tid]
            cur = self.states[tid]
            while cur.state is State.NEEDS and cur.waiting_on and cur.waiting_on not in cycle:
                cycle.append(cur.waiting_on)
                cur = self.states[cur.waiting_on]
            if cur.state is State.NEEDS and cur.waiting_on == tid:
                path = " -> ".join([*cycle, tid])
                for member in cycle:
                    self._set(member, State.BLOCKED, "blocked", reason=f"NEEDS cycle: {path}")

    def _arrived(self, tid: str, other: str, otip: Oid, seen: str | None) -> bool:
        """Whether `other` has something this branch lacks: it is complete, or it made
        protocol progress since the wait began."""
        mine = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if mine is not None and self.repo.is_ancestor(otip, mine):
            return False
        if self.states[other].state is State.COMPLETE:
            return True
        if seen is not None and otip == seen:
            return False
        base = self.states[other].base
        stop = Oid(seen) if seen else (Oid(base) if base else None)
        for h in self.repo.first_parent_history(otip, stop, limit=200):
            if h.autosave:
                continue  # git po's own saves are not the other task's progress
            rep = parse_subject(h.message.splitlines()[0] if h.message else "")
            if rep is not None and rep.kind in (Kind.CHECKPOINT, Kind.COMPLETE):
                return True
        return False

    def _deliver(self, tid: str, other: str, otip: Oid) -> None:
        st = self.states[tid]
        branch_ref = layout.branch_ref(self.plan.name, tid)
        path = Path(st.worktree) if st.worktree else None
        if path is not None and path.is_dir():
            self.repo.save_worktree(
                path,
                f"[CHECKPOINT] git po: auto-saved before {other}'s work was merged in\n\n"
                f"{AUTOSAVE_TRAILER}: delivery\nPo-Plan: {self.plan.name}\nPo-Task: {tid}\n",
            )
        res = self.repo.merge_into_branch(
            branch_ref,
            otip,
            f"po: merge {other} into {tid} for [NEEDS:{st.reason}]\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {tid}\nPo-Needs: {other}\n",
        )
        if res.oid is None:
            self._set(
                tid,
                State.BLOCKED,
                "blocked",
                reason=f"what {other} committed conflicts with this branch in "
                f"{', '.join(res.conflicts)}",
            )
            return
        if path is not None and path.is_dir():
            self.repo.sync_worktree(path)
        base = self.states[other].base
        subjects = self._protocol_subjects(other, otip, Oid(st.waiting_tip or base or otip))
        arrived = "\n".join(f"- {s}" for s in subjects[-10:]) or "- (their latest commits)"
        self.states[tid] = replace(
            st,
            waiting_on=None,
            waiting_tip=None,
            retries_from=len(st.attempts),
            message=f"What you needed from `{other}` ({st.reason}) arrived and is merged into "
            f"your branch:\n\n{arrived}",
        )
        self._set(tid, State.PENDING, "delivered", reason=None, detail={"from": other, "tip": otip})

    def _take_inbox(self) -> None:
        for msg in self.inbox.take():
            if msg.task not in self.states:
                continue
            self._apply(msg)

    def _apply(self, msg: Message) -> None:
        tid = msg.task
        st = self.states[tid]
        if msg.command == "answer" and st.state in (State.BLOCKED, State.NEEDS):
            self.states[tid] = replace(
                st,
                retries_from=len(st.attempts),
                waiting_on=None,
                waiting_tip=None,
                message=f"A person answered ({st.state.value}: {st.reason}):\n\n{msg.text}",
            )
            self._set(tid, State.PENDING, "answered", reason=None, detail={"answer": msg.text})
        elif msg.command == "retry" and st.state not in (State.RUNNING, State.VERIFYING):
            self.retry_at.pop(tid, None)
            note = f"A person asked to run the task again (it was {st.state.value}"
            note += f": {st.reason})." if st.reason else ")."
            if msg.text:
                note += f"\n\n{msg.text}"
            self.states[tid] = replace(
                st, retries_from=len(st.attempts), waiting_on=None, waiting_tip=None, message=note
            )
            self._set(tid, State.PENDING, "retry-requested", reason=None)
            for other, ost in self.states.items():
                if ost.state is State.SKIPPED:
                    self._set(other, State.PENDING, "unskipped", reason=None)
        elif msg.command == "stop":
            w = self.workers.get(tid)
            if w is not None:
                w.request_stop("stopped")
            elif st.state is State.PENDING:
                self._set(tid, State.INTERRUPTED, "stopped", reason="stopped with git po stop")
        elif msg.command == "pause":
            w = self.workers.get(tid)
            if w is not None:
                w.request_stop("paused")  # its work is saved; the attempt ends as paused
            elif st.state in (State.PENDING, State.INTERRUPTED):
                self._set(tid, State.PAUSED, "paused", reason="paused with git po pause")
        elif msg.command == "unpause" and st.state is State.PAUSED:
            self.states[tid] = replace(
                st,
                retries_from=len(st.attempts),
                message="A person paused this task and has now resumed it; go on where you "
                "left off.",
            )
            self._set(tid, State.PENDING, "unpaused", reason=None)

    def _check_budget(self) -> None:
        limit = self.plan.budget_usd
        if limit is None:
            return
        spent = sum(s.cost_usd for s in self.states.values())
        spent += sum(w.reader.summary.cost_usd or 0.0 for w in self.workers.values())
        if spent >= limit and not self.budget_spent:
            self.budget_spent = True
            for w in self.workers.values():
                w.request_stop("budget")
        if self.budget_spent:
            # also tasks that became pending since (a retry, an answer, a delivery)
            for tid, st in self.states.items():
                if st.state is State.PENDING:
                    self._set(
                        tid,
                        State.INTERRUPTED,
                        "budget",
                        reason=f"plan budget ${limit:.2f} spent (${spent:.2f})",
                    )
