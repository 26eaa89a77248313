"""需求列表 / 需求详情: a centre's demands, create and edit them, their matches."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import sunk_patents
from api.schemas import RECORD_ID_PATTERN, DemandCreate, DemandUpdate
from api.security import can_write_demand
from api.services import demands as demand_service
from api.services.matching import run_demand_match
from api.ui import outcomes
from api.ui.core import UIRoute, auditor, checked_form
from api.ui.messages import field_errors, input_error_zh
from api.ui.render import page
from api.ui.rows import PAGE_SIZE, chain_names, pages, result_rows
from api.views import demand_out

from patmatch.errors import ConflictError, InputError

router = APIRouter(route_class=UIRoute, include_in_schema=False)
DemandId = Annotated[str, Path(pattern=RECORD_ID_PATTERN)]
LIST_SIZE = 20
FORM_FIELDS = ("title", "text", "enterprise", "industry", "chain", "region", "budget",
               "cooperation_mode", "required_trl", "deadline", "contact_name",
               "contact_phone", "contact_email", "source")


@router.get("/ui/demands")
def demand_list(request: Request,
                page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
                scope: Annotated[Literal["own", "all"] | None, Query()] = None) -> Response:
    audit = auditor(request, "demands:read")
    p, engine = audit.principal, request.app.state.engine
    # a centre starts with its own demands; "all" adds the public ones of its chains
    scope = scope or ("own" if p.role == "centre" and p.centre else "all")
    owner = p.centre if scope == "own" and p.centre else None
    total, recs = demand_service.list_visible_demands(
        engine, p, chain=None, owner=owner, limit=LIST_SIZE, offset=(page_no - 1) * LIST_SIZE)
    audit("demands.list", query=f"chain= owner={owner or ''}", count=len(recs))
    return page(request, "demands.html", nav="demands",
                demands=[demand_out(engine, p, r) for r in recs], scope=scope,
                has_own=bool(p.centre), names=chain_names(engine),
                paging=pages(total, page_no, LIST_SIZE), can_create=p.allowed("demands:write"))


def _payload(form: dict[str, str], *, create: bool) -> dict[str, Any]:
    """Form strings -> the API model's input: empty = not given (create) / cleared (edit)."""
    data: dict[str, Any] = {}
    for name in FORM_FIELDS:
        value = form.get(name, "")
        if value == "":
            if not create and name != "text":
                data[name] = None
            continue
        data[name] = int(value) if name == "required_trl" and value.isdigit() else value
    if not create and "text" not in data:
        data["text"] = None
    data["confidential"] = form.get("confidential") == "true"
    return data


def _form_page(request: Request, *, rec: Any, form: dict[str, Any], errors: dict[str, str],
               status: int = 200) -> Response:
    p, engine = request.state.principal, request.app.state.engine
    chains = [c for c in engine.chains() if p.role != "centre" or c.id in p.chains]
    return page(request, "demand_form.html", status=status, nav="demands", rec=rec,
                form=form, errors=errors, chains=chains)


@router.get("/ui/demands/new")
def new_demand(request: Request) -> Response:
    auditor(request, "demands:write")
    return _form_page(request, rec=None, form={"confidential": False}, errors={})


@router.post("/ui/demands/new")
async def create_demand(request: Request) -> Response:
    audit = auditor(request, "demands:write")
    form = await checked_form(request)
    data = _payload(form, create=True)
    try:
        body = DemandCreate.model_validate(data)
        rec = demand_service.create_demand(
            request.app.state.engine, audit.principal,
            body.model_dump(exclude={"id", "owner"}, exclude_none=True))
    except ValidationError as exc:
        return _form_page(request, rec=None, form=form | data,
                          errors=field_errors(list(exc.errors())), status=400)
    except (InputError, ConflictError) as exc:
        return _form_page(request, rec=None, form=form | data,
                          errors={"_": input_error_zh(exc)}, status=400)
    audit("demands.create", target=rec.id, count=1, status=201)
    return RedirectResponse(f"/ui/demands/{rec.id}?saved=1", 303)


@router.get("/ui/demands/{demand_id}/edit")
def edit_demand(request: Request, demand_id: DemandId) -> Response:
    audit = auditor(request, "demands:write")
    engine = request.app.state.engine
    rec = demand_service.visible_demand(engine, audit.principal, demand_id, audit)
    if not can_write_demand(audit.principal, rec):
        from patmatch.errors import PermissionDeniedError

        raise PermissionDeniedError("another centre's demand")
    shown = demand_out(engine, audit.principal, rec)
    return _form_page(request, rec=shown, form=shown.model_dump(), errors={})


@router.post("/ui/demands/{demand_id}/edit")
async def update_demand(request: Request, demand_id: DemandId) -> Response:
    audit = auditor(request, "demands:write")
    form = await checked_form(request)
    engine = request.app.state.engine
    rec = demand_service.visible_demand(engine, audit.principal, demand_id, audit)
    data = _payload(form, create=False)
    shown = demand_out(engine, audit.principal, rec)
    try:
        changes = DemandUpdate.model_validate(data).model_dump(exclude_unset=True)
        demand_service.update_demand(engine, audit.principal, demand_id, changes, audit)
    except ValidationError as exc:
        return _form_page(request, rec=shown, form=form | data,
                          errors=field_errors(list(exc.errors())), status=400)
    except InputError as exc:
        return _form_page(request, rec=shown, form=form | data,
                          errors={"_": input_error_zh(exc)}, status=400)
    audit("demands.update", target=demand_id, count=1)
    return RedirectResponse(f"/ui/demands/{demand_id}?saved=1", 303)


@router.get("/ui/demands/{demand_id}")
def demand_detail(request: Request, demand_id: DemandId,
                  page_no: Annotated[int, Query(alias="page", ge=1, le=500)] = 1,
                  saved: Annotated[int, Query(ge=0, le=1)] = 0,
                  recorded: Annotated[str, Query(max_length=20)] = "") -> Response:
    audit = auditor(request, "demands:read")
    p, engine = audit.principal, request.app.state.engine
    rec = demand_service.visible_demand(engine, p, demand_id, audit)
    audit("demands.read", target=demand_id, count=1)
    rows, paging, build_id = None, None, None
    if p.allowed("match"):
        out = run_demand_match(engine, p, rec, limit=PAGE_SIZE,
                               offset=(page_no - 1) * PAGE_SIZE,
                               sink=sunk_patents(request, rec.id))
        audit("match.demand", target=demand_id, count=len(out.items))
        rows, paging, build_id = result_rows(engine, list(out.items)), \
            pages(out.total, page_no), out.build_id
    fb = outcomes.for_demand(request, p, rec)
    return page(request, "demand.html", nav="demands", d=demand_out(engine, p, rec),
                names=chain_names(engine), rows=rows, paging=paging, build_id=build_id,
                can_edit=can_write_demand(p, rec) and p.allowed("demands:write"),
                feedback=fb, saved=bool(saved), feedback_service=outcomes.available(request),
                recorded=outcomes.STATE_ZH.get(recorded))


@router.post("/ui/demands/{demand_id}/outcome")
async def record_outcome(request: Request, demand_id: DemandId) -> Response:
    audit = auditor(request)
    if not outcomes.available(request):
        raise InputError("feedback service not installed", details={"field": "status"})
    audit.principal.require("feedback:write")
    form = await checked_form(request)
    try:
        outcomes.record(request, audit.principal, demand_id, form)
    except (InputError, ConflictError) as exc:
        status = 409 if isinstance(exc, ConflictError) else 400
        return page(request, "error.html", status=status, title="反馈未记录",
                    message=outcomes.error_zh(exc), back=f"/ui/demands/{demand_id}")
    audit("feedback.record", target=f"{demand_id}:{form.get('patent_id', '')}", count=1)
    return RedirectResponse(
        f"/ui/demands/{demand_id}?recorded={form.get('status', '')}#fb", 303)
