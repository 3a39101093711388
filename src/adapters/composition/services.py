"""Wiring the use cases to their ports: which reads go through the caches, which are fresh.

Tests build their use cases here too, with fakes passed in, so that these choices are the
ones under test.
"""

from datetime import timedelta

from adapters.cache import CacheGroup, cached_storage
from adapters.http.services import Services
from adapters.settings import Settings
from adapters.system import SecureRandom, SystemClock
from application.access_tokens import GetAccessToken, RefreshPolicy
from application.callback import HandleCallback
from application.connections import CreateConnection, ManageConnections, RevokeTokens
from application.connectors import ManageConnectors
from application.credentials import ManageCredentials
from application.embed_origins import EmbedOrigins
from application.end_users import AuthenticateBearer, ManageConnectSessions, ManageSigningKeys
from application.events import Announcer
from application.hubs import ManageHubs
from application.initialise import InitialiseOAuth2Connection
from application.organisations import (
    AuthenticateApiKey,
    CreateOrganisation,
    ManageApiKeys,
    ReadOrganisation,
)
from application.ports.crypto import (
    EndUserTokenVerifier,
    PublicKeyReader,
    SecretCipher,
    StateSealer,
    TokenHasher,
)
from application.ports.provider import MetadataSource, ProviderCatalogue, TokenEndpoint
from application.ports.storage import Storage
from application.ports.system import Clock, RandomSource
from application.ports.webhooks import EventEncoder, WebhookSender
from application.states import RedeemState
from application.webhook_delivery import DeliverWebhooks
from application.webhooks import ManageWebhooks


def refresh_policy(settings: Settings) -> RefreshPolicy:
    """The lock's lease outlasts the token client's total timeout three times over, so a
    lease never runs out under a refresh that is still waiting for the provider."""
    return RefreshPolicy(
        margin=settings.refresh_margin,
        lease=settings.token_timeout * 3,
        wait=settings.token_timeout * 3 + timedelta(seconds=5),
    )


def build_services(
    settings: Settings,
    storage: Storage,
    *,
    caches: CacheGroup,
    cipher: SecretCipher,
    sealer: StateSealer,
    clock: Clock,
    random: RandomSource,
    token_endpoint: TokenEndpoint,
    end_user_tokens: EndUserTokenVerifier,
    public_keys: PublicKeyReader,
    token_hasher: TokenHasher,
    webhook_sender: WebhookSender,
    event_encoder: EventEncoder,
    catalogue: ProviderCatalogue,
    provider_metadata: MetadataSource,
) -> Services:
    """Every use case the HTTP edge calls.

    Cached (for at most ``caches.ttl``; changes through this instance at once): the API key
    lookup, the signing key a JWT names, and the hub, connector and credential reads of
    initialise, the callback and the connection's own reads. Fresh: connect sessions (a
    revoked one ends at once everywhere), the state's single use, the credential read by the
    code exchange (a deleted credential stops working at once), and everything a refresh
    reads under its lock.
    """
    cached = cached_storage(storage, caches)
    states = RedeemState(sealer, storage.used_states, clock)
    announce = Announcer(event_encoder, clock, random)
    return Services(
        authenticate=AuthenticateBearer(
            api_keys=AuthenticateApiKey(cached.api_keys, cipher),
            signing_keys=cached.signing_keys,
            sessions=storage.connect_sessions,
            verifier=end_user_tokens,
            hasher=token_hasher,
            clock=clock,
            audience=settings.public_url,
            cipher=cipher,
        ),
        organisation=ReadOrganisation(storage.organisations, settings.callback_url),
        signing_keys=ManageSigningKeys(cached.signing_keys, public_keys, clock, random, cipher),
        connect_sessions=ManageConnectSessions(
            hubs=cached.hubs,
            connectors=cached.connectors,
            sessions=storage.connect_sessions,
            hasher=token_hasher,
            clock=clock,
            random=random,
            cipher=cipher,
        ),
        credentials=ManageCredentials(cached.credentials, cipher, clock, random),
        hubs=ManageHubs(
            cached.hubs, clock, random, cipher, allow_loopback_http=not settings.is_production
        ),
        connectors=ManageConnectors(
            cached.hubs,
            cached.connectors,
            clock,
            random,
            cipher=cipher,
            catalogue=catalogue,
            metadata=provider_metadata,
            allow_local_providers=settings.allow_local_providers,
        ),
        initialise=InitialiseOAuth2Connection(
            hubs=cached.hubs,
            connectors=cached.connectors,
            credentials=cached.credentials,
            connections=cached.connections,
            sealer=sealer,
            clock=clock,
            random=random,
            callback_url=settings.callback_url,
            state_lifetime=settings.state_lifetime,
            allow_local_providers=settings.allow_local_providers,
        ),
        create_connection=CreateConnection(
            hubs=cached.hubs,
            connectors=cached.connectors,
            credentials=storage.credentials,
            connections=cached.connections,
            states=states,
            cipher=cipher,
            token_endpoint=token_endpoint,
            clock=clock,
            random=random,
            callback_url=settings.callback_url,
            unit_of_work=cached.unit_of_work,
            announce=announce,
        ),
        connections=ManageConnections(
            cached.hubs,
            cached.connections,
            cached.unit_of_work,
            announce,
            RevokeTokens(
                connectors=storage.connectors,
                credentials=storage.credentials,
                cipher=cipher,
                token_endpoint=token_endpoint,
            ),
        ),
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
            unit_of_work=cached.unit_of_work,
            announce=announce,
        ),
        callback=HandleCallback(states, cached.hubs, cached.connectors, cipher),
        embed_origins=EmbedOrigins(cached.hubs, cached.connections, cipher),
        webhooks=ManageWebhooks(
            webhooks=storage.webhooks,
            outbox=storage.outbox,
            cipher=cipher,
            sender=webhook_sender,
            clock=clock,
            random=random,
            allow_local=settings.allow_local_providers,
        ),
        health=storage.health,
        providers=catalogue,
    )


def create_organisation(
    storage: Storage,
    cipher: SecretCipher,
    clock: Clock | None = None,
    random: RandomSource | None = None,
) -> CreateOrganisation:
    """``cipher`` seals the first API key: the one of the service that will read it."""
    return CreateOrganisation(
        storage.unit_of_work, clock or SystemClock(), random or SecureRandom(), cipher
    )


def manage_api_keys(storage: Storage, cipher: SecretCipher) -> ManageApiKeys:
    return ManageApiKeys(
        storage.organisations, storage.api_keys, SystemClock(), SecureRandom(), cipher
    )


def deliver_webhooks(
    settings: Settings,
    storage: Storage,
    *,
    sender: WebhookSender,
    cipher: SecretCipher,
    clock: Clock,
    random: RandomSource,
) -> DeliverWebhooks:
    """The lease outlasts a delivery's timeout three times over: a delivery still being
    sent is never claimed by another instance."""
    return DeliverWebhooks(
        outbox=storage.outbox,
        sender=sender,
        cipher=cipher,
        clock=clock,
        random=random,
        schedule=settings.webhook_retry_seconds,
        lease=settings.webhook_timeout * 3 + timedelta(seconds=5),
    )
