"""The provider's token endpoint, as the use cases see it."""

from dataclasses import dataclass
from typing import Protocol

from domain.model import TokenAuthMethod


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A request to a provider's token endpoint; the adapter adds client authentication."""

    token_url: str
    auth_method: TokenAuthMethod
    client_id: str
    client_secret: str
    form: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TokenEndpointAnswer:
    status: int
    body: object  # the parsed JSON, or None when the body was not JSON
    retry_after: int | None = None  # seconds, from the Retry-After header when there was one


class TokenEndpoint(Protocol):
    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        """Raise ``ProviderTimeout`` or ``ProviderUnavailable`` when no answer was read."""
        ...
