"""Delivery channels: each sends one subscription's digest, or raises DeliveryError.

A channel gets the subscription, its claimed deliveries and a :class:`DigestContext`
(feedback tokens and links, settings); it never touches the database: the dispatcher
records the outcome. Every text an item carries passes the PII masking of
``indexing.privacy`` (ID numbers in titles or reasons; items carry no contact fields).
"""

from __future__ import annotations

from api.push.channels.digest import Channel


def channel_for(kind: str) -> Channel:
    from api.push.channels.email import EmailChannel
    from api.push.channels.file import FileChannel
    from api.push.channels.webhook import WebhookChannel

    return {"webhook": WebhookChannel, "email": EmailChannel, "file": FileChannel}[kind]()


__all__ = ["channel_for"]
