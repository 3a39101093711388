"""The ceiling: a bare Litestar route that takes the initialise body and answers a URL.

No authentication, no storage: what the framework and the server cost on their own. The
service is measured against this, served by the same server with the same workers.
"""

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


app = Litestar(route_handlers=[initialise], logging_config=None)
