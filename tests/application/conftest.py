from dataclasses import dataclass
from datetime import timedelta

import pytest

from adapters.memory.repositories import in_memory_storage
from application.connectors import ManageConnectors, NewConnector
from application.credentials import ManageCredentials, NewCredential
from application.hubs import ManageHubs, NewHub
from application.initialise import InitialiseOAuth2Connection
from application.organisations import CreateOrganisation
from application.ports import Storage
from application.states import RedeemState
from domain.model import Connector, Credential, Hub
from tests.fakes import CountingRandom, DictStateSealer, FixedClock, ReversingCipher

REDIRECT_URI = "https://connect.example.org/oauth2/callback"


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
    credentials: ManageCredentials
    hubs: ManageHubs
    connectors: ManageConnectors
    initialise: InitialiseOAuth2Connection
    states: RedeemState

    async def tenant(self, name: str, pkce: bool = True) -> Tenant:
        created = await CreateOrganisation(
            self.storage.organisations, self.storage.api_keys, self.clock, self.random
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


@pytest.fixture
def world() -> World:
    storage = in_memory_storage()
    clock, random, sealer = FixedClock(), CountingRandom(), DictStateSealer()
    return World(
        storage=storage,
        clock=clock,
        random=random,
        sealer=sealer,
        credentials=ManageCredentials(storage.credentials, ReversingCipher(), clock, random),
        hubs=ManageHubs(storage.hubs, clock, random),
        connectors=ManageConnectors(storage.hubs, storage.connectors, clock, random),
        initialise=InitialiseOAuth2Connection(
            hubs=storage.hubs,
            connectors=storage.connectors,
            credentials=storage.credentials,
            sealer=sealer,
            clock=clock,
            random=random,
            redirect_uri=REDIRECT_URI,
            state_lifetime=timedelta(minutes=10),
        ),
        states=RedeemState(sealer, storage.used_states, clock),
    )
