"""The organisation, its end-user signing keys and connect sessions (API key only)."""

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from adapters.http.dependencies import CallerOrganisation, UseCases
from adapters.http.dto import (
    ConnectSessionCreate,
    ConnectSessionRead,
    ConnectSessionRevoke,
    OrganisationRead,
    SigningKeyCreate,
    SigningKeyList,
    SigningKeyRead,
)
from adapters.http.openapi import NO_STORE, errors
from adapters.http.paging import After, Limit
from application.end_users import NewConnectSession
from application.pagination import page_of
from domain.model import SigningKey


@get(
    "/organisation",
    responses=errors(),
    tags=["organisation"],
    summary="The caller's organisation and the redirect URI to register with providers",
)
async def read_organisation(
    services: UseCases, organisation_id: CallerOrganisation
) -> OrganisationRead:
    profile = await services.organisation(organisation_id)
    return OrganisationRead(
        id=profile.organisation.id,
        name=profile.organisation.name,
        redirect_uri=profile.redirect_uri,
    )


def _signing_key(k: SigningKey) -> SigningKeyRead:
    return SigningKeyRead(
        id=k.id,
        organisation_id=k.organisation_id,
        name=k.name,
        algorithm=k.algorithm.value,
        created_at=k.created_at,
    )


class SigningKeyController(Controller):
    path = "/signing-keys"
    tags = ("end users",)

    @post(responses=errors(413, 415), summary="Register a public key for end-user JWTs")
    async def create(
        self,
        data: JSONBody[SigningKeyCreate],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> SigningKeyRead:
        """The key's type fixes its algorithm: RSA (2048 bits or more) signs RS256, EC P-256
        ES256, Ed25519 EdDSA. JWTs name the key by its `id` in their `kid` header."""
        key = await services.signing_keys.create(organisation_id, data.name, data.public_key)
        return _signing_key(key)

    @get(responses=errors(), summary="List signing keys")
    async def list_all(
        self,
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> SigningKeyList:
        page = page_of(await services.signing_keys.list(organisation_id), limit, after)
        return SigningKeyList(items=[_signing_key(k) for k in page.items], next=page.next)

    @get("/{key_id:str}", responses=errors(404), summary="Get a signing key")
    async def get_one(
        self, key_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> SigningKeyRead:
        return _signing_key(await services.signing_keys.get(organisation_id, key_id))

    @delete("/{key_id:str}", responses=errors(404), summary="Delete a signing key")
    async def remove(
        self, key_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> None:
        """Tokens signed with it stop being accepted."""
        await services.signing_keys.delete(organisation_id, key_id)


class ConnectSessionController(Controller):
    path = "/connect-sessions"
    tags = ("end users",)

    @post(
        responses=errors(404, 413, 415),
        summary="Make a connect session for an end user",
        cache_control=NO_STORE,
    )
    async def create(
        self,
        data: JSONBody[ConnectSessionCreate],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> ConnectSessionRead:
        """An opaque end-user token for one hub and user (30 minutes unless `ttlSeconds`
        says otherwise, at most 3600), optionally limited to some of the hub's connectors."""
        issued = await services.connect_sessions.create(
            organisation_id,
            NewConnectSession(
                hub_id=data.hub_id,
                user_id=data.user_id,
                connector_ids=data.connector_ids,
                ttl_seconds=data.ttl_seconds,
            ),
        )
        return ConnectSessionRead(token=issued.token, expires_at=issued.expires_at)

    @post("/revoke", status_code=204, responses=errors(404, 413, 415), summary="End a session")
    async def revoke(
        self,
        data: JSONBody[ConnectSessionRevoke],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> None:
        await services.connect_sessions.revoke(organisation_id, data.token)
