"""Values handlers receive: the caller's organisation and the use cases."""

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency

from adapters.http.services import Services

# Explicit markers for what handlers receive (Litestar 3 drops inferred dependencies).
CallerOrganisation: TypeAlias = NamedDependency[str]
UseCases: TypeAlias = NamedDependency[Services]


def caller_organisation(request: Request[str, Any, Any]) -> str:
    """Set by ``ApiKeyAuthentication`` before the handler runs."""
    return request.user
