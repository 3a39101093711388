"""The limits on end-user tokens, and the shape of a connect-session token.

A connect-session token is ``eocs_`` + base64url(user id) + ``.`` + base64url(256 random
bits). The random part is the secret; the user id in clear lets the browser SDK address the
end user's own routes without a further call. It names only the user the token is handed to.
"""

from datetime import timedelta

from domain.base64url import b64url_encode

JWT_MAX_LIFETIME = timedelta(hours=1)
JWT_CLOCK_LEEWAY = timedelta(seconds=30)
SESSION_DEFAULT_LIFETIME = timedelta(minutes=30)
SESSION_MAX_LIFETIME = timedelta(hours=1)
SESSION_PREFIX = "eocs_"
SESSION_SECRET_BYTES = 32
MAX_BEARER_LENGTH = 8192  # an RS256 JWT with a 4096-bit key is about 1 KB


def format_session_token(user_id: str, random_bytes: bytes) -> str:
    if len(random_bytes) != SESSION_SECRET_BYTES:
        raise ValueError(f"need exactly {SESSION_SECRET_BYTES} random bytes")
    return f"{SESSION_PREFIX}{b64url_encode(user_id.encode())}.{b64url_encode(random_bytes)}"


def looks_like_jwt(token: str) -> bool:
    """A JWS compact serialisation has three dot-separated parts (RFC 7515 §7.1)."""
    return token.count(".") == 2
