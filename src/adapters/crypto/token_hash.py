"""Keyed hashes of connect-session tokens: HMAC-SHA256 under a key derived from each
encryption key, so a stolen database yields neither tokens nor a way to test guesses."""

import hashlib
import hmac

from adapters.crypto.hmac_sha256 import HmacSha256
from adapters.crypto.keyring import Keyring


def _subkey(master: bytes) -> bytes:
    return hmac.new(master, b"embed-oauth/connect-session/v1", hashlib.sha256).digest()


class HmacTokenHasher:
    def __init__(self, keyring: Keyring) -> None:
        active = HmacSha256(_subkey(keyring.active_key))
        self._macs = [active] + [
            HmacSha256(_subkey(key))
            for key_id, key in keyring.keys.items()
            if key_id != keyring.active_id
        ]

    def digest(self, token: str) -> bytes:
        return self._macs[0].digest(token.encode("utf-8", "surrogatepass"))

    def digests(self, token: str) -> list[bytes]:
        raw = token.encode("utf-8", "surrogatepass")
        return [mac.digest(raw) for mac in self._macs]
