"""Which browser origins may call an end user's routes (CORS)."""

from application.errors import TamperedRecord
from application.integrity import check_record
from application.ports.crypto import SecretCipher
from application.ports.storage import ConnectionRepository, HubRepository


class EmbedOrigins:
    """The ``allowedOrigins`` of the hub a route is about: named in its path, or the hub of
    the connection it names. Read without credentials, since a preflight carries none; what
    it reveals is only whether an origin is one of a hub's. A hub whose origins fail their
    integrity check allows none."""

    def __init__(
        self, hubs: HubRepository, connections: ConnectionRepository, cipher: SecretCipher
    ) -> None:
        self._hubs = hubs
        self._connections = connections
        self._cipher = cipher

    async def of_hub(self, hub_id: str) -> tuple[str, ...]:
        hub = await self._hubs.find(hub_id)
        if hub is None:
            return ()
        try:
            check_record(self._cipher, hub)
        except TamperedRecord:
            return ()
        return hub.allowed_origins

    async def of_connection(self, connection_id: str) -> tuple[str, ...]:
        hub_id = await self._connections.hub_of(connection_id)
        return await self.of_hub(hub_id) if hub_id else ()
