"""OpenAPI documentation bits shared by the controllers."""

from litestar.openapi.datastructures import ResponseSpec

from adapters.http.dto import ErrorBody


def errors(*statuses: int) -> dict[int, ResponseSpec]:
    """Document error responses (always ``ErrorBody``); 400, 401 and 413 are always possible
    on an authenticated JSON endpoint."""
    descriptions = {
        400: "Invalid input: each offending field is listed",
        401: "Missing or invalid API key",
        403: "The request names another organisation",
        404: "Not found (or another organisation's)",
        409: "Conflict with the current state (see the error code)",
        413: "Request body too large",
        415: "The request body is not JSON",
        502: "The provider failed or answered something unreadable",
        503: "Busy: retry after the time in Retry-After",
        504: "The provider did not answer in time",
    }
    return {
        status: ResponseSpec(data_container=ErrorBody, description=descriptions[status])
        for status in sorted({400, 401, *statuses})
    }
