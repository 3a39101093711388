"""Key pairs and end-user JWTs as a product's backend would make them, signed
with joserfc (another JOSE library than the one the service verifies with)."""

import base64
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

ALGORITHMS = {"rsa": "RS256", "ec": "ES256", "ed25519": "EdDSA"}


@dataclass(frozen=True)
class KeyPair:
    kind: str
    private_pem: bytes
    public_pem: str

    @property
    def algorithm(self) -> str:
        return ALGORITHMS[self.kind]


def generate(kind: str, rsa_bits: int = 2048, curve: ec.EllipticCurve | None = None) -> KeyPair:
    private: Any
    if kind == "rsa":
        private = rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    elif kind == "ec":
        private = ec.generate_private_key(curve or ec.SECP256R1())
    else:
        private = ed25519.Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(kind, private_pem, public_pem)


def claims(sub: str, hub: str, audience: str, lifetime: int = 600, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "hub": hub, "aud": audience, "iat": now, "exp": now + lifetime, **extra}


def sign(key: KeyPair, kid: str | None, payload: dict[str, Any], alg: str | None = None) -> str:
    header: dict[str, Any] = {"alg": alg or key.algorithm, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    private: RSAKey | ECKey | OKPKey
    if key.kind == "rsa":
        private = RSAKey.import_key(key.private_pem)
    elif key.kind == "ec":
        private = ECKey.import_key(key.private_pem)
    else:
        private = OKPKey.import_key(key.private_pem)
    return jwt.encode(header, payload, private, algorithms=[header["alg"]])


def _part(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unsigned(kid: str, payload: dict[str, Any]) -> str:
    """``alg: none``, which no JOSE library should accept."""
    return f"{_part({'alg': 'none', 'kid': kid})}.{_part(payload)}."


def hmac_with_public_key(key: KeyPair, kid: str, payload: dict[str, Any]) -> str:
    """The classic confusion: HS256 keyed with the public key a verifier holds."""
    signing_input = f"{_part({'alg': 'HS256', 'kid': kid})}.{_part(payload)}"
    mac = hmac.digest(key.public_pem.encode(), signing_input.encode(), "sha256")
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
