"""Seeding the benchmark's database quickly: the objects requests use, through the real use
cases, and filler rows (used states, connections) inserted in bulk, in key order."""

import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.catalogue.packaged import PackagedCatalogue
from adapters.composition.services import create_organisation
from adapters.crypto.keyring import Keyring
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.sql import schema
from adapters.sql import tables as t
from adapters.sql.repositories import sql_storage
from adapters.system import SecureRandom, SystemClock
from application.connections import access_token_context, refresh_token_context
from application.connectors import ManageConnectors, NewConnector
from application.credentials import ManageCredentials, NewCredential
from application.hubs import ManageHubs, NewHub
from application.integrity import sealed
from domain.identifiers import time_ordered_id
from domain.model import Connection, ConnectionStatus, ConnectionTokens

BATCH = 20_000


@dataclass(frozen=True)
class Seeded:
    organisation_id: str
    api_key: str
    hub_id: str
    connector_id: str
    credential_id: str
    client_id: str
    connection_id: str


async def seed_objects(engine: AsyncEngine, keyring: Keyring) -> Seeded:
    await schema.upgrade(engine)
    storage = sql_storage(engine)
    clock, random = SystemClock(), SecureRandom()
    cipher = AesGcmSecretCipher(keyring)
    created = await create_organisation(storage, cipher)("Bench")
    org = created.organisation.id
    credential = await ManageCredentials(storage.credentials, cipher, clock, random).create(
        org, NewCredential("bench", "bench-client", "bench-secret")
    )
    hub = await ManageHubs(storage.hubs, clock, random, cipher).create(org, NewHub("bench", []))
    connector = await ManageConnectors(
        storage.hubs,
        storage.connectors,
        clock,
        random,
        cipher=cipher,
        catalogue=PackagedCatalogue.load(),
    ).create(
        org, hub.id, NewConnector(name="bench", token_url="https://provider.example.com/token")
    )
    now = datetime.now(UTC)
    connection_id = time_ordered_id(int(now.timestamp() * 1000), os.urandom(10))
    connection = Connection(
        id=connection_id,
        organisation_id=org,
        hub_id=hub.id,
        user_id="bench-user",
        connector_id=connector.id,
        credential_id=credential.id,
        name="bench",
        tokens=ConnectionTokens(
            token_type="Bearer",
            sealed_access_token=cipher.encrypt(
                "access-" + secrets.token_urlsafe(32),
                context=access_token_context(connection_id),
            ),
            sealed_refresh_token=cipher.encrypt(
                "refresh-" + secrets.token_urlsafe(32),
                context=refresh_token_context(connection_id),
            ),
            expires_at=now + timedelta(days=2),  # fresh for the whole benchmark
            scopes=("read", "offline_access"),
        ),
        status=ConnectionStatus.ACTIVE,
        created_at=now,
    )
    await storage.connections.add(sealed(cipher, connection))
    return Seeded(
        org, created.api_key, hub.id, connector.id, credential.id, "bench-client", connection_id
    )


async def seed_filler(
    engine: AsyncEngine, seeded: Seeded, states: int, connections: int, keyring: Keyring
) -> None:
    """``states`` used-state rows (ids sorted, so inserts append to the index) and
    ``connections`` connections of as many end users, on the seeded hub and connector. Their
    tokens are never read: a placeholder under the active key's id stands in (the service
    checks at start that every key id stored values name is configured)."""
    placeholder = f"v1.{keyring.active_id}.never-read"
    expires = datetime.now(UTC) + timedelta(days=1)
    state_ids = sorted(os.urandom(16) for _ in range(states))
    async with engine.begin() as conn:
        for start in range(0, states, BATCH):
            await conn.execute(
                t.used_states.insert(),
                [{"state_id": s, "expires_at": expires} for s in state_ids[start : start + BATCH]],
            )
    base = int(datetime.now(UTC).timestamp() * 1000) - connections
    async with engine.begin() as conn:
        for start in range(0, connections, BATCH):
            rows = range(start, min(start + BATCH, connections))
            ids = [time_ordered_id(base + i, os.urandom(10)) for i in rows]
            now = datetime.now(UTC)
            await conn.execute(
                t.end_users.insert(),
                [
                    {
                        "id": ids[k],
                        "hub_id": seeded.hub_id,
                        "external_id": f"filler-{i}",
                        "created_at": now,
                    }
                    for k, i in enumerate(rows)
                ],
            )
            await conn.execute(
                t.connections.insert(),
                [
                    {
                        "id": ids[k],
                        "organisation_id": seeded.organisation_id,
                        "hub_id": seeded.hub_id,
                        "end_user_id": ids[k],
                        "connector_id": seeded.connector_id,
                        "credential_id": seeded.credential_id,
                        "name": "filler",
                        "scopes": ["read"],
                        "token_type": "Bearer",
                        "sealed_access_token": placeholder,
                        "sealed_refresh_token": None,
                        "expires_at": expires,
                        "status": "active",
                        "created_at": now,
                    }
                    for k, _ in enumerate(rows)
                ],
            )


async def count_rows(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        states = (
            await conn.execute(sa.select(sa.func.count()).select_from(t.used_states))
        ).scalar_one()
        connections = (
            await conn.execute(sa.select(sa.func.count()).select_from(t.connections))
        ).scalar_one()
    return int(states), int(connections)
