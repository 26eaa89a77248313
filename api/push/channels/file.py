"""File channel: an XLSX and an HTML digest per run in ``<home>/outbox/<subscription id>/``.

Written atomically (temp file, fsync, rename) with mode 0600: the outbox is read by the
operation centre's own staff, not published.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

from patmatch.atomic_io import PRIVATE, atomic_path

from api.push.channels.digest import DeliveryError, DigestContext, item_payload
from api.push.channels.render import render_html
from api.push.records import Delivery
from api.push.subscriptions import Subscription

COLUMNS = [("rank", "序号"), ("patent_id", "专利号"), ("title", "名称"), ("chains", "产业链"),
           ("reason", "匹配理由"), ("score", "融合分"), ("feedback_url", "反馈链接"),
           ("feedback_token", "反馈令牌")]


def _atomic(path: Path, write) -> None:  # noqa: ANN001 - a callable taking the temp path
    with atomic_path(path, mode=PRIVATE) as tmp:
        write(tmp)


def digest_paths(outbox: Path, sub: Subscription, items: Sequence[Delivery]) -> tuple[Path, Path]:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    stem = f"digest-{stamp}-{min(d.id for d in items)}"
    folder = Path(outbox) / sub.id
    return folder / f"{stem}.xlsx", folder / f"{stem}.html"


class FileChannel:
    def send(self, sub: Subscription, items: Sequence[Delivery], ctx: DigestContext) -> None:
        import xlsxwriter

        payload = [item_payload(d, ctx) for d in items]
        xlsx, html = digest_paths(ctx.settings.outbox_dir, sub, items)
        try:
            xlsx.parent.mkdir(parents=True, exist_ok=True, mode=0o700)

            def write_xlsx(tmp: str) -> None:
                with xlsxwriter.Workbook(tmp) as wb:
                    ws = wb.add_worksheet("推送")
                    for j, (_, head) in enumerate(COLUMNS):
                        ws.write(0, j, head)
                    for i, it in enumerate(payload, 1):
                        for j, (key, _) in enumerate(COLUMNS):
                            v = it[key]
                            ws.write(i, j, "、".join(it["chain_names"]) if key == "chains"
                                     else v)

            def write_html(tmp: str) -> None:
                Path(tmp).write_text(render_html(sub, payload), encoding="utf-8")

            _atomic(xlsx, write_xlsx)
            _atomic(html, write_html)
        except OSError as exc:
            raise DeliveryError(f"写入发件箱失败 {xlsx.parent}: {exc}") from None


__all__ = ["FileChannel", "digest_paths"]
