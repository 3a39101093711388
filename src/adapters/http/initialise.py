"""``POST /embed/{hub_id}/connector/{connector_id}/oauth2/initialise``."""

from litestar import post
from litestar.params import FromPath, JSONBody

from adapters.http.dependencies import CallerOrganisation, UseCases
from adapters.http.dto import InitialiseOAuth2ConnectionRequest, InitialiseOAuth2ConnectionResponse
from adapters.http.openapi import errors
from application.initialise import InitialiseCommand


@post(
    "/embed/{hub_id:str}/connector/{connector_id:str}/oauth2/initialise",
    status_code=200,
    responses=errors(403, 404, 409, 413, 415),
    tags=["connect"],
    summary="Initialise an OAuth 2.0 connection",
)
async def initialise_oauth2_connection(
    hub_id: FromPath[str],
    connector_id: FromPath[str],
    data: JSONBody[InitialiseOAuth2ConnectionRequest],
    services: UseCases,
    organisation_id: CallerOrganisation,
) -> InitialiseOAuth2ConnectionResponse:
    """Returns the provider's authorize URL to send the end user to. The service adds
    `response_type`, `client_id`, `redirect_uri`, `state`, `scope`, `prompt` and, with PKCE,
    `code_challenge` and `code_challenge_method`; empty strings count as absent."""
    url = await services.initialise(command_from(data, organisation_id, hub_id, connector_id))
    return InitialiseOAuth2ConnectionResponse(url=url)


def command_from(
    data: InitialiseOAuth2ConnectionRequest, organisation_id: str, hub_id: str, connector_id: str
) -> InitialiseCommand:
    """The request as a use-case command; empty strings and nulls count as absent."""
    return InitialiseCommand(
        organisation_id=organisation_id,
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
    )
