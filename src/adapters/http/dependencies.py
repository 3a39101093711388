"""Values handlers receive: the caller's organisation and the use cases."""

from typing import Any

from litestar import Request


def caller_organisation(request: Request[str, Any, Any]) -> str:
    """Set by ``ApiKeyAuthentication`` before the handler runs."""
    return request.user
