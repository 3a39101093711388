"""The tests' authorization server: the development provider (``adapters.dev_provider``),
with refreshes slowed down so that racing refreshes overlap."""

from adapters import dev_provider
from adapters.dev_provider import (
    PASSWORD,
    USERNAME,
    AuthorizationCode,
    Client,
    Provider,
    Token,
    TokenRequestRecord,
    create_provider_app,
)

__all__ = [
    "PASSWORD",
    "USERNAME",
    "AuthorizationCode",
    "Client",
    "Provider",
    "RunningProvider",
    "Token",
    "TokenRequestRecord",
    "create_provider_app",
]
REFRESH_LATENCY = 0.2


class RunningProvider(dev_provider.RunningProvider):
    def __init__(self, port: int = 0) -> None:
        super().__init__(port)
        self.provider.refresh_latency = REFRESH_LATENCY
