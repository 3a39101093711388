"""Connections of end users, and fresh access tokens."""

import msgspec
from litestar import Controller, delete, get, post
from litestar.handlers import ASGIRouteHandler
from litestar.params import FromPath, JSONBody
from litestar.types import Receive, Scope, Send

from adapters.http.auth import RequestChecks
from adapters.http.dependencies import CallerIdentity, UseCases
from adapters.http.dto import (
    AccessTokenRead,
    ConnectionCreate,
    ConnectionList,
    ConnectionRead,
    connection_read,
)
from adapters.http.lean import lean_route, require_method, send_json
from adapters.http.openapi import errors
from adapters.http.paging import After, Limit
from adapters.http.services import Services
from application.callers import Caller, backend_organisation
from application.connections import NewConnection
from application.pagination import page_of


class UserConnectionController(Controller):
    path = "/hubs/{hub_id:str}/users/{user_id:str}/connections"
    tags = ("connections",)

    @post(
        responses=errors(404, 409, 413, 415, 502, 504),
        summary="Create a connection from an authorization code",
    )
    async def create(
        self,
        hub_id: FromPath[str],
        user_id: FromPath[str],
        data: JSONBody[ConnectionCreate],
        services: UseCases,
        caller: CallerIdentity,
    ) -> ConnectionRead:
        """Consumes the `state`, exchanges the `code` at the connector's token endpoint and
        stores the tokens encrypted. Tokens are never returned here."""
        connection = await services.create_connection(
            NewConnection(
                caller=caller,
                hub_id=hub_id,
                user_id=user_id,
                connector_id=data.connector_id,
                code=data.code,
                state=data.state,
                name=data.name or None,
                callback_params=data.callback_params or {},
            )
        )
        return connection_read(connection)

    @get(responses=errors(404), summary="List an end user's connections")
    async def list_all(
        self,
        *,
        hub_id: FromPath[str],
        user_id: FromPath[str],
        services: UseCases,
        caller: CallerIdentity,
        limit: Limit = None,
        after: After = None,
    ) -> ConnectionList:
        connections = await services.connections.list_for_user(caller, hub_id, user_id)
        page = page_of(connections, limit, after)
        return ConnectionList(items=[connection_read(c) for c in page.items], next=page.next)


class ConnectionController(Controller):
    path = "/connections"
    tags = ("connections",)

    @get("/{connection_id:str}", responses=errors(404), summary="Get a connection")
    async def get_one(
        self, connection_id: FromPath[str], services: UseCases, caller: CallerIdentity
    ) -> ConnectionRead:
        return connection_read(await services.connections.get(caller, connection_id))

    @delete(
        "/{connection_id:str}",
        responses=errors(404),
        summary="Delete a connection and its stored tokens",
    )
    async def remove(
        self, connection_id: FromPath[str], services: UseCases, caller: CallerIdentity
    ) -> None:
        await services.connections.delete(caller, connection_id)


ACCESS_TOKEN_PATH = "/connections/{connection_id:str}/access-token"
_ENCODER = msgspec.json.Encoder()


def access_token_route(services: Services, checks: RequestChecks) -> ASGIRouteHandler:
    """``POST /connections/{id}/access-token``: a fresh access token, refreshed first when
    it is about to expire. Documented by ``adapters.http.openapi``."""

    @lean_route(ACCESS_TOKEN_PATH, "access-token", checks)
    async def access_token(scope: Scope, receive: Receive, send: Send) -> None:
        require_method(scope, "POST")
        caller: Caller = scope["user"]
        token = await services.access_token(
            backend_organisation(caller), scope["path_params"]["connection_id"]
        )
        body = AccessTokenRead(
            access_token=token.access_token,
            token_type=token.token_type,
            expires_at=token.expires_at,
            scopes=list(token.scopes),
        )
        await send_json(send, _ENCODER.encode(body), headers=_NO_STORE)

    return access_token


_NO_STORE = ((b"cache-control", b"no-store"),)
