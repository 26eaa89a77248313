"""E-mail channel: a Chinese HTML + plain-text digest over SMTP.

Server from the settings: ``PATMATCH_SMTP_HOST`` / ``_PORT`` / ``_STARTTLS`` / ``_USER`` /
``_PASSWORD`` / ``_FROM``. No host configured, a refused connection, a failed login or a
rejected recipient are failed attempts (retried by the dispatcher), never a crash.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from api.push.channels.digest import DeliveryError, DigestContext, item_payload, subject_line
from api.push.channels.render import render_html, render_text
from api.push.records import Delivery
from api.push.subscriptions import Subscription


def build_message(sub: Subscription, items: Sequence[Delivery], ctx: DigestContext
                  ) -> EmailMessage:
    payload = [item_payload(d, ctx) for d in items]
    msg = EmailMessage()
    msg["Subject"] = subject_line(sub, len(items))
    msg["From"] = ctx.settings.smtp_from
    msg["To"] = ", ".join(sub.channel.get("to") or [])
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="patmatch")
    msg["X-Patmatch-Subscription"] = sub.id
    msg.set_content(render_text(sub, payload), charset="utf-8")
    msg.add_alternative(render_html(sub, payload), subtype="html", charset="utf-8")
    return msg


class EmailChannel:
    def send(self, sub: Subscription, items: Sequence[Delivery], ctx: DigestContext) -> None:
        s = ctx.settings
        if not s.smtp_host:
            raise DeliveryError("未配置 SMTP 服务器 (set PATMATCH_SMTP_HOST)")
        msg = build_message(sub, items, ctx)
        try:
            with smtplib.SMTP(s.smtp_host, int(s.smtp_port), timeout=s.smtp_timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                refused = smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {s.smtp_host}:{s.smtp_port} 发送失败: "
                                f"{type(exc).__name__}: {exc}") from None
        if refused:
            raise DeliveryError(f"收件人被拒绝: {', '.join(refused)}")


__all__ = ["EmailChannel", "build_message"]
