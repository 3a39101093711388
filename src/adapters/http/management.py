"""Management API: credentials, hubs and connectors of the caller's organisation, and the
provider catalogue."""

from typing import Any

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from adapters.http.dependencies import CallerOrganisation, UseCases
from adapters.http.dto import (
    ConnectorCreate,
    ConnectorList,
    ConnectorRead,
    CredentialCreate,
    CredentialList,
    CredentialRead,
    HubCreate,
    HubList,
    HubRead,
    ProviderList,
    ProviderRead,
)
from adapters.http.openapi import errors
from adapters.http.paging import After, Limit
from application.connectors import GivenSettings, NewConnector
from application.credentials import NewCredential
from application.errors import NotFound
from application.hubs import NewHub
from application.pagination import page_of
from domain.model import (
    Connector,
    Credential,
    Hub,
    OfflineAccess,
    ProviderSettings,
    ProviderTemplate,
    TokenAuthMethod,
    TokenRequestFormat,
)
from domain.scopes import ScopeSeparator


def _credential(c: Credential) -> CredentialRead:
    return CredentialRead(
        id=c.id,
        organisation_id=c.organisation_id,
        name=c.name,
        client_id=c.client_id,
        created_at=c.created_at,
    )


def _hub(h: Hub) -> HubRead:
    return HubRead(
        id=h.id,
        organisation_id=h.organisation_id,
        name=h.name,
        allowed_origins=list(h.allowed_origins),
        created_at=h.created_at,
    )


def _settings_fields(s: ProviderSettings) -> dict[str, Any]:
    return {
        "authorize_url": s.authorize_url,
        "authorize_params": dict(s.authorize_params),
        "offline_access": s.offline_access.value,
        "default_prompt": s.default_prompt,
        "token_request_format": s.token_request_format.value,
        "token_response_path": s.token_response_path,
        "metadata_fields": list(s.metadata_fields),
        "callback_params": list(s.callback_params),
        "default_expires_in_seconds": s.default_expires_in,
        "revocation_url": s.revocation_url,
    }


def _connector(c: Connector) -> ConnectorRead:
    return ConnectorRead(
        id=c.id,
        hub_id=c.hub_id,
        name=c.name,
        provider=c.settings.provider,
        token_url=c.token_url,
        scope_separator=c.scope_separator.value,
        pkce=c.pkce,
        token_auth_method=c.token_auth_method.value,
        issuer=c.issuer,
        iss_parameter_supported=c.iss_parameter_supported,
        created_at=c.created_at,
        **_settings_fields(c.settings),
    )


def _provider(t: ProviderTemplate) -> ProviderRead:
    return ProviderRead(
        id=t.id,
        name=t.name,
        docs_url=t.docs_url,
        notes=t.notes,
        token_url=t.token_url,
        scope_separator=t.scope_separator.value,
        pkce=t.pkce,
        token_auth_method=t.token_auth_method.value,
        issuer=t.issuer,
        iss_parameter_supported=t.iss_parameter_supported,
        **_settings_fields(t.settings),
    )


def _new_connector(data: ConnectorCreate) -> NewConnector:
    """What the request gave; ``None`` where it gave nothing, so a template or the default
    stands."""
    return NewConnector(
        name=data.name,
        token_url=data.token_url or None,
        provider=data.provider,
        scope_separator=ScopeSeparator(data.scope_separator) if data.scope_separator else None,
        pkce=data.pkce,
        token_auth_method=TokenAuthMethod(data.token_auth_method)
        if data.token_auth_method
        else None,
        issuer=data.issuer or None,
        iss_parameter_supported=data.iss_parameter_supported,
        settings=GivenSettings(
            authorize_url=data.authorize_url or None,
            authorize_params=tuple(data.authorize_params.items())
            if data.authorize_params is not None
            else None,
            offline_access=OfflineAccess(data.offline_access) if data.offline_access else None,
            default_prompt=data.default_prompt or None,
            token_request_format=TokenRequestFormat(data.token_request_format)
            if data.token_request_format
            else None,
            token_response_path=data.token_response_path or None,
            metadata_fields=tuple(data.metadata_fields)
            if data.metadata_fields is not None
            else None,
            callback_params=tuple(data.callback_params)
            if data.callback_params is not None
            else None,
            default_expires_in=data.default_expires_in_seconds,
            revocation_url=data.revocation_url or None,
        ),
        discover=data.discover is True,
    )


class CredentialController(Controller):
    path = "/credentials"
    tags = ("credentials",)

    @post(
        responses=errors(413, 415),
        summary="Store an OAuth client credential",
    )
    async def create(
        self,
        data: JSONBody[CredentialCreate],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> CredentialRead:
        """The client secret is encrypted at rest and never returned."""
        credential = await services.credentials.create(
            organisation_id,
            NewCredential(
                name=data.name, client_id=data.client_id, client_secret=data.client_secret
            ),
        )
        return _credential(credential)

    @get(responses=errors(), summary="List credentials")
    async def list_all(
        self,
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> CredentialList:
        page = page_of(await services.credentials.list(organisation_id), limit, after)
        return CredentialList(items=[_credential(c) for c in page.items], next=page.next)

    @get("/{credential_id:str}", responses=errors(404), summary="Get a credential")
    async def get_one(
        self, credential_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> CredentialRead:
        return _credential(await services.credentials.get(organisation_id, credential_id))

    @delete("/{credential_id:str}", responses=errors(404), summary="Delete a credential")
    async def remove(
        self, credential_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> None:
        await services.credentials.delete(organisation_id, credential_id)


class HubController(Controller):
    path = "/hubs"
    tags = ("hubs",)

    @post(responses=errors(413, 415), summary="Create a hub")
    async def create(
        self, data: JSONBody[HubCreate], services: UseCases, organisation_id: CallerOrganisation
    ) -> HubRead:
        hub = await services.hubs.create(
            organisation_id, NewHub(name=data.name, allowed_origins=data.allowed_origins or [])
        )
        return _hub(hub)

    @get(responses=errors(), summary="List hubs")
    async def list_all(
        self,
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> HubList:
        page = page_of(await services.hubs.list(organisation_id), limit, after)
        return HubList(items=[_hub(h) for h in page.items], next=page.next)

    @get("/{hub_id:str}", responses=errors(404), summary="Get a hub")
    async def get_one(
        self, hub_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> HubRead:
        return _hub(await services.hubs.get(organisation_id, hub_id))

    @delete("/{hub_id:str}", responses=errors(404), summary="Delete a hub and its connectors")
    async def remove(
        self, hub_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> None:
        await services.hubs.delete(organisation_id, hub_id)


class ConnectorController(Controller):
    path = "/hubs/{hub_id:str}/connectors"
    tags = ("connectors",)

    @post(responses=errors(404, 413, 415), summary="Add a connector to a hub")
    async def create(
        self,
        hub_id: FromPath[str],
        data: JSONBody[ConnectorCreate],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> ConnectorRead:
        connector = await services.connectors.create(organisation_id, hub_id, _new_connector(data))
        return _connector(connector)

    @get(responses=errors(404), summary="List a hub's connectors")
    async def list_all(
        self,
        hub_id: FromPath[str],
        services: UseCases,
        organisation_id: CallerOrganisation,
        limit: Limit = None,
        after: After = None,
    ) -> ConnectorList:
        page = page_of(await services.connectors.list(organisation_id, hub_id), limit, after)
        return ConnectorList(items=[_connector(c) for c in page.items], next=page.next)

    @get("/{connector_id:str}", responses=errors(404), summary="Get a connector")
    async def get_one(
        self,
        hub_id: FromPath[str],
        connector_id: FromPath[str],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> ConnectorRead:
        return _connector(await services.connectors.get(organisation_id, hub_id, connector_id))

    @delete("/{connector_id:str}", responses=errors(404), summary="Delete a connector")
    async def remove(
        self,
        hub_id: FromPath[str],
        connector_id: FromPath[str],
        services: UseCases,
        organisation_id: CallerOrganisation,
    ) -> None:
        await services.connectors.delete(organisation_id, hub_id, connector_id)


class ProviderController(Controller):
    """The catalogue: providers the service has templates for (``POST .../connectors``
    with ``provider`` starts from one)."""

    path = "/providers"
    tags = ("providers",)

    @get(summary="List the provider catalogue")
    async def list_all(
        self, services: UseCases, organisation_id: CallerOrganisation
    ) -> ProviderList:
        return ProviderList(items=[_provider(t) for t in services.providers.all()])

    @get("/{provider_id:str}", responses=errors(404), summary="Get a catalogue entry")
    async def get_one(
        self, provider_id: FromPath[str], services: UseCases, organisation_id: CallerOrganisation
    ) -> ProviderRead:
        template = services.providers.get(provider_id)
        if template is None:
            raise NotFound("provider")
        return _provider(template)
