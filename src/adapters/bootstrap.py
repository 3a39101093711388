"""The composition root: the only place that chooses adapters.

Each concern has a module of its own in ``adapters.composition``: the storage backend
(``backends``), the encryption keys (``keys``), the use cases and their caches
(``services``), the background jobs (``jobs``); ``adapters.http.app`` configures Litestar.
"""

from litestar import Litestar

from adapters.cache import CacheGroup
from adapters.composition.backends import Backend, open_backend
from adapters.composition.jobs import every
from adapters.composition.keys import keyring_reloader, load_keyring
from adapters.composition.services import build_services, refresh_policy
from adapters.crypto.end_user_jwt import PemPublicKeyReader, PyJwtEndUserTokenVerifier
from adapters.crypto.keyring import Keyring
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.crypto.token_hash import HmacTokenHasher
from adapters.http.app import http_app
from adapters.observability import InstrumentedTokenEndpoint
from adapters.settings import Settings
from adapters.system import SecureRandom, SystemClock
from adapters.token_client import HttpxTokenEndpoint
from application.keep_alive import RefreshIdleConnections
from application.maintenance import PurgeExpired
from application.ports.provider import TokenEndpoint
from application.ports.system import Clock, RandomSource
from domain.end_user_tokens import JWT_CLOCK_LEEWAY


def create_app(
    settings: Settings,
    *,
    backend: Backend | None = None,
    keyring: Keyring | None = None,
    clock: Clock | None = None,
    random: RandomSource | None = None,
    token_endpoint: TokenEndpoint | None = None,
) -> Litestar:
    """Build the application. Tests pass a backend, keys, a clock, randomness or a token
    endpoint of their own; everything else is chosen here from ``settings``."""
    backend = backend or open_backend(settings.database_url)
    clock = clock or SystemClock()
    keyring = keyring or load_keyring(settings)
    token_client = HttpxTokenEndpoint(
        total_timeout=settings.token_timeout.total_seconds(),
        allow_private_addresses=settings.allow_local_providers,
    )
    caches = CacheGroup(settings.cache_seconds)
    services = build_services(
        settings,
        backend.storage,
        caches=caches,
        cipher=AesGcmSecretCipher(keyring, reload=keyring_reloader(settings)),
        sealer=AesGcmStateSealer(keyring),
        clock=clock,
        random=random or SecureRandom(),
        token_endpoint=InstrumentedTokenEndpoint(token_endpoint or token_client),
        end_user_tokens=PyJwtEndUserTokenVerifier(JWT_CLOCK_LEEWAY),
        public_keys=PemPublicKeyReader(),
        token_hasher=HmacTokenHasher(keyring),
    )
    purge = PurgeExpired(
        backend.storage.used_states,
        backend.storage.refresh_locks,
        backend.storage.connect_sessions,
        clock,
    )
    jobs = [every(settings.cleanup_interval, "purged expired rows", purge)]
    if settings.refresh_job:
        keep_alive = RefreshIdleConnections(
            backend.storage.connections, services.access_token, clock, refresh_policy(settings)
        )
        jobs.append(every(settings.refresh_job_interval, "refreshed idle connections", keep_alive))
    return http_app(
        settings,
        services,
        lifespan=jobs,
        # Background cache loads finish before the engine is disposed of.
        on_shutdown=[caches.drain, backend.close, token_client.close],
    )
