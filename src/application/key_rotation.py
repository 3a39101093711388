"""Re-encrypting every stored secret, token and seal under the active key."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from application.connections import access_token_context, refresh_token_context
from application.credentials import secret_context
from application.integrity import RecordKind, record_context
from application.ports.crypto import SecretCipher
from application.ports.storage import SealedKind, SealedValue, SealedValueStore
from application.webhooks import previous_secret_context
from application.webhooks import secret_context as webhook_secret_context

_CONTEXTS: dict[SealedKind, Callable[[str], str]] = {
    SealedKind.CLIENT_SECRET: secret_context,
    SealedKind.ACCESS_TOKEN: access_token_context,
    SealedKind.REFRESH_TOKEN: refresh_token_context,
    SealedKind.WEBHOOK_SECRET: webhook_secret_context,
    SealedKind.WEBHOOK_PREVIOUS_SECRET: previous_secret_context,
    SealedKind.API_KEY_SEAL: partial(record_context, RecordKind.API_KEY),
    SealedKind.HUB_SEAL: partial(record_context, RecordKind.HUB),
    SealedKind.CONNECTOR_SEAL: partial(record_context, RecordKind.CONNECTOR),
    SealedKind.CONNECTION_SEAL: partial(record_context, RecordKind.CONNECTION),
    SealedKind.WEBHOOK_SEAL: partial(record_context, RecordKind.WEBHOOK),
    SealedKind.SIGNING_KEY_SEAL: partial(record_context, RecordKind.SIGNING_KEY),
}


def sealed_context(kind: SealedKind, row_id: str) -> str:
    """The context an encrypted value of this kind is bound to."""
    return _CONTEXTS[kind](row_id)


class MissingKeys:
    """The ids of keys that stored secrets were encrypted with but that are not configured:
    checked at start, since without them those secrets can never be decrypted."""

    def __init__(self, store: SealedValueStore, cipher: SecretCipher) -> None:
        self._store = store
        self._cipher = cipher

    async def __call__(self) -> list[str]:
        unreadable = await self._store.not_starting_with(self._cipher.readable_prefixes(), 1000)
        return sorted({self._cipher.key_id_of(v.value) for v in unreadable})


@dataclass(frozen=True, slots=True)
class RotationReport:
    re_encrypted: int
    remaining: int


class RotateEncryptionKeys:
    """Move every encrypted value to the active key, one row at a time.

    Rules: each value is decrypted with the key it names and encrypted again under the active
    key, then swapped in only if the row still holds the value that was read (a refresh
    running meanwhile wins, and its value is already under a current key). Every row is
    readable at every moment, with the old or the new key, so an interrupted rotation loses
    nothing, and running it again finishes the job.
    """

    def __init__(self, store: SealedValueStore, cipher: SecretCipher, batch: int = 200) -> None:
        self._store = store
        self._cipher = cipher
        self._batch = batch

    async def __call__(self) -> RotationReport:
        prefix = self._cipher.current_prefix()
        done = 0
        while True:
            pending = await self._store.not_starting_with((prefix,), self._batch)
            progressed = 0
            for sealed in pending:
                progressed += await self._re_encrypt(sealed)
            done += progressed
            if not pending or progressed == 0:
                remaining = len(await self._store.not_starting_with((prefix,), self._batch))
                return RotationReport(re_encrypted=done, remaining=remaining)

    async def _re_encrypt(self, sealed: SealedValue) -> int:
        context = sealed_context(sealed.kind, sealed.row_id)
        plaintext = self._cipher.decrypt(sealed.value, context=context)
        fresh = self._cipher.encrypt(plaintext, context=context)
        return int(await self._store.replace(sealed, fresh))
