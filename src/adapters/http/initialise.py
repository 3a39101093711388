"""``POST /embed/{hub_id}/connector/{connector_id}/oauth2/initialise``: its one
implementation; and ``GET /embed/{hub_id}/connector/{connector_id}``, what the embedding page
may know of the connector."""

import msgspec
from litestar import get
from litestar.handlers import ASGIRouteHandler
from litestar.params import FromPath
from litestar.types import Receive, Scope, Send

from adapters.http.auth import RequestChecks
from adapters.http.dependencies import CallerIdentity, UseCases
from adapters.http.dto import (
    EmbedConnectorRead,
    InitialiseOAuth2ConnectionRequest,
    InitialiseOAuth2ConnectionResponse,
)
from adapters.http.lean import decode_body, lean_route, read_body, require_method, send_json
from adapters.http.openapi import errors
from adapters.http.services import Services
from application.callers import Caller
from application.initialise import InitialiseCommand

INITIALISE_PATH = "/embed/{hub_id:str}/connector/{connector_id:str}/oauth2/initialise"
_DECODER = msgspec.json.Decoder(InitialiseOAuth2ConnectionRequest)
_ENCODER = msgspec.json.Encoder()


def initialise_route(
    services: Services, max_body_bytes: int, checks: RequestChecks
) -> ASGIRouteHandler:
    """The route, bound to the service's use cases. Documented in the OpenAPI schema by
    ``adapters.http.openapi`` (Litestar documents only its ordinary route handlers)."""

    @lean_route(INITIALISE_PATH, "initialise", checks)
    async def initialise_oauth2_connection(scope: Scope, receive: Receive, send: Send) -> None:
        require_method(scope, "POST")
        data = decode_body(await read_body(scope, receive, max_body_bytes), _DECODER)
        params = scope["path_params"]
        url = await services.initialise(
            command_from(data, scope["user"], params["hub_id"], params["connector_id"])
        )
        await send_json(send, _ENCODER.encode(InitialiseOAuth2ConnectionResponse(url=url)))

    return initialise_oauth2_connection


def command_from(
    data: InitialiseOAuth2ConnectionRequest, caller: Caller, hub_id: str, connector_id: str
) -> InitialiseCommand:
    """The request as a use-case command; empty strings and nulls count as absent."""
    return InitialiseCommand(
        caller=caller,
        hub_id=hub_id,
        connector_id=connector_id,
        authorize_url=data.authorize_url,
        client_id=data.client_id,
        credential_id=data.credential.id,
        credential_organisation_id=data.credential.organisation_id,
        scopes=data.scopes or (),
        prompt=data.prompt or None,
        additional_params=data.additional_params or None,
        disable_offline_access=bool(data.disable_offline_access),
        user_id=data.user_id or None,
        connection_id=data.connection_id or None,
    )


@get(
    "/embed/{hub_id:str}/connector/{connector_id:str}",
    responses=errors(404),
    tags=["connect"],
    summary="What the embedding page may know of a connector (the SDK's defaults)",
)
async def embed_connector(
    hub_id: FromPath[str], connector_id: FromPath[str], services: UseCases, caller: CallerIdentity
) -> EmbedConnectorRead:
    connector = await services.connectors.for_embedding(caller, hub_id, connector_id)
    return EmbedConnectorRead(
        id=connector.id,
        name=connector.name,
        provider=connector.settings.provider,
        authorize_url=connector.settings.authorize_url,
    )
