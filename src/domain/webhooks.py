"""Webhooks: the events a product is told about, their signatures (Standard Webhooks), and
the retry schedule of their deliveries.

Standard Webhooks (https://www.standardwebhooks.com, spec/standard-webhooks.md): the secret is
``whsec_`` + base64 of 24 to 64 random bytes; each delivery carries ``webhook-id``,
``webhook-timestamp`` (seconds) and ``webhook-signature``, a space-separated list of
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per secret in use.
"""

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SECRET_OVERLAP = timedelta(hours=24)  # the old secret keeps signing this long after rotation
DEFAULT_RETRY_SECONDS = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 86400)
JITTER = 0.2  # each delay is drawn from ±20% of the schedule's value
EXCERPT_CHARACTERS = 200


class EventType(StrEnum):
    CONNECTION_CREATED = "connection.created"
    CONNECTION_RECONNECTED = "connection.reconnected"
    CONNECTION_REAUTHORISATION_REQUIRED = "connection.reauthorisation_required"
    CONNECTION_REFRESH_FAILED = "connection.refresh_failed"
    CONNECTION_RECOVERED = "connection.recovered"
    CONNECTION_DELETED = "connection.deleted"


def format_secret(random_bytes: bytes) -> str:
    if not 24 <= len(random_bytes) <= 64:
        raise ValueError("a webhook secret has 24 to 64 random bytes")
    return SECRET_PREFIX + base64.b64encode(random_bytes).decode("ascii")


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode("ascii")


def signature_header(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret in use: receivers accept a delivery if any verifies."""
    return " ".join(signature(s, message_id, timestamp, body) for s in secrets)


def retry_delay(schedule: Sequence[int], attempts: int, jitter: float) -> timedelta | None:
    """The wait before the next attempt after ``attempts`` failed ones, or ``None`` when the
    schedule is spent. ``jitter`` in [0, 1) spreads retries of many deliveries apart."""
    if attempts > len(schedule):
        return None
    base = schedule[attempts - 1]
    return timedelta(seconds=base * (1 - JITTER + 2 * JITTER * jitter))


def excerpt(text: str) -> str:
    """What is kept of a receiver's answer: a short, printable excerpt."""
    cleaned = "".join(c if c.isprintable() else " " for c in text[: EXCERPT_CHARACTERS * 2])
    return cleaned.strip()[:EXCERPT_CHARACTERS]
