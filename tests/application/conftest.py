"""The use cases over in-memory fakes, wired by the service's own wiring (build_services)."""

import asyncio
from dataclasses import dataclass, field

import pytest

from adapters.cache import CacheGroup
from adapters.catalogue.packaged import PackagedCatalogue
from adapters.composition.services import build_services, create_organisation
from adapters.crypto.end_user_jwt import PemPublicKeyReader, PyJwtEndUserTokenVerifier
from adapters.crypto.keyring import Keyring
from adapters.crypto.token_hash import HmacTokenHasher
from adapters.http.services import Services
from adapters.memory.repositories import in_memory_storage
from adapters.settings import Settings
from adapters.webhook_sender import JsonEventEncoder
from application.connectors import ManageConnectors, NewConnector
from application.credentials import ManageCredentials, NewCredential
from application.hubs import ManageHubs, NewHub
from application.initialise import InitialiseOAuth2Connection
from application.ports.provider import TokenEndpoint, TokenEndpointAnswer, TokenRequest
from application.ports.storage import Storage
from application.states import RedeemState
from domain.end_user_tokens import JWT_CLOCK_LEEWAY
from domain.model import Connector, Credential, Hub
from tests.fakes import (
    CountingRandom,
    DictStateSealer,
    FixedClock,
    RecordingWebhookSender,
    ReversingCipher,
)

PUBLIC_URL = "https://connect.example.org"
CALLBACK_URL = f"{PUBLIC_URL}/oauth2/callback"


class NoMetadata:
    """No provider publishes metadata here: discovery is tested against a real server."""

    async def fetch(self, url: str) -> TokenEndpointAnswer:
        return TokenEndpointAnswer(404, None)


@dataclass
class ScriptedTokenEndpoint:
    """Answers from a script (the last answer repeats); records every request."""

    answers: list[TokenEndpointAnswer | Exception] = field(default_factory=list)
    requests: list[TokenRequest] = field(default_factory=list)
    delay: float = 0.0

    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(
    access: str = "at-1", refresh: str | None = "rt-1", expires_in: int = 3600
) -> TokenEndpointAnswer:
    body: dict[str, object] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }
    if refresh:
        body["refresh_token"] = refresh
    return TokenEndpointAnswer(200, body)


@dataclass
class Tenant:
    organisation_id: str
    credential: Credential
    hub: Hub
    connector: Connector


@dataclass
class World:
    storage: Storage
    clock: FixedClock
    random: CountingRandom
    sealer: DictStateSealer
    endpoint: ScriptedTokenEndpoint
    services: Services
    states: RedeemState

    @property
    def credentials(self) -> ManageCredentials:
        return self.services.credentials

    @property
    def hubs(self) -> ManageHubs:
        return self.services.hubs

    @property
    def connectors(self) -> ManageConnectors:
        return self.services.connectors

    @property
    def initialise(self) -> InitialiseOAuth2Connection:
        return self.services.initialise

    async def tenant(self, name: str, pkce: bool = True) -> Tenant:
        created = await create_organisation(
            self.storage, ReversingCipher(), self.clock, self.random
        )(name)
        org = created.organisation.id
        credential = await self.credentials.create(
            org, NewCredential(name="c", client_id=f"client-{name}", client_secret="s3cr3t-value")
        )
        hub = await self.hubs.create(org, NewHub(name="h", allowed_origins=["https://app.example"]))
        connector = await self.connectors.create(
            org, hub.id, NewConnector(name="p", token_url="https://p.example/token", pkce=pkce)
        )
        return Tenant(org, credential, hub, connector)


def wired(
    storage: Storage,
    clock: FixedClock,
    random: CountingRandom,
    sealer: DictStateSealer,
    endpoint: TokenEndpoint,
    sender: RecordingWebhookSender | None = None,
) -> Services:
    """The use cases as the service wires them (caches included), over these fakes."""
    settings = Settings(database_url="memory://", public_url=PUBLIC_URL)
    return build_services(
        settings,
        storage,
        caches=CacheGroup(settings.cache_seconds),
        cipher=ReversingCipher(),
        sealer=sealer,
        clock=clock,
        random=random,
        token_endpoint=endpoint,
        end_user_tokens=PyJwtEndUserTokenVerifier(JWT_CLOCK_LEEWAY),
        public_keys=PemPublicKeyReader(),
        token_hasher=HmacTokenHasher(Keyring("k1", {"k1": bytes(32)})),
        webhook_sender=sender or RecordingWebhookSender(),
        event_encoder=JsonEventEncoder(),
        catalogue=PackagedCatalogue.load(),
        provider_metadata=NoMetadata(),
    )


@pytest.fixture
def world() -> World:
    storage = in_memory_storage()
    clock, random, sealer = FixedClock(), CountingRandom(), DictStateSealer()
    endpoint = ScriptedTokenEndpoint([ok()])
    services = wired(storage, clock, random, sealer, endpoint)
    return World(
        storage=storage,
        clock=clock,
        random=random,
        sealer=sealer,
        endpoint=endpoint,
        services=services,
        states=RedeemState(sealer, storage.used_states, clock),
    )
