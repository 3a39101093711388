"""The composition root: the only place that chooses adapters."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from adapters.crypto.keyring import Keyring, load_or_create_development_keyring
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.http import health
from adapters.http.auth import ApiKeyAuthentication
from adapters.http.dependencies import caller_organisation
from adapters.http.errors import exception_handlers
from adapters.http.initialise import initialise_oauth2_connection
from adapters.http.management import ConnectorController, CredentialController, HubController
from adapters.http.services import Services
from adapters.memory.repositories import in_memory_storage
from adapters.settings import MEMORY_DATABASE_URL, Settings
from adapters.sql.engine import create_engine
from adapters.sql.repositories import sql_storage
from adapters.system import SecureRandom, SystemClock
from application.connectors import ManageConnectors
from application.credentials import ManageCredentials
from application.hubs import ManageHubs
from application.initialise import InitialiseOAuth2Connection
from application.organisations import AuthenticateApiKey, CreateOrganisation
from application.ports import Clock, RandomSource, Storage

VERSION = "0.1.0"


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


def build_services(
    settings: Settings,
    storage: Storage,
    keyring: Keyring,
    clock: Clock,
    random: RandomSource,
) -> Services:
    return Services(
        credentials=ManageCredentials(
            storage.credentials, AesGcmSecretCipher(keyring), clock, random
        ),
        hubs=ManageHubs(storage.hubs, clock, random),
        connectors=ManageConnectors(storage.hubs, storage.connectors, clock, random),
        initialise=InitialiseOAuth2Connection(
            hubs=storage.hubs,
            connectors=storage.connectors,
            credentials=storage.credentials,
            sealer=AesGcmStateSealer(keyring),
            clock=clock,
            random=random,
            redirect_uri=settings.redirect_uri,
            state_lifetime=settings.state_lifetime,
        ),
        health=storage.health,
    )


def create_organisation(
    storage: Storage, clock: Clock | None = None, random: RandomSource | None = None
) -> CreateOrganisation:
    return CreateOrganisation(
        storage.organisations, storage.api_keys, clock or SystemClock(), random or SecureRandom()
    )


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    random: RandomSource | None = None,
) -> Litestar:
    """Build the application. Tests pass a backend, keys, a clock or randomness of their own."""
    backend = backend or open_backend(settings.database_url)
    services = build_services(
        settings,
        backend.storage,
        keyring or load_keyring(settings),
        clock or SystemClock(),
        random or SecureRandom(),
    )
    return Litestar(
        route_handlers=[
            CredentialController,
            HubController,
            ConnectorController,
            initialise_oauth2_connection,
            health.live,
            health.ready,
        ],
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "organisation_id": Provide(caller_organisation, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(
                ApiKeyAuthentication, authenticate=AuthenticateApiKey(backend.storage.api_keys)
            )
        ],
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        on_shutdown=[backend.close],
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
    )
