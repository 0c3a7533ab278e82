"""Starting `git po web`: check the optional extra, the address and the token, bind, say where
the page is, serve until Ctrl-C. Imports nothing of the web stack until it is known to be
installed."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import socket
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from git_po.errors import ExtraMissing, PoError, UsageError
from git_po.repo import Repo

INSTALL = "pip install 'git-po[web]'"
LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True)
class Server:
    root: Path  # where the repository was found (what each request opens)
    host: str
    port: int
    token: str


def check_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ExtraMissing(f"git po web needs the web extra: {INSTALL}") from None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def prepare(repo: Repo, *, host: str, port: int, token: str | None) -> Server:
    check_extra()
    if token is not None and len(token) < 8:
        raise UsageError("--token must have at least 8 characters")
    if not is_loopback(host) and token is None:
        raise UsageError(
            f"--host {host} lets other machines reach the dashboard: give --token T as well "
            "(a long random one)"
        )
    root = repo.workdir or repo.common_dir
    return Server(root, host, port, token or secrets.token_urlsafe(24))


def url(server: Server, port: int) -> str:
    host = server.host
    if host in ("0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/?token={server.token}"


def bind(server: Server) -> socket.socket:
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((server.host.strip("[]"), server.port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {server.host}:{server.port}: {exc.strerror}") from None
    sock.listen(128)
    return sock


def warm_up(root: Path) -> None:
    """Read every plan once, so that the first page does not wait for what a first reading
    loads (the conflict radar's cache, lazily imported modules)."""
    from git_po.web import data

    repo = Repo.discover(root)
    for plan in data.plans(repo):
        with contextlib.suppress(PoError):
            data.plan_view(repo, plan["plan"])


def serve(
    server: Server, *, open_browser: bool, announce: Callable[[str], None]
) -> None:  # pragma: no cover - exercised by the browser tests through the CLI
    import uvicorn

    from git_po.web.app import create_app

    sock = bind(server)
    warm_up(server.root)
    port = sock.getsockname()[1]
    link = url(server, port)
    announce(f"git po web: serving the dashboard of {server.root}")
    announce(f"    {link}")
    announce("git po web: Ctrl-C stops the server (not the runs)")
    if open_browser:
        with contextlib.suppress(webbrowser.Error):
            webbrowser.open(link)
    config = uvicorn.Config(
        create_app(server.root, server.token),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    uvicorn.Server(config).run(sockets=[sock])
