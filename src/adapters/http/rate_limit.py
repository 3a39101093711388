"""Rate limiting per API key: a token bucket per key, in each instance's memory.

Each key may spend ``per_minute`` requests per minute, with bursts up to that many; with
several instances the limit applies per instance. Only authenticated requests spend tokens.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from litestar.exceptions import HTTPException

MAX_KEYS = 100_000


class TooManyRequests(HTTPException):
    status_code = 429


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(per_minute)
        self._rate = per_minute / 60.0
        self._clock = clock
        self._buckets: OrderedDict[bytes, tuple[float, float]] = OrderedDict()

    def check(self, key_hash: bytes) -> None:
        """Spend one request of this key's allowance, or raise ``TooManyRequests``."""
        now = self._clock()
        tokens, last = self._buckets.get(key_hash, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key_hash] = (tokens, now)
            retry_after = max(1, math.ceil((1.0 - tokens) / self._rate))
            raise TooManyRequests(
                detail=f"Too many requests for this API key; retry in {retry_after} s.",
                headers={"Retry-After": str(retry_after)},
            )
        self._buckets[key_hash] = (tokens - 1.0, now)
        self._buckets.move_to_end(key_hash)
        while len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
