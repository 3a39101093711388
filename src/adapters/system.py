"""The real clock and the operating system's CSPRNG."""

import os
import threading
from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# One read of the OS generator serves this many bytes: 256 states' ids.
POOL_BYTES = 4096


class _UrandomPool:
    """Bytes read from ``os.urandom`` a block at a time and handed out once each.

    ``os.urandom`` gives up the GIL for its system call. Under granian, whose I/O thread
    is always waiting for the GIL, each give-up is a hand-over between threads, and it cost
    initialise 16 us of CPU per request (measured); one read per block costs that once per
    256 states. The bytes are the OS generator's own, in order, each served once: a block is
    never reused, and a forked child throws its parent's block away, so two processes never
    serve the same bytes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._block = b""
        self._at = 0

    def take(self, size: int) -> bytes:
        with self._lock:
            end = self._at + size
            if end > len(self._block):
                self._block, self._at, end = os.urandom(max(POOL_BYTES, size)), 0, size
            taken = self._block[self._at : end]
            self._at = end
            return taken

    def forget(self) -> None:
        self._block, self._at = b"", 0
        self._lock = threading.Lock()  # a lock held by another thread at the fork stays held


_POOL = _UrandomPool()
os.register_at_fork(after_in_child=_POOL.forget)


class SecureRandom:
    def token_bytes(self, size: int) -> bytes:
        return _POOL.take(size)
