"""Push benchmark: digests for 1,000 subscriptions over the 20k bundle, and duplicates across
three publishes (the demo bundle; a nightly after 300 new patents; a rollback).

    python -m benchmarks.push_bench --home /tmp/pm-push --subscriptions 1000

The first run builds the demo home (``patmatch demo`` 20k patents x 5k demands). Every
subscription pushes by webhook to a local receiver; duplicates are counted both in the
delivery log and in what the receiver got. Results: benchmarks/results/push-bench.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any


def _home(home: Path, patents: int, demands: int) -> Any:
    os.environ["PATMATCH_HOME"] = str(home)
    os.environ["PATMATCH_WEBHOOK_ALLOW_PRIVATE"] = "true"
    from patmatch.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings()
    if not (home / "bundles").is_dir():
        from benchmarks.demo import DemoConfig, run_demo

        run_demo(DemoConfig(patents=patents, demands=demands), settings, echo=lambda _m: None)
    return settings


def _push(settings: Any, store: Any) -> dict[str, Any]:
    from api.push.dispatcher import push_now, send_pending
    from api.push.digest import run_digests
    from indexing.index.bundle import current_bundle_path
    from indexing.index.filters import Filters
    from indexing.store.record_store import open_store
    from matcher.ranker import HybridRanker

    t0 = time.perf_counter()
    ranker = HybridRanker.from_bundle(current_bundle_path(settings), settings)
    ranker.prepare()
    load = time.perf_counter() - t0
    records = open_store(settings)

    def demand_text(did: str) -> str | None:
        rec = records.get_demand(did)
        return rec.query_text if rec is not None else None

    try:
        t0 = time.perf_counter()
        digests = run_digests(store, ranker, ranker.bundle.build_id, make_filters=Filters,
                              demand_text=demand_text)
        t_digest = time.perf_counter() - t0
        t0 = time.perf_counter()
        sent = send_pending(store, settings)
        t_send = time.perf_counter() - t0
    finally:
        records.close()
    del push_now
    return {"build_id": ranker.bundle.build_id, "load_s": round(load, 2),
            "digest_s": round(t_digest, 2), "send_s": round(t_send, 2),
            "subscriptions": len(digests), "queued": sum(d.queued for d in digests),
            "sent": sent.sent, "failed": sent.failed}


def run(home: Path, *, subscriptions: int, patents: int, demands: int) -> dict[str, Any]:
    from api.push.store import open_push_store
    from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
    from benchmarks.push_demo import add_patents_to_inbox
    from benchmarks.push_servers import WebhookReceiver
    from indexing.build.nightly import run_nightly
    from indexing.build.publish import rollback
    from indexing.index.bundle import load_current

    settings = _home(home, patents, demands)
    store = open_push_store(settings)
    bundle = load_current(settings)
    demand_ids = list(bundle.demands.ids)
    texts = [str(bundle.demands.doc(i).get("text") or "") for i in range(min(300, len(bundle.demands.ids)))]
    rng = random.Random(7)
    out: dict[str, Any] = {"subscriptions": subscriptions, "patents": len(bundle.patents),
                           "publishes": []}
    with WebhookReceiver() as hook:
        t0 = time.perf_counter()
        for i in range(subscriptions):
            kw: dict[str, Any] = ({"demand_id": rng.choice(demand_ids)} if i % 10 < 7
                                  else {"text": rng.choice(texts)[:300] or "锂电池 低温"})
            spec = check_spec(SubscriptionSpec(channel={"type": "webhook", "url": hook.url},
                                               top_n=5, **kw), allow_private=True)
            store.create_subscription(spec, Owner(f"bench{i % 5}", "centre", f"centre-{i % 5}",
                                                  (), "bench"))
        out["create_s"] = round(time.perf_counter() - t0, 2)
        out["publishes"].append({"step": "demo bundle", **_push(settings, store)})
        add_patents_to_inbox(settings, 300, seed=1)
        st = run_nightly(settings, evaluator=None)
        out["nightly"] = {"status": st.status, "published": st.published,
                          "duration_s": st.duration_s}
        out["publishes"].append({"step": "nightly after 300 new patents",
                                 **_push(settings, store)})
        rollback(settings)
        out["publishes"].append({"step": "rollback to the demo bundle", **_push(settings, store)})
        received = Counter((p["subscription_id"], it["patent_id"])
                           for p in hook.payloads() for it in p["items"])
        out["received_items"] = sum(received.values())
        out["duplicates_received"] = sum(c - 1 for c in received.values() if c > 1)
    from sqlalchemy import func, select

    from indexing.store.tables_push import deliveries as d

    with store.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(d)).scalar_one()
        pairs = conn.execute(select(func.count()).select_from(
            select(d.c.subscription_id, d.c.patent_id).distinct().subquery())).scalar_one()
    out["delivery_rows"], out["duplicate_rows"] = int(rows), int(rows - pairs)
    new_pushed = sum(1 for p in hook.payloads() for it in p["items"]
                     if str(it["patent_id"]).startswith("NEW"))
    out["new_patents_pushed"] = new_pushed
    return out


def render(r: dict[str, Any]) -> str:
    lines = ["# Push benchmark", "",
             f"{r['subscriptions']} subscriptions (70 % on stored demands, 30 % free text, top 5, "
             f"webhook to a local receiver) over a {r['patents']}-patent bundle; "
             f"creating them took {r['create_s']} s.", "",
             "| publish | bundle | due | queued | sent | digests (s) | send (s) | ranker load (s) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for p in r["publishes"]:
        lines.append(f"| {p['step']} | {p['build_id']} | {p['subscriptions']} | {p['queued']} | "
                     f"{p['sent']} | {p['digest_s']} | {p['send_s']} | {p['load_s']} |")
    lines += ["", f"- items received by the webhook: {r['received_items']}; duplicates received: "
              f"**{r['duplicates_received']}**; duplicate (subscription, patent) rows in the "
              f"delivery log: **{r['duplicate_rows']}** of {r['delivery_rows']}",
              f"- new patents pushed after the nightly: {r['new_patents_pushed']}",
              f"- nightly: {r['nightly']}", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--subscriptions", type=int, default=1000)
    ap.add_argument("--patents", type=int, default=20000)
    ap.add_argument("--demands", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    a = ap.parse_args()
    r = run(a.home, subscriptions=a.subscriptions, patents=a.patents, demands=a.demands)
    from benchmarks.report import atomic_write

    atomic_write(a.out / "push-bench.json", json.dumps(r, ensure_ascii=False, indent=2))
    atomic_write(a.out / "push-bench.md", render(r))
    print(render(r))


if __name__ == "__main__":
    main()
