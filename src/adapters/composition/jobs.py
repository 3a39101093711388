"""Background jobs that run beside the HTTP server on every instance, each safe to run on
all instances at once."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from litestar import Litestar

log = logging.getLogger("embed_oauth.jobs")

Lifespan = Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]


def every(interval: timedelta, name: str, job: Callable[[], Awaitable[Any]]) -> Lifespan:
    """A lifespan that runs ``job`` every ``interval`` while the app runs; a failed round is
    logged and the job runs again at the next interval. What a round returns is logged,
    unless it is falsy (a round that found nothing to do)."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval.total_seconds())
            try:
                outcome = await job()
            except Exception:
                log.exception("%s failed", name)
            else:
                if outcome:
                    log.info(name, extra={"outcome": repr(outcome)})

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan
