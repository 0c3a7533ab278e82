"""`git po plan draft` and `git po plan check` against a repository: read the documents and the
tree, draft, optionally refine with the agent, validate, write. Never prints or exits."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from git_po import config, proc
from git_po.agents import profile
from git_po.drafting import refine, render
from git_po.drafting.check import collisions as collisions
from git_po.drafting.grouping import slug
from git_po.drafting.model import Draft, make_draft
from git_po.errors import AgentMissing, PlanError, StateConflict, UsageError
from git_po.plan import DEFAULT_MAX_WORKERS, Plan, load_plan_file, parse_plan
from git_po.repo import Repo

AGENT_TIMEOUT = 600.0


@dataclass(frozen=True)
class Drafted:
    draft: Draft
    path: Path
    text: str
    warnings: tuple[str, ...]


def repo_tree(repo: Repo) -> frozenset[str]:
    """Paths of the files at HEAD (none in a repository without commits)."""
    head = repo.resolve("HEAD")
    return frozenset(repo.tree_paths(head)) if head is not None else frozenset()


def read_documents(paths: list[Path]) -> list[tuple[str, str]]:
    docs: list[tuple[str, str]] = []
    for p in paths:
        try:
            docs.append((str(p), p.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise UsageError(f"document {str(p)!r} not found") from None
        except IsADirectoryError:
            raise UsageError(f"{str(p)!r} is a folder, not a document") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read document {str(p)!r}: {exc}") from None
    return docs


def validate(text: str, path: Path) -> Plan:
    """The drafted text through git po's own plan validation."""
    return parse_plan(text, str(path), lambda rel: None, default_name=path.stem)


def _ask_agent(
    repo: Repo, draft: Draft, docs: list[tuple[str, str]], claude_path: str | None
) -> str:
    prof = profile("claude", claude_path=claude_path or config.claude_path(repo))
    exe = prof.executable()
    if exe is None:
        raise AgentMissing(
            "the claude executable was not found",
            hint="install Claude Code, point --claude or git config po.claudePath at it, "
            "or draft without --agent",
        )
    text = refine.prompt(draft, docs)
    argv = [exe, "-p", "--output-format", "json"]
    model = repo.config("po.model")
    if model:
        argv += ["--model", model]
    timeout = config.seconds(repo, "po.timeout", AGENT_TIMEOUT) or AGENT_TIMEOUT
    with tempfile.TemporaryFile() as stdin:
        stdin.write(text.encode())
        stdin.seek(0)
        cwd = repo.main_workdir()
        child = proc.spawn(
            argv,
            cwd=cwd,
            env=proc.child_env(),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            new_session=False,
        )
        try:
            out, _err = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise ValueError(f"the agent did not answer within {timeout:g}s") from None
    if child.returncode != 0 and not out.strip():
        raise ValueError(f"the agent exited with status {child.returncode}")
    return refine.result_text(out)


def draft_plan(
    repo: Repo,
    documents: list[Path],
    output: Path,
    *,
    workers: int | None,
    force: bool,
    agent: bool,
    claude_path: str | None,
) -> Drafted:
    """Draft a plan from documents and write it to output (refusing to replace a file unless
    force); with agent, the agent's refinement when it is valid, else the deterministic draft."""
    if output.exists() and not force:
        raise StateConflict(
            f"{output} exists; nothing was written", hint="use --force to overwrite it"
        )
    if output.is_dir():
        raise UsageError(f"{output} is a folder; name a plan file with -o")
    docs = read_documents(documents)
    tree = repo_tree(repo)
    n = workers or config.max_workers(repo) or DEFAULT_MAX_WORKERS
    name = slug(Path(documents[0]).stem) if documents else "plan"
    draft = make_draft(docs, tree, n, name)
    rel = os.path.relpath(output) if output.is_absolute() else str(output)
    warnings: list[str] = []
    text = render.plan_toml(draft, rel)
    validate(text, output)
    if agent:
        try:
            answer = _ask_agent(repo, draft, docs, claude_path)
            refined = draft.refined(
                refine.apply(draft, answer, tree), "prompts refined by the agent"
            )
            refined_text = render.plan_toml(refined, rel)
            validate(refined_text, output)
            draft, text = refined, refined_text
        except PlanError as exc:
            warnings.append(
                f"the agent's plan is not valid ({exc.problems[0].message}); "
                "wrote the deterministic draft instead"
            )
        except (ValueError, OSError) as exc:
            warnings.append(
                f"the agent's answer could not be used ({exc}); wrote the deterministic "
                "draft instead"
            )
    _write(output, text, force)
    return Drafted(draft, output, text, tuple(warnings))


def _write(path: Path, text: str, force: bool) -> None:
    """Write the file whole (a temporary file renamed into place); without force, never
    replace a file that appeared meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if force:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise StateConflict(
                    f"{path} exists; nothing was written", hint="use --force to overwrite it"
                ) from None
            os.unlink(tmp)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_plan(repo: Repo, path: Path) -> tuple[Plan, list[str]]:
    """The validated plan and its likely collisions."""
    plan = load_plan_file(path, fallbacks=config.plan_fallbacks(repo))
    return plan, collisions(plan, repo_tree(repo))
