"""Hubs group the connectors one embedding product offers, and name the web origins allowed
to receive the result of an authorization in the end user's browser."""

from collections.abc import Sequence
from dataclasses import dataclass

from application.errors import NotFound
from application.identity import new_id
from application.integrity import sealed
from application.ports.crypto import SecretCipher
from application.ports.storage import HubRepository
from application.ports.system import Clock, RandomSource
from application.validation import check_name
from domain.errors import FieldErrors
from domain.model import Hub
from domain.origins import InvalidOrigin, normalise_origin

MAX_ORIGINS = 50


@dataclass(frozen=True, slots=True)
class NewHub:
    name: str
    allowed_origins: Sequence[str]


class ManageHubs:
    def __init__(
        self,
        hubs: HubRepository,
        clock: Clock,
        random: RandomSource,
        cipher: SecretCipher,
        *,
        allow_loopback_http: bool = True,
    ) -> None:
        """Without ``allow_loopback_http`` (production), origins must all be https."""
        self._hubs = hubs
        self._cipher = cipher
        self._clock = clock
        self._random = random
        self._allow_loopback_http = allow_loopback_http

    async def create(self, organisation_id: str, new: NewHub) -> Hub:
        """Origins are normalised as browsers spell them, and repeats dropped."""
        errors = FieldErrors()
        check_name(errors, new.name)
        origins: dict[str, None] = {}
        if len(new.allowed_origins) > MAX_ORIGINS:
            errors.add("allowedOrigins", f"must have at most {MAX_ORIGINS} entries")
        else:
            for index, raw in enumerate(new.allowed_origins):
                try:
                    origins.setdefault(normalise_origin(raw, self._allow_loopback_http), None)
                except InvalidOrigin as exc:
                    errors.add(f"allowedOrigins[{index}]", str(exc))
        errors.raise_if_any()
        hub_id, now = new_id(self._clock, self._random)
        hub = sealed(
            self._cipher,
            Hub(
                id=hub_id,
                organisation_id=organisation_id,
                name=new.name,
                allowed_origins=tuple(origins),
                created_at=now,
            ),
        )
        await self._hubs.add(hub)
        return hub

    async def list(self, organisation_id: str) -> list[Hub]:
        return await self._hubs.list(organisation_id)

    async def get(self, organisation_id: str, hub_id: str) -> Hub:
        hub = await self._hubs.get(organisation_id, hub_id)
        if hub is None:
            raise NotFound("hub")
        return hub

    async def delete(self, organisation_id: str, hub_id: str) -> None:
        if not await self._hubs.delete(organisation_id, hub_id):
            raise NotFound("hub")
