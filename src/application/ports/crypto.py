"""Encryption of secrets at rest, and sealing of ``state`` values."""

from typing import NamedTuple, Protocol

from domain.state import StateClaims


class SecretCipher(Protocol):
    """Authenticated encryption of secrets at rest. ``context`` binds a ciphertext to the row
    it belongs to, so a ciphertext copied onto another row does not decrypt."""

    def encrypt(self, plaintext: str, *, context: str) -> str: ...

    def decrypt(self, sealed: str, *, context: str) -> str: ...

    def current_prefix(self) -> str:
        """Every ciphertext made with the active key starts with this, and no other does."""
        ...


class SealedState(NamedTuple):
    """A ``state`` value and its PKCE verifier, which is secret and never leaves the server."""

    value: str
    pkce_verifier: str


class OpenedState(NamedTuple):
    claims: StateClaims
    pkce_verifier: str


class StateSealer(Protocol):
    """Turns state claims into an opaque, URL-safe, authenticated ``state`` value and back."""

    def seal(self, claims: StateClaims) -> SealedState: ...

    def open(self, state: str) -> OpenedState | None:
        """The claims, or ``None`` when the value was not issued by this service."""
        ...
