"""API keys: 256 random bits, shown once, stored only as a SHA-256 hash.

A fast hash is enough here: the key is a uniformly random 256-bit value, not a password, so
there is nothing for a slow hash to protect against. Looking a key up by its hash also means
the comparison never touches the key itself, byte by byte.
"""

import base64
import hashlib

PREFIX = "eo_"
KEY_BYTES = 32


def format_api_key(random_bytes: bytes) -> str:
    if len(random_bytes) != KEY_BYTES:
        raise ValueError(f"need exactly {KEY_BYTES} random bytes")
    return PREFIX + base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode("ascii")


def hash_api_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).digest()
