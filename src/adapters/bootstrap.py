"""The composition root: the only place that chooses adapters.

Each concern has a module of its own in ``adapters.composition``: the storage backend
(``backends``), the encryption keys (``keys``), the use cases and their caches
(``services``), the background jobs (``jobs``); ``adapters.http.app`` configures Litestar.
"""

from collections.abc import Awaitable, Callable

from litestar import Litestar

from adapters.cache import CacheGroup
from adapters.catalogue.packaged import PackagedCatalogue
from adapters.composition.backends import Backend, open_backend
from adapters.composition.jobs import every
from adapters.composition.keys import keyring_reloader, load_keyring
from adapters.composition.services import build_services, deliver_webhooks, refresh_policy
from adapters.crypto.end_user_jwt import PemPublicKeyReader, PyJwtEndUserTokenVerifier
from adapters.crypto.keyring import Keyring
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.crypto.token_hash import HmacTokenHasher
from adapters.http.app import http_app
from adapters.observability import InstrumentedTokenEndpoint, observe_delivery_round
from adapters.settings import Settings, SettingsError, production_refusal
from adapters.system import SecureRandom, SystemClock
from adapters.token_client import HttpxTokenEndpoint
from adapters.webhook_sender import HttpxWebhookSender, JsonEventEncoder
from application.keep_alive import RefreshIdleConnections
from application.maintenance import PurgeExpired
from application.ports.provider import TokenEndpoint
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import WebhookSender
from application.webhook_delivery import DeliveryRound
from domain.end_user_tokens import JWT_CLOCK_LEEWAY


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    random: RandomSource | None = None,
    token_endpoint: TokenEndpoint | None = None,
    webhook_sender: WebhookSender | None = None,
) -> Litestar:
    """Build the application. Tests pass a backend, keys, a clock, randomness or a token
    endpoint of their own; everything else is chosen here from ``settings``."""
    refusal = production_refusal(settings)
    if refusal is not None:
        raise SettingsError(refusal)
    backend = backend or open_backend(settings.database_url)
    clock = clock or SystemClock()
    keyring = keyring or load_keyring(settings)
    token_client = HttpxTokenEndpoint(
        total_timeout=settings.token_timeout.total_seconds(),
        allow_private_addresses=settings.allow_local_providers,
    )
    caches = CacheGroup(settings.cache_seconds)
    cipher = AesGcmSecretCipher(keyring, reload=keyring_reloader(settings))
    random = random or SecureRandom()
    sender = webhook_sender or HttpxWebhookSender(
        timeout=settings.webhook_timeout.total_seconds(),
        allow_private_addresses=settings.allow_local_providers,
    )
    services = build_services(
        settings,
        backend.storage,
        caches=caches,
        cipher=cipher,
        sealer=AesGcmStateSealer(keyring),
        clock=clock,
        random=random,
        token_endpoint=InstrumentedTokenEndpoint(token_endpoint or token_client),
        end_user_tokens=PyJwtEndUserTokenVerifier(JWT_CLOCK_LEEWAY),
        public_keys=PemPublicKeyReader(),
        token_hasher=HmacTokenHasher(keyring),
        webhook_sender=sender,
        event_encoder=JsonEventEncoder(),
        catalogue=PackagedCatalogue.load(),  # checked now: a broken entry stops the start
        provider_metadata=token_client,  # discovery follows the token requests' rules
    )
    purge = PurgeExpired(
        used_states=backend.storage.used_states,
        locks=backend.storage.refresh_locks,
        sessions=backend.storage.connect_sessions,
        outbox=backend.storage.outbox,
        clock=clock,
        delivery_retention=settings.webhook_retention,
    )
    jobs = [every(settings.cleanup_interval, "purged expired rows", purge)]
    stop_first: list[Callable[[], Awaitable[None]]] = []
    if settings.refresh_job:
        keep_alive = RefreshIdleConnections(
            backend.storage.connections, services.access_token, clock, refresh_policy(settings)
        )
        jobs.append(every(settings.refresh_job_interval, "refreshed idle connections", keep_alive))
    if settings.webhook_worker:
        deliver = deliver_webhooks(
            settings, backend.storage, sender=sender, cipher=cipher, clock=clock, random=random
        )

        async def deliver_and_observe() -> DeliveryRound:
            delivered = await deliver()
            observe_delivery_round(delivered, clock.now())
            return delivered

        jobs.append(
            every(settings.webhook_poll_interval, "delivered webhooks", deliver_and_observe)
        )
        stop_first.append(deliver.close)  # deliveries in flight end before the engine does
    return http_app(
        settings,
        services,
        lifespan=jobs,
        # Background cache loads finish before the engine is disposed of.
        on_shutdown=[
            *stop_first,
            caches.drain,
            backend.close,
            token_client.close,
            *_closer(sender),
        ],
    )


def _closer(sender: WebhookSender) -> list[Callable[[], Awaitable[None]]]:
    """The service's own HTTP client is closed at shutdown; one a test passed in is its own."""
    return [sender.close] if isinstance(sender, HttpxWebhookSender) else []
