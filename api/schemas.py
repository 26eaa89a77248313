"""Request and response models (pydantic v2) with Chinese examples for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

# ids we assign or operators choose; ids of ingested records may be anything printable
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
RECORD_ID_PATTERN = r"^[^/\x00-\x1f\x7f]{1,128}$"
MAX_TEXT = 20_000
CooperationMode = Literal["转让", "许可", "合作开发", "其他"]
Direction = Literal["demand-to-patent", "patent-to-demand"]


class _StrictInput(BaseModel):
    # strict: "yes"/1 are not booleans and "5" is not an int; say so instead of guessing
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ErrorOut(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["demand 'D-2024-001' not found"])
    details: dict[str, Any] = Field(default_factory=dict)


class Page(BaseModel, Generic[T]):
    total: int = Field(ge=0, description="all items matching, not just this page")
    limit: int
    offset: int
    items: list[T]


# --- demands -------------------------------------------------------------------------
class DemandFields(_StrictInput):
    title: str | None = Field(None, max_length=500, examples=["动力电池低温续航提升"])
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT, examples=[
        "我公司生产电动物流车，冬季零下10度时续航下降40%，希望找到提升锂电池低温放电性能的技术，"
        "可接受技术转让或合作开发。"])
    enterprise: str | None = Field(None, max_length=200, examples=["常州某新能源科技有限公司"])
    industry: str | None = Field(None, max_length=200, examples=["汽车零部件"])
    chain: str | None = Field(None, max_length=100, examples=["battery_storage"])
    region: str | None = Field(None, max_length=100, examples=["江苏省常州市"])
    budget: str | None = Field(None, max_length=100, examples=["50-100万元"])
    cooperation_mode: CooperationMode | None = Field(None, examples=["合作开发"])
    required_trl: int | None = Field(None, ge=1, le=9, examples=[6])
    deadline: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-12-31"])
    confidential: bool | None = Field(None, examples=[False])
    contact_name: str | None = Field(None, max_length=100, examples=["张伟"])
    contact_phone: str | None = Field(None, max_length=50, examples=["13812345678"])
    contact_email: str | None = Field(None, max_length=200, examples=["zhangwei@example.com"])
    source: str | None = Field(None, max_length=200, examples=["常州市知识产权运营中心"])


class DemandCreate(DemandFields):
    id: str | None = Field(None, pattern=ID_PATTERN, description="omit to have one assigned",
                           examples=["D-2026-0001"])
    text: str = Field(min_length=1, max_length=MAX_TEXT, examples=[
        "我公司生产电动物流车，冬季零下10度时续航下降40%，希望找到提升锂电池低温放电性能的技术。"])
    confidential: bool = False
    owner: str | None = Field(None, max_length=100,
                              description="operators only; a centre's demands are its own")


class DemandUpdate(DemandFields):
    """Fields to change; omitted fields stay as they are."""


class DemandOut(BaseModel):
    id: str
    text: str
    title: str | None = None
    enterprise: str | None = None
    industry: str | None = None
    chain: str | None = None
    region: str | None = None
    budget: str | None = None
    cooperation_mode: str | None = None
    required_trl: int | None = None
    deadline: str | None = None
    confidential: bool = False
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    source: str | None = None
    owner: str | None = None
    status: str = "active"
    contacts_masked: bool = Field(description="true when personal data was masked for this caller")


class PatentOut(BaseModel):
    id: str = Field(examples=["CN115000000A"])
    title: str = Field(examples=["一种低温锂离子电池电解液及其制备方法"])
    abstract: str
    claims: str | None = None
    ipc: list[str] = Field(default_factory=list, examples=[["H01M10/0525"]])
    applicant: str | None = Field(None, examples=["某某大学"])
    applicant_type: str | None = None
    legal_status: str | None = None
    application_date: str | None = None
    publication_date: str | None = None
    region: str | None = None
    inventors: list[str] = Field(default_factory=list)
    open_license: bool = False
    license_fee: str | None = None
    source: str | None = None
    problem: str | None = None
    means: str | None = None
    effect: str | None = None
    trl: int | None = None
    citations: int | None = None
    transfer_count: int | None = None
    license_count: int | None = None
    license_mode: str | None = None
    license_fee_wan: float | None = None
    license_fee_period: str | None = None
    license_payment: str | None = None
    applicant_type_zh: str | None = Field(None, examples=["高校"])
    labels: dict[str, Any] | None = Field(None, description=(
        "current labels: chains + chain_names (Chinese), problem/means/effect (given = set "
        "by a person), trl + trl_reasons, grade + grade_score + grade_reasons, license_terms "
        "{mode, fee_wan, period, payment 一次性/按年/提成, royalty_pct, yearly_fee_wan}; "
        "source = bundle (as served) or fresh (record changed since the last build)"))


# --- matching ------------------------------------------------------------------------
class MatchFilters(_StrictInput):
    chains: list[str] = Field(default_factory=list, max_length=20, examples=[["battery_storage"]])
    ipc_prefix: list[str] = Field(default_factory=list, max_length=20, examples=[["H01M"]])
    applicant_types: list[Literal["university", "institute", "soe", "enterprise",
                                  "individual", "other"]] = Field(default_factory=list,
                                                                  examples=[["university"]])
    regions: list[str] = Field(default_factory=list, max_length=50, examples=[["江苏省"]])
    valid_only: bool = True
    date_from: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    date_to: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    open_license_only: bool = False
    min_grade: Literal["A", "B", "C"] | None = Field(None, description="A keeps A; B keeps A and B")
    min_trl: int | None = Field(None, ge=1, le=9, description="patents at least this mature")
    max_required_trl: int | None = Field(None, ge=1, le=9,
                                         description="demands requiring at most this TRL")
    max_fee_wan: float | None = Field(None, ge=0, le=1e8, description=(
        "patents whose licence fee over one year (万元) is stated and at most this, e.g. a "
        "demand's budget; patents without a stated fee (面议) are left out"))


class FusionOverride(_StrictInput):
    method: Literal["weighted_rrf", "rrf", "linear"] | None = Field(None, examples=["rrf"])
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        None, min_length=2, max_length=2, examples=[[1.0, 1.0]],
        description="(lexical, semantic), finite and >= 0")
    rrf_k: int | None = Field(None, ge=1, le=1000, examples=[60])
    norm: Literal["minmax", "l2", "zscore"] | None = None
    lexical_bound: float | None = Field(None, ge=0, le=1, allow_inf_nan=False, examples=[0.2],
                                        description=(
        "linear min-max only: the lexical side is normalised against max(best hit, this x "
        "what the query could score); 0 = plain min-max"))
    depth: int | None = Field(None, ge=10, le=2000)


class MatchRequest(_StrictInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True,
                              json_schema_extra={
        "examples": [{"text": "提升锂电池低温放电性能，解决冬季续航衰减问题", "top_k": 10,
                      "filters": {"chains": ["battery_storage"]}},
                     {"demand_id": "D-2026-0001", "top_k": 20}]})
    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    demand_id: str | None = Field(None, pattern=RECORD_ID_PATTERN)
    filters: MatchFilters = Field(default_factory=MatchFilters)
    top_k: int = Field(10, ge=1, le=200, description="page size (alias of limit)")
    offset: int = Field(0, ge=0, le=10_000)
    fusion: FusionOverride | None = None


class MatchOut(BaseModel):
    record_id: str
    rank: int
    score: float = Field(description=(
        "fused score: comparable within one list only, not a %. Scale depends on the fusion "
        "method: weighted_rrf/rrf sum w/(k+rank) over the two lists (at most "
        "(w_lex+w_sem)/(k+1), about 0.03 with the defaults); linear sums the weighted "
        "normalised component scores (0..w_lex+w_sem, so it may exceed 1)"))
    lexical_score: float | None = None
    semantic_score: float | None = None
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    title: str | None = None
    chains: list[str] = Field(default_factory=list)
    matched_terms: list[str] = Field(default_factory=list, examples=[["锂电池", "低温"]])
    highlights: list[Any] = Field(default_factory=list,
                                  description="{field, start, end, term}: character offsets")
    shared_labels: Any = None
    semantic_pair: list[str] | None = Field(None, description="(query phrase, record phrase) "
                                                             "behind the semantic reason")
    reason: str = Field("", examples=["命中：锂电池、低温；语义相近：冬季续航衰减 ↔ 低温放电性能；"
                                      "同属产业链：动力电池与新型储能"])
    chain_names: list[str] = Field(default_factory=list, examples=[["动力电池与新型储能"]])
    grade: str | None = Field(None, description="价值分级 A/B/C (patents)")
    trl: int | None = Field(None, description="成熟等级 1-9 (patents); required TRL (demands)")
    license_mode: str | None = Field(None, examples=["开放许可"])
    license_fee_wan: float | None = Field(None, description="许可费金额, 万元 per period")
    license_fee_period: str | None = Field(None, examples=["年"])
    license_payment: str | None = Field(None, examples=["按年"], description="一次性/按年/提成")
    yearly_fee_wan: float | None = None
    applicant: str | None = None
    applicant_type: str | None = None
    applicant_type_zh: str | None = Field(None, examples=["高校"])
    region: str | None = None


class MatchListOut(BaseModel):
    build_id: str
    query: dict[str, Any]
    total: int = Field(description="records in the fused list the caller may see (the fused "
                                   "list is computed to a fixed depth, see docs/api.md)")
    matching: int | None = Field(None, description=(
        "records of the searched side that pass the filters; the list is ranked only to "
        "its depth, so total < matching means the ranking was cut, not that fewer matched"))
    limit: int
    offset: int
    items: list[MatchOut]


class PairOut(BaseModel):
    rank: int
    demand_id: str
    patent_id: str
    score: float
    demand_title: str | None = None
    patent_title: str | None = None
    lexical_score: float | None = None
    semantic_score: float | None = None
    matched_terms: list[str] = Field(default_factory=list)
    reason: str = ""
    grade: str | None = None
    trl: int | None = None
    license_mode: str | None = None
    license_fee_wan: float | None = None
    license_fee_period: str | None = None
    license_payment: str | None = None
    yearly_fee_wan: float | None = None
    applicant: str | None = None
    applicant_type: str | None = None
    applicant_type_zh: str | None = None
    region: str | None = None


class PairListOut(BaseModel):
    build_id: str
    chain: str
    total: int
    limit: int
    offset: int
    items: list[PairOut]


class ChainOut(BaseModel):
    id: str = Field(examples=["battery_storage"])
    name_zh: str = Field(examples=["动力电池与新型储能"])
    name_en: str | None = None
    patents: int | None = Field(None, description="records of this chain in the served bundle")
    demands: int | None = None


# --- index, jobs, admin, audit, keys ---------------------------------------------------
class IndexOut(BaseModel):
    build_id: str
    path: str
    loaded_at: str
    created_at: str | None = None
    counts: dict[str, Any] = Field(default_factory=dict)
    fingerprints: dict[str, Any] = Field(default_factory=dict)
    quality: dict[str, Any] = Field(default_factory=dict)
    reload_error: str | None = Field(None, description="why the last switch to a newly "
                                                       "published bundle failed (still "
                                                       "serving this one)")
    pushes: dict[str, int] = Field(default_factory=dict, description=(
        "items delivered by subscriptions (delivered_total, delivered_last_365_days) and, "
        "apart from them, match results viewed through the API (views_last_365_days)"))


class JobOut(BaseModel):
    job_id: str
    kind: Literal["match", "rebuild"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    created_at: str
    updated_at: str
    rows: int | None = None
    error: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    result_url: str | None = None


class PublishIn(_StrictInput):
    build_id: str | None = Field(None, pattern=ID_PATTERN, description="default: newest staged")
    force: bool = Field(False, description="publish even when the quality gate refuses")


class AdminResult(BaseModel):
    action: str
    build_id: str | None = None
    serving: str | None = Field(None, description="build id served after the action")
    swapped: bool = False
    reload_error: str | None = Field(None, description="the pointer moved but this bundle "
                                                       "could not be loaded; still serving "
                                                       "the previous one")


class AuditOut(BaseModel):
    seq: int
    ts: str
    key_id: str | None
    key_name: str | None
    role: str | None
    method: str
    path: str
    action: str
    target: str | None
    query: str | None
    result_count: int | None
    status: int


class KeyCreate(_StrictInput):
    name: str = Field(min_length=1, max_length=100, examples=["常州市新能源汽车产业链运营中心"])
    role: Literal["operator", "analyst", "centre", "broker"] = Field(examples=["centre"])
    centre: str | None = Field(None, min_length=1, max_length=100, examples=["cz-nev"])
    chains: list[str] = Field(default_factory=list, max_length=50, examples=[["nev"]])


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: str
    centre: str | None = None
    chains: list[str] = Field(default_factory=list)
    created_at: str
    revoked_at: str | None = None
    last_used_at: str | None = None


class KeyCreatedOut(KeyOut):
    key: str = Field(description="shown once; only its hash is stored")


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"


class FallbackOut(BaseModel):
    published: str = Field(description="the build id CURRENT.json names: it does not verify")
    reason: str = Field(description="why it is not served (checksum mismatch, missing file...)")
    advice: str = Field(description="the command that makes the served bundle current",
                        examples=["patmatch rollback"])


class ReadyOut(BaseModel):
    status: Literal["ready", "fallback"] = Field("ready", description=(
        "ready: the published bundle serves; fallback: it does not verify and the newest "
        "earlier bundle that verifies serves instead (still ready to answer queries)"))
    build_id: str = Field(description="the bundle that answers queries")
    fallback: FallbackOut | None = None
