"""What every console page shares: the route class that turns errors into Chinese HTML
pages, the signed-in caller, and CSRF-checked forms.

The caller comes from the same ``KeyStore`` and ``Principal`` as the JSON API: roles and
scoping are the API's own functions, never a copy. Handlers receive an ``Auditor`` bound
to the console's path so every data access is audited exactly like an API call.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute

from patmatch.errors import AuthenticationError

from api.deps import Auditor
from api.security import Principal
from api.ui.messages import CsrfError
from api.ui.render import error_page
from api.ui.session import SESSION_COOKIE, SessionManager


class LoginRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class UIRoute(APIRoute):
    """Console routes answer HTML: errors become the Chinese error page, a missing or
    ended session a redirect to sign-in (never the API's JSON error)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                resp = RedirectResponse(f"/ui/login?next={quote(target, safe='')}", 303)
                if request.cookies.get(SESSION_COOKIE):
                    resp.delete_cookie(SESSION_COOKIE, path="/ui")
                return resp
            except Exception as exc:  # noqa: BLE001 - every error becomes a page
                if getattr(request.state, "principal", None) is None:
                    try:  # the error page keeps the navigation of a signed-in user
                        current(request)
                    except Exception:  # noqa: BLE001 - no session: a page without it
                        pass
                return error_page(request, exc)

        return wrapped


def sessions(request: Request) -> SessionManager:
    return request.app.state.ui_sessions


def current(request: Request) -> Principal:
    """The signed-in caller; re-checks the key on every request (cached ≤ 2 s)."""
    session = sessions(request).read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise LoginRequired()
    try:
        principal = request.app.state.keys.verify_digest(session.key_digest)
    except AuthenticationError:
        raise LoginRequired() from None
    request.state.principal = principal
    request.state.session = session
    request.state.csrf = sessions(request).csrf_token(session.sid)
    return principal


def auditor(request: Request, action: str | None = None) -> Auditor:
    """An ``Auditor`` for the signed-in caller, after the API's permission check."""
    p = current(request)
    if action is not None:
        p.require(action)
    return Auditor(request, p, request.app.state.audit)


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form (single values, stripped) after the CSRF check; 403 page without
    a token of this session."""
    form = await request.form()
    session = getattr(request.state, "session", None)
    token = form.get("csrf")
    if session is None or not isinstance(token, str) or \
            not sessions(request).csrf_ok(session.sid, token):
        raise CsrfError("missing or wrong CSRF token")
    return {k: v.strip() for k, v in form.items() if isinstance(v, str) and k != "csrf"}
