"""The verify gate: [COMPLETE] counts only once the plan's verify command passes."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from git_po import liveness, verify
from git_po.errors import Interrupted
from git_po.plan import Task
from git_po.repo import Oid
from git_po.run_base import _RunBase
from git_po.state import State


class VerifyMixin(_RunBase):
    """How the run loop runs the verify gate."""

    # -- the verify gate --

    def _start_verify(self, task: Task, commit: Oid, detail: Mapping[str, object]) -> None:
        """[COMPLETE] counts only once the plan's verify command passes on that commit. It runs
        in a thread (the loop keeps watching the other workers), in the task's worktree when
        that is clean, else in a temporary worktree of the same commit."""
        command = self.plan.verify
        assert command is not None
        st = self.states[task.id]
        path = Path(st.worktree) if st.worktree else None
        clean = (
            path is not None
            and path.is_dir()
            and self.repo.worktree_head(path) == commit
            and not self.repo.worktree_changes(path)
        )
        box: dict[str, object] = {}
        timeout = task.timeout or 3600.0
        # the thread gets its own handle: a pygit2 repository is not for two threads at once
        repo, plan, root = self.repo.reopen(), self.plan.name, self.prep.worktree_root
        stop = self.stop  # Ctrl-C stops the verify command too
        track = verify.Tracking(liveness.TrackedStore(self.repo, plan), plan, task.id)

        def work() -> None:
            try:
                if clean:
                    assert path is not None
                    box["result"] = verify.run_verify(
                        repo, path, commit, command, timeout=timeout, stop=stop, track=track
                    )
                else:
                    box["result"] = verify.run_in_temp_worktree(
                        repo,
                        plan,
                        task.id,
                        commit,
                        command,
                        root=root,
                        timeout=timeout,
                        stop=stop,
                        track=track,
                    )
            except Exception as exc:
                box["error"] = exc

        # recorded before the verdict, so `status` anywhere shows the task verifying, and
        # before the command starts, so a resumed run looks for it
        self.states[task.id] = replace(self.states[task.id], state=State.VERIFYING, reason=None)
        self._record(
            task.id, "verifying", f"verifying {commit[:12]}: {command}", detail=dict(detail)
        )
        thread = threading.Thread(target=work, name=f"verify-{task.id}", daemon=True)
        thread.start()
        self.verifying[task.id] = (thread, box, commit)

    def _show_verify_progress(self, tid: str) -> None:
        """The live view's note of a verifying task: the last line its command printed."""
        rec = liveness.TrackedStore(self.repo, self.plan.name).read("verify", tid)
        line = verify.last_output_line(rec.output) if rec is not None and rec.output else None
        self.views[tid].activity = f"verify: {line}" if line else None  # drawn on the next tick

    def _resume_verify(self, task: Task, commit: Oid) -> None:
        """Adopt the verify a dead orchestrator started, if it still runs or left its result;
        else verify again. Never two at once."""
        store = liveness.TrackedStore(self.repo, self.plan.name)
        track = verify.Tracking(store, self.plan.name, task.id)
        rec = store.read("verify", task.id)
        if rec is None:
            found = liveness.find_verify(self.plan.name, task.id)
            if found is not None:  # started just before its orchestrator died
                rec = liveness.Tracked(
                    kind="verify",
                    task=task.id,
                    pid=found[0],
                    start=found[1],
                    worktree=found[2],
                    started_at=time.time(),
                    commit=commit,
                    command=self.plan.verify or "",
                    output=str(store.file("verify", task.id, ".out")),
                    status=str(store.file("verify", task.id, ".status")),
                )
        if rec is None or not (rec.alive() or Path(rec.status).exists()):
            track.store.remove("verify", task.id)
            self._start_verify(task, commit, {})
            return
        box: dict[str, object] = {"again": True}
        repo, plan, root = self.repo.reopen(), self.plan.name, self.prep.worktree_root
        timeout, stop = task.timeout or 3600.0, self.stop

        def work() -> None:
            try:
                found = verify.adopt(
                    repo, plan, rec, root=root, timeout=timeout, stop=stop, track=track
                )
                if found is not None:
                    box.pop("again")
                    box["result"] = found
            except Exception as exc:
                box.pop("again", None)
                box["error"] = exc

        thread = threading.Thread(target=work, name=f"verify-{task.id}", daemon=True)
        thread.start()
        self.verifying[task.id] = (thread, box, Oid(rec.commit))
        self._record(task.id, "verifying", f"verify of {rec.commit[:12]} adopted (pid {rec.pid})")

    def _poll_verifies(self) -> None:
        for tid, (thread, box, commit) in list(self.verifying.items()):
            if thread.is_alive():
                self._show_verify_progress(tid)
                continue
            del self.verifying[tid]
            self.views[tid].activity = None
            task = self.plan.task(tid)
            st = self.states[tid]
            if box.get("again"):  # an adopted verify whose outcome is unknown
                self._start_verify(task, commit, {})
                continue
            result = box.get("result")
            if isinstance(result, verify.VerifyResult):
                stored = verify.record(self.repo, result, self.plan.name, tid)
                summary = stored.summary()
                passed = stored.passed
                tail = stored.output_tail
                if st.attempts:  # verify time counts in the task's time (`git po report`)
                    a = st.attempts[-1]
                    a.verify_s = round((a.verify_s or 0.0) + stored.duration_s, 3)
            elif isinstance(box.get("error"), Interrupted):
                # stopped by Ctrl-C: verify again when the run is resumed
                if st.attempts:
                    st.attempts[-1].outcome = "verify-interrupted"
                self._set(tid, State.INTERRUPTED, "interrupted", reason="stopped during verify")
                continue
            else:
                summary = f"could not run: {box.get('error')}"
                passed = False
                tail = ""
            detail: dict[str, object] = {"verify": summary, "commit": commit}
            if st.attempts:
                detail["attempt"] = st.attempts[-1].number
            if passed:
                self._set(tid, State.COMPLETE, "complete", detail=detail)
                continue
            if st.attempts:
                st.attempts[-1].outcome = "verify-failed"  # its [COMPLETE] did not hold
                st.attempts[-1].reason = f"verify {summary}"
            streak = len(st.attempts) - st.retries_from
            reason = f"verify {summary}: {self.plan.verify}"
            if tail:  # kept in the state ref, for `git po show` on any clone
                detail["output_tail"] = "\n".join(tail.splitlines()[-verify.SHOW_LINES :])
            if streak <= task.retries and not self.stop.is_set():
                self.states[tid] = replace(
                    st,
                    message=f"Your [COMPLETE] commit {commit[:12]} did not pass the plan's "
                    f"verify command `{self.plan.verify}` ({summary}). Its output ended "
                    f"with:\n\n{tail}\n\nFix it, commit, and commit [COMPLETE] again.",
                )
                self._set(tid, State.PENDING, "verify-failed", reason=reason, detail=detail)
            else:
                self._set(tid, State.FAILED, "verify-failed", reason=reason, detail=detail)
