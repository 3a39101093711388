"""Encryption of secrets at rest, and sealing of ``state`` values."""

from typing import NamedTuple, Protocol

from domain.state import StateClaims


class UndecryptableSecret(Exception):
    """The envelope is malformed, its key is unknown, or it was altered or moved."""


class SecretCipher(Protocol):
    """Authenticated encryption of secrets at rest. ``context`` binds a ciphertext to the row
    it belongs to, so a ciphertext copied onto another row does not decrypt."""

    def encrypt(self, plaintext: str, *, context: str) -> str: ...

    def decrypt(self, sealed: str, *, context: str) -> str:
        """Raises ``UndecryptableSecret``."""
        ...

    def current_prefix(self) -> str:
        """Every ciphertext made with the active key starts with this, and no other does."""
        ...

    def readable_prefixes(self) -> tuple[str, ...]:
        """A ciphertext this cipher can decrypt starts with one of these (one per key)."""
        ...

    def key_id_of(self, sealed: str) -> str:
        """The id of the key a ciphertext names."""
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


class EndUserClaims(NamedTuple):
    """What a verified end-user JWT says."""

    subject: str
    hub_id: str
    issued_at: int
    expires_at: int


class InvalidEndUserToken(Exception):
    """A JWT that is malformed, wrongly signed, of another algorithm, for another audience,
    expired or not yet valid, or missing a required claim. The message says which."""


class EndUserTokenVerifier(Protocol):
    """Verification of the JWTs an organisation signs for its end users, by a JOSE library."""

    def key_id(self, token: str) -> str | None:
        """The ``kid`` of the token's protected header, unverified; ``None`` if absent."""
        ...

    def verify(
        self, token: str, *, public_key: str, algorithm: str, audience: str
    ) -> EndUserClaims:
        """Check signature (with exactly ``algorithm``), ``aud``, ``exp``, ``nbf`` and ``iat``
        (with the clock leeway), and that ``sub``, ``hub``, ``iat`` and ``exp`` are present.
        Raises ``InvalidEndUserToken``."""
        ...


class InvalidPublicKey(Exception):
    """Not a PEM public key of a supported type and size; the message says why."""


class PublicKeyReader(Protocol):
    def algorithm_of(self, pem: str) -> str:
        """The JWS algorithm a PEM SubjectPublicKeyInfo signs with: ``RS256`` (RSA of at least
        2048 bits), ``ES256`` (EC P-256) or ``EdDSA`` (Ed25519). Raises ``InvalidPublicKey``."""
        ...


class TokenHasher(Protocol):
    """A keyed hash for bearer secrets stored only as hashes (connect sessions)."""

    def digest(self, token: str) -> bytes:
        """Under the active key: what is stored."""
        ...

    def digests(self, token: str) -> list[bytes]:
        """Under every key, the active first: what a lookup tries, so rotating the keys does
        not end live sessions."""
        ...
