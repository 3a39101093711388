"""The composition root: the only place that chooses adapters."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from functools import partial
from typing import Any

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from adapters.cache import (
    CachedApiKeys,
    CachedConnections,
    CachedConnectors,
    CachedCredentials,
    CachedHubs,
)
from adapters.crypto.keyring import Keyring, load_or_create_development_keyring
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.http import health
from adapters.http.auth import ApiKeyAuthentication, RequireJsonBody
from adapters.http.callback import oauth2_callback
from adapters.http.connections import ConnectionController, UserConnectionController
from adapters.http.demo import demo_page
from adapters.http.dependencies import caller_organisation
from adapters.http.errors import exception_handlers
from adapters.http.fast_initialise import InitialiseFastPath
from adapters.http.initialise import initialise_oauth2_connection
from adapters.http.management import ConnectorController, CredentialController, HubController
from adapters.http.rate_limit import RateLimiter
from adapters.http.services import Services
from adapters.memory.repositories import in_memory_storage
from adapters.observability import InstrumentedTokenEndpoint, RequestObserver
from adapters.settings import MEMORY_DATABASE_URL, Settings
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from adapters.system import SecureRandom, SystemClock
from adapters.token_client import HttpxTokenEndpoint
from application.access_tokens import GetAccessToken, RefreshPolicy
from application.callback import HandleCallback
from application.connections import CreateConnection, ManageConnections
from application.connectors import ManageConnectors
from application.credentials import ManageCredentials
from application.hubs import ManageHubs
from application.initialise import InitialiseOAuth2Connection
from application.maintenance import PurgeExpired
from application.organisations import AuthenticateApiKey, CreateOrganisation, ManageApiKeys
from application.ports import Clock, RandomSource, Storage, TokenEndpoint
from application.states import RedeemState

VERSION = "0.1.0"
log = logging.getLogger("embed_oauth.maintenance")


async def _nothing_to_close() -> None:
    return None


@dataclass
class Backend:
    """A storage backend and how to release it."""

    storage: Storage
    close: Callable[[], Awaitable[None]] = _nothing_to_close


def open_backend(database_url: str) -> Backend:
    """``memory://`` for the in-memory fakes, otherwise an SQLAlchemy async URL."""
    if database_url == MEMORY_DATABASE_URL:
        return Backend(in_memory_storage())
    engine = create_engine(database_url)
    return Backend(sql_storage(engine), engine.dispose)


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys:
        return Keyring.parse(settings.encryption_keys)
    return load_or_create_development_keyring(settings.development_key_file)


def keyring_reloader(settings: Settings) -> Callable[[], Keyring] | None:
    """With the development key file, `keys rotate` may add a key while the service runs;
    configured keys change only with the service's environment."""
    if settings.encryption_keys:
        return None
    return lambda: load_or_create_development_keyring(settings.development_key_file)


def refresh_policy(settings: Settings) -> RefreshPolicy:
    """The lock's lease outlasts the token client's total timeout three times over, so a
    lease never runs out under a refresh that is still waiting for the provider."""
    return RefreshPolicy(
        margin=settings.refresh_margin,
        lease=settings.token_timeout * 3,
        wait=settings.token_timeout * 3 + timedelta(seconds=5),
    )


def build_services(
    *,
    settings: Settings,
    storage: Storage,
    cached: Storage,
    keyring: Keyring,
    clock: Clock,
    random: RandomSource,
    token_endpoint: TokenEndpoint,
) -> Services:
    cipher = AesGcmSecretCipher(keyring, reload=keyring_reloader(settings))
    sealer = AesGcmStateSealer(keyring)
    states = RedeemState(sealer, storage.used_states, clock)
    return Services(
        credentials=ManageCredentials(cached.credentials, cipher, clock, random),
        hubs=ManageHubs(cached.hubs, clock, random),
        connectors=ManageConnectors(
            cached.hubs,
            cached.connectors,
            clock,
            random,
            allow_local_providers=settings.allow_local_providers,
        ),
        initialise=InitialiseOAuth2Connection(
            hubs=cached.hubs,
            connectors=cached.connectors,
            credentials=cached.credentials,
            sealer=sealer,
            clock=clock,
            random=random,
            redirect_uri=settings.redirect_uri,
            state_lifetime=settings.state_lifetime,
            allow_local_providers=settings.allow_local_providers,
        ),
        create_connection=CreateConnection(
            hubs=cached.hubs,
            connectors=cached.connectors,
            credentials=storage.credentials,  # the exchange always reads the credential fresh
            connections=cached.connections,
            states=states,
            cipher=cipher,
            token_endpoint=token_endpoint,
            clock=clock,
            random=random,
            redirect_uri=settings.redirect_uri,
        ),
        connections=ManageConnections(cached.hubs, cached.connections),
        access_token=GetAccessToken(
            connections=cached.connections,
            fresh_connections=storage.connections,
            connectors=storage.connectors,
            credentials=storage.credentials,
            locks=storage.refresh_locks,
            cipher=cipher,
            token_endpoint=token_endpoint,
            clock=clock,
            random=random,
            policy=refresh_policy(settings),
        ),
        callback=HandleCallback(states, cached.hubs, cached.connectors),
        health=storage.health,
    )


def cleanup_job(
    purge: PurgeExpired, interval: timedelta
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that purges dead rows every ``interval`` while the app runs."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval.total_seconds())
            try:
                purged = await purge()
            except Exception:  # a failed round is logged and retried at the next interval
                log.exception("purging expired rows failed")
            else:
                log.info(
                    "purged expired rows",
                    extra={
                        "used_states": purged.used_states,
                        "refresh_locks": purged.refresh_locks,
                    },
                )

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


def cached_reads(storage: Storage, seconds: float) -> Storage:
    """The storage with bounded, short-lived read caches in front of the hot-path lookups
    (see adapters.cache); ``seconds`` of 0 turns them off."""
    if seconds <= 0:
        return storage
    return replace(
        storage,
        api_keys=CachedApiKeys(storage.api_keys, seconds),
        hubs=CachedHubs(storage.hubs, seconds),
        connectors=CachedConnectors(storage.connectors, seconds),
        credentials=CachedCredentials(storage.credentials, seconds),
        connections=CachedConnections(storage.connections, seconds),
    )


async def drain_caches(cached: Storage) -> None:
    """Let background cache loads finish before the engine is disposed of."""
    for field in fields(cached):
        drain = getattr(getattr(cached, field.name), "drain", None)
        if drain is not None:
            await drain()


def create_organisation(
    storage: Storage, clock: Clock | None = None, random: RandomSource | None = None
) -> CreateOrganisation:
    return CreateOrganisation(
        storage.organisations, storage.api_keys, clock or SystemClock(), random or SecureRandom()
    )


def manage_api_keys(storage: Storage) -> ManageApiKeys:
    return ManageApiKeys(storage.organisations, storage.api_keys, SystemClock(), SecureRandom())


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    random: RandomSource | None = None,
    token_endpoint: TokenEndpoint | None = None,
    fast_paths: bool = True,
) -> Litestar:
    """Build the application. Tests pass a backend, keys, a clock, randomness or a token
    endpoint of their own; ``fast_paths=False`` serves everything through Litestar alone,
    which tests use to show the fast path answers exactly alike."""
    backend = backend or open_backend(settings.database_url)
    clock = clock or SystemClock()
    token_client = HttpxTokenEndpoint(
        total_timeout=settings.token_timeout.total_seconds(),
        allow_private_addresses=settings.allow_local_providers,
    )
    cached = cached_reads(backend.storage, settings.cache_seconds)
    services = build_services(
        settings=settings,
        storage=backend.storage,
        cached=cached,
        keyring=keyring or load_keyring(settings),
        clock=clock,
        random=random or SecureRandom(),
        token_endpoint=InstrumentedTokenEndpoint(token_endpoint or token_client),
    )
    purge = PurgeExpired(backend.storage.used_states, backend.storage.refresh_locks, clock)
    authenticate = AuthenticateApiKey(cached.api_keys)
    limiter = (
        RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None
    )
    handlers: list[Any] = [
        CredentialController,
        HubController,
        ConnectorController,
        UserConnectionController,
        ConnectionController,
        initialise_oauth2_connection,
        oauth2_callback,
        health.live,
        health.ready,
        health.metrics,
    ]
    if settings.demo:
        handlers.append(demo_page)
    app = Litestar(
        route_handlers=handlers,
        lifespan=[cleanup_job(purge, settings.cleanup_interval)],
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "organisation_id": Provide(caller_organisation, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(ApiKeyAuthentication, authenticate=authenticate, limiter=limiter),
            RequireJsonBody,
        ],
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        on_shutdown=[partial(drain_caches, cached), backend.close, token_client.close],
        openapi_config=OpenAPIConfig(
            title="embed-oauth",
            version=VERSION,
            description=(
                "Connect your product's end users to their third-party accounts over OAuth 2.0."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            security=[{"apiKey": []}],
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(
                        type="http", scheme="bearer", description="An organisation's API key"
                    )
                }
            ),
        ),
        debug=False,
        logging_config=None,  # logging is ours: JSON lines (adapters.observability)
    )
    handler = app.asgi_handler
    if fast_paths:
        handler = InitialiseFastPath(
            handler,
            initialise=services.initialise,
            authenticate=authenticate,
            max_body_bytes=settings.max_body_bytes,
            limiter=limiter,
        )
    app.asgi_handler = RequestObserver(handler)
    return app
