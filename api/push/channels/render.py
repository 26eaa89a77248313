"""The digest as Chinese HTML and plain text (e-mail and file channels share it)."""

from __future__ import annotations

from html import escape
from typing import Any

from indexing.privacy import mask_pii

from api.push.subscriptions import Subscription


def _need(sub: Subscription) -> str:
    return f"需求 {sub.demand_id}" if sub.demand_id else f"需求描述：{(mask_pii(sub.text) or '')[:80]}"


def render_text(sub: Subscription, items: list[dict[str, Any]]) -> str:
    lines = [f"您好，以下是订阅“{sub.name or sub.id}”的 {len(items)} 条新匹配专利（{_need(sub)}）。",
             ""]
    for i, it in enumerate(items, 1):
        lines += [f"{i}. {it['title']}（{it['patent_id']}）",
                  f"   产业链：{'、'.join(it['chain_names']) or '-'}",
                  f"   匹配理由：{it['reason'] or '-'}",
                  f"   反馈（已查看/已联系/洽谈/成交/不相关）：{it['feedback_url']}", ""]
    lines += ["分数为融合排序分，仅在同一列表内可比，不是相似度百分比。",
              "本邮件由专利供需匹配平台自动发送；个人信息已脱敏。"]
    return "\n".join(lines)


def render_html(sub: Subscription, items: list[dict[str, Any]]) -> str:
    rows = []
    for i, it in enumerate(items, 1):
        rows.append(
            "<tr>"
            f"<td>{i}</td><td>{escape(it['patent_id'])}</td><td>{escape(it['title'])}</td>"
            f"<td>{escape('、'.join(it['chain_names']) or '-')}</td>"
            f"<td>{escape(it['reason'] or '-')}</td>"
            f"<td><a href=\"{escape(it['feedback_url'], quote=True)}\">记录反馈</a></td>"
            "</tr>")
    return (
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(sub.name or sub.id)} 专利推送</title></head><body>"
        f"<h2>专利精准推送：{escape(sub.name or sub.id)}</h2>"
        f"<p>{escape(_need(sub))}；本次 {len(items)} 条新匹配。</p>"
        "<table border=\"1\" cellpadding=\"4\" cellspacing=\"0\">"
        "<tr><th>序号</th><th>专利号</th><th>名称</th><th>产业链</th><th>匹配理由</th>"
        "<th>反馈</th></tr>" + "".join(rows) + "</table>"
        "<p>分数为融合排序分，仅在同一列表内可比。个人信息已脱敏。</p></body></html>")


__all__ = ["render_html", "render_text"]
