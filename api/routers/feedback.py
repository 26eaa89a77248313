"""Outcome feedback (标注与追踪): record an outcome, read a demand's outcomes, and the
per-item token links that pushed items carry (no API key: the token is the credential)."""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from api.deps import Auditor, EngineDep, auditor_for
from api.push import service
from api.push.feedback import DEAL_TYPES, REASONS, STATE_ZH, Outcome
from api.push.schemas import DemandFeedbackOut, FeedbackIn, FeedbackOut, OutcomeIn
from api.routers import READ, errors
from api.schemas import RECORD_ID_PATTERN

router = APIRouter(tags=["feedback"])
Token = Annotated[str, Path(pattern=r"^[0-9]{1,18}\.[A-Za-z0-9_\-]{24}$")]


def _outcome(body: OutcomeIn) -> Outcome:
    return Outcome(body.status, body.reason, body.note, body.deal_type, body.amount_wan,
                   body.date, body.reopen)


def _fb_out(state: dict[str, Any], changed: bool = True) -> FeedbackOut:
    keys = FeedbackOut.model_fields
    hist = [{k: v for k, v in ev.items() if k in FEEDBACK_EVENT_KEYS}
            for ev in state.get("history", [])]
    return FeedbackOut(**{k: v for k, v in state.items() if k in keys and k != "history"},
                       changed=changed, history=hist)


FEEDBACK_EVENT_KEYS = ("from_state", "to_state", "reason", "note", "deal_type", "amount_wan",
                       "deal_date", "reopen", "actor", "actor_role", "source", "ts")


@router.post("/v1/feedback", response_model=FeedbackOut, responses=errors(*READ, 400, 409),
             summary="Record what happened with a pushed or listed (demand, patent) pair")
def record(body: FeedbackIn, request: Request, engine: EngineDep,
           audit: Annotated[Auditor, Depends(auditor_for("feedback:write"))]) -> FeedbackOut:
    res = service.record_feedback(request.app.state.push, engine, audit.principal,
                                  patent_id=body.patent_id, outcome=_outcome(body),
                                  demand_id=body.demand_id,
                                  subscription_id=body.subscription_id)
    audit("feedback.record", target=f"{body.demand_id or body.subscription_id}:"
                                    f"{body.patent_id}", count=int(res.changed))
    return _fb_out(res.state, res.changed)


@router.get("/v1/demands/{demand_id}/feedback", response_model=DemandFeedbackOut,
            responses=errors(*READ), summary="Outcomes recorded for a demand's pairs, with history")
def demand_feedback(demand_id: Annotated[str, Path(pattern=RECORD_ID_PATTERN)],
                    request: Request, engine: EngineDep,
                    audit: Annotated[Auditor, Depends(auditor_for("feedback:read"))]
                    ) -> DemandFeedbackOut:
    items = service.demand_feedback(request.app.state.push, engine, audit.principal, demand_id)
    audit("feedback.read", target=demand_id, count=len(items))
    return DemandFeedbackOut(demand_id=demand_id, items=[_fb_out(s) for s in items])


@router.post("/v1/feedback/t/{token}", response_model=FeedbackOut,
             responses=errors(400, 401, 404, 409, 413, 422, 500),
             summary="Record an outcome for the one pushed item this token was issued with")
def record_by_token(token: Token, body: OutcomeIn, request: Request) -> FeedbackOut:
    _, res = service.record_feedback_by_token(request.app.state.push,
                                              request.app.state.settings, token, _outcome(body))
    return _fb_out(res.state, res.changed)


# an HTML route's errors are still JSON: say so, or the document would claim text/html
_JSON_ERRORS = {k: {**v, "content": {"application/json": {
    "schema": {"$ref": "#/components/schemas/ErrorOut"}}}}
    for k, v in errors(401, 404, 422, 500).items()}


@router.get("/v1/feedback/t/{token}", response_class=HTMLResponse, responses=_JSON_ERRORS,
            summary="A small page (the e-mail link) to record an outcome for one pushed item")
def token_page(token: Token, request: Request) -> HTMLResponse:
    d = service.token_item(request.app.state.push, request.app.state.settings, token)
    states = "".join(f'<option value="{s}">{STATE_ZH[s]}</option>'
                     for s in ("viewed", "contacted", "negotiating", "deal", "rejected"))
    reasons = "".join(f'<option value="{r}">{r}</option>' for r in REASONS)
    deals = "".join(f'<option value="{t}">{t}</option>' for t in DEAL_TYPES)
    page = f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>推送反馈</title></head><body>
<h3>推送反馈：{escape(d.title)}（{escape(d.patent_id)}）</h3>
<p>匹配理由：{escape(d.reason or '-')}</p>
<form id="f">状态 <select name="status">{states}</select>
拒绝原因 <select name="reason"><option value=""></option>{reasons}</select>
成交方式 <select name="deal_type"><option value=""></option>{deals}</select>
金额(万元) <input name="amount_wan" type="number" min="0" step="0.01">
说明 <input name="note" maxlength="1000"> <button>提交</button></form>
<p id="r"></p>
<script>
document.getElementById("f").onsubmit = async (e) => {{
  e.preventDefault();
  const body = {{}};
  for (const [k, v] of new FormData(e.target)) if (v !== "") body[k] = k === "amount_wan" ? Number(v) : v;
  const r = await fetch(location.pathname, {{method: "POST", headers: {{"Content-Type": "application/json"}},
                                             body: JSON.stringify(body)}});
  const j = await r.json();
  document.getElementById("r").textContent = r.ok ? "已记录：" + j.state : j.message;
}};
</script></body></html>"""
    return HTMLResponse(page)
