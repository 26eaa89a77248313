"""Patents: read one record, with its current labels."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from indexing.records import PatentRecord
from patmatch.errors import NotFoundError

from api.services.contracts import ServingEngine

# what a broker reads on a patent's page (PatentLabels fields)
LABEL_FIELDS = ("chains", "chain_scores", "evidence", "abstained", "problem", "means", "effect",
                "given", "essential_features", "patent_type", "trl", "trl_reasons", "grade",
                "grade_score", "grade_reasons", "transaction_modes", "open_license",
                "license_fee", "license_terms", "labeler_version", "taxonomy_version")


def get_patent(engine: ServingEngine, patent_id: str) -> PatentRecord:
    rec = engine.store.get_patent(patent_id)
    if rec is None:
        raise NotFoundError(f"patent '{patent_id}' not found", details={"id": patent_id})
    return rec


@lru_cache(maxsize=2)
def _labeler(_taxonomy_key: str) -> Any:
    from labeling_spec import Labeler

    try:
        from indexing.text.tokenizer import ChineseTokenizer

        tokenize = ChineseTokenizer().tokenize
    except ImportError:  # pragma: no cover - the tokenizer ships with indexing
        tokenize = None
    return Labeler.load(tokenize=tokenize)


def _bundle_labels(engine: ServingEngine, patent_id: str) -> dict[str, Any] | None:
    import orjson

    snap = engine.current
    side = getattr(getattr(snap, "bundle", None), "patents", None)
    if side is None or not hasattr(side, "row_of"):
        return None
    row = side.row_of(patent_id)
    if row is None:
        return None
    raw = side.doc(row).get("labels_json")
    try:
        lab = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return lab if isinstance(lab, dict) else None


def current_labels(engine: ServingEngine, rec: PatentRecord) -> dict[str, Any]:
    """The record's labels as served when they were made from this very content,
    otherwise labelled now (the record changed after the last build)."""
    from indexing.build.relabel import is_stale
    from labeling_spec import load_taxonomy

    tax = load_taxonomy()
    lab = _bundle_labels(engine, rec.id)
    source = "bundle"
    if lab is None or "record_digest" not in lab or is_stale(lab, rec, None):
        lab, source = _labeler(tax.version).label_patents([rec])[0].to_dict(), "fresh"
    out = {k: lab.get(k) for k in LABEL_FIELDS if k in lab}
    out["chain_names"] = [tax.name_of(c) for c in out.get("chains") or ()]
    out["source"] = source  # bundle: as served; fresh: labelled for this request
    return out
