"""The real engine and the test fakes satisfy the same typed interfaces (api.services.contracts).

``isinstance`` with runtime-checkable Protocols checks that every member exists; the
signature comparison checks that each method accepts what the Protocol promises callers
(same parameter names and kinds, optional where the Protocol is optional, no extra
required parameter), so a fake cannot quietly drift from the class it stands in for.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest

from indexing.store.record_store import SQLiteStore
from matcher.ranker import HybridRanker

from api.live import LiveEngine
from api.services.contracts import DemandStore, EngineBackend, Ranker, ServingEngine
from tests.api.fakes import FakeRanker, FakeStore

VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def protocol_methods(proto: type) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for klass in reversed(proto.__mro__):
        if klass in (Protocol, object) or not getattr(klass, "_is_protocol", False):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and callable(value):
                out[name] = value
    return out


def signature_problems(proto: type, impl: type) -> list[str]:
    problems = []
    for name, proto_fn in protocol_methods(proto).items():
        impl_fn = inspect.getattr_static(impl, name, None)
        if impl_fn is None:
            problems.append(f"{impl.__name__}.{name} is missing")
            continue
        want = list(inspect.signature(proto_fn).parameters.values())[1:]  # drop self
        have = list(inspect.signature(impl_fn).parameters.values())[1:]
        have_by_name = {p.name: p for p in have}
        where = f"{impl.__name__}.{name}"
        positional = [p.name for p in want if p.kind not in VARIADIC
                      and p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if [p.name for p in have][:len(positional)] != positional:
            problems.append(f"{where}: positional parameters {[p.name for p in have]}, "
                            f"the contract says {positional}")
        for p in want:
            if p.kind in VARIADIC:
                if not any(q.kind is p.kind for q in have):
                    problems.append(f"{where}: lacks {p}")
                continue
            q = have_by_name.get(p.name)
            if q is None:
                problems.append(f"{where}: lacks parameter '{p.name}'")
            elif q.kind is not p.kind:
                problems.append(f"{where}: '{p.name}' is {q.kind.description}, "
                                f"the contract says {p.kind.description}")
            elif p.default is not inspect.Parameter.empty and q.default is inspect.Parameter.empty:
                problems.append(f"{where}: '{p.name}' is required, the contract makes it "
                                "optional")
        wanted = {p.name for p in want}
        for q in have:
            if q.name not in wanted and q.kind not in VARIADIC \
                    and q.default is inspect.Parameter.empty:
                problems.append(f"{where}: extra required parameter '{q.name}'")
    return problems


@pytest.mark.parametrize(("proto", "impl"), [
    (Ranker, HybridRanker), (Ranker, FakeRanker),
    (DemandStore, SQLiteStore), (DemandStore, FakeStore),
    (EngineBackend, LiveEngine), (ServingEngine, LiveEngine),
])
def test_signatures_match_the_contract(proto: type, impl: type) -> None:
    assert not signature_problems(proto, impl)


def test_fake_engine_signatures_match_the_contract(engine) -> None:
    assert not signature_problems(ServingEngine, type(engine))


def test_real_and_fake_satisfy_the_protocols(client, engine, settings) -> None:
    live = LiveEngine(settings)
    try:
        assert isinstance(live, ServingEngine)
    finally:
        live.close()
    assert isinstance(engine, ServingEngine)
    assert issubclass(HybridRanker, Ranker) and issubclass(FakeRanker, Ranker)
    assert issubclass(SQLiteStore, DemandStore) and issubclass(FakeStore, DemandStore)
    assert isinstance(engine.store, DemandStore)
    assert isinstance(engine.snapshot().ranker, Ranker)


def test_the_check_catches_drift() -> None:
    class Drifted:
        def match_text(self, query: str, *, limit: int) -> Any: ...

    problems = signature_problems(Ranker, Drifted)
    assert any("positional" in p for p in problems)
    assert any("'limit' is required" in p for p in problems)
    assert any("Drifted.chain_pairs is missing" in p for p in problems)
