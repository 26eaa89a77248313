"""Subscriptions (订阅): create, list, read, change, remove, and what was delivered."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from api.deps import Auditor, EngineDep, Paging, auditor_for
from api.push import service
from api.push.schemas import (DeliveryOut, SubscriptionCreate, SubscriptionCreatedOut,
                              SubscriptionOut, SubscriptionUpdate)
from api.push.subscriptions import SubscriptionSpec
from api.routers import READ, errors
from api.schemas import Page

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
SubId = Annotated[str, Path(pattern=r"^S-[0-9a-f]{1,32}$", examples=["S-0a1b2c3d4e5f"])]


def _out(sub) -> SubscriptionOut:  # noqa: ANN001 - api.push.subscriptions.Subscription
    return SubscriptionOut(**sub.public())


@router.post("", response_model=SubscriptionCreatedOut, status_code=201,
             responses=errors(*READ, 400), summary="Subscribe to new matches of a demand or need")
def create(body: SubscriptionCreate, request: Request, engine: EngineDep,
           audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]
           ) -> SubscriptionCreatedOut:
    spec = SubscriptionSpec(channel=body.channel.as_dict(), demand_id=body.demand_id,
                            text=body.text, filters=body.filters.model_dump(exclude_defaults=True),
                            top_n=body.top_n, min_score=body.min_score, schedule=body.schedule,
                            name=body.name)
    settings = request.app.state.settings
    sub = service.create_subscription(request.app.state.push, engine, audit.principal, spec,
                                      allow_private=settings.webhook_allow_private)
    audit("subscriptions.create", target=sub.id, count=1, status=201)
    request.app.state.push_worker.kick()  # its first digest now, in the background
    return SubscriptionCreatedOut(**sub.public(), secret=sub.secret)


@router.get("", response_model=Page[SubscriptionOut], responses=errors(*READ),
            summary="The subscriptions this key may see")
def list_all(request: Request, paging: Annotated[Paging, Depends()],
             audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]
             ) -> Page[SubscriptionOut]:
    subs = service.list_subscriptions(request.app.state.push, audit.principal)
    page = subs[paging.offset:paging.offset + paging.limit]
    audit("subscriptions.list", count=len(page))
    return Page[SubscriptionOut](total=len(subs), limit=paging.limit, offset=paging.offset,
                                 items=[_out(s) for s in page])


@router.get("/{sub_id}", response_model=SubscriptionOut, responses=errors(*READ),
            summary="Read one subscription")
def read(sub_id: SubId, request: Request,
         audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]) -> SubscriptionOut:
    sub = service.visible_subscription(request.app.state.push, audit.principal, sub_id)
    audit("subscriptions.read", target=sub_id, count=1)
    return _out(sub)


@router.patch("/{sub_id}", response_model=SubscriptionOut, responses=errors(*READ, 400),
              summary="Change, pause (status=paused) or resume (status=active) a subscription")
def change(sub_id: SubId, body: SubscriptionUpdate, request: Request, engine: EngineDep,
           audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]) -> SubscriptionOut:
    changes = body.model_dump(exclude_unset=True)
    if body.channel is not None:
        changes["channel"] = body.channel.as_dict()
    if body.filters is not None:
        changes["filters"] = body.filters.model_dump(exclude_defaults=True)
    changes = {k: v for k, v in changes.items() if v is not None}
    sub = service.update_subscription(
        request.app.state.push, engine, audit.principal, sub_id, changes,
        allow_private=request.app.state.settings.webhook_allow_private)
    audit("subscriptions.update", target=sub_id, count=1)
    return _out(sub)


@router.delete("/{sub_id}", status_code=204, responses=errors(*READ),
               summary="Remove a subscription (its delivery log is kept)")
def remove(sub_id: SubId, request: Request,
           audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]) -> Response:
    service.set_subscription_status(request.app.state.push, audit.principal, sub_id, "deleted")
    audit("subscriptions.delete", target=sub_id, count=1, status=204)
    return Response(status_code=204)


@router.get("/{sub_id}/deliveries", response_model=Page[DeliveryOut], responses=errors(*READ),
            summary="Items pushed to this subscription, newest first")
def deliveries(sub_id: SubId, request: Request, paging: Annotated[Paging, Depends()],
               audit: Annotated[Auditor, Depends(auditor_for("subscriptions"))]
               ) -> Page[DeliveryOut]:
    total, rows = service.subscription_deliveries(request.app.state.push, audit.principal,
                                                  sub_id, limit=paging.limit,
                                                  offset=paging.offset)
    audit("subscriptions.deliveries", target=sub_id, count=len(rows))
    fields = DeliveryOut.model_fields
    return Page[DeliveryOut](total=total, limit=paging.limit, offset=paging.offset,
                             items=[DeliveryOut(**{k: v for k, v in d.to_dict().items()
                                                   if k in fields}) for d in rows])
