"""Unpadded base64url (RFC 4648 §5), as states, envelopes, keys, API keys, session tokens
and PKCE challenges use it."""

import base64
import binascii

_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def b64url_encode(raw: bytes) -> str:
    # binascii straight away: base64.urlsafe_b64encode is two Python calls around it.
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of the canonical unpadded spelling; ``ValueError`` for anything else, so that
    no value has two spellings (the last character can carry unused bits)."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url_encode(raw) != text:
        raise ValueError("not the canonical base64url spelling")
    return raw
