"""Values handlers receive: the caller, or its organisation, and the use cases."""

from typing import Any, TypeAlias

from litestar import Request
from litestar.di import NamedDependency

from adapters.http.services import Services
from application.callers import Caller, backend_organisation

# Explicit markers for what handlers receive (Litestar 3 drops inferred dependencies).
# The organisation of an API-key caller: a route that asks for it refuses end-user tokens.
CallerOrganisation: TypeAlias = NamedDependency[str]
# Any caller, end users included: the route's use case checks what an end user may reach.
CallerIdentity: TypeAlias = NamedDependency[Caller]
UseCases: TypeAlias = NamedDependency[Services]


def caller_organisation(request: Request[Caller, Any, Any], services: UseCases) -> str:
    """The caller is set by ``RequestChecks`` before the handler runs.

    It takes ``services`` only to be resolved after it: Litestar resolves independent
    dependencies concurrently in a task group, which cost more than both lookups together
    (measured: about half of the event loop's time on the initialise path).
    """
    del services
    return backend_organisation(request.user)


def caller_identity(request: Request[Caller, Any, Any], services: UseCases) -> Caller:
    del services
    return request.user
