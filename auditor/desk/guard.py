"""The desk's gate, before any route: a request from another machine, for another host name (DNS
rebinding), or without the session's token or cookie gets 403 and nothing else. The first request
with `?token=` sets an HttpOnly, SameSite=Strict cookie and is sent on without the token in its
URL, the way Jupyter does. Every answer forbids loading anything from elsewhere (CSP)."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from urllib.parse import urlencode

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from auditor.desk.session import DeskSession

TOKEN_PARAMETER = "token"
CSP = (
    "default-src 'self'; media-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # "no-referrer" makes Chromium send `Origin: null` with a form
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


def cookie_name(port: int) -> str:
    """The session cookie, one per port: two desks on one machine keep apart."""
    return f"auditor_desk_{port}"


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host headers a desk on `port` answers: its loopback address and `localhost`."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """ASGI middleware: the checks above, then the route."""

    def __init__(self, app: ASGIApp, session: DeskSession, port: int, hosts: Collection[str] | None = None) -> None:
        self.app, self.session, self.port = app, session, port
        self.hosts = frozenset(hosts) if hosts is not None else allowed_hosts(port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        request = Request(scope)
        response = self._refusal_or_entry(request)
        if response is not None:
            await _secured(response)(scope, receive, send)
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal_or_entry(self, request: Request) -> Response | None:
        """403, the token's redirect that sets the cookie, or None to go on to the route."""
        client = request.client.host if request.client else None
        if not is_loopback(client) or request.headers.get("host", "") not in self.hosts:
            return Response(status_code=403)
        cookie = request.cookies.get(cookie_name(self.port))
        if self.session.token_matches(request.query_params.get(TOKEN_PARAMETER)):
            if request.method != "GET":
                return Response(status_code=403)
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != TOKEN_PARAMETER]
            redirect = RedirectResponse(request.url.path + (f"?{urlencode(rest)}" if rest else ""), status_code=303)
            redirect.set_cookie(cookie_name(self.port), self.session.token, httponly=True, samesite="strict", path="/")
            return redirect
        if not self.session.token_matches(cookie):
            return Response(status_code=403)
        if request.method not in ("GET", "HEAD", "POST"):
            return Response(status_code=403)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
            return Response(status_code=403)
        return None


def _secured(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                headers[name] = value
        await send(message)

    return sending
