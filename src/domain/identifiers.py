"""Identifiers: time-ordered UUIDs (version 7 layout), so that new rows land at the end of
an index instead of at random places, which SQLite pays for dearly (see docs/performance.md)."""

import uuid

RANDOM_BYTES = 10


def time_ordered_id(unix_ms: int, random_bytes: bytes) -> str:
    """A UUIDv7 (RFC 9562) from a millisecond timestamp and 10 random bytes."""
    if len(random_bytes) != RANDOM_BYTES:
        raise ValueError(f"need exactly {RANDOM_BYTES} random bytes")
    value = (unix_ms & (2**48 - 1)) << 80 | int.from_bytes(random_bytes, "big")
    value &= ~(0xF << 76)
    value |= 0x7 << 76  # version 7
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))
