"""Sign-in with an API key, sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from patmatch.errors import AuthenticationError

from api.security import hash_key
from api.throttle import TooManyAuthFailuresError
from api.ui.core import LoginRequired, UIRoute, checked_form, current, sessions
from api.ui.messages import CsrfError
from api.ui.render import page
from api.ui.session import PRE_COOKIE, PRE_SECONDS, SESSION_COOKIE

router = APIRouter(route_class=UIRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only console paths of this site: never an open redirect."""
    if target and target.startswith("/ui/") and not target.startswith("//") \
            and "\\" not in target and "\n" not in target and len(target) < 2000:
        return target
    return "/ui/match"


def _cookie_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_form(request: Request, *, next_: str, status: int = 200,
                error: str | None = None) -> Response:
    mgr = sessions(request)
    cookie, nonce = mgr.issue_pre()
    resp = page(request, "login.html", status=status, next=next_, error=error,
                csrf=mgr.csrf_token("login:" + nonce), principal=None)
    resp.set_cookie(PRE_COOKIE, cookie, max_age=PRE_SECONDS, path="/ui", httponly=True,
                    samesite="strict", secure=_cookie_secure(request))
    return resp


@router.get("/ui/login")
def login_form(request: Request, next: str | None = None) -> Response:  # noqa: A002
    try:
        current(request)
        return RedirectResponse(safe_next(next), 303)
    except LoginRequired:
        return _login_form(request, next_=safe_next(next))


@router.post("/ui/login")
async def login(request: Request) -> Response:
    form = await request.form()
    mgr = sessions(request)
    nonce = mgr.read_pre(request.cookies.get(PRE_COOKIE))
    token = form.get("csrf")
    next_ = safe_next(form.get("next") if isinstance(form.get("next"), str) else None)
    if nonce is None or not isinstance(token, str) or \
            not mgr.csrf_ok("login:" + nonce, token):
        raise CsrfError("sign-in form without a valid token")
    key = form.get("key")
    key = key.strip() if isinstance(key, str) else ""
    if not key:
        return _login_form(request, next_=next_, status=400, error="请输入 API 密钥。")
    if len(key) > 200:
        return _login_form(request, next_=next_, status=400, error="API 密钥格式不正确。")
    throttle = request.app.state.auth_throttle  # the API's: same limit, same counter
    address = request.client.host if request.client else "unknown"
    try:
        throttle.check(address)
    except TooManyAuthFailuresError:
        return _login_form(request, next_=next_, status=429,
                           error="失败次数过多，请稍后再试。")
    try:
        principal = request.app.state.keys.verify(key)
    except AuthenticationError:
        throttle.failed(address)
        return _login_form(request, next_=next_, status=401,
                           error="API 密钥无效或已被吊销，请向运维人员确认。")
    throttle.succeeded(address)
    cookie, _ = mgr.issue(hash_key(key))
    request.app.state.audit.record(principal, method="POST", path="/ui/login",
                                   action="ui.login", target=principal.key_id, query=None,
                                   result_count=None, status=303)
    resp = RedirectResponse(next_, 303)
    resp.set_cookie(SESSION_COOKIE, cookie, max_age=mgr.max_age, path="/ui", httponly=True,
                    samesite="strict", secure=_cookie_secure(request))
    resp.delete_cookie(PRE_COOKIE, path="/ui", httponly=True, samesite="strict")
    return resp


@router.post("/ui/logout")
async def logout(request: Request) -> Response:
    try:
        current(request)
    except LoginRequired:
        return RedirectResponse("/ui/login", 303)
    await checked_form(request)
    resp = RedirectResponse("/ui/login", 303)
    resp.delete_cookie(SESSION_COOKIE, path="/ui", httponly=True, samesite="strict")
    return resp


@router.get("/ui/")
@router.get("/ui")
def home(request: Request) -> Response:
    current(request)
    return RedirectResponse("/ui/match", 303)
