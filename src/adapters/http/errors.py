"""The one place where errors become HTTP responses, all in the shape of ``ErrorBody``."""

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from adapters.http.dto import ErrorBody, ErrorField, ProviderErrorBody
from application.errors import (
    CredentialInUse,
    DuplicateKey,
    Forbidden,
    NotFound,
    ProviderBusy,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ReauthorisationRequired,
    RefreshBackingOff,
    RefreshInProgress,
    StorageUnavailable,
    TamperedRecord,
    Unauthenticated,
)
from application.states import InvalidState
from domain.errors import DomainError, InvalidInput, ParameterConflict

log = logging.getLogger("embed_oauth.http")

_DOMAIN_STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    InvalidState: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    ParameterConflict: 409,
    CredentialInUse: 409,
    ReauthorisationRequired: 409,
    ProviderRejected: 400,
    ProviderUnavailable: 502,
    ProviderBusy: 503,
    RefreshBackingOff: 503,
    RefreshInProgress: 503,
    ProviderTimeout: 504,
    TamperedRecord: 500,  # the stored data, not the request, is at fault
}
MISSING_BODY = "is required"
_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class UnsupportedMediaType(HTTPException):
    status_code = 415


def _response(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> Response[Any]:
    all_headers = {"Cache-Control": "no-store"}
    if status == 401:
        all_headers["WWW-Authenticate"] = 'Bearer realm="embed-oauth"'
    all_headers.update(headers or {})
    return Response(
        content=body, status_code=status, media_type=MediaType.JSON, headers=all_headers
    )


def _fields(pairs: list[tuple[str, str]]) -> list[ErrorField] | None:
    return [ErrorField(field=f, message=m) for f, m in pairs] or None


def domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = next((_DOMAIN_STATUS[c] for c in type(exc).__mro__ if c in _DOMAIN_STATUS), 400)
    fields = _fields([(f.field, f.message) for f in exc.fields])
    provider = (
        ProviderErrorBody(exc.provider_error, exc.provider_error_description)
        if isinstance(exc, ProviderRejected)
        else None
    )
    retry_after: int | None = getattr(exc, "retry_after", None)
    headers = (
        {"Retry-After": str(retry_after)}
        if retry_after is not None
        else ({"Retry-After": "1"} if status == 503 else None)
    )
    body = ErrorBody(code=exc.code, message=exc.message, fields=fields, provider=provider)
    return _response(status, body, headers)


_NAMED_FIELD = re.compile(r"Object (?:missing required|contains unknown) field `([^`]*)`")


def _body_field(key: str, message: str) -> str:
    """Litestar reports msgspec paths such as ``credential.id``, ``scopes[1]`` or ``data`` (the
    body itself); a missing or unknown field is named only in the message."""
    path = "" if key == "data" else key.removeprefix("data.")
    named = _NAMED_FIELD.fullmatch(message)
    if named:
        path = f"{path}.{named.group(1)}" if path else named.group(1)
    return path or "body"


def validation_error(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    pairs: list[tuple[str, str]] = []
    if isinstance(exc.extra, list):
        for item in exc.extra:
            if isinstance(item, dict) and "message" in item:
                message = str(item["message"])
                if message == repr("data"):  # Litestar's words for a missing body
                    message = MISSING_BODY
                pairs.append((_body_field(str(item.get("key") or "data"), message), message))
    message = "The request body is not valid." if pairs else str(exc.detail)
    return _response(400, ErrorBody(code="invalid_input", message=message, fields=_fields(pairs)))


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error" if status < 500 else "internal_error")
    message = str(exc.detail) if status < 500 else "The service failed to handle the request."
    if status == 400 and "JSON" in message:
        message = "The request body is not valid JSON."
    elif status == 429:
        message = str(exc.detail)
    elif status == 413:
        message = (
            "The request body is larger than the service accepts (EMBED_OAUTH_MAX_BODY_BYTES)."
        )
    headers = {
        k: v for k, v in (exc.headers or {}).items() if k.lower() in ("allow", "retry-after")
    }
    return _response(status, ErrorBody(code=code, message=message), headers)


def storage_unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database is locked, down or unreachable: a retryable 503, never a 500. Nothing was
    half-written: every write is one transaction, rolled back on the failure."""
    log.warning("storage unavailable on %s %s: %s", request.method, request.url.path, exc)
    body = ErrorBody(
        code="storage_unavailable",
        message="The service's database is unavailable right now; retry shortly.",
    )
    return _response(503, body, {"Retry-After": "2"})


def duplicate_key(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.warning("duplicate key on %s %s", request.method, request.url.path)
    body = ErrorBody(code="conflict", message="An object with the same key exists already.")
    return _response(409, body)


def too_deep(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """JSON nested beyond what the decoder follows (about a thousand levels): the request's
    fault, whatever the framework's JSON decoder raises for it."""
    log.warning("request body nested too deeply on %s %s", request.method, request.url.path)
    body = ErrorBody(
        code="invalid_input",
        message="The request body is nested too deeply (JSON depth limit, about 1000 levels).",
    )
    return _response(400, body)


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error(
        "unhandled error on %s %s: %s",
        request.method,
        request.url.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return _response(
        500, ErrorBody(code="internal_error", message="The service failed to handle the request.")
    )


exception_handlers: ExceptionHandlersMap = {
    DomainError: domain_error,
    ValidationException: validation_error,
    HTTPException: http_error,
    StorageUnavailable: storage_unavailable,
    DuplicateKey: duplicate_key,
    RecursionError: too_deep,
    Exception: unexpected_error,
}
