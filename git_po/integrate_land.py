"""`git po integrate --into BRANCH`: advance BRANCH to the integration result, a fast-forward
when possible, else a merge commit (verified first when the plan sets `verify`), by
compare-and-swap; a checkout of BRANCH is updated with it when clean, and nothing changes when
it is not.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from git_po import config, trust, verify
from git_po.errors import PoError, StateConflict, UsageError
from git_po.integration_branch import (
    advance,
    branch_name,
    dirty_checkout,
    integrated_tasks,
    plan_lock,
)
from git_po.plan import Plan, branch_problem
from git_po.repo import Oid, Repo
from git_po.status import stored_plan
from git_po.verify import VerifyResult


@dataclass(frozen=True)
class Landing:
    branch: str
    before: Oid
    after: Oid
    how: str  # up to date, fast-forward, merge (with "would " in a dry run)
    checkout: Path | None  # the branch is checked out there; its files were (would be) updated
    verify: VerifyResult | None = None


def land(repo: Repo, plan_name: str, source: Oid, into: str, *, dry_run: bool) -> Landing:
    """Advance branch `into` to source (the integration result), compare-and-swap."""
    check_into(repo, plan_name, into)
    plan = stored_plan(repo, plan_name)
    if dry_run:
        return _land(repo, plan, source, into, dry_run=True)
    if plan.verify:
        trust.require_trusted(repo, plan_name)  # verify is the plan's command
    with plan_lock(repo, plan_name):
        repo.relax_object_checks()
        return _land(repo, plan, source, into, dry_run=False)


def check_into(repo: Repo, plan_name: str, into: str) -> None:
    """UsageError unless `into` names an existing branch that --into may move."""
    plan = stored_plan(repo, plan_name)
    why = branch_problem(into)
    if why:
        raise UsageError(f"--into: {why}")
    if into.startswith(f"po/{plan_name}/") or into == branch_name(repo, plan):
        raise UsageError(
            f"--into {into}: git po's own branches of plan {plan_name} are not targets"
        )
    ref = f"refs/heads/{into}"
    if repo.read_ref(ref) is None:
        raise UsageError(f"--into {into}: no such branch", hint=f"create it: git branch {into}")


def _land(repo: Repo, plan: Plan, source: Oid, into: str, *, dry_run: bool) -> Landing:
    ref = f"refs/heads/{into}"
    current = repo.read_ref(ref)
    assert current is not None
    if repo.is_ancestor(source, current):
        return Landing(into, current, current, "up to date", None)
    checkout, dirty = dirty_checkout(repo, ref, current, source)
    if dirty:
        raise StateConflict(
            f"{into} is checked out at {checkout} with uncommitted changes ({dirty}); "
            f"{into} was not changed",
            hint=f"commit or stash them, then run git po integrate --into {into} again",
        )
    if repo.is_ancestor(current, source):
        new, how = source, "fast-forward"
    else:
        integ = branch_name(repo, plan)
        tasks = integrated_tasks(repo, plan.name, source, repo.merge_base(current, source))
        body = f"Tasks: {', '.join(tasks)}\n\n" if tasks else ""
        message = f"Merge {integ} into {into} (plan {plan.name})\n\n{body}Po-Plan: {plan.name}\n"
        merged = repo.merge_pair(current, source, message)
        if not merged.clean:
            files = ", ".join(c.path for c in merged.conflicts)
            raise PoError(
                f"{into} and the integration result conflict in {files}; {into} was not changed",
                hint=f"merge {integ} into {into} yourself",
            )
        assert merged.oid is not None
        new, how = merged.oid, "merge"
    if dry_run:
        return Landing(into, current, new, "would " + how, checkout)
    result: VerifyResult | None = None
    if plan.verify:
        result = verify.passed_on_same_tree(repo, new, plan.verify, also=(source,))
        if result is not None:
            result = verify.reuse(repo, result, new, plan.name, "into")
        else:
            result = verify.run_in_temp_worktree(
                repo, plan.name, "land+into", new, plan.verify, root=config.worktree_root(repo)
            )
            result = verify.record(repo, result, plan.name, "into")
        if not result.passed:
            raise VerifyFailed(result, into)
    advance(repo, ref, current, new, f"po: land plan {plan.name} ({how})")
    return Landing(into, current, new, how, checkout, result)


class VerifyFailed(PoError):
    """The verify command failed on what would have been landed."""

    def __init__(self, result: VerifyResult, into: str) -> None:
        super().__init__(
            f"verify {result.summary()} on {result.commit[:12]}; {into} was not changed\n"
            + textwrap.indent(result.output_tail, "    "),
            hint=f"see it again with: git notes --ref=po-verify show {result.commit[:12]}",
        )
        self.result = result
