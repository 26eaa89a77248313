"""The web console for operation-centre staff (Chinese, server-rendered, no CDN).

``install_ui(app)`` mounts it on the API's own app: ``/`` redirects to ``/ui/``, pages
live under ``/ui/...``, vendored static files under ``/ui/static/``. Pages call the same
functions as the JSON API (roles, scoping, masking, audit) and never re-implement them.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install_ui(app: FastAPI) -> None:
    from api.ui import routes_auth, routes_demands, routes_fallback, routes_match, routes_ops
    from api.ui import routes_extras, routes_records, routes_subs
    from api.ui.session import SessionManager

    app.state.ui_sessions = SessionManager.from_settings(app.state.settings)
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")

    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/", 307)

    app.add_api_route("/", root, include_in_schema=False)
    for module in (routes_auth, routes_match, routes_demands, routes_records, routes_ops,
                   routes_subs, routes_extras, routes_fallback):  # the fallback's catch-all comes last
        app.include_router(module.router)
