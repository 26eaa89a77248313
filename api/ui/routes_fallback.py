"""Unknown console paths: the Chinese 404 page, not the API's JSON."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from api.ui.core import UIRoute

router = APIRouter(route_class=UIRoute, include_in_schema=False)


@router.api_route("/ui/{rest:path}", methods=["GET", "POST"])
def not_found(request: Request, rest: str) -> Response:
    raise HTTPException(404)
