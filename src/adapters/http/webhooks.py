"""Webhook endpoints and their deliveries (API key)."""

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from adapters.http.dependencies import CallerOrganisation, UseCases
from adapters.http.dto import (
    DeliveryList,
    DeliveryRead,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookSecret,
)
from adapters.http.openapi import NO_STORE, errors
from adapters.http.paging import After, Limit
from application.pagination import page_of
from application.webhooks import NewWebhook
from domain.model import Delivery, Webhook


def _webhook(w: Webhook) -> WebhookRead:
    return WebhookRead(
        id=w.id,
        organisation_id=w.organisation_id,
        url=w.url,
        events=list(w.events),
        description=w.description,
        created_at=w.created_at,
    )


def _delivery(d: Delivery) -> DeliveryRead:
    return DeliveryRead(
        id=d.id,
        event_id=d.event_id,
        type=d.type,
        status=d.status.value,
        attempts=d.attempts,
        last_attempt_at=d.last_attempt_at,
        next_attempt_at=d.next_attempt_at,
        last_status_code=d.last_status_code,
        last_error=d.last_error,
    )


class WebhookController(Controller):
    path = "/webhooks"
    tags = ("webhooks",)

    @post(responses=errors(413, 415), summary="Register a webhook endpoint", cache_control=NO_STORE)
    async def create(
        self, data: JSONBody[WebhookCreate], services: UseCases, organisation_id: CallerOrganisation
    ) -> WebhookCreated:
        """The `secret` (Standard Webhooks: `whsec_` + base64) is returned only here and by
        `rotate-secret`."""
        created = await services.webhooks.create(
            organisation_id,
            NewWebhook(url=data.url, events=data.events, description=data.description),
        )
        return WebhookCreated(
            **msgspec.structs.asdict(_webhook(created.webhook)), secret=created.secret
        )

    @get(responses=errors(), summary="List webhook endpoints")
    async def list_all(
        self,
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> WebhookList:
        page = page_of(await services.webhooks.list(organisation_id), limit, after)
        return WebhookList(items=[_webhook(w) for w in page.items], next=page.next)

    @get("/{webhook_id:str}", responses=errors(404), summary="Get a webhook endpoint")
    async def get_one(
        self, webhook_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> WebhookRead:
        return _webhook(await services.webhooks.get(organisation_id, webhook_id))

    @delete("/{webhook_id:str}", responses=errors(404), summary="Delete a webhook endpoint")
    async def remove(
        self, webhook_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> None:
        await services.webhooks.delete(organisation_id, webhook_id)

    @post(
        "/{webhook_id:str}/rotate-secret",
        status_code=200,
        responses=errors(404),
        summary="A new secret; the old one keeps signing for 24 hours",
        cache_control=NO_STORE,
    )
    async def rotate_secret(
        self, webhook_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> WebhookSecret:
        return WebhookSecret(await services.webhooks.rotate_secret(organisation_id, webhook_id))

    @get(
        "/{webhook_id:str}/deliveries",
        responses=errors(404),
        summary="Recent deliveries, newest first",
    )
    async def deliveries(
        self,
        webhook_id: FromPath[str],
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> DeliveryList:
        """Pages of `limit` (default 50, at most 200); `next`, when not null, is the `after`
        of the next page."""
        page = await services.webhooks.deliveries(organisation_id, webhook_id, limit, after)
        return DeliveryList(items=[_delivery(d) for d in page.items], next=page.next)

    @post(
        "/{webhook_id:str}/deliveries/{delivery_id:str}/retry",
        status_code=202,
        responses=errors(404),
        summary="Send a failed delivery again now",
    )
    async def retry(
        self,
        webhook_id: FromPath[str],
        delivery_id: FromPath[str],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> None:
        await services.webhooks.retry(organisation_id, webhook_id, delivery_id)
