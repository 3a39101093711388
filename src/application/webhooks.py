"""Webhook endpoints of an organisation: registering, rotating secrets, and their deliveries."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.errors import NotFound
from application.identity import new_id
from application.integrity import sealed
from application.pagination import page_size
from application.ports.crypto import SecretCipher
from application.ports.storage import Outbox, WebhookRepository
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import WebhookSender
from domain.endpoint_url import InvalidEndpointUrl, parse_endpoint_url
from domain.errors import FieldErrors
from domain.model import Delivery, Webhook
from domain.webhooks import SECRET_BYTES, SECRET_OVERLAP, EventType, format_secret

MAX_DESCRIPTION_LENGTH = 500


def secret_context(webhook_id: str) -> str:
    return f"webhook:{webhook_id}:secret"


def previous_secret_context(webhook_id: str) -> str:
    return f"webhook:{webhook_id}:previous_secret"


@dataclass(frozen=True, slots=True)
class NewWebhook:
    url: str
    events: Sequence[str] | None = None  # all when absent
    description: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str  # shown once; stored encrypted


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    items: list[Delivery]
    next: str | None  # pass as ``after`` for the next page


class ManageWebhooks:
    """Rules: the URL follows the token URLs' rules (https, and in production no private or
    local address, checked now and again at every delivery); ``events`` are known event types
    (all by default); the secret is ``whsec_`` + base64 of 32 random bytes, returned only at
    creation and rotation, and stored encrypted; after a rotation the old secret keeps
    signing for 24 hours beside the new one."""

    def __init__(
        self,
        *,
        webhooks: WebhookRepository,
        outbox: Outbox,
        cipher: SecretCipher,
        sender: WebhookSender,
        clock: Clock,
        random: RandomSource,
        allow_local: bool,
    ) -> None:
        self._webhooks = webhooks
        self._outbox = outbox
        self._cipher = cipher
        self._sender = sender
        self._clock = clock
        self._random = random
        self._allow_local = allow_local

    async def create(self, organisation_id: str, new: NewWebhook) -> CreatedWebhook:
        errors = FieldErrors()
        try:
            parse_endpoint_url(new.url, self._allow_local)
        except InvalidEndpointUrl as exc:
            errors.add("url", str(exc))
        else:
            refusal = await self._sender.refusal(new.url)
            if refusal:
                errors.add("url", refusal)
        known = {e.value for e in EventType}
        events = tuple(dict.fromkeys(new.events)) if new.events is not None else tuple(known)
        if new.events is not None and not events:
            errors.add("events", "must name at least one event type")
        for index, event in enumerate(events):
            if event not in known:
                errors.add(f"events[{index}]", f"is not an event type ({', '.join(sorted(known))})")
        description = new.description or None
        if description is not None and (
            len(description) > MAX_DESCRIPTION_LENGTH or not description.isprintable()
        ):
            errors.add(
                "description", f"must be at most {MAX_DESCRIPTION_LENGTH} printable characters"
            )
        errors.raise_if_any()
        webhook_id, now = new_id(self._clock, self._random)
        secret = format_secret(self._random.token_bytes(SECRET_BYTES))
        webhook = sealed(
            self._cipher,
            Webhook(
                id=webhook_id,
                organisation_id=organisation_id,
                url=new.url,
                events=tuple(sorted(events)),
                description=description,
                sealed_secret=self._cipher.encrypt(secret, context=secret_context(webhook_id)),
                created_at=now,
            ),
        )
        await self._webhooks.add(webhook)
        return CreatedWebhook(webhook, secret)

    async def get(self, organisation_id: str, webhook_id: str) -> Webhook:
        webhook = await self._webhooks.get(organisation_id, webhook_id)
        if webhook is None:
            raise NotFound("webhook")
        return webhook

    async def list(self, organisation_id: str) -> list[Webhook]:
        return await self._webhooks.list(organisation_id)

    async def delete(self, organisation_id: str, webhook_id: str) -> None:
        if not await self._webhooks.delete(organisation_id, webhook_id):
            raise NotFound("webhook")

    async def rotate_secret(self, organisation_id: str, webhook_id: str) -> str:
        webhook = await self.get(organisation_id, webhook_id)
        current = self._cipher.decrypt(webhook.sealed_secret, context=secret_context(webhook.id))
        secret = format_secret(self._random.token_bytes(SECRET_BYTES))
        if not await self._webhooks.rotate_secret(
            organisation_id,
            webhook.id,
            sealed_secret=self._cipher.encrypt(secret, context=secret_context(webhook.id)),
            sealed_previous_secret=self._cipher.encrypt(
                current, context=previous_secret_context(webhook.id)
            ),
            previous_secret_until=self._clock.now() + SECRET_OVERLAP,
        ):
            raise NotFound("webhook")
        return secret

    async def deliveries(
        self, organisation_id: str, webhook_id: str, limit: int | None, after: str | None
    ) -> DeliveryPage:
        webhook = await self.get(organisation_id, webhook_id)
        items, more = await self._outbox.deliveries(webhook.id, page_size(limit), after)
        return DeliveryPage(items, items[-1].id if more and items else None)

    async def retry(self, organisation_id: str, webhook_id: str, delivery_id: str) -> None:
        """A failed delivery is sent again now (one more attempt)."""
        webhook = await self.get(organisation_id, webhook_id)
        if not await self._outbox.retry_now(webhook.id, delivery_id, self._clock.now()):
            raise NotFound("delivery")
