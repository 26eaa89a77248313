"""The demo's last two steps: operation centres served over the real HTTP API, then the
platform's statistical report (``patmatch report``) with the evidence for each target.

Five centre keys are created for the five chains holding the most demands; each centre
asks the API (in process, through FastAPI's TestClient: the same app, auth, scoping,
masking and audit log as ``patmatch serve``) for the matches of its visible demands. The
audit log those requests leave is what the report counts as views and centres served
(pushes are what subscriptions deliver: benchmarks/push_demo.py).
It is demo traffic, and the demo output says so next to the targets.
"""

from __future__ import annotations

from collections import Counter
from typing import Any


def serve_centres(settings: Any, *, centres: int = 5, demands_per_centre: int = 30,
                  limit: int = 10) -> dict[str, Any]:
    """Create ``centres`` centre keys and fetch matches for their demands via the API."""
    from fastapi.testclient import TestClient

    from api.db import open_api_db
    from api.main import create_app
    from api.security import KeyStore
    from indexing.index.bundle import load_current

    bundle = load_current(settings)
    chains: Counter = Counter()
    for cs in bundle.demands.facets["chains"].to_list():
        chains.update(cs or ())
    keys = KeyStore(open_api_db(settings))
    served: dict[str, dict[str, int]] = {}
    with TestClient(create_app(settings, reload_interval=0)) as client:
        for i, (chain, _) in enumerate(chains.most_common(centres)):
            name = f"demo-centre-{i + 1}"
            key, _info = keys.create(name, "centre", centre=name, chains=[chain])
            head = {"X-API-Key": key}
            page = client.get("/v1/demands", params={"chain": chain,
                                                      "limit": demands_per_centre},
                              headers=head)
            page.raise_for_status()
            pushes = requests = 0
            for d in page.json()["items"]:
                r = client.get(f"/v1/demands/{d['id']}/matches", params={"limit": limit},
                               headers=head)
                r.raise_for_status()
                requests += 1
                pushes += len(r.json()["items"])
            served[name] = {"chain": chain, "requests": requests, "pushes": pushes}
    return served


def report(settings: Any) -> tuple[dict[str, Any], list[Any]]:
    from indexing.store.stats import Period
    from api.reports.supply_demand import archive, build_report

    r = build_report(settings, Period.parse(None, None))
    return r, archive(settings, r)


__all__ = ["report", "serve_centres"]
