"""A ``state`` the server can read back without storing it, and that nobody else can forge.

Layout before base64url: version (1 byte) | key id length (1) | key id | state id (16) |
AES-256-GCM-SIV(payload) with the header as associated data. The payload is the expiry
(uint32 seconds), the organisation, hub, connector and credential ids (16-byte UUIDs), the
16-byte client/redirect binding, a flags byte saying which optional fields follow, the
16-byte end-user binding (if any), the connection being re-authorised (a 16-byte UUID, if
any), and the scopes joined by spaces.

The nonce is the first 96 bits of the random state id. AES-GCM-SIV (RFC 8452) is built for
random nonces under one long-lived key: about 2^48 states per key keep the attacker's
advantage negligible (RFC 8452 §9), where plain GCM allows about 2^32, which a busy service
reaches in days; and a repeated nonce would reveal only that two identical (state, header)
pairs are identical, which the unique state id in the header rules out. The PKCE verifier
is HMAC(verifier key, state id), so it never leaves the server and needs no storage.
"""

import hashlib
import hmac
import struct
import uuid
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from adapters.crypto.hmac_sha256 import HmacSha256
from adapters.crypto.keyring import Keyring
from application.ports.crypto import OpenedState, SealedState
from domain.base64url import b64url_decode, b64url_encode
from domain.state import BINDING_BYTES, STATE_ID_BYTES, UNBOUND, StateClaims

# 1 was AES-GCM under a key per state, 2 had no end user or connection; states of older
# versions (at most a state lifetime old when a new release starts) no longer open.
_VERSION = 3
_NONCE_BYTES = 12
# The payload's fixed fields: the expiry, then the ids, the binding and the flags.
_EXPIRY, _REST = struct.Struct(">I"), struct.Struct(">16s16s16s16s16sB")
_FIXED_SIZE = _EXPIRY.size + _REST.size
_USER, _CONNECTION = 1, 2  # flags
_OPTIONAL = 16
MAX_STATE_LENGTH = 2048


@lru_cache(maxsize=65536)
def _uuid_bytes(value: str) -> bytes:
    """Ids repeat from state to state; parsing a UUID is slower than the encryption."""
    return uuid.UUID(value).bytes


# What the payload after the expiry is made of: organisation, hub, connector and credential
# ids, the binding, the end-user binding, the connection re-authorised, the scopes.
_RestFields = tuple[str, str, str, str, bytes, bytes, str | None, tuple[str, ...]]


@lru_cache(maxsize=4096)
def _payload_rest(fields: _RestFields) -> bytes:
    """The payload after the expiry. It is the same for every state of one connector,
    credential, user and scope list, so it is packed once for all of them."""
    organisation_id, hub_id, connector_id, credential_id, binding, user, connection_id, scopes = (
        fields
    )
    rest = _REST.pack(
        _uuid_bytes(organisation_id),
        _uuid_bytes(hub_id),
        _uuid_bytes(connector_id),
        _uuid_bytes(credential_id),
        binding,
        (_USER if user != UNBOUND else 0) | (_CONNECTION if connection_id else 0),
    )
    if user != UNBOUND:
        rest += user
    if connection_id:
        rest += _uuid_bytes(connection_id)
    return rest + " ".join(scopes).encode("ascii")


def _subkey(master: bytes, purpose: bytes) -> bytes:
    return hmac.new(master, b"embed-oauth/" + purpose, hashlib.sha256).digest()


class AesGcmStateSealer:
    def __init__(self, keyring: Keyring) -> None:
        self._active_id = keyring.active_id
        self._active_id_bytes = keyring.active_id.encode("ascii")
        self._aead = {k: AESGCMSIV(_subkey(v, b"state-seal/v2")) for k, v in keyring.keys.items()}
        self._active_aead = self._aead[self._active_id]
        self._header_prefix = bytes((_VERSION, len(self._active_id_bytes))) + self._active_id_bytes
        self._verifiers = {
            k: HmacSha256(_subkey(v, b"pkce-verifier/v1")) for k, v in keyring.keys.items()
        }

    def _verifier(self, key_id: str, state_id: bytes) -> str:
        return b64url_encode(self._verifiers[key_id].digest(state_id))

    def seal(self, claims: StateClaims) -> SealedState:
        header = self._header_prefix + claims.state_id
        payload = _EXPIRY.pack(int(claims.expires_at.timestamp())) + _payload_rest(
            (
                claims.organisation_id,
                claims.hub_id,
                claims.connector_id,
                claims.credential_id,
                claims.binding,
                claims.user,
                claims.connection_id,
                claims.scopes,
            )
        )
        sealed = self._active_aead.encrypt(claims.state_id[:_NONCE_BYTES], payload, header)
        return SealedState(
            value=b64url_encode(header + sealed),
            pkce_verifier=self._verifier(self._active_id, claims.state_id),
        )

    def open(self, state: str) -> OpenedState | None:
        if not state or len(state) > MAX_STATE_LENGTH or not state.isascii():
            return None
        try:
            raw = b64url_decode(state)  # only the canonical spelling: no two strings per state
        except ValueError:
            return None
        if len(raw) < 2 or raw[0] != _VERSION:
            return None
        header_end = 2 + raw[1] + STATE_ID_BYTES
        key_id = raw[2 : 2 + raw[1]].decode("ascii", "replace")
        aead = self._aead.get(key_id)
        if aead is None or len(raw) < header_end + _FIXED_SIZE:
            return None
        state_id = raw[header_end - STATE_ID_BYTES : header_end]
        try:
            payload = aead.decrypt(state_id[:_NONCE_BYTES], raw[header_end:], raw[:header_end])
        except InvalidTag:
            return None
        (expiry,) = _EXPIRY.unpack_from(payload)
        org, hub, connector, credential, binding, flags = _REST.unpack_from(payload, _EXPIRY.size)
        at = _FIXED_SIZE
        user = UNBOUND
        if flags & _USER:
            user, at = payload[at : at + _OPTIONAL], at + _OPTIONAL
        connection_id = None
        if flags & _CONNECTION:
            connection_id = str(uuid.UUID(bytes=payload[at : at + _OPTIONAL]))
            at += _OPTIONAL
        scopes = payload[at:].decode("ascii")
        claims = StateClaims(
            state_id=state_id,
            organisation_id=str(uuid.UUID(bytes=org)),
            hub_id=str(uuid.UUID(bytes=hub)),
            connector_id=str(uuid.UUID(bytes=connector)),
            credential_id=str(uuid.UUID(bytes=credential)),
            binding=binding[:BINDING_BYTES],
            scopes=tuple(scopes.split(" ")) if scopes else (),
            expires_at=datetime.fromtimestamp(expiry, UTC),
            user=user,
            connection_id=connection_id,
        )
        return OpenedState(claims=claims, pkce_verifier=self._verifier(key_id, state_id))
