"""Background jobs that run beside the HTTP server on every instance."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from litestar import Litestar

from application.maintenance import PurgeExpired

log = logging.getLogger("embed_oauth.maintenance")


def cleanup_job(
    purge: PurgeExpired, interval: timedelta
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """A lifespan that purges dead rows every ``interval`` while the app runs. Every delete
    is idempotent, so every instance may run it at once."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval.total_seconds())
            try:
                purged = await purge()
            except Exception:  # a failed round is logged and retried at the next interval
                log.exception("purging expired rows failed")
            else:
                log.info(
                    "purged expired rows",
                    extra={
                        "used_states": purged.used_states,
                        "refresh_locks": purged.refresh_locks,
                    },
                )

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
