"""The provider's token endpoint, as the use cases see it."""

from dataclasses import dataclass
from typing import Protocol

from domain.model import ProviderTemplate, TokenAuthMethod, TokenRequestFormat


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A request to a provider's token endpoint; the adapter adds client authentication."""

    token_url: str
    auth_method: TokenAuthMethod
    client_id: str
    client_secret: str
    form: tuple[tuple[str, str], ...]
    body_format: TokenRequestFormat = TokenRequestFormat.FORM


@dataclass(frozen=True, slots=True)
class TokenEndpointAnswer:
    status: int
    body: object  # the parsed JSON, or None when the body was not JSON
    retry_after: int | None = None  # seconds, from the Retry-After header when there was one


class ProviderCatalogue(Protocol):
    """The providers the service ships templates for, validated when it starts."""

    def all(self) -> list[ProviderTemplate]:
        """In the catalogue's order (by id)."""
        ...

    def get(self, provider_id: str) -> ProviderTemplate | None: ...


class MetadataSource(Protocol):
    async def fetch(self, url: str) -> TokenEndpointAnswer:
        """GET a provider's JSON document under the token requests' outbound rules; raise
        ``ProviderTimeout`` or ``ProviderUnavailable`` when no answer was read."""
        ...


class TokenEndpoint(Protocol):
    async def request(self, request: TokenRequest) -> TokenEndpointAnswer:
        """Raise ``ProviderTimeout`` or ``ProviderUnavailable`` when no answer was read."""
        ...
