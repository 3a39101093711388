"""PKCE (RFC 7636) with the S256 method only: ``plain`` offers no protection worth having."""

import hashlib
import re

from domain.base64url import b64url_encode

METHOD = "S256"
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding (RFC 7636 §4.2)."""
    if _VERIFIER.fullmatch(verifier) is None:
        raise ValueError("a PKCE verifier is 43 to 128 unreserved characters")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return b64url_encode(digest)
