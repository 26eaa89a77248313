"""Request and response models of /v1/subscriptions and /v1/feedback."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.push.feedback import DEAL_TYPES, REASONS, STATES

ID = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$"
RECORD_ID = r"^[^/\x00-\x1f\x7f]{1,128}$"
Status = Literal["viewed", "contacted", "negotiating", "deal", "rejected"]
Reason = Literal["不相关", "技术成熟度不够", "价格不合适", "权属或法律状态问题", "已有方案", "其他"]
DealType = Literal["转让", "许可", "开放许可", "作价入股"]
assert set(Status.__args__) == set(STATES) and set(Reason.__args__) == set(REASONS)  # type: ignore[attr-defined]
assert set(DealType.__args__) == set(DEAL_TYPES)  # type: ignore[attr-defined]


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class SubFilters(StrictIn):
    chains: list[str] = Field(default_factory=list, max_length=20, examples=[["pv"]])
    regions: list[str] = Field(default_factory=list, max_length=20, examples=[["江苏"]])
    ipc_prefix: list[str] = Field(default_factory=list, max_length=20, examples=[["H01M"]])
    applicant_types: list[Literal["university", "institute", "soe", "enterprise", "individual",
                                  "other"]] = Field(default_factory=list, max_length=6)
    open_license_only: bool = False
    min_grade: Literal["A", "B", "C"] | None = None


class ChannelIn(StrictIn):
    type: Literal["webhook", "email", "file"] = Field(examples=["webhook"])
    url: str | None = Field(None, max_length=2000, examples=["https://crm.example.com/hook"])
    to: list[str] | None = Field(None, max_length=20, examples=[["tech@example.com"]])

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SubscriptionCreate(StrictIn):
    name: str = Field("", max_length=200, examples=["光伏清洗需求周报"])
    demand_id: str | None = Field(None, pattern=RECORD_ID, examples=["D-2026-0001"])
    text: str | None = Field(None, min_length=1, max_length=5000,
                             examples=["光伏组件表面积灰，需要自动清洗机器人"])
    filters: SubFilters = Field(default_factory=SubFilters)
    top_n: int = Field(10, ge=1, le=50)
    min_score: float = Field(0.0, ge=0, le=1e6)
    schedule: Literal["publish", "daily", "weekly"] = "publish"
    channel: ChannelIn


class SubscriptionUpdate(StrictIn):
    name: str | None = Field(None, max_length=200)
    text: str | None = Field(None, min_length=1, max_length=5000)
    filters: SubFilters | None = None
    top_n: int | None = Field(None, ge=1, le=50)
    min_score: float | None = Field(None, ge=0, le=1e6)
    schedule: Literal["publish", "daily", "weekly"] | None = None
    channel: ChannelIn | None = None
    status: Literal["active", "paused"] | None = None


class SubscriptionOut(BaseModel):
    id: str
    name: str
    owner_key_id: str
    owner_role: str
    owner_centre: str | None
    owner_chains: list[str]
    demand_id: str | None
    text: str | None
    filters: dict[str, Any]
    top_n: int
    min_score: float
    schedule: str
    channel_type: str
    channel: dict[str, Any]
    status: str
    created_at: str
    updated_at: str
    last_run_at: str | None = None
    last_build: str | None = None


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str | None = Field(None, description="webhook HMAC key; shown once, keep it: "
                                                 "X-Patmatch-Signature is sha256=HMAC(body)")


class DeliveryOut(BaseModel):
    id: int
    subscription_id: str
    demand_id: str | None
    patent_id: str
    bundle: str
    channel: str
    rank: int
    score: float
    title: str
    reason: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str
    updated_at: str
    sent_at: str | None


class OutcomeIn(StrictIn):
    status: Status
    reason: Reason | None = None
    note: str | None = Field(None, max_length=1000)
    deal_type: DealType | None = None
    amount_wan: float | None = Field(None, ge=0, le=1e7, description="金额, 万元")
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$", examples=["2026-11-30"])
    reopen: bool = False


class FeedbackIn(OutcomeIn):
    demand_id: str | None = Field(None, pattern=RECORD_ID, examples=["D-2026-0001"])
    subscription_id: str | None = Field(None, pattern=ID)
    patent_id: str = Field(pattern=RECORD_ID, examples=["CN114000000A"])


class FeedbackEventOut(BaseModel):
    from_state: str | None
    to_state: str
    reason: str | None
    note: str | None
    deal_type: str | None
    amount_wan: float | None
    deal_date: str | None
    reopen: bool
    actor: str | None
    actor_role: str | None
    source: str
    ts: str


class FeedbackOut(BaseModel):
    demand_id: str | None
    subscription_id: str | None
    patent_id: str
    state: str
    reason: str | None
    note: str | None
    deal_type: str | None
    amount_wan: float | None
    deal_date: str | None
    updated_at: str
    updated_by: str | None
    changed: bool = Field(True, description="false when the same outcome was already recorded")
    history: list[FeedbackEventOut] = Field(default_factory=list)


class DemandFeedbackOut(BaseModel):
    demand_id: str
    items: list[FeedbackOut]
