"""What a ``state`` value stands for, and the rules for honouring it later."""

import hashlib
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

STATE_ID_BYTES = 16  # 128 bits from a CSPRNG
BINDING_BYTES = 16


@lru_cache(maxsize=4096)
def state_binding(client_id: str, redirect_uri: str) -> bytes:
    """A digest that ties a state to the client ID and redirect URI it was issued for.

    The state carries this digest rather than both strings, which keeps it short; the code
    exchange recomputes it from the credential it reads and the redirect URI it will send.
    """
    digest = hashlib.sha256()
    for part in (client_id.encode(), redirect_uri.encode()):
        digest.update(len(part).to_bytes(4, "big") + part)  # length-prefixed: unambiguous
    return digest.digest()[:BINDING_BYTES]


@lru_cache(maxsize=4096)
def user_binding(user_id: str) -> bytes:
    """A digest of the end user a state was issued for; ``UNBOUND`` when it names none."""
    return hashlib.sha256(b"embed-oauth/user/" + user_id.encode("utf-8", "surrogatepass")).digest()[
        :BINDING_BYTES
    ]


UNBOUND = bytes(BINDING_BYTES)


class StateClaims(NamedTuple):
    """Everything a state is bound to. Only the server can create or read one. Made on
    every initialise: a NamedTuple is immutable and far cheaper to build than a frozen
    dataclass."""

    state_id: bytes
    organisation_id: str
    hub_id: str
    connector_id: str
    credential_id: str
    binding: bytes
    scopes: tuple[str, ...]
    expires_at: datetime
    user: bytes = UNBOUND  # ``user_binding`` of the end user, when the state has one
    connection_id: str | None = None  # set for a re-authorisation of that connection

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def is_bound_to(self, client_id: str, redirect_uri: str) -> bool:
        return self.binding == state_binding(client_id, redirect_uri)

    def admits_user(self, user_id: str) -> bool:
        """A state bound to an end user creates connections only for that user."""
        return self.user == UNBOUND or self.user == user_binding(user_id)
