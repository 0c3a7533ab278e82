"""Starting a task's attempt: its worktree, base, prompt, environment and worker."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from git_po import attempts, faults, hookinstall, layout, prompts, rerun
from git_po.errors import RefLocked
from git_po.local import WorkerRecord
from git_po.plan import Task
from git_po.proc import child_env
from git_po.protocol import parse_subject
from git_po.repo import Oid
from git_po.run_base import _RunBase
from git_po.state import Attempt, State, TaskState, now_iso
from git_po.supervisor import start as start_worker
from git_po.worktrees import prepare_root, remove_worktree


class LaunchMixin(_RunBase):
    """How the run loop starts an attempt."""

    def _launch(self, task: Task) -> None:
        plan = self.plan
        st = self.states[task.id]
        branch = layout.branch(plan.name, task.id)
        branch_ref = layout.branch_ref(plan.name, task.id)
        wname = layout.worktree_name(plan.name, task.id)
        path = layout.worktree_path(self.prep.worktree_root, plan.name, task.id)
        if st.worktree and Path(st.worktree) != path and Path(st.worktree).is_dir():
            path = Path(st.worktree)  # where an earlier attempt ran (the session lives there)

        spent = st.cost_usd
        if task.budget_usd is not None and spent >= task.budget_usd:
            self._set(
                task.id,
                State.FAILED,
                "failed",
                reason=f"task budget ${task.budget_usd:.2f} spent (${spent:.2f})",
            )
            return

        head = self.repo.read_ref(branch_ref)
        if head is None and st.recorded_tip is not None:
            # an earlier attempt's branch was removed (git po clean --branches): its work is
            # the tip the state recorded; go on from there, never from the base
            problem = rerun.restore_problem(self.repo, st)
            if problem:
                self._set(task.id, State.FAILED, "failed", reason=problem)
                return
            head = Oid(st.recorded_tip)
            self.repo.create_ref(
                branch_ref, head, f"po: branch of {task.id} restored from its recorded tip"
            )
        last = st.attempts[-1] if st.attempts else None
        if (
            self.plan.verify
            and last is not None
            and last.outcome == "verify-interrupted"
            and head is not None
            and last.head_after == head
        ):
            # its [COMPLETE] was never judged (the run stopped during verify): judge it now
            self.states[task.id] = replace(st, state=State.RUNNING, reason=None)
            self._start_verify(task, head, {})
            return
        if head is None:
            base = self._base_for(task)
            if base is None:
                return  # failed and recorded
            base_ref = layout.base_ref(plan.name, task.id)
            if self.repo.read_ref(base_ref) is None:
                self.repo.create_ref(base_ref, base, f"po: base of {task.id}")
            self.repo.create_ref(branch_ref, base, f"po: branch for task {task.id}")
            head = base
            faults.point("before-worktree")
        else:
            base = (
                Oid(st.base)
                if st.base
                else self.repo.read_ref(layout.base_ref(plan.name, task.id)) or head
            )
        if path.is_dir() and self.repo.worktree_head(path) is None:
            # a directory that is no worktree any more: keep its files, then make it again
            self.repo.snapshot_directory(
                path,
                layout.wip_ref(plan.name, task.id),
                head,
                f"po: files of {task.id}'s broken worktree, kept before it was made again\n",
            )
            remove_worktree(self.repo, wname, path, self.prep.worktree_root)
            remove_worktree(self.repo, wname, None, self.prep.worktree_root)
        if not path.is_dir():
            if wname in self.repo.worktree_names():
                # its directory was deleted by hand: drop the stale entry, make it again
                remove_worktree(self.repo, wname, None, self.prep.worktree_root)
            prepare_root(self.prep.worktree_root, self.repo.common_dir)
            # progress: many worktrees made in one pass would leave the live view blank
            self.views[task.id].activity = "creating its worktree"
            self.observer.tick(self._view_list())
            self.repo.add_worktree(wname, path, branch)
            self.views[task.id].activity = None
            faults.point("after-worktree")
        hookinstall.mark_worktree(self.repo, wname, plan, task)

        number = len(st.attempts) + 1
        prof = self.prep.profiles[task.agent]
        transcript = layout.transcript_path(
            self.repo.common_dir, plan.name, task.id, number, prof.transcript_suffix
        )
        resume = self._session_to_resume(task, st, path)
        if st.attempts:
            prompt = prompts.continuation(
                plan,
                task,
                branch,
                attempt=number,
                why=self._why_again(st),
                done=self._protocol_subjects(task.id, head, base),
                message=st.message,
            )
        else:
            deps = [(d, self._complete_subject(d)) for d in task.depends_on]
            prompt = prompts.kickoff(plan, task, branch, deps)
        run_task = task
        if task.budget_usd is not None:
            run_task = replace(task, budget_usd=round(task.budget_usd - spent, 4))
        launch = prof.launch(run_task, prompt, resume, path)
        assert self.hooks is not None
        env = child_env(
            {
                "PO_PLAN": plan.name,
                "PO_TASK": task.id,
                "PO_ATTEMPT": str(number),
                "PO_BRANCH": branch,
                "PO_WORKTREE": str(path),
                **hookinstall.worker_git_env(self.hooks),
            }
        )
        env.pop("GIT_PO_FAULT", None)
        if task.agent == "shell":
            env["PO_PROMPT"] = prompt
        # record the attempt before its process exists: a crash from here on leaves the task
        # `running` in refs, so a resumed orchestrator looks for the process (by its record,
        # else by its environment) instead of starting the same attempt beside it
        started_at = now_iso()
        attempt = Attempt(
            number=number,
            agent=task.agent,
            started_at=started_at,
            head_before=head,
            transcript=str(transcript),
            resumed_session=resume,
        )
        self.retry_at.pop(task.id, None)
        self.states[task.id] = replace(
            st,
            state=State.RUNNING,
            definition=rerun.definition(task),
            base=str(base),
            worktree=str(path),
            reason=None,
            retry_after=None,
            message=None,
            waiting_on=None,
            waiting_tip=None,
            attempts=[*st.attempts, attempt],
        )
        how = f"resuming session {resume[:8]}" if resume else task.agent
        try:
            self._record(
                task.id,
                "running",
                f"starting attempt {number} ({how})",
                detail={"attempt": number, "transcript": str(transcript)},
                queue=False,
            )
        except RefLocked:
            self.states[task.id] = st  # nothing was recorded, so nothing starts
            raise
        try:
            worker = start_worker(
                task.id,
                number,
                launch,
                cwd=path,
                env=env,
                transcript=transcript,
                reader=prof.reader(transcript),
                timeout=task.timeout,
                idle_timeout=task.idle_timeout,
                head=head,
                plan=plan.name,
            )
        except OSError as exc:
            attempt.outcome = attempts.PERMANENT
            attempt.reason = f"could not start: {exc}"
            self._set(task.id, State.FAILED, "failed", reason=f"could not start: {exc}")
            return
        faults.point("after-spawn")
        self.workers_local.write(
            WorkerRecord(
                task=task.id,
                attempt=number,
                pid=worker.pid,
                start=worker.start,
                transcript=str(transcript),
                started_at=started_at,
                head_before=head,
            )
        )
        attempt.pid = worker.pid
        self.workers[task.id] = worker
        view = self.views[task.id]
        view.started = worker.started_wall
        view.ended = None
        view.attempts = number
        self._record(
            task.id,
            "started",
            f"running attempt {number} ({how}, pid {worker.pid})",
            detail={"attempt": number, "pid": worker.pid},
        )

    def _session_to_resume(self, task: Task, st: TaskState, path: Path) -> str | None:
        """The session a later attempt continues: the newest one, unless resuming it already
        failed without a single turn (then start afresh, with the branch as the memory)."""
        prof = self.prep.profiles.get(task.agent)
        if not st.attempts or prof is None or not prof.resumes:
            return None
        last = st.attempts[-1]
        if st.worktree and Path(st.worktree) != path:
            return None  # agents resume a session only from the directory it ran in
        if last.resumed_session and not last.num_turns and last.head_after == last.head_before:
            return None
        return st.session_id

    def _why_again(self, st: TaskState) -> str:
        last = st.attempts[-1]
        if st.message:
            return "there is news for you (below)."
        return f"attempt {last.number} ended: {last.reason or last.outcome or 'unknown'}."

    def _protocol_subjects(self, tid: str, head: Oid, base: Oid) -> list[str]:
        hist = self.repo.first_parent_history(head, base, limit=200)
        subjects = []
        for h in reversed(hist):
            subject = h.message.splitlines()[0] if h.message else ""
            if parse_subject(subject) is not None:
                subjects.append(subject)
        return subjects

    def _complete_subject(self, tid: str) -> str:
        tip = self.repo.read_ref(layout.branch_ref(self.plan.name, tid))
        if tip is None:
            return "(no branch)"
        prog = self._progress(tid, tip)
        return prog.latest_subject or "(no [COMPLETE] commit)"

    def _base_for(self, task: Task) -> Oid | None:
        if not task.depends_on:
            return self.prep.base
        heads: list[Oid] = []
        for d in task.depends_on:
            tip = self.repo.read_ref(layout.branch_ref(self.plan.name, d))
            if tip is None:
                self._set(
                    task.id, State.FAILED, "failed", reason=f"branch of dependency {d} is missing"
                )
                return None
            heads.append(tip)
        result = self.repo.merge_commits(
            heads,
            f"po: base of {self.plan.name}/{task.id}: merge of {', '.join(task.depends_on)}\n\n"
            f"Po-Plan: {self.plan.name}\nPo-Task: {task.id}\n",
        )
        if result.oid is None:
            files = ", ".join(result.conflicts)
            self._set(
                task.id,
                State.FAILED,
                "failed",
                reason=f"conflict merging its dependencies "
                f"({', '.join(task.depends_on)}) in {files}",
            )
            return None
        return result.oid
