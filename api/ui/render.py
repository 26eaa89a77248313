"""Templates, the HTML error page, and the highlighting of matched terms.

Jinja2 autoescapes everything; the only markup the console adds to data is ``<mark>``
around matched spans, built here from escaped pieces (``highlight``), so a record's
``<script>`` can only ever render as text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from api.ui.messages import APPLICANT_TYPE_ZH, ROLE_ZH, error_zh
from api.ui.outcomes import BUTTONS, DEAL_TYPES, REASONS

log = logging.getLogger("patmatch.api.ui")

TEMPLATES = Path(__file__).parent / "templates"
# no inline script or style anywhere: the policy can forbid both
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
                    "Cache-Control": "no-store"}

env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                  autoescape=select_autoescape(["html"]), trim_blocks=True,
                  lstrip_blocks=True, auto_reload=False)
env.globals.update(ROLE_ZH=ROLE_ZH, APPLICANT_TYPE_ZH=APPLICANT_TYPE_ZH, OUTCOMES=BUTTONS,
                   REASONS=REASONS, DEAL_TYPES=DEAL_TYPES)


def spans_from_highlights(text: str, highlights: Iterable[Any], field: str,
                          terms: Iterable[str]) -> list[tuple[int, int]]:
    """Character spans to mark in ``text``: the ranker's own offsets for this field when
    they fit the text shown, else every occurrence of the matched terms."""
    spans: list[tuple[int, int]] = []
    for h in highlights or ():
        get = h.get if isinstance(h, dict) else (lambda k, h=h: getattr(h, k, None))
        if get("field") != field:
            continue
        try:
            start, end = int(get("start")), int(get("end"))
        except (TypeError, ValueError):
            continue
        if 0 <= start < end <= len(text):
            spans.append((start, end))
    if not spans:
        for term in sorted({t for t in terms if t}, key=len, reverse=True):
            i = text.find(term)
            while i >= 0:
                spans.append((i, i + len(term)))
                i = text.find(term, i + 1)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s < merged[-1][1]:
            continue  # overlaps an earlier (longer-first) span
        merged.append((s, e))
    return merged


def highlight(text: str | None, spans: list[tuple[int, int]]) -> Markup:
    text = text or ""
    out, pos = [], 0
    for s, e in spans:
        out.append(str(escape(text[pos:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        pos = e
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def page(request: Request, template: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    state = request.state
    ctx.setdefault("principal", getattr(state, "principal", None))
    ctx.setdefault("csrf", getattr(state, "csrf", ""))
    ctx.setdefault("nav", "")
    ctx.setdefault("features", getattr(request.app.state, "ui_features", {}))
    ctx["request_path"] = request.url.path
    html = env.get_template(template).render(**ctx)
    return HTMLResponse(html, status_code=status, headers=dict(SECURITY_HEADERS))


def error_page(request: Request, exc: BaseException) -> HTMLResponse:
    status, message, incident = error_zh(exc)
    if incident:
        log.exception("console error %s on %s %s", incident, request.method, request.url.path,
                      exc_info=exc)
    titles = {400: "输入有误", 401: "请先登录", 403: "无权访问", 404: "未找到", 405: "不支持",
              409: "操作冲突", 503: "暂不可用"}
    return page(request, "error.html", status=status, message=message,
                title=titles.get(status, "出错了"), status_code=status)
