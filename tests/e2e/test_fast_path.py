"""The initialise fast path answers exactly as the Litestar route does, for every request."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.bootstrap import create_app, create_organisation
from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.http.fast_initialise import InitialiseFastPath
from adapters.settings import Settings
from tests.conftest import migrated_backend

RANDOM_PARAMS = {"state", "code_challenge"}


@dataclass
class Pair:
    fast: AsyncTestClient[Any]
    plain: AsyncTestClient[Any]
    key: str
    ids: dict[str, str]
    other_hub: str


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[Pair]:
    settings = Settings(database_url="unused://", public_url="https://connect.example.org")
    keyring = Keyring.parse(generate_key_spec())
    async with migrated_backend("sqlite", tmp_path) as backend:
        created = await create_organisation(backend.storage)("Acme")
        fast_app = create_app(settings, backend=backend, keyring=keyring)
        plain_app = create_app(settings, backend=backend, keyring=keyring, fast_paths=False)
        async with AsyncTestClient(fast_app) as fast, AsyncTestClient(plain_app) as plain:
            auth = {"Authorization": f"Bearer {created.api_key}"}
            credential = (
                await fast.post(
                    "/credentials",
                    json={"name": "c", "clientId": "cid", "clientSecret": "s"},
                    headers=auth,
                )
            ).json()
            hub = (await fast.post("/hubs", json={"name": "h"}, headers=auth)).json()
            other_hub = (await fast.post("/hubs", json={"name": "h2"}, headers=auth)).json()
            connector = (
                await fast.post(
                    f"/hubs/{hub['id']}/connectors",
                    json={"name": "p", "tokenUrl": "https://p.example/t"},
                    headers=auth,
                )
            ).json()
            ids = {
                "org": created.organisation.id,
                "credential": credential["id"],
                "hub": hub["id"],
                "connector": connector["id"],
            }
            yield Pair(fast, plain, created.api_key, ids, other_hub["id"])


def valid(pair: Pair, **extra: object) -> dict[str, object]:
    return {
        "authorizeUrl": "https://p.example/authorize?tenant=x",
        "clientId": "cid",
        "credential": {"id": pair.ids["credential"], "organisationId": pair.ids["org"]},
        **extra,
    }


def comparable(response: httpx.Response) -> tuple[int, str, object]:
    content_type = response.headers.get("content-type", "")
    try:
        body: object = response.json()
    except json.JSONDecodeError:
        body = response.text
    if response.status_code == 200 and isinstance(body, dict) and "url" in body:
        parts = urlsplit(body["url"])
        query = {
            k: v
            for k, v in parse_qs(parts.query, keep_blank_values=True).items()
            if k not in RANDOM_PARAMS
        }
        body = {"prefix": body["url"].split("?")[0], "query": query}
    return response.status_code, content_type.split(";")[0], body


def cases(pair: Pair) -> list[tuple[str, dict[str, str], bytes]]:
    path = f"/embed/{pair.ids['hub']}/connector/{pair.ids['connector']}/oauth2/initialise"
    json_auth = {"Authorization": f"Bearer {pair.key}", "Content-Type": "application/json"}

    def body(value: object) -> bytes:
        return json.dumps(value).encode()

    return [
        (path, json_auth, body(valid(pair))),
        (
            path,
            json_auth,
            body(
                valid(
                    pair,
                    scopes=["a", "b", "a"],
                    prompt="consent+login",
                    additionalParams="resource=x&resource=y",
                )
            ),
        ),
        (
            path,
            json_auth,
            body(
                valid(pair, prompt="", additionalParams="", scopes=None, disableOfflineAccess=True)
            ),
        ),
        (path, {**json_auth, "Content-Type": "application/json; charset=utf-8"}, body(valid(pair))),
        (path, json_auth, b"{not json"),
        (path, json_auth, b"[]"),
        (path, json_auth, body(valid(pair, extra=1))),
        (path, json_auth, body(valid(pair, scopes=[1]))),
        (path, json_auth, body({"clientId": "cid"})),
        (path, json_auth, body(valid(pair, clientId="other"))),
        (path, json_auth, body(valid(pair, additionalParams="state=x"))),
        (path, json_auth, body(valid(pair, authorizeUrl="http://p.example/a"))),
        (
            path,
            json_auth,
            body(
                valid(pair, credential={"id": pair.ids["credential"], "organisationId": "someone"})
            ),
        ),
        (
            path,
            json_auth,
            body(valid(pair, credential={"id": "missing", "organisationId": pair.ids["org"]})),
        ),
        (path.replace(pair.ids["hub"], pair.other_hub), json_auth, body(valid(pair))),
        (path.replace(pair.ids["hub"], "nope"), json_auth, body(valid(pair))),
        (path, {"Content-Type": "application/json"}, body(valid(pair))),
        (path, {**json_auth, "Authorization": "Bearer eo_unknown"}, body(valid(pair))),
        (path, {**json_auth, "Authorization": "Basic abc"}, body(valid(pair))),
        (path, {**json_auth, "Content-Type": "text/plain"}, body(valid(pair))),
        (path, json_auth, b'{"authorizeUrl": "' + b"x" * 70_000 + b'"}'),
        (path, json_auth, b""),
    ]


async def test_fast_and_plain_paths_answer_alike(pair: Pair) -> None:
    for path, headers, content in cases(pair):
        fast = await pair.fast.post(path, content=content, headers=headers)
        plain = await pair.plain.post(path, content=content, headers=headers)
        assert comparable(fast) == comparable(plain), (path, headers, content[:80])


async def test_only_valid_requests_from_known_keys_take_the_fast_path(pair: Pair) -> None:
    handler = pair.fast.app.asgi_handler
    fast_path = handler._app  # type: ignore[attr-defined]  # into the observer, on purpose
    assert isinstance(fast_path, InitialiseFastPath)
    handed_on: list[str] = []
    inner = fast_path._app

    async def recording(scope: Any, receive: Any, send: Any) -> None:
        handed_on.append(scope["path"])
        await inner(scope, receive, send)

    fast_path._app = recording
    for path, headers, content in cases(pair):
        handed_on.clear()
        response = await pair.fast.post(path, content=content, headers=headers)
        assert (handed_on == []) == (response.status_code == 200), (
            response.status_code,
            content[:60],
        )
