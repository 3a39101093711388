"""Creating new identifiers and timestamps from the clock and random ports."""

from datetime import datetime

from application.ports.system import Clock, RandomSource
from domain.identifiers import RANDOM_BYTES, time_ordered_id


def new_id(clock: Clock, random: RandomSource) -> tuple[str, datetime]:
    """A fresh time-ordered id and the creation time it encodes."""
    now = clock.now()
    return time_ordered_id(int(now.timestamp() * 1000), random.token_bytes(RANDOM_BYTES)), now
