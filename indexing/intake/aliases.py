"""Header aliases: which column names mean which canonical field, per kind of table.

``header_key`` compares headers width-, case- and punctuation-blind; ``known_fields``
names the canonical fields a row of cells mentions (header detection, sheet checks).
The alias tables are documented in docs/ingestion.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from indexing.intake.normalize import to_half_width

Kind = Literal["patents", "demands", "transfers"]

# canonical field -> accepted headers (compared after header_key). Documented in
# docs/ingestion.md; the CNKI scraper names (com, sql, quote, ChDiv_summary ...) are
# what the public CNKI export tools write.
PATENT_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "公开号", "公告号", "公开(公告)号", "公开公告号", "申请号", "专利号", "publication_number",
           "publication number", "pub_no", "application_number", "patent_id", "专利id"),
    "title": ("title", "标题", "名称", "专利名称", "发明名称", "题名", "patent_title"),
    "abstract": ("abstract", "摘要", "摘要文本", "ChDiv_summary", "summary", "中文摘要"),
    "claims": ("claims", "权利要求", "权利要求书", "主权项", "首项权利要求", "claim_text", "claim"),
    "ipc": ("ipc", "IPC分类号", "IPC", "主分类号", "分类号", "IPC主分类号", "ipc_codes", "labels",
            "cpc", "CPC分类号"),
    "applicant": ("applicant", "申请人", "专利权人", "申请(专利权)人", "申请（专利权）人", "权利人",
                  "assignee", "com", "当前权利人"),
    "applicant_type": ("applicant_type", "申请人类型", "权利人类型", "机构类型"),
    "legal_status": ("legal_status", "法律状态", "当前法律状态", "专利状态", "status"),
    "application_date": ("application_date", "申请日", "申请日期", "filing_date", "sql"),
    "publication_date": ("publication_date", "公开日", "公告日", "公开(公告)日", "公开日期",
                         "授权公告日", "quote", "pub_date"),
    "region": ("region", "地区", "省市", "申请人地址", "所在地区", "地域", "省份", "城市"),
    "inventors": ("inventors", "发明人", "设计人", "author", "authors", "inventor"),
    "open_license": ("open_license", "开放许可", "是否开放许可", "open licence"),
    "license_fee": ("license_fee", "许可费", "许可费用", "开放许可费", "使用费", "许可使用费",
                    "使用费标准"),
    "source": ("source", "来源", "数据来源", "public"),
    "problem": ("problem", "技术问题", "解决的问题", "要解决的技术问题"),
    "means": ("means", "技术手段", "技术方案", "解决手段"),
    "effect": ("effect", "功能效果", "有益效果", "技术效果"),
    "trl": ("trl", "技术成熟度", "成熟度", "成熟等级", "技术就绪度"),
    "citations": ("citations", "被引次数", "被引用次数", "被引证次数", "cited_by", "citation_count"),
    "transfer_count": ("transfer_count", "转让次数", "transfers", "权利转移次数"),
    "license_count": ("license_count", "许可次数", "licenses", "许可备案次数"),
    "license_mode": ("license_mode", "许可方式", "许可类型", "交易方式", "license_type"),
    "license_fee_wan": ("license_fee_wan", "许可费金额", "许可费（万元）", "许可费(万元)",
                        "费用金额", "fee_amount"),
    "license_fee_period": ("license_fee_period", "计费周期", "费用周期", "fee_period"),
    "license_payment": ("license_payment", "支付方式", "付费方式", "payment_mode"),
}
DEMAND_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "需求编号", "需求id", "编号", "demand_id", "序号"),
    "text": ("text", "需求描述", "需求内容", "需求详情", "技术需求", "描述", "需求说明", "description"),
    "title": ("title", "需求名称", "需求标题", "标题", "项目名称", "name"),
    "enterprise": ("enterprise", "企业名称", "需求企业", "企业", "单位名称", "需求单位", "company"),
    "industry": ("industry", "所属行业", "行业", "行业领域", "技术领域"),
    "chain": ("chain", "产业链", "所属产业链", "chain_id"),
    "region": ("region", "地区", "所在地区", "所在地", "区县", "城市"),
    "budget": ("budget", "预算", "预算金额", "拟投入资金", "投入预算", "经费预算", "资金预算"),
    "cooperation_mode": ("cooperation_mode", "合作方式", "合作模式", "cooperation"),
    "required_trl": ("required_trl", "技术成熟度", "需求成熟度", "trl", "要求成熟度"),
    "deadline": ("deadline", "截止日期", "截止时间", "有效期", "需求截止日期"),
    "confidential": ("confidential", "是否保密", "保密"),
    "contact_name": ("contact_name", "联系人", "联系人姓名", "contact"),
    "contact_phone": ("contact_phone", "联系电话", "电话", "手机", "手机号", "联系方式", "phone"),
    "contact_email": ("contact_email", "邮箱", "电子邮箱", "联系邮箱", "email", "e-mail"),
    "source": ("source", "来源", "数据来源"),
}
# CNIPA's 专利权转移 / 专利实施许可合同备案 / 专利权质押登记 notices and platform deal exports
TRANSFER_ALIASES: dict[str, tuple[str, ...]] = {
    "patent_id": ("patent_id", "专利号", "申请号", "专利申请号", "公开号", "公告号", "公开(公告)号",
                  "patent_number", "patent", "application_number"),
    "event_type": ("event_type", "事件类型", "转化方式", "交易类型", "变更类型", "类型", "交易方式",
                   "事务类型", "type"),
    "license_kind": ("license_kind", "许可种类", "许可类型", "许可方式"),
    "effective_date": ("effective_date", "生效日", "生效日期", "变更生效日", "登记生效日", "备案日期",
                       "备案日", "登记日", "登记日期", "合同备案日", "日期", "成交日期", "date"),
    "assignor": ("assignor", "转让人", "让与人", "许可人", "让与人/许可人/出质人", "出质人",
                 "变更前权利人", "原权利人", "转出方", "licensor", "pledgor"),
    "assignee": ("assignee", "受让人", "被许可人", "受让人/被许可人/质权人", "质权人", "变更后权利人",
                 "现权利人", "受让方", "承接方", "licensee", "pledgee"),
    "assignor_address": ("assignor_address", "转让人地址", "让与人地址", "许可人地址", "出质人地址",
                         "变更前地址", "转出方地址"),
    "assignee_address": ("assignee_address", "受让人地址", "被许可人地址", "质权人地址", "变更后地址",
                         "受让方地址", "承接方地址"),
    "amount_wan": ("amount_wan", "合同金额", "合同金额(万元)", "金额", "金额(万元)", "交易金额",
                   "交易金额(万元)", "成交金额", "质押金额", "amount"),
    "source": ("source", "来源", "数据来源"),
    "source_ref": ("source_ref", "备案号", "合同备案号", "登记号", "质押登记号", "交易编号", "deal_id"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "patents": ("id", "title", "abstract"), "demands": ("id", "text"),
    "transfers": ("patent_id", "event_type", "effective_date", "assignor", "assignee")}
# columns that carry a publication number inside a URL (CNKI: ...&filename=CN108982325A)
URL_ID_HEADERS = ("href", "url", "链接", "公开链接", "详情链接", "link")


def header_key(h: str) -> str:
    return re.sub(r"[\s_\-()（）:：]+", "", to_half_width(str(h)).strip().lower())


def aliases_for(kind: Kind) -> dict[str, tuple[str, ...]]:
    if kind == "transfers":
        return TRANSFER_ALIASES
    return PATENT_ALIASES if kind == "patents" else DEMAND_ALIASES


def known_fields(kind: Kind, names: Iterable[Any]) -> set[str]:
    aliases = aliases_for(kind)
    lookup = {header_key(a): f for f, names_ in aliases.items() for a in names_}
    return {lookup[k] for k in (header_key(str(n)) for n in names if n is not None) if k in lookup}
