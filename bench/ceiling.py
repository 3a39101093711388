"""The ceilings: bare Litestar routes of the same shape as the service's hot routes.

- initialise: the same path, decodes the same body into a Struct, answers a URL of about
  the length the service answers;
- access-token: the same path, no body, answers the same JSON shape.

No authentication, no storage, no logging: what the framework and the server cost on their
own. The service is measured against these, served by the same server with the same
workers.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Litestar, post
from litestar.params import FromPath, JSONBody


class Credential(msgspec.Struct, rename="camel"):
    id: str
    organisation_id: str


class Body(msgspec.Struct, rename="camel"):
    authorize_url: str
    client_id: str
    credential: Credential
    scopes: list[str] | None = None
    prompt: str | None = None
    additional_params: str | None = None
    disable_offline_access: bool | None = None


class Answer(msgspec.Struct):
    url: str


_URL = "https://provider.example.com/oauth/authorize?response_type=code&" + "x" * 400


@post("/embed/{hub_id:str}/connector/{connector_id:str}/oauth2/initialise", status_code=200)
async def initialise(
    hub_id: FromPath[str], connector_id: FromPath[str], data: JSONBody[Body]
) -> Annotated[Answer, "the URL"]:
    return Answer(url=_URL)


class Token(msgspec.Struct, rename="camel"):
    access_token: str
    token_type: str
    expires_at: datetime | None
    scopes: list[str]


_TOKEN = Token(
    access_token="a" * 64,
    token_type="Bearer",
    expires_at=datetime.now(UTC) + timedelta(days=2),
    scopes=["read", "offline_access"],
)


@post("/connections/{connection_id:str}/access-token", status_code=200)
async def access_token(connection_id: FromPath[str]) -> Annotated[Token, "the token"]:
    return _TOKEN


app = Litestar(route_handlers=[initialise, access_token], logging_config=None)
