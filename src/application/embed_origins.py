"""Which browser origins may call an end user's routes (CORS)."""

from application.ports.storage import ConnectionRepository, HubRepository


class EmbedOrigins:
    """The ``allowedOrigins`` of the hub a route is about: named in its path, or the hub of
    the connection it names. Read without credentials, since a preflight carries none; what
    it reveals is only whether an origin is one of a hub's."""

    def __init__(self, hubs: HubRepository, connections: ConnectionRepository) -> None:
        self._hubs = hubs
        self._connections = connections

    async def of_hub(self, hub_id: str) -> tuple[str, ...]:
        hub = await self._hubs.find(hub_id)
        return hub.allowed_origins if hub else ()

    async def of_connection(self, connection_id: str) -> tuple[str, ...]:
        hub_id = await self._connections.hub_of(connection_id)
        return await self.of_hub(hub_id) if hub_id else ()
