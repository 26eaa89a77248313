"""What a broker reads next to every match: grade, TRL, licence terms, applicant, applicant
type and region (patents), required TRL and budget (demands), with Chinese display names.

Read from a bundle side's ``docs`` (record fields and ``labels_json``) once per side and
cached on it; bundles built before these fields existed simply give ``None``.
"""

from __future__ import annotations

from typing import Any

import orjson

from indexing.records import APPLICANT_TYPE_ZH

FACT_COLUMNS: tuple[str, ...] = ("grade", "trl", "license_mode", "license_fee_wan",
                                 "license_fee_period", "license_payment", "yearly_fee_wan",
                                 "applicant", "applicant_type", "applicant_type_zh", "region")
# CSV/XLSX headers for readers (batch output, chain lists)
FACT_HEADERS_ZH: dict[str, str] = {
    "grade": "价值分级", "trl": "成熟等级", "license_mode": "许可方式", "license_fee_wan": "许可费(万元)",
    "license_fee_period": "计费周期", "license_payment": "支付方式", "yearly_fee_wan": "年费用(万元)",
    "applicant": "申请人", "applicant_type": "申请人类型代码", "applicant_type_zh": "申请人类型",
    "region": "地区",
}


def _labels(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    return d if isinstance(d, dict) else {}


def facts_of(doc: dict[str, Any]) -> dict[str, Any]:
    """The facts of one display doc (a docs.parquet row as a dict)."""
    lab = _labels(doc.get("labels_json"))
    terms = lab.get("license_terms") or {}
    atype = doc.get("applicant_type")
    trl = doc.get("trl") if doc.get("trl") is not None else lab.get("required_trl")
    if trl is None:
        trl = doc.get("required_trl")
    return {
        "grade": doc.get("grade") or lab.get("grade"),
        "trl": int(trl) if isinstance(trl, int | float) else None,
        "license_mode": terms.get("mode"),
        "license_fee_wan": terms.get("fee_wan"),
        "license_fee_period": terms.get("period"),
        "license_payment": terms.get("payment"),
        "yearly_fee_wan": terms.get("yearly_fee_wan"),
        "applicant": doc.get("applicant") or doc.get("enterprise"),
        "applicant_type": atype,
        "applicant_type_zh": APPLICANT_TYPE_ZH.get(atype or "", atype),
        "region": doc.get("region"),
        "budget_wan_max": lab.get("budget_wan_max"),
    }


def side_facts(side: Any) -> Any:
    """A polars frame ``id`` + FACT_COLUMNS for every record of ``side`` (cached)."""
    import polars as pl

    cached = getattr(side, "_record_facts", None)
    if cached is not None:
        return cached
    docs = getattr(side, "docs", None)
    if docs is None or not hasattr(docs, "to_dicts"):
        rows = [{"id": i} for i in side.ids]
    else:
        rows = [{"id": rid, **facts_of(d)} for rid, d in zip(side.ids, docs.to_dicts())]
    schema = {"id": pl.String, "grade": pl.String, "trl": pl.Int32, "license_mode": pl.String,
              "license_fee_wan": pl.Float64, "license_fee_period": pl.String,
              "license_payment": pl.String, "yearly_fee_wan": pl.Float64, "applicant": pl.String,
              "applicant_type": pl.String, "applicant_type_zh": pl.String, "region": pl.String}
    df = pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)
    try:
        side._record_facts = df  # noqa: SLF001 - a cache on the loaded side
    except AttributeError:
        pass
    return df


__all__ = ["FACT_COLUMNS", "FACT_HEADERS_ZH", "facts_of", "side_facts"]
