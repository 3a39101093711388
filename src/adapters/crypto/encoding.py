"""Unpadded base64url, as states, envelopes and keys use it."""

import base64


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """The bytes of the canonical unpadded spelling; ``ValueError`` for anything else, so that
    no value has two spellings (the last character can carry unused bits)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise ValueError("not the canonical base64url spelling")
    return raw
