"""The bundle's per-record tables: ``facets.parquet`` (what filters read) and
``docs.parquet`` (what explanations and responses read), row-aligned with the ids.
Never contact data: personal fields and inventor names are dropped here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from indexing.records import PERSONAL_FIELDS, patent_is_valid


def record_chains(rec: Any, lab: Mapping[str, Any]) -> list[str]:
    out = [str(c) for c in (lab.get("chains") or ())]
    explicit = getattr(rec, "chain", None)
    if explicit:
        out.insert(0, str(explicit))
    return list(dict.fromkeys(out))


def _int(v: Any) -> int | None:
    try:
        return None if v is None else int(v)
    except (TypeError, ValueError):
        return None


def _doc_schema(side: str) -> dict[str, Any]:
    """docs.parquet columns: the record's own fields minus personal data (contact fields,
    inventor names) and full claims, plus the labels."""
    import polars as pl

    from indexing.records import DemandRecord, PatentRecord

    cls = PatentRecord if side == "patents" else DemandRecord
    drop = {*PERSONAL_FIELDS, "inventors", "claims"}
    kinds = {"ipc": pl.List(pl.String), "open_license": pl.Boolean,
             "confidential": pl.Boolean, "required_trl": pl.Int32, "citations": pl.Int32,
             "transfer_count": pl.Int32, "license_count": pl.Int32,
             "license_fee_wan": pl.Float64}
    schema = {f.name: kinds.get(f.name, pl.String) for f in dataclasses.fields(cls)
              if f.name not in drop}
    if side == "patents":
        schema["first_claim"] = pl.String
    schema.update({"chains": pl.List(pl.String), "problem": pl.String, "means": pl.String,
                   "effect": pl.String, "grade": pl.String, "trl": pl.Int32,
                   "evidence": pl.List(pl.String), "labels_json": pl.String})
    return schema


def side_tables(side: str, records: Sequence[Any], labels: Mapping[str, Mapping[str, Any]],
                 ) -> tuple[Any, Any]:
    """(facets, docs) polars frames, row-aligned with ``records``; never contact data."""
    import polars as pl

    patent = side == "patents"
    fschema = {"id": pl.String, "chains": pl.List(pl.String), "ipc": pl.List(pl.String),
               "applicant_type": pl.String, "region": pl.String, "legal_valid": pl.Boolean,
               "date": pl.String, "open_license": pl.Boolean, "grade": pl.String,
               "trl": pl.Int32, "confidential": pl.Boolean, "owner": pl.String,
               # licence terms (patents; demands: their budget ceiling in 万元)
               "license_mode": pl.String, "fee_wan": pl.Float64}
    dschema = _doc_schema(side)
    facets: dict[str, list[Any]] = {k: [] for k in fschema}
    docs: dict[str, list[Any]] = {k: [] for k in dschema}
    own = [k for k in dschema if k not in (
        "first_claim", "chains", "problem", "means", "effect", "grade", "trl", "evidence",
        "labels_json")]
    for r in records:
        lab = labels.get(r.id, {})
        chains = record_chains(r, lab)
        ipc = list(getattr(r, "ipc", ()) or ())
        facets["id"].append(r.id)
        facets["chains"].append(chains)
        facets["ipc"].append(ipc)
        facets["applicant_type"].append(getattr(r, "applicant_type", None))
        facets["region"].append(r.region)
        facets["legal_valid"].append(patent_is_valid(r) if patent else True)
        facets["date"].append(r.application_date if patent else r.deadline)
        facets["open_license"].append(bool(getattr(r, "open_license", False))
                                      or bool(lab.get("open_license")))
        facets["grade"].append(lab.get("grade"))
        facets["trl"].append(_int(lab.get("trl") if patent
                                  else r.required_trl or lab.get("required_trl")))
        facets["confidential"].append(bool(getattr(r, "confidential", False)))
        facets["owner"].append(getattr(r, "owner", None))
        terms = lab.get("license_terms") or {}
        facets["license_mode"].append(terms.get("mode") if patent else None)
        facets["fee_wan"].append(_float(terms.get("yearly_fee_wan")) if patent
                                 else _float(lab.get("budget_wan_max")))
        for k in own:
            docs[k].append(ipc if k == "ipc" else getattr(r, k))
        if patent:
            docs["first_claim"].append(r.first_claim)
        docs["chains"].append(chains)
        for k in ("problem", "means", "effect", "grade"):
            v = lab.get(k)
            docs[k].append(None if v is None else str(v))
        docs["trl"].append(_int(lab.get("trl")))
        docs["evidence"].append([str(e) for e in (lab.get("evidence") or ())])
        docs["labels_json"].append(orjson.dumps(lab, default=str).decode() if lab else None)
    return _frame(facets, fschema), _frame(docs, dschema)


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _frame(columns: Mapping[str, list[Any]], schema: Mapping[str, Any]) -> Any:
    """A polars frame from Python column lists. List columns go through pyarrow: polars
    builds a Series per inner list (~1 s per 20k-record side), arrow converts in C++."""
    import polars as pl
    import pyarrow as pa

    out = []
    for name, dtype in schema.items():
        if dtype == pl.List(pl.String):
            arr = pa.array(columns[name], type=pa.large_list(pa.large_string()))
            out.append(pl.Series(name, arr).cast(dtype))
        else:
            out.append(pl.Series(name, columns[name], dtype=dtype))
    return pl.DataFrame(out)
