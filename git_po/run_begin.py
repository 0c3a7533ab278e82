"""Starting a run (recording the plan, keeping what a finished run left complete) and
resuming one from refs, branches and the workers it left running."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import replace
from pathlib import Path

from git_po import __version__, faults, hookinstall, layout, liveness, rerun, trust
from git_po.errors import ExitCode, PoError, StateConflict
from git_po.local import WorkerRecord
from git_po.plan import Task
from git_po.repo import Oid
from git_po.run_base import TaskView, _RunBase
from git_po.state import RunRecord, State, TaskState, now_iso, parse_iso, read_plan_ref
from git_po.supervisor import adopt
from git_po.worktrees import archive_run, free_run_number, leftovers


class NothingToResume(PoError):
    """Resuming a run that finished, with nothing asked of it: not an error."""

    exit_code = ExitCode.OK


class BeginMixin(_RunBase):
    """How the run loop begins: afresh or where a run left off."""

    # -- starting a run --

    def _begin_start(self) -> None:
        plan = self.plan
        stored = read_plan_ref(self.repo, plan.name)
        root = self.prep.worktree_root
        if stored is not None:
            if stored.run.state != "finished" and not self.options.restart:
                raise StateConflict(
                    f"plan {plan.name!r} has a run that did not finish "
                    f"(run {stored.run.run}, {stored.run.state}, started {stored.run.started_at})",
                    hint=f"continue it with: git po resume {plan.name}; "
                    "or start it over with --restart",
                )
            if not self.options.restart:
                # a finished run: keep what is complete and unchanged, run the rest (like make)
                self.again = rerun.look_back(self.repo, plan, self.prep.base, stored)
            archive_run(
                self.repo,
                plan.name,
                stored.run.run,
                root,
                plan.ids,
                keep=frozenset(self.again.kept) if self.again else frozenset(),
                keep_integration=self.again.integration_stays if self.again else False,
            )
            run_number = stored.run.run + 1
        else:
            left = leftovers(self.repo, plan.name)
            if left:
                if not self.options.restart:
                    raise StateConflict(
                        f"refs of an earlier run of plan {plan.name!r} exist "
                        f"({', '.join(left[:3])}{', ...' if len(left) > 3 else ''})",
                        hint=f"--restart keeps them under refs/po/{plan.name}/runs/ "
                        "and starts over",
                    )
                archive_run(self.repo, plan.name, 1, root, plan.ids)
            run_number = free_run_number(self.repo, plan.name)

        self.record = RunRecord(
            name=plan.name,
            source=plan.source,
            base_rev=plan.base,
            base=self.prep.base,
            state="running",
            started_at=now_iso(),
            max_workers=self.prep.max_workers,
            host=socket.gethostname(),
            pid=os.getpid(),
            version=__version__,
            run=run_number,
        )
        files: dict[str, bytes] = {
            "plan.toml": plan.text.encode(),
            "run.toml": self.record.to_toml().encode(),
        }
        for t in plan.tasks:
            if t.prompt_file:
                files[f"prompts/{t.id}.md"] = t.prompt.encode()
        tasks = len(plan.tasks)
        msg = (
            f"po: start plan {plan.name} (run {run_number}): "
            f"{tasks} task{'s' if tasks != 1 else ''}, "
            f"base {plan.base} {self.prep.base[:12]}, max {self.prep.max_workers} workers\n"
        )
        self.plan_tip = self.repo.commit_files(
            layout.plan_ref(plan.name), files, msg, stored.tip if stored else None, keep_tree=False
        )
        # started from a file by this machine's user: that revision's commands are theirs
        trust.trust(self.repo, plan.name, how=f"git po start {plan.source}", expected=self.plan_tip)
        faults.point("after-plan-write")

        self.hooks = hookinstall.install(self.repo)
        for t in plan.tasks:
            if self.again is not None and t.id in self.again.kept:
                self._keep(t, self.again)
                continue
            st = TaskState(
                plan=plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            waits = ", ".join(t.depends_on) if t.depends_on else "a worker slot"
            self.views[t.id] = TaskView(t.id, State.PENDING)
            self.states[t.id] = self._write(
                st, "pending", f"{t.id}: pending, waits for {waits}\n\nPo-Plan: {plan.name}\n"
            )
            if self.again is not None:
                why = next(c.why for c in self.again.choices if c.task == t.id)
                self.observer.changed(self.views[t.id], f"runs: {why}")

    def _keep(self, task: Task, again: rerun.Rerun) -> None:
        """A complete task the earlier run finished, unchanged: it stays complete, on its
        branch (restored from its recorded tip if the branch was removed)."""
        old = again.states[task.id]
        branch_ref = layout.branch_ref(self.plan.name, task.id)
        tip = old.recorded_tip
        if self.repo.read_ref(branch_ref) is None and tip is not None:
            self.repo.create_ref(
                branch_ref, Oid(tip), f"po: branch of {task.id} restored from its recorded tip"
            )
        self.states[task.id] = rerun.kept_state(old, task, again.after)
        self.views[task.id] = TaskView(
            task.id, State.COMPLETE, attempts=len(old.attempts), cost_usd=old.cost_usd
        )
        self._refresh_branch_view(task.id)
        subject = self.views[task.id].last_subject
        self._record(
            task.id,
            "kept",
            f"kept from run {self.states[task.id].kept_from}: unchanged"
            + (f" — {subject}" if subject else ""),
        )

    # -- resuming a run --

    def _begin_resume(self) -> None:
        plan = self.plan
        stored = self.prep.stored
        assert stored is not None
        if stored.run.state == "finished" and self.inbox.pending() == 0:
            raise NothingToResume(
                f"run {stored.run.run} of plan {plan.name!r} finished; nothing to resume",
                hint=f"git po retry {plan.name}/<task> runs a task again",
            )
        self.record = replace(
            stored.run,
            state="running",
            host=socket.gethostname(),
            pid=os.getpid(),
            ended_at=None,
            summary=None,
        )
        self.plan_tip = self.repo.commit_files(
            layout.plan_ref(plan.name),
            {"run.toml": self.record.to_toml().encode()},
            f"po: resume run {self.record.run} of plan {plan.name}\n",
            stored.tip,
        )
        self.hooks = hookinstall.install(self.repo)
        for t in plan.tasks:
            st = self.store.read(t.id) or TaskState(
                plan=plan.name,
                task=t.id,
                state=State.PENDING,
                branch=layout.branch(plan.name, t.id),
                updated_at=now_iso(),
                agent=t.agent,
            )
            self.states[t.id] = st
            self.views[t.id] = TaskView(
                t.id, st.state, attempts=len(st.attempts), cost_usd=st.cost_usd, reason=st.reason
            )
            self._refresh_branch_view(t.id)
            if st.retry_after:
                when = parse_iso(st.retry_after)
                if when is not None:
                    self.retry_at[t.id] = time.monotonic() + max(0.0, when - time.time())
        for t in plan.tasks:
            st = self.states[t.id]
            if st.state is State.RUNNING:
                self._recover(t, st)
            elif st.state is State.VERIFYING and st.attempts and st.attempts[-1].head_after:
                # adopt its verify if that outlived the orchestrator, else judge it again
                self._resume_verify(t, Oid(st.attempts[-1].head_after))
            elif st.state is State.VERIFYING:
                if st.attempts:
                    st.attempts[-1].outcome = "verify-interrupted"
                self._set(t.id, State.PENDING, "resumed", reason=None)
            elif st.state is State.INTERRUPTED:
                self._set(t.id, State.PENDING, "resumed", reason=None)

    def _recover(self, task: Task, st: TaskState) -> None:
        """A task the dead orchestrator left running: adopt its worker if that still runs,
        else record the attempt as lost and let the task continue."""
        if not st.attempts:
            self._set(task.id, State.PENDING, "resumed", reason=None)
            return
        attempt = st.attempts[-1]
        if (
            self.plan.verify
            and attempt.ended_at
            and attempt.outcome == "complete"
            and attempt.head_after
        ):
            # the dead orchestrator was verifying this attempt's [COMPLETE]
            self._resume_verify(task, Oid(attempt.head_after or ""))
            return
        rec = self.workers_local.read(task.id)
        found: tuple[int, str] | None = None
        if rec is not None and rec.attempt == attempt.number and rec.alive():
            found = (rec.pid, rec.start)
        elif st.worktree:
            found = liveness.find_worker(st.worktree, self.plan.name, task.id)
        worktree = Path(st.worktree) if st.worktree else None
        prof = self.prep.profiles[task.agent]
        transcript = Path(attempt.transcript)
        w = adopt(
            task.id,
            attempt.number,
            pid=found[0] if found else 0,
            start_time=found[1] if found else "",
            transcript=transcript,
            reader=prof.reader(transcript),
            started_wall=parse_iso(attempt.started_at) or time.time(),
            timeout=task.timeout,
            idle_timeout=task.idle_timeout,
            head=self.repo.read_ref(layout.branch_ref(self.plan.name, task.id)),
            plan=self.plan.name,
            worktree=worktree,
        )
        if found is None:
            w.reader.finish()
            if worktree is not None:
                # what the gone worker left running stops before its work is saved
                liveness.Family(
                    0,
                    plan=self.plan.name,
                    task=task.id,
                    worktree=worktree,
                    since=parse_iso(attempt.started_at),
                ).stop(self.prep.grace)
            self._finish(task.id, w, lost=True)
            return
        attempt.adopted = True
        attempt.pid = found[0]
        self.workers[task.id] = w
        self.workers_local.write(
            WorkerRecord(
                task=task.id,
                attempt=attempt.number,
                pid=found[0],
                start=found[1],
                transcript=str(transcript),
                started_at=attempt.started_at,
                head_before=attempt.head_before,
            )
        )
        self.views[task.id].started = w.started_wall
        self._record(task.id, "adopted", f"attempt {attempt.number} adopted (pid {found[0]})")
