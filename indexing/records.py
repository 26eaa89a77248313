"""The record contract shared by every part of patmatch.

A ``PatentRecord`` is a patent offered for transfer/licence; a ``DemandRecord`` is an
enterprise technology demand (企业技术需求). Column names here are the canonical ones;
ingestion maps Chinese/English header aliases onto them (``indexing/intake/aliases.py``).
Records are frozen: normalisation produces new records, nothing mutates in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

ApplicantType = Literal["university", "institute", "soe", "enterprise", "individual", "other"]
APPLICANT_TYPES: tuple[str, ...] = (
    "university", "institute", "soe", "enterprise", "individual", "other",
)
# what readers see instead of the ids (reports, CSV/XLSX, the console)
APPLICANT_TYPE_ZH: dict[str, str] = {
    "university": "高校", "institute": "科研院所", "soe": "国有企业", "enterprise": "企业",
    "individual": "个人", "other": "其他",
}
CooperationMode = Literal["转让", "许可", "合作开发", "其他"]
COOPERATION_MODES: tuple[str, ...] = ("转让", "许可", "合作开发", "其他")

# Legal statuses that keep a patent matchable; anything else (withdrawn, lapsed, rejected,
# expired ...) is dropped from the next build on both the lexical and the dense side.
VALID_LEGAL_STATUSES: tuple[str, ...] = ("有效", "授权", "实质审查", "公开", "valid", "granted", "pending")


@dataclass(frozen=True, slots=True)
class PatentRecord:
    id: str
    title: str
    abstract: str
    claims: str | None = None
    ipc: tuple[str, ...] = ()
    applicant: str | None = None
    applicant_type: str | None = None
    legal_status: str | None = None
    application_date: str | None = None  # ISO yyyy-mm-dd
    publication_date: str | None = None  # ISO yyyy-mm-dd
    region: str | None = None
    inventors: tuple[str, ...] = ()
    open_license: bool = False
    license_fee: str | None = None       # as declared, e.g. "3万元/年"
    source: str | None = None
    # given by a person (the holder, a reviewer): each wins over what the labeler infers
    problem: str | None = None           # 技术问题
    means: str | None = None             # 技术手段
    effect: str | None = None            # 功能效果
    trl: int | None = None               # 成熟等级 1-9
    citations: int | None = None         # 被引次数 (grade indicator)
    transfer_count: int | None = None    # 转让次数 (grade and TRL indicator)
    license_count: int | None = None     # 许可次数 (grade and TRL indicator)
    license_mode: str | None = None      # 开放许可 / 普通许可 / 排他许可 / 独占许可 / 转让 / 作价入股
    license_fee_wan: float | None = None  # fee amount in 万元 (per period, or once)
    license_fee_period: str | None = None  # 一次 / 年 / 季度 / 月
    license_payment: str | None = None   # 一次性 / 按年 / 提成

    @property
    def text(self) -> str:
        """Title + abstract: the default text to tokenize and embed."""
        return f"{self.title}。{self.abstract}"

    @property
    def first_claim(self) -> str | None:
        if not self.claims:
            return None
        head = self.claims.split("2.", 1)[0]
        return head.strip() or None


@dataclass(frozen=True, slots=True)
class DemandRecord:
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
    deadline: str | None = None  # ISO yyyy-mm-dd
    confidential: bool = False
    contact_name: str | None = None  # personal data: encrypted at rest, masked on output
    contact_phone: str | None = None  # personal data
    contact_email: str | None = None  # personal data
    source: str | None = None
    # the operation centre that posted it (API); centres always see their own demands
    owner: str | None = None
    status: str = "active"  # "active" | "deleted"; deleted demands leave the next build

    @property
    def query_text(self) -> str:
        return f"{self.title}。{self.text}" if self.title else self.text


PERSONAL_FIELDS: tuple[str, ...] = ("contact_name", "contact_phone", "contact_email")
PATENT_REQUIRED: tuple[str, ...] = ("id", "title", "abstract")
DEMAND_REQUIRED: tuple[str, ...] = ("id", "text")
PATENT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(PatentRecord))
DEMAND_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(DemandRecord))

__all__ = [
    "APPLICANT_TYPES", "APPLICANT_TYPE_ZH", "COOPERATION_MODES", "DEMAND_COLUMNS", "DEMAND_REQUIRED",
    "PATENT_COLUMNS", "PATENT_REQUIRED", "PERSONAL_FIELDS", "VALID_LEGAL_STATUSES",
    "DemandRecord", "PatentRecord", "field",
]


def patent_is_valid(rec: Any) -> bool:
    """Matchable unless its legal status says otherwise (unknown status counts as valid:
    an absent column must not empty the index)."""
    status = getattr(rec, "legal_status", None)
    return status is None or str(status).strip() in VALID_LEGAL_STATUSES
