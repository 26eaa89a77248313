"""What ``patmatch ingest`` prints, in Simplified Chinese (the ``--json`` keys stay English:
they are for machines). One renderer for patents, demands and transfers."""

from __future__ import annotations

import re
from typing import Any

KIND_ZH = {"patents": "专利", "demands": "需求", "transfers": "转化事件"}

FIELD_ZH = {
    # patents
    "id": "编号", "title": "标题", "abstract": "摘要", "claims": "权利要求", "ipc": "IPC分类号",
    "applicant": "申请人", "applicant_type": "申请人类型", "legal_status": "法律状态",
    "application_date": "申请日", "publication_date": "公开日", "region": "地区",
    "inventors": "发明人", "open_license": "开放许可", "license_fee": "许可费", "source": "来源",
    "problem": "技术问题", "means": "技术手段", "effect": "技术效果", "trl": "技术成熟度",
    "citations": "被引次数", "transfer_count": "转让次数", "license_count": "许可次数",
    "license_mode": "许可方式", "license_fee_wan": "许可费（万元）",
    "license_fee_period": "许可费周期", "license_payment": "支付方式",
    # demands
    "text": "需求描述", "enterprise": "企业名称", "industry": "行业", "chain": "产业链",
    "budget": "预算", "cooperation_mode": "合作方式", "required_trl": "要求成熟度",
    "deadline": "截止日期", "confidential": "是否保密", "contact_name": "联系人",
    "contact_phone": "联系电话", "contact_email": "联系邮箱",
    # transfers
    "patent_id": "专利号", "event_type": "事件类型", "license_kind": "许可种类",
    "effective_date": "生效日", "assignor": "让与人", "assignee": "受让人",
    "assignor_address": "让与人地址", "assignee_address": "受让人地址",
    "amount_wan": "合同金额（万元）", "source_ref": "备案号",
}

# the report's ``cleaned`` counters: ``what(<field>)`` or a bare name
CLEANING_ZH = {
    "number_as_text": "数字按文本读入",
    "placeholder_as_empty": "占位值（nan、null、#N/A 等）按空值处理",
    "excel_serial_date": "Excel 日期序号换算为日期",
    "excel_error_as_empty": "Excel 错误值按空值处理",
    "html_stripped": "去除 HTML 标签",
    "control_chars_removed": "去除控制字符",
    "id_numbers_masked": "身份证号已脱敏",
    "pii_masked": "个人信息已脱敏",
    "chain_unknown": "产业链名称未识别（按原文保留）",
}
_COUNTER = re.compile(r"^(?P<what>\w+)\((?P<field>\w+)\)$")
_ACTION_ZH = {"rejected": "必填字段，整行拒收", "empty": "按空值处理"}


def field_label(name: str) -> str:
    zh = FIELD_ZH.get(name)
    return f"{zh}（{name}）" if zh else name


def cleaning_label(key: str) -> str:
    """``number_as_text(contact_phone)`` -> ``数字按文本读入：联系电话（contact_phone）``."""
    m = _COUNTER.match(key)
    what, name = (m["what"], m["field"]) if m else (key, None)
    label = CLEANING_ZH.get(what, what.replace("_", " "))
    return f"{label}：{field_label(name)}" if name else label


def _rows(where: list[str], n: int) -> str:
    shown = "、".join(where)
    return f"，如 {shown}{' 等' if n > len(where) else ''}" if where else ""


def report_lines(report: Any, *, kind: str, store_line: str) -> list[str]:
    """The lines ``patmatch ingest <kind>`` prints for ``report`` (an ``IngestReport``)."""
    r = report
    head = "试运行（未入库）：" if r.dry_run else ""
    unit = "事件" if kind == "transfers" else "编号"
    lines = [f"{head}{KIND_ZH.get(kind, kind)}入库：读取 {r.read} = 新增 {r.accepted} + "
             f"更新 {r.updated} + 拒收 {r.rejected} + 重复 {r.duplicates}",
             f"  重复 = 输入中重复的{unit} {r.repeated_ids} + 库中已有且未变 {r.unchanged}"]
    if r.blank_rows:
        lines.append(f"  跳过空行：{r.blank_rows}")
    for key, n in sorted(r.cleaned.items()):
        lines.append(f"  {cleaning_label(key)}：{n} 行{_rows(r.cleaned_rows.get(key, []), n)}")
    for e in r.excel_errors:
        lines.append(f"  Excel 错误值：{e['source']} 第 {e['row']} 行 “{e['column']}” 列 "
                     f"{e['error']}（{_ACTION_ZH.get(e['action'], e['action'])}）")
    if r.excel_error_cells > len(r.excel_errors):
        lines.append(f"  （Excel 错误值共 {r.excel_error_cells} 个，以上列出前 "
                     f"{len(r.excel_errors)} 个）")
    if r.duplicate_texts:
        shown = "，".join(f"{a}={b}" for a, b in r.duplicate_texts[:5])
        more = f"（另有 {len(r.duplicate_texts) - 5} 组）" if len(r.duplicate_texts) > 5 else ""
        lines.append(f"  不同编号、相同文本：{len(r.duplicate_texts)} 组：{shown}{more}")
    if r.rejects_path:
        lines.append(f"  拒收与重复的行已写入 {r.rejects_path}")
    lines.append(f"  {store_line}（用时 {r.seconds:.1f} 秒）")
    return lines


__all__ = ["CLEANING_ZH", "FIELD_ZH", "KIND_ZH", "cleaning_label", "field_label", "report_lines"]
