"""AES-256-GCM for secrets at rest.

Envelope: ``v1.<key id>.<base64url(nonce | ciphertext | tag)>``.
"""

import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from adapters.crypto.keyring import Keyring
from application.ports.crypto import UndecryptableSecret
from domain.base64url import b64url_decode, b64url_encode

_VERSION = "v1"
_NONCE_BYTES = 12


class AesGcmSecretCipher:
    """A random 96-bit nonce per secret is safe here: secrets are written rarely, far below
    the 2**32 encryptions per key that random nonces allow."""

    def __init__(self, keyring: Keyring, reload: Callable[[], Keyring] | None = None) -> None:
        """``reload`` re-reads the keys when a ciphertext names a key this process has not
        seen: another process rotated the development key file meanwhile."""
        self._reload = reload
        self._use(keyring)

    def _use(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._aead = {key_id: AESGCM(key) for key_id, key in keyring.keys.items()}

    def current_prefix(self) -> str:
        return f"{_VERSION}.{self._keyring.active_id}."

    def readable_prefixes(self) -> tuple[str, ...]:
        return tuple(f"{_VERSION}.{key_id}." for key_id in self._keyring.keys)

    def key_id_of(self, sealed: str) -> str:
        return sealed.partition(".")[2].partition(".")[0]

    def encrypt(self, plaintext: str, *, context: str) -> str:
        key_id = self._keyring.active_id
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead[key_id].encrypt(nonce, plaintext.encode(), context.encode())
        body = b64url_encode(nonce + sealed)
        return f"{_VERSION}.{key_id}.{body}"

    def decrypt(self, sealed: str, *, context: str) -> str:
        version, _, rest = sealed.partition(".")
        key_id, _, body = rest.partition(".")
        if key_id not in self._aead and self._reload is not None:
            self._use(self._reload())
        aead = self._aead.get(key_id)
        if version != _VERSION or aead is None:
            raise UndecryptableSecret("unknown envelope version or key id")
        try:
            raw = b64url_decode(body)
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise UndecryptableSecret("the secret does not decrypt") from exc
