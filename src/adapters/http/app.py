"""The Litestar application: routes, middleware, the error mapping and the API schema."""

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from litestar import Litestar, Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from adapters.http import health
from adapters.http.auth import RequestChecks, RequestChecksMiddleware
from adapters.http.callback import oauth2_callback, oauth2_callback_without_organisation
from adapters.http.connections import (
    ACCESS_TOKEN_PATH,
    ConnectionController,
    UserConnectionController,
    access_token_route,
)
from adapters.http.cors import EmbedCors
from adapters.http.demo import demo_page
from adapters.http.dependencies import caller_identity, caller_organisation
from adapters.http.dto import (
    AccessTokenRead,
    InitialiseOAuth2ConnectionRequest,
    InitialiseOAuth2ConnectionResponse,
)
from adapters.http.end_users import (
    ConnectSessionController,
    SigningKeyController,
    read_organisation,
)
from adapters.http.errors import exception_handlers
from adapters.http.initialise import INITIALISE_PATH, embed_connector, initialise_route
from adapters.http.lean import route_path_parameters_to_asgi_handlers
from adapters.http.management import (
    ConnectorController,
    CredentialController,
    HubController,
    ProviderController,
)
from adapters.http.openapi import LeanOperation, document
from adapters.http.rate_limit import RateLimiter
from adapters.http.schema_page import CSP, OfflineReferencePlugin
from adapters.http.sdk import sdk_module
from adapters.http.services import Services
from adapters.http.webhooks import WebhookController
from adapters.observability import RequestObserver
from adapters.settings import Settings
from adapters.version import VERSION

_LEAN_OPERATIONS = [
    LeanOperation(
        path=INITIALISE_PATH.replace(":str", ""),
        operation_id="InitialiseOauth2Connection",
        summary="Initialise an OAuth 2.0 connection",
        description=(
            "Returns the provider's authorize URL to send the end user to. The service adds "
            "`response_type`, `client_id`, `redirect_uri`, `state`, `scope`, `prompt` and, "
            "with PKCE, `code_challenge` and `code_challenge_method`; empty strings count as "
            "absent."
        ),
        tag="connect",
        path_parameters=("hub_id", "connector_id"),
        request=InitialiseOAuth2ConnectionRequest,
        response=InitialiseOAuth2ConnectionResponse,
        errors=(403, 404, 409, 413, 415, 429, 503),
    ),
    LeanOperation(
        path=ACCESS_TOKEN_PATH.replace(":str", ""),
        operation_id="ConnectionsConnectionIdAccessToken",
        summary="A fresh access token, refreshed first when it is about to expire",
        description="The connection's access token; never cached by clients (no-store).",
        tag="connections",
        path_parameters=("connection_id",),
        response=AccessTokenRead,
        errors=(404, 409, 429, 502, 503, 504),
    ),
]


def http_app(
    settings: Settings,
    services: Services,
    *,
    lifespan: Sequence[Callable[[Litestar], AbstractAsyncContextManager[None]]] = (),
    on_shutdown: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Litestar:
    limiter = (
        RateLimiter(settings.rate_limit_per_minute) if settings.rate_limit_per_minute else None
    )
    checks = RequestChecks(services.authenticate, limiter)
    ordinary: list[Any] = [
        CredentialController,
        HubController,
        ConnectorController,
        ProviderController,
        UserConnectionController,
        ConnectionController,
        embed_connector,
        oauth2_callback,
        oauth2_callback_without_organisation,
        read_organisation,
        SigningKeyController,
        ConnectSessionController,
        WebhookController,
        sdk_module,
        health.live,
        health.ready_route(),
        health.metrics_route(settings.metrics_token),
    ]
    if settings.demo:
        ordinary.append(demo_page)
    handlers: list[Any] = [
        Router(
            "/",
            route_handlers=ordinary,
            middleware=[DefineMiddleware(RequestChecksMiddleware, checks=checks)],
        ),
        initialise_route(services, settings.max_body_bytes, checks),
        access_token_route(services, checks),
    ]
    app = Litestar(
        route_handlers=handlers,
        lifespan=list(lifespan),
        dependencies={
            "services": Provide(lambda: services, use_cache=True, sync_to_thread=False),
            "organisation_id": Provide(caller_organisation, sync_to_thread=False),
            "caller": Provide(caller_identity, sync_to_thread=False),
        },
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        on_shutdown=list(on_shutdown),
        openapi_config=openapi_config(settings),
        debug=False,
        logging_config=None,  # logging is ours: JSON lines (adapters.observability)
    )
    route_path_parameters_to_asgi_handlers(app)
    if settings.schema:
        document(app, _LEAN_OPERATIONS)
    observer = RequestObserver(
        EmbedCors(app.asgi_handler, services.embed_origins), security_headers(settings)
    )
    app.asgi_handler = observer
    app.on_shutdown.append(observer.close)  # the requests of the last turn
    return app


def openapi_config(settings: Settings) -> OpenAPIConfig | None:
    """``/schema`` (the reference) and ``/schema/openapi.json``, unless switched off."""
    if not settings.schema:
        return None
    return OpenAPIConfig(
        title="embed-oauth",
        version=VERSION,
        description=(
            "Connect your product's end users to their third-party accounts over OAuth 2.0."
        ),
        path="/schema",
        render_plugins=[OfflineReferencePlugin()],
        # The reference page and the JSON document answer under a policy that runs no
        # script and loads nothing (the page repeats it in a <meta>).
        openapi_router=Router(
            "/schema",
            route_handlers=[],
            include_in_schema=False,
            response_headers=[ResponseHeader(name="Content-Security-Policy", value=CSP)],
        ),
        security=[{"apiKey": []}],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description=(
                        "An organisation's API key; on initialise and an end user's own "
                        "connections, also an end-user token (a JWT signed with a "
                        "registered signing key, or a connect session)"
                    ),
                )
            }
        ),
    )


HSTS_SECONDS = 2 * 365 * 24 * 3600


def security_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """On every response: no MIME sniffing; with an https public URL, HSTS (two years)."""
    headers = [(b"x-content-type-options", b"nosniff")]
    if settings.public_url.startswith("https://"):
        headers.append((b"strict-transport-security", f"max-age={HSTS_SECONDS}".encode()))
    return headers
