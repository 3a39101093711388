"""End-user JWTs, verified by PyJWT, and the public keys they are verified with.

The algorithm is never taken from the token: each signing key has exactly one, fixed by its
type when it is registered, and PyJWT is told to accept that one only (RFC 8725 §2.1, §3.1),
so ``none``, ``HS256`` keyed with the public key, and every other substitution are refused.
"""

from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from application.ports.crypto import EndUserClaims, InvalidEndUserToken, InvalidPublicKey

MIN_RSA_BITS = 2048
_REQUIRED = ["sub", "hub", "aud", "iat", "exp"]


@lru_cache(maxsize=1024)
def _public_key(pem: str) -> Any:
    """Parsed once per key: parsing a PEM costs more than verifying an EC signature."""
    return load_pem_public_key(pem.encode("ascii"))


class PemPublicKeyReader:
    def algorithm_of(self, pem: str) -> str:
        if not pem.isascii() or "-----BEGIN PUBLIC KEY-----" not in pem:
            raise InvalidPublicKey("must be a PEM SubjectPublicKeyInfo (BEGIN PUBLIC KEY)")
        try:
            key = _public_key(pem.strip() + "\n")
        except ValueError:
            raise InvalidPublicKey("is not a readable PEM public key") from None
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < MIN_RSA_BITS:
                raise InvalidPublicKey(f"an RSA key must have at least {MIN_RSA_BITS} bits")
            return "RS256"
        if isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1):
                raise InvalidPublicKey("an EC key must be on the P-256 curve")
            return "ES256"
        if isinstance(key, ed25519.Ed25519PublicKey):
            return "EdDSA"
        raise InvalidPublicKey("must be an RSA, EC P-256 or Ed25519 key")


class PyJwtEndUserTokenVerifier:
    def __init__(self, leeway: timedelta) -> None:
        self._leeway = leeway

    def key_id(self, token: str) -> str | None:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        return kid if isinstance(kid, str) else None

    def verify(
        self, token: str, *, public_key: str, algorithm: str, audience: str
    ) -> EndUserClaims:
        try:
            claims = jwt.decode(
                token,
                _public_key(public_key.strip() + "\n"),
                algorithms=[algorithm],
                audience=audience,
                leeway=self._leeway,
                options={"require": _REQUIRED, "strict_aud": True},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidEndUserToken("has expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidEndUserToken("is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InvalidEndUserToken("is for another audience") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidEndUserToken(f"has no {exc.claim} claim") from None
        except jwt.InvalidAlgorithmError:
            raise InvalidEndUserToken(f"must be signed with {algorithm}") from None
        except jwt.InvalidSignatureError:
            raise InvalidEndUserToken("has a bad signature") from None
        except jwt.PyJWTError:
            raise InvalidEndUserToken("is malformed") from None
        subject, hub, issued, expires = (claims.get(k) for k in ("sub", "hub", "iat", "exp"))
        if not isinstance(hub, str) or not isinstance(subject, str):
            raise InvalidEndUserToken("must have string sub and hub claims")
        if not isinstance(issued, int) or not isinstance(expires, int):
            raise InvalidEndUserToken("must have whole-second iat and exp claims")
        return EndUserClaims(subject=subject, hub_id=hub, issued_at=issued, expires_at=expires)
