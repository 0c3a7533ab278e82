"""What `git po integrate` prints: the report of a run, its hint, a landing, a resolution."""

from __future__ import annotations

from git_po.integrate import Kind, Report
from git_po.integrate_land import Landing
from git_po.integrate_resolve import Resolution


def report_text(report: Report) -> str:
    head = report.before[:12] if report.before else f"new, from the plan's base {report.start[:12]}"
    lines = [f"plan {report.plan}: integrating into {report.branch} ({head})"]
    waiting: list[str] = []
    for s in report.steps:
        if s.kind is Kind.NOT_COMPLETE and not s.named:
            waiting.append(f"{s.task} ({s.detail})")
            continue
        text = f"  {s.task}: {s.kind.value}"
        if s.commit and s.kind in (
            Kind.MERGED,
            Kind.RESOLVED,
            Kind.WOULD_MERGE,
            Kind.WOULD_RESOLVE,
        ):
            text += f" {s.commit[:12]}"
        if s.kind is Kind.SET_ASIDE:
            text += f" ({s.why_held()})"
        if s.subject and s.kind is not Kind.ALREADY:
            text += f" — {s.subject}"
        if s.kind is Kind.NOT_COMPLETE and s.detail:
            text += f" (it is {s.detail})"
        lines.append(text)
        if s.verify is not None:
            lines.append(f"      verify {s.verify.summary()}: {s.verify.command}")
            if not s.verify.passed and s.verify.output_tail:
                lines.append(indent(indent(s.verify.output_tail)))
        if s.kind is Kind.CONFLICT:
            n = len(s.clashes)
            lines.append(f"      {n} conflicting file{'s' if n != 1 else ''}:")
            width = max(len(c.path) for c in s.clashes) if s.clashes else 0
            for c in s.clashes:
                lines.append(f"        {c.path.ljust(width)}  {c.describe()}")
        if s.detail and s.kind not in (Kind.NOT_COMPLETE,):
            lines.append(f"      {s.detail}")
    if waiting:
        lines.append(f"  not complete, left for later: {', '.join(waiting)}")
    if report.dry_run:
        lines.append("dry run: no branch moved, no file touched")
    elif report.after != report.before:
        assert report.after is not None
        lines.append(f"{report.branch} is now at {report.after[:12]}")
        if report.updated_checkout is not None:
            lines.append(f"(its checkout at {report.updated_checkout} was updated)")
    elif report.after is None:
        nothing = "nothing merged" if report.held else "nothing to integrate"
        lines.append(f"{report.branch} does not exist yet: {nothing}")
    else:
        lines.append(f"{report.branch} is unchanged at {report.after[:12]}")
    if report.held:
        held = ", ".join(f"{s.task} ({s.why_held()})" for s in report.held)
        verb = "would be" if report.dry_run else "is"
        lines.append(f"set aside: {held}; every other complete task {verb} integrated")
    return "\n".join(lines)


def report_hint(report: Report) -> str | None:
    """What to do about what was set aside: resolve each conflict, read each failed verify,
    finish each resolution; the next integrate merges them and what depends on them."""
    bad = report.problems
    if not bad:
        return None
    parts: list[str] = []
    conflicts = [s.task for s in bad if s.kind is Kind.CONFLICT]
    if len(conflicts) == 1:
        parts.append(
            f"nothing was half-merged; resolve it with: git po integrate {report.plan} "
            f"--resolve {conflicts[0]}   (add --agent to have claude do it)"
        )
    elif conflicts:
        parts.append(
            f"nothing was half-merged; resolve each with: git po integrate {report.plan} "
            f"--resolve TASK (add --agent to have claude do it), for {', '.join(conflicts)}"
        )
    for s in bad:
        if s.kind is Kind.VERIFY_FAILED:
            assert s.commit is not None
            parts.append(
                f"the merge of {s.task} did not pass verify; the result is noted: "
                f"git notes --ref=po-verify show {s.commit[:12]}"
            )
    unfinished = [s.task for s in bad if s.kind is Kind.UNFINISHED]
    if unfinished:
        parts.append(f"finish the resolution of {', '.join(unfinished)}")
    parts.append("then git po integrate merges what was set aside")
    return "; ".join(parts)


def landing_text(landing: Landing) -> str:
    if landing.how == "up to date":
        return f"{landing.branch} already contains the integration result"
    text = f"{landing.branch}: {landing.how} {landing.before[:12]} -> {landing.after[:12]}"
    if landing.verify is not None:
        text += f" (verify {landing.verify.summary()})"
    if landing.checkout is not None:
        verb = "would be" if landing.how.startswith("would") else "were"
        text += f"\nthe files of its checkout at {landing.checkout} {verb} updated too"
    return text


def resolution_text(res: Resolution, plan: str) -> str:
    if res.state == "integrated":
        return f"{res.task} is already integrated: nothing to resolve"
    if res.state == "merges cleanly":
        return f"{res.task} merges cleanly: run git po integrate {plan}"
    if res.state == "committed":
        return (
            f"a resolution of {res.task} is committed on {res.branch}: "
            f"git po integrate {plan} picks it up"
        )
    lines = []
    verb = "prepared" if res.state != "already prepared" else "already prepared"
    lines.append(f"{verb}: the merge of {res.task} with its conflicts, at {res.worktree}")
    lines.append(f"  branch {res.branch}")
    for c in res.clashes:
        lines.append(f"  conflict: {c.path} — {c.describe()}")
    if res.agent is not None:
        a = res.agent
        how = "timed out" if a.timed_out else f"exited {a.exit_code}"
        cost = f", ${a.cost_usd:.2f}" if a.cost_usd else ""
        lines.append(f"claude {how} (session {a.session_id or '-'}{cost}; {a.transcript})")
    if res.state == "resolved":
        lines.append(f"resolved and committed on {res.branch}: run git po integrate {plan}")
    else:
        lines.append(
            f"resolve the files there, then git add and git commit; "
            f"git po integrate {plan} picks the resolution up"
        )
    return "\n".join(lines)


def indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in text.splitlines())
