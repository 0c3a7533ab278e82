"""The dashboard's HTTP side (Starlette): the page, its JSON API, the live feed (server-sent
events sent when a ref or a running task's transcript changes) and the actions, which call the
same functions as the commands. Every request needs the server's token (a cookie set from the
printed URL, or `Authorization: Bearer T`); every action also needs the page's CSRF token in a
header, a JSON body, and an Origin (when the browser sends one) equal to the page's own."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from git_po import actions, integrate, integrate_text, jsonout, layout, proc, sessions
from git_po.errors import ExitCode, PoError
from git_po.repo import Repo
from git_po.web import data

POLL = 0.2  # seconds between two looks at the refs, server side (the page never polls)
BEAT = 15.0  # a comment line this often keeps proxies from closing the feed
STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
HTTP_STATUS = {
    ExitCode.USAGE: 400,
    ExitCode.CONFLICT: 409,
    ExitCode.NOT_FOUND: 404,
    ExitCode.REPOSITORY: 500,
}


def cookie_name(token: str) -> str:
    """A cookie per server: cookies are not told apart by port."""
    return "gitpo_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def csrf_token(token: str) -> str:
    return hmac.new(token.encode(), b"git-po-csrf", hashlib.sha256).hexdigest()[:32]


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


class Guard:
    """Refuses every request without the token (403), and every state-changing one without
    the CSRF header, a JSON body and a matching Origin (403)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_name(token)
        self.csrf = csrf_token(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        query_token = request.query_params.get("token")
        if scope["path"] == "/" and _same(query_token, self.token):
            # the printed URL: keep the token in a cookie, and take it out of the address bar
            resp: Response = RedirectResponse("/", status_code=303)
            resp.set_cookie(
                self.cookie, self.token, httponly=True, samesite="strict", path="/", max_age=None
            )
            await resp(scope, receive, send)
            return
        if not self._authorised(request):
            resp = PlainTextResponse(
                "git po web: this needs the token of the URL git po web printed\n", 403
            )
            await resp(scope, receive, send)
            return
        if request.method not in ("GET", "HEAD"):
            problem = self._csrf_problem(request)
            if problem:
                await JSONResponse({"error": problem}, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _authorised(self, request: Request) -> bool:
        if _same(request.cookies.get(self.cookie), self.token):
            return True
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and _same(auth[7:], self.token)

    def _csrf_problem(self, request: Request) -> str | None:
        if not _same(request.headers.get("x-po-csrf"), self.csrf):
            return "missing or wrong X-PO-CSRF header"
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return "actions take a JSON body"
        origin = request.headers.get("origin")
        host = request.headers.get("host", "")
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            return f"cross-origin request from {origin} refused"
        return None


class Dashboard:
    """The endpoints, for the repository found at root (opened afresh by each request: a
    repository object is not shared between threads)."""

    def __init__(self, root: Path, token: str) -> None:
        self.root = root
        self.csrf = csrf_token(token)
        self.children: list[subprocess.Popen[bytes]] = []

    def repo(self) -> Repo:
        return Repo.discover(self.root)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Response:
        """fn(repo, *args) in a worker thread, as JSON; an expected failure as its message."""

        def run() -> Any:
            return fn(self.repo(), *args)

        try:
            result = await anyio.to_thread.run_sync(run)
        except PoError as exc:
            return _error(exc)
        return JSONResponse(result)

    # -- pages --

    async def index(self, request: Request) -> Response:
        page = _asset("index.html").decode().replace("{{csrf}}", self.csrf)
        return HTMLResponse(page, headers=_NO_STORE | _CSP)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        suffix = Path(name).suffix
        if "/" in name or suffix not in STATIC_TYPES:
            return PlainTextResponse("not found\n", 404)
        try:
            body = _asset(name)
        except FileNotFoundError:
            return PlainTextResponse("not found\n", 404)
        return Response(body, media_type=STATIC_TYPES[suffix], headers=_NO_STORE)

    # -- reading --

    async def plans(self, request: Request) -> Response:
        return await self.call(data.plans)

    async def plan(self, request: Request) -> Response:
        return await self.call(data.plan_view, request.path_params["plan"])

    async def task(self, request: Request) -> Response:
        p = request.path_params
        return await self.call(data.task_view, p["plan"], p["task"])

    async def log(self, request: Request) -> Response:
        p = request.path_params
        start = _int(request.query_params.get("from"), 0)
        return await self.call(data.log_view, p["plan"], p["task"], start)

    async def sessions(self, request: Request) -> Response:
        hours = request.query_params.get("hours")

        def found(repo: Repo) -> dict[str, Any]:
            h = float(hours) if hours else None
            return {
                "schema_version": jsonout.SCHEMA_VERSION,
                "sessions": [s.to_json() for s in sessions.list_sessions(repo, hours=h)],
            }

        return await self.call(found)

    async def events(self, request: Request) -> Response:
        """The live feed: `refs` when a ref of a plan moved (data: the plans), `log` when a
        running task's transcript grew (data: plan/task). ?timeout=S ends it after S seconds."""
        limit = _float(request.query_params.get("timeout"), None)
        return StreamingResponse(
            self._feed(request, limit),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def _feed(self, request: Request, limit: float | None) -> AsyncIterator[str]:
        repo = await anyio.to_thread.run_sync(self.repo)
        refs, running = await anyio.to_thread.run_sync(data.watch_keys, repo)
        sizes = {k: _size(p) for k, p in running.items()}
        yield "retry: 2000\nevent: hello\ndata: {}\n\n"
        began = beat = time.monotonic()
        while True:
            await anyio.sleep(POLL)
            if await request.is_disconnected():
                return
            if limit is not None and time.monotonic() - began > limit:
                return
            now_refs = await anyio.to_thread.run_sync(repo.ref_targets, *_WATCHED)
            if now_refs != refs:
                moved = data.changed_plans(refs, now_refs)
                refs, running = await anyio.to_thread.run_sync(data.watch_keys, repo)
                yield f"event: refs\ndata: {json.dumps({'plans': moved})}\n\n"
            for key, path in running.items():
                size = _size(path)
                if size != sizes.get(key):
                    sizes[key] = size
                    yield f"event: log\ndata: {json.dumps({'task': key})}\n\n"
            if time.monotonic() - beat > BEAT:
                beat = time.monotonic()
                yield ": beat\n\n"

    # -- actions --

    async def act(self, request: Request) -> Response:
        p = request.path_params
        command = p["action"]
        if command not in actions.COMMANDS:
            return JSONResponse({"error": f"no action {command!r}"}, 404)
        body = await _json(request)
        text = str(body.get("text") or "")
        if command == "answer" and not text.strip():
            return JSONResponse({"error": "give the answer as text"}, 400)

        def run(repo: Repo) -> dict[str, Any]:
            done = actions.request(repo, command, f"{p['plan']}/{p['task']}", text)
            out: dict[str, Any] = {"command": command, "plan": done.plan, "task": done.task}
            if done.holder:
                out["message"] = f"sent to the orchestrator of {done.plan} ({done.holder})"
            elif done.recorded:
                out["message"] = f"{done.plan}/{done.task} paused"
            else:
                pid = self._resume(repo, done.plan)
                out["message"] = (
                    f"no orchestrator ran {done.plan}: started git po resume (pid {pid})"
                )
                out["resumed_pid"] = pid
            return out

        self._reap()
        return await self.call(run)

    def _resume(self, repo: Repo, plan: str) -> int:
        """`git po resume PLAN --no-live` in the background, as the command would run it in the
        foreground; its output goes to web-resume.log beside the plan's other local files."""
        folder = layout.plan_dir(repo.common_dir, plan)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "web-resume.log", "ab") as out:
            child = proc.spawn(
                [sys.executable, "-m", "git_po", "resume", plan, "--no-live"],
                cwd=repo.workdir or self.root,
                env=proc.child_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.children.append(child)
        return child.pid

    def _reap(self) -> None:
        self.children = [c for c in self.children if c.poll() is None]

    async def integrate(self, request: Request) -> Response:
        plan = request.path_params["plan"]
        body = await _json(request)
        dry_run = body.get("dry_run") is not False
        key = body.get("key")

        def run(repo: Repo) -> dict[str, Any]:
            now = data.integration_key(repo, plan)
            if not dry_run and key != now:
                raise _Stale(
                    "the tasks changed since the dry run (or none was made): run the dry run "
                    "again, then integrate"
                )
            rep = integrate.integrate(repo, plan, integrate.Options(dry_run=dry_run))
            return {
                "dry_run": dry_run,
                "ok": rep.ok,
                "text": integrate_text.report_text(rep),
                "hint": None if rep.ok else integrate_text.report_hint(rep),
                "key": now,
            }

        return await self.call(run)


class _Stale(PoError):
    exit_code = ExitCode.CONFLICT


_WATCHED = ("refs/po/", "refs/heads/po/", "refs/notes/po")
_NO_STORE = {"Cache-Control": "no-store"}
_CSP = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _asset(name: str) -> bytes:
    return resources.files("git_po.web").joinpath("static", name).read_bytes()


def _error(exc: PoError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.message, "hint": exc.hint, "exit_code": int(exc.exit_code)},
        HTTP_STATUS.get(exc.exit_code, 422),
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _float(text: str | None, default: float | None) -> float | None:
    try:
        return float(text) if text is not None else default
    except ValueError:
        return default


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return {}
    return body if isinstance(body, dict) else {}


def create_app(root: Path, token: str) -> ASGIApp:
    d = Dashboard(root, token)
    routes = [
        Route("/", d.index),
        Route("/static/{name}", d.static),
        Route("/api/plans", d.plans),
        Route("/api/plans/{plan}", d.plan),
        Route("/api/plans/{plan}/integrate", d.integrate, methods=["POST"]),
        Route("/api/plans/{plan}/tasks/{task}", d.task),
        Route("/api/plans/{plan}/tasks/{task}/log", d.log),
        Route("/api/plans/{plan}/tasks/{task}/{action}", d.act, methods=["POST"]),
        Route("/api/sessions", d.sessions),
        Route("/api/events", d.events),
    ]
    app = Starlette(routes=routes)
    app.state.dashboard = d
    guarded: Callable[[Scope, Receive, Send], Awaitable[None]] = Guard(app, token)
    return guarded
