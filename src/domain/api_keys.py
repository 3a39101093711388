"""API keys: 256 random bits, shown once, stored only as a SHA-256 hash.

A fast hash is enough here: the key is a uniformly random 256-bit value, not a password, so
there is nothing for a slow hash to protect against. Looking a key up by its hash also means
the comparison never touches the key itself, byte by byte.
"""

import hashlib

from domain.base64url import b64url_encode

PREFIX = "eo_"
KEY_BYTES = 32


def format_api_key(random_bytes: bytes) -> str:
    if len(random_bytes) != KEY_BYTES:
        raise ValueError(f"need exactly {KEY_BYTES} random bytes")
    return PREFIX + b64url_encode(random_bytes)


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()
