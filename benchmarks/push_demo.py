"""The demo's push loop: subscribe → receive new matches → tell us what happened → numbers.

One subscription per demo centre (webhook, e-mail, file, webhook, e-mail) on one of its
chain's demands; a local webhook receiver and an aiosmtpd SMTP server on loopback are
started for the run and stopped after it. Push for the published bundle, record simulated
outcomes, add patents through the nightly inbox and publish again: only new pairs follow.
The report step after this one counts the delivered items and shows the funnel.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHANNELS = ("webhook", "email", "file", "webhook", "email")


def add_patents_to_inbox(settings: Any, n: int, seed: int) -> Path:
    """``n`` new patents (variants of stored ones, new ids) as a CSV in the nightly inbox."""
    import polars as pl

    from indexing.store.record_store import open_store

    store = open_store(settings)
    try:
        pats = list(store.iter_patents())
    finally:
        store.close()
    rng = random.Random(seed)
    rows = [{"id": f"NEW{seed}-{i:05d}", "title": f"改进的{p.title}",
             "abstract": f"{p.abstract} 进一步提高了稳定性。", "ipc": ";".join(p.ipc),
             "applicant": p.applicant or "", "applicant_type": p.applicant_type or "",
             "legal_status": p.legal_status or "有效",
             "application_date": p.application_date or "2026-06-01"}
            for i, p in enumerate(rng.sample(pats, min(n, len(pats))))]
    path = Path(settings.inbox_dir) / "patents" / f"new-patents-{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_csv(path)
    return path


def _push(settings: Any, store: Any) -> Any:
    from api.push.dispatcher import push_now
    from indexing.index.bundle import current_bundle_path
    from indexing.index.filters import Filters
    from indexing.store.record_store import open_store
    from matcher.ranker import HybridRanker

    ranker = HybridRanker.from_bundle(current_bundle_path(settings), settings)
    records = open_store(settings)
    try:
        return push_now(store, settings, ranker, ranker.bundle.build_id, make_filters=Filters,
                        demand_text=lambda d: getattr(records.get_demand(d), "query_text", None))
    finally:
        records.close()


def run_push_demo(settings: Any, centres: dict[str, dict[str, Any]], *,
                  echo: Callable[[str], None] = print, new_patents: int = 50) -> dict[str, Any]:
    from api.push.feedback import Outcome
    from api.push.store import open_push_store
    from api.push.subscriptions import Owner, SubscriptionSpec, check_spec
    from benchmarks.push_servers import SMTPReceiver, WebhookReceiver
    from indexing.build.nightly import run_nightly
    from indexing.index.bundle import load_current

    bundle = load_current(settings)
    by_chain: dict[str, list[str]] = {}
    for did, cs in zip(bundle.demands.ids, bundle.demands.facets["chains"].to_list()):
        for c in cs or ():
            by_chain.setdefault(c, []).append(did)
    store = open_push_store(settings)
    with WebhookReceiver() as hook, SMTPReceiver() as smtp:
        conf = settings.model_copy(update={"webhook_allow_private": True,
                                           "smtp_host": "127.0.0.1", "smtp_port": smtp.port})
        subs = []
        for (name, info), kind in zip(centres.items(), CHANNELS):
            demand = by_chain.get(info["chain"], [bundle.demands.ids[0]])[0]
            ch: dict[str, Any] = {"type": kind}
            if kind == "webhook":
                ch["url"] = hook.url
            elif kind == "email":
                ch["to"] = [f"{name}@example.com"]
            spec = check_spec(SubscriptionSpec(channel=ch, demand_id=demand, top_n=5,
                                               name=f"{name} 需求 {demand}"),
                              allow_private=True)
            subs.append(store.create_subscription(
                spec, Owner(f"demo-{name}", "centre", name, (info["chain"],), name)))
        first = _push(conf, store).summary()
        echo(f"           publish 1: {first['queued']} new pairs for {first['subscriptions']} "
             f"subscriptions; sent {first['sent']} (webhook posts {len(hook.requests)}, "
             f"e-mails {len(smtp.messages)}, outbox files "
             f"{sum(1 for _ in Path(conf.outbox_dir).rglob('*.xlsx'))})")
        if smtp.messages:
            echo(f"           e-mail: {smtp.messages[0]['Subject']}")
        # simulated outcomes, as centres would report them
        rng = random.Random(3)
        plan = [("viewed", {}), ("contacted", {}), ("negotiating", {}),
                ("deal", {"deal_type": "许可", "amount_wan": 120.0}),
                ("rejected", {"reason": "不相关"})]
        recorded = Counter()
        for sub in subs:
            for d in store.list_deliveries(sub.id)[1][:3]:
                status, kw = plan[rng.randrange(len(plan))]
                store.record_feedback(subject=sub.subject, patent_id=d.patent_id,
                                      demand_id=sub.demand_id, subscription_id=sub.id,
                                      owner_centre=sub.owner_centre, source="api",
                                      actor=Owner(sub.owner_key_id, "centre", sub.owner_centre,
                                                  name=sub.owner_centre or ""),
                                      outcome=Outcome(status, **kw))
                recorded[status] += 1
        echo("           feedback: " + ", ".join(f"{k} {v}" for k, v in recorded.items()))
        add_patents_to_inbox(conf, new_patents, seed=11)
        st = run_nightly(conf, evaluator=None)
        second = _push(conf, store).summary()
        pairs = Counter((p["subscription_id"], it["patent_id"]) for p in hook.payloads()
                        for it in p["items"])
        echo(f"           publish 2 ({st.status}, +{new_patents} patents): {second['queued']} "
             f"new pairs pushed, sent {second['sent']}; webhook duplicates "
             f"{sum(c - 1 for c in pairs.values())}")
    return {"first": first, "second": second, "feedback": dict(recorded),
            "webhook_items": sum(pairs.values()), "emails": len(smtp.messages)}


__all__ = ["add_patents_to_inbox", "run_push_demo"]
