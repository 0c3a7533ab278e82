"""Recording: every change of a task as a commit on its state ref."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

from git_po.errors import RefLocked
from git_po.run_base import _RunBase
from git_po.state import State, TaskState


class StateMixin(_RunBase):
    """How the run loop records task state."""

    # -- recording --

    def _set(
        self,
        tid: str,
        state: State,
        event: str,
        *,
        reason: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        self.states[tid] = replace(self.states[tid], state=state, reason=reason)
        if state is not State.PENDING:
            self.retry_at.pop(tid, None)
            if self.states[tid].retry_after:
                self.states[tid] = replace(self.states[tid], retry_after=None)
        view = self.views[tid]
        if self.states[tid].base:
            self._refresh_branch_view(tid)
        summary = state.value + (f" — {reason}" if reason else "")
        if state is State.COMPLETE and view.last_subject:
            summary = f"complete — {view.last_subject}"
        self._record(tid, event, summary, detail)

    def _record(
        self,
        tid: str,
        event: str,
        summary: str,
        detail: Mapping[str, object] | None = None,
        *,
        queue: bool = True,
    ) -> None:
        st = self.states[tid]
        msg = (
            f"{tid}: {summary}\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {tid}\nPo-State: {st.state.value}\n"
        )
        self.states[tid] = self._write(st, event, msg, detail, queue=queue)
        view = self.views[tid]
        view.state = st.state
        view.reason = st.reason or self.lock_notes.get(tid)
        view.attempts = len(st.attempts)
        self.observer.changed(view, summary)

    def _write(
        self,
        st: TaskState,
        event: str,
        msg: str,
        detail: Mapping[str, object] | None = None,
        *,
        queue: bool = True,
    ) -> TaskState:
        """Write a state change on the task's ref. While that ref's lock file stays (a writer
        died holding it), keep the change, in order, and say what to remove: only this task
        waits. With queue=False (an attempt about to start) RefLocked is raised instead."""
        tid = st.task
        queued = self.unrecorded.get(tid)
        if queued is None:
            try:
                return self.store.write(st, event, msg, detail)
            except RefLocked as exc:
                if not queue:
                    raise
                queued = self.unrecorded[tid] = []
                self._tell_locked(tid, exc)
        elif not queue:
            self._flush_unrecorded(force=True)
            if tid not in self.unrecorded:
                return self.store.write(st, event, msg, detail)
            self.store.write(st, event, msg, detail)  # raises RefLocked while it stays
        queued.append((st, event, msg, detail))
        return st

    def _flush_unrecorded(self, *, force: bool = False) -> None:
        """Write the kept state changes of tasks whose ref was locked (about once a second)."""
        if not self.unrecorded or (not force and time.monotonic() < self._flush_after):
            return
        self._flush_after = time.monotonic() + 1.0
        for tid, queued in list(self.unrecorded.items()):
            while queued:
                st, event, msg, detail = queued[0]
                try:
                    self.store.write(st, event, msg, detail)
                except RefLocked:
                    break
                queued.pop(0)
            if not queued:
                del self.unrecorded[tid]
                self.lock_notes.pop(tid, None)
                self.views[tid].reason = self.states[tid].reason
                self.observer.changed(self.views[tid], "its state ref is free again; recorded")

    def _tell_locked(self, tid: str, exc: RefLocked) -> None:
        if exc.lock in self._locks_told:
            return
        self._locks_told.add(exc.lock)
        self.lock_notes[tid] = f"waits: {exc.message}; {exc.hint}"
        self.views[tid].reason = self.lock_notes[tid]
        self.observer.changed(self.views[tid], self.lock_notes[tid])
