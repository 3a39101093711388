"""The initialise hot path, served without the framework's per-request machinery.

A valid initialise request from a known API key is answered here: the same DTO, the same
command, the same cached key lookup and the same use case as the Litestar route, without
routing, middleware layers, the signature model and response objects, which cost more
than the endpoint's own work (measured in docs/performance.md). Anything else (no or an
unknown key, a body that is not JSON, too large, or invalid, any refusal of the use case)
is handed to the full application with the body replayed, so that every error is produced
by exactly one code path. Initialising writes nothing, so running the use case again there
changes nothing.
"""

import re
from typing import Any

import msgspec

from adapters.http.auth import MAX_KEY_LENGTH, RATE_CHECKED, bearer_key, header
from adapters.http.dto import InitialiseOAuth2ConnectionRequest
from adapters.http.initialise import command_from
from adapters.http.rate_limit import RateLimiter, TooManyRequests
from adapters.observability import INITIALISE_ROUTE
from application.initialise import InitialiseOAuth2Connection
from application.organisations import AuthenticateApiKey
from domain.api_keys import hash_api_key
from domain.errors import DomainError

_PATH = re.compile(r"/embed/([^/]+)/connector/([^/]+)/oauth2/initialise")
_DECODER = msgspec.json.Decoder(InitialiseOAuth2ConnectionRequest)
_ENCODER = msgspec.json.Encoder()


class InitialiseFastPath:
    def __init__(
        self,
        app: Any,
        *,
        initialise: InitialiseOAuth2Connection,
        authenticate: AuthenticateApiKey,
        max_body_bytes: int,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._app = app
        self._initialise = initialise
        self._authenticate = authenticate
        self._max_body = max_body_bytes
        self._limiter = limiter

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        match = (
            _PATH.fullmatch(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        organisation_id = await self._caller(scope) if match else None
        if match is None or organisation_id is None:
            await self._app(scope, receive, send)
            return
        body = await self._read_body(receive)
        if body is None:  # too large: the application answers 413 as always
            await self._app(scope, receive, send)
            return
        try:
            data = _DECODER.decode(body)
            url = await self._initialise(
                command_from(data, organisation_id, match.group(1), match.group(2))
            )
        except (msgspec.DecodeError, msgspec.ValidationError, DomainError):
            await self._app(scope, _replay(body, receive), send)
            return
        payload = _ENCODER.encode({"url": url})
        scope["path_template"] = INITIALISE_ROUTE
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _caller(self, scope: Any) -> str | None:
        """The organisation, for a JSON request with a known key within its allowance; else
        None (no answer here: the application gives the 401, 415, 413 or 429)."""
        headers = scope["headers"]
        if (
            header(headers, b"content-type").split(b";", 1)[0].strip().lower()
            != b"application/json"
        ):
            return None
        length = header(headers, b"content-length")
        if not length.isdigit() or int(length) > self._max_body:
            return None
        key = bearer_key(headers)
        if key is None or len(key) > MAX_KEY_LENGTH:
            return None
        try:
            organisation_id = await self._authenticate(key)
        except DomainError:
            return None
        if self._limiter is not None:
            scope[RATE_CHECKED] = True
            try:
                self._limiter.check(hash_api_key(key))
            except TooManyRequests:
                scope[RATE_CHECKED] = False  # let the application charge and refuse it
                return None
        return organisation_id

    async def _read_body(self, receive: Any) -> bytes | None:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replayed() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
