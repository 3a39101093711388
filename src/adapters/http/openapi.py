"""OpenAPI documentation: error responses for the controllers, and the lean routes."""

from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from litestar import Litestar
from litestar.datastructures import CacheControlHeader
from litestar.openapi.datastructures import ResponseSpec

from adapters.http.dto import ErrorBody

# On every response that carries a token or a secret: never stored by a cache on the way.
NO_STORE = CacheControlHeader(no_store=True)

_ERROR_DESCRIPTIONS = {
    400: "Invalid input: each offending field is listed",
    401: "Missing or invalid API key or end-user token",
    403: "The request names another organisation, or needs the API key",
    404: "Not found (or another organisation's)",
    405: "Method not allowed",
    409: "Conflict with the current state (see the error code)",
    413: "Request body too large",
    415: "The request body is not JSON",
    429: "Too many requests for this API key: retry after the time in Retry-After",
    502: "The provider failed or answered something unreadable",
    503: "Busy or the database is unavailable: retry after the time in Retry-After",
    504: "The provider did not answer in time",
}


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Document error responses (always ``ErrorBody``); 400, 401 and 413 are always possible
    on an authenticated JSON endpoint."""
    return {
        status: ResponseSpec(data_container=ErrorBody, description=_ERROR_DESCRIPTIONS[status])
        for status in sorted({400, 401, *statuses})
    }


class _SchemaProvider(Protocol):
    """Litestar's OpenAPI plugin, which builds the schema once and serves that one."""

    def provide_openapi_schema(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class LeanOperation:
    """How an ASGI route handler is documented: Litestar documents only ordinary routes."""

    path: str
    operation_id: str
    summary: str
    description: str
    tag: str
    path_parameters: tuple[str, ...]
    response: type[msgspec.Struct]
    errors: tuple[int, ...]
    request: type[msgspec.Struct] | None = None


def document(app: Litestar, operations: list[LeanOperation]) -> None:
    """Add the operations, with their bodies' schemas, to the schema the app serves at
    ``/schema/openapi.json``."""
    plugin: _SchemaProvider = app.plugins.get("OpenAPIPlugin")
    schema = plugin.provide_openapi_schema()
    structs: list[type[msgspec.Struct]] = [ErrorBody]
    for operation in operations:
        structs += [operation.response, *([operation.request] if operation.request else [])]
    _, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, component in components.items():
        schemas.setdefault(name, component)
    paths = schema.setdefault("paths", {})
    for operation in operations:
        paths[operation.path] = {"post": _operation(operation)}


def _ref(struct: type[msgspec.Struct]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{struct.__name__}"}


def _json(struct: type[msgspec.Struct]) -> dict[str, Any]:
    return {"application/json": {"schema": _ref(struct)}}


def _operation(op: LeanOperation) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _json(op.response)}}
    for status in sorted({400, 401, 405, *op.errors}):
        responses[str(status)] = {
            "description": _ERROR_DESCRIPTIONS[status],
            "content": _json(ErrorBody),
        }
    operation: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "description": op.description,
        "tags": [op.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in op.path_parameters
        ],
        "responses": responses,
    }
    if op.request is not None:
        operation["requestBody"] = {"required": True, "content": _json(op.request)}
    return operation
