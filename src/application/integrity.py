"""Seals over the stored rows that decide where a secret or a token goes.

Someone who can write to the database but has not got the encryption keys could otherwise
plant an API key's hash or a signing key (and so sign end-user tokens), point a connector's
token URL or a webhook's URL at their own server, add a hub origin, or move a connection
(and so its tokens) to another organisation or credential. Each such row therefore carries
a seal: the fields that matter, encrypted with the service's keys (an AEAD, so it
authenticates them) under a context naming the row.

Rules:
- a seal is written with the row, by the use case that writes it;
- a row is checked where it is used: authenticating an API key, a connect session or an
  end-user JWT (its signing key), answering CORS and the callback page (hub origins),
  asking a token endpoint (connector, connection), handing out an access token
  (connection), sending a webhook. A row whose seal is missing, does not decrypt, or names
  other values is refused, logged, and nothing is sent;
- seals are encrypted values like the others, so ``keys rotate`` re-encrypts them, an
  interrupted rotation leaves every row readable, and the start-up check names the keys they
  need. A connect session's seal is the exception: it is not re-encrypted, since the session
  ends within an hour and its token's keyed hash already needs the old key until then.
"""

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from typing import TypeVar

from application.errors import TamperedRecord
from application.ports.crypto import SecretCipher, UndecryptableSecret
from domain.model import ApiKey, Connection, Connector, ConnectSession, Hub, SigningKey, Webhook

log = logging.getLogger("embed_oauth.integrity")


class RecordKind(StrEnum):
    API_KEY = "api_key"
    HUB = "hub"
    CONNECTOR = "connector"
    CONNECTION = "connection"
    WEBHOOK = "webhook"
    SIGNING_KEY = "signing_key"
    CONNECT_SESSION = "connect_session"


Sealable = ApiKey | Hub | Connector | Connection | Webhook | SigningKey | ConnectSession
R = TypeVar("R", ApiKey, Hub, Connector, Connection, Webhook, SigningKey, ConnectSession)


def record_context(kind: RecordKind, row_id: str) -> str:
    return f"record:{kind}:{row_id}"


def webhook_fields(webhook_id: str, organisation_id: str, url: str) -> tuple[str, ...]:
    return (webhook_id, organisation_id, url)


def sealed_fields(record: Sealable) -> tuple[RecordKind, tuple[str, ...]]:
    """What a row's seal covers: its id, its owner, and every field that routes a secret."""
    match record:
        case ApiKey():
            return RecordKind.API_KEY, (record.id, record.organisation_id, record.key_hash.hex())
        case Hub():
            return RecordKind.HUB, (record.id, record.organisation_id, *record.allowed_origins)
        case Connector():
            revocation = record.settings.revocation_url
            return RecordKind.CONNECTOR, (
                record.id,
                record.hub_id,
                record.token_url,
                record.token_auth_method,
                record.issuer or "",
                *((revocation,) if revocation else ()),
            )
        case Connection():
            return RecordKind.CONNECTION, (
                record.id,
                record.organisation_id,
                record.hub_id,
                record.user_id,
                record.connector_id,
                record.credential_id,
            )
        case Webhook():
            return RecordKind.WEBHOOK, webhook_fields(record.id, record.organisation_id, record.url)
        case SigningKey():  # its public key verifies end-user tokens of its organisation
            return RecordKind.SIGNING_KEY, (
                record.id,
                record.organisation_id,
                record.algorithm.value,
                record.public_key,
            )
        case ConnectSession():  # who its token acts for, where, and until when
            return RecordKind.CONNECT_SESSION, (
                record.token_hash.hex(),
                record.organisation_id,
                record.hub_id,
                record.user_id,
                "*" if record.connector_ids is None else " ".join(record.connector_ids),
                str(int(record.expires_at.timestamp())),
            )


def _payload(fields: Sequence[str]) -> str:
    return json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))


def seal_fields(cipher: SecretCipher, kind: RecordKind, fields: Sequence[str]) -> str:
    """``fields[0]`` is the row's id."""
    return cipher.encrypt(_payload(fields), context=record_context(kind, fields[0]))


def seal_of(cipher: SecretCipher, record: Sealable) -> str:
    kind, fields = sealed_fields(record)
    return seal_fields(cipher, kind, fields)


def sealed(cipher: SecretCipher, record: R) -> R:
    """The record with its seal."""
    return replace(record, seal=seal_of(cipher, record))


# Seals already verified, with the cipher that opened them: a seal that covered these
# fields under these keys always will, so the hot paths (every API key, every access token)
# decrypt each seal once. The cipher is in the key itself (compared by identity, and kept
# alive by it), which is cheaper than a memo per cipher in a WeakKeyDictionary.
_VERIFIED: set[tuple[object, ...]] = set()
MAX_VERIFIED = 10_000  # the memo starts again when full


def fields_intact(
    cipher: SecretCipher, kind: RecordKind, fields: Sequence[str], seal: str | None
) -> bool:
    """Whether ``seal`` covers exactly ``fields``; a failure is logged."""
    if seal is not None:
        key = (cipher, kind, seal, *fields)
        if key in _VERIFIED:
            return True
        if _opens(cipher, kind, fields, seal):
            if len(_VERIFIED) >= MAX_VERIFIED:
                _VERIFIED.clear()
            _VERIFIED.add(key)
            return True
    log.error(
        "stored %s %s failed its integrity check (changed outside the service, or its key is "
        "not configured): refused, nothing sent",
        kind,
        fields[0],
    )
    return False


def check_fields(
    cipher: SecretCipher, kind: RecordKind, fields: Sequence[str], seal: str | None
) -> None:
    """Raises ``TamperedRecord`` (and logs it) unless ``seal`` covers exactly ``fields``."""
    if not fields_intact(cipher, kind, fields, seal):
        raise TamperedRecord(kind.replace("_", " "))


def _opens(cipher: SecretCipher, kind: RecordKind, fields: Sequence[str], seal: str) -> bool:
    try:
        opened = cipher.decrypt(seal, context=record_context(kind, fields[0]))
    except UndecryptableSecret:
        return False
    return opened == _payload(fields)


def check_record(cipher: SecretCipher, record: Sealable) -> None:
    """Raises ``TamperedRecord`` (and logs it) unless the record's seal holds."""
    kind, fields = sealed_fields(record)
    if not fields_intact(cipher, kind, fields, record.seal):
        raise TamperedRecord(kind.replace("_", " "))


def intact(cipher: SecretCipher, record: Sealable) -> bool:
    """Whether the record's seal holds (a failure is logged), for the callers that refuse a
    failing row with an error of their own: authentication answers 401."""
    kind, fields = sealed_fields(record)
    return fields_intact(cipher, kind, fields, record.seal)
