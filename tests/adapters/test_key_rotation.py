"""Key rotation: nothing becomes unreadable, even when rotation is interrupted and rerun."""

import asyncio
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters import cli
from adapters.composition.backends import open_backend
from adapters.crypto.keyring import (
    Keyring,
    add_development_key,
    generate_key_spec,
    load_or_create_development_keyring,
)
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from application.connections import access_token_context, refresh_token_context
from application.credentials import secret_context
from application.integrity import Sealable, check_record, sealed, sealed_fields
from application.key_rotation import RotateEncryptionKeys, sealed_context
from application.ports.storage import SealedValue, SealedValueStore, Storage
from application.webhooks import previous_secret_context
from application.webhooks import secret_context as webhook_secret_context
from domain.model import (
    ApiKey,
    Connection,
    ConnectionStatus,
    ConnectionTokens,
    Connector,
    Credential,
    Hub,
    Organisation,
    SigningAlgorithm,
    SigningKey,
    TokenAuthMethod,
    Webhook,
)
from domain.scopes import ScopeSeparator

OLD = generate_key_spec(datetime(2025, 1, 1, tzinfo=UTC))
NEW = generate_key_spec(datetime(2026, 1, 1, tzinfo=UTC))
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def uid(n: int) -> str:
    return f"01900000-0000-7000-8000-{n:012d}"


def seal_plain(record: Sealable) -> str:
    """What a record's seal holds: its sealed fields as a JSON array."""
    return json.dumps(list(sealed_fields(record)[1]), separators=(",", ":"))


async def seed(storage: Storage, cipher: AesGcmSecretCipher) -> dict[tuple[str, str], str]:
    """An API key, a hub, a connector, three credentials, three connections, two webhooks
    and a signing key, sealed; returns every plaintext (secrets, tokens, seals) by (kind,
    row)."""
    plain: dict[tuple[str, str], str] = {}
    await storage.organisations.add(Organisation(uid(1), "o", NOW))
    key = sealed(cipher, ApiKey(uid(4), uid(1), b"k" * 32, NOW))
    await storage.api_keys.add(key)
    hub = sealed(cipher, Hub(uid(2), uid(1), "h", ("https://app.example",), NOW))
    await storage.hubs.add(hub)
    connector = sealed(cipher, Connector(
        uid(3), uid(2), "c", "https://p.example/t", ScopeSeparator.SPACE, True,
        TokenAuthMethod.CLIENT_SECRET_BASIC, NOW,
    ))  # fmt: skip
    await storage.connectors.add(connector)
    records: list[Sealable] = [key, hub, connector]
    for n in range(10, 13):
        secret = f"secret-{n}"
        plain[("client_secret", uid(n))] = secret
        await storage.credentials.add(
            Credential(
                uid(n),
                uid(1),
                "c",
                f"client-{n}",
                cipher.encrypt(secret, context=secret_context(uid(n))),
                NOW,
            )
        )
    for n in range(20, 23):
        access, refresh = f"access-{n}", f"refresh-{n}"
        plain[("access_token", uid(n))] = access
        plain[("refresh_token", uid(n))] = refresh
        connection = sealed(cipher, Connection(
            id=uid(n), organisation_id=uid(1), hub_id=uid(2), user_id="u", connector_id=uid(3),
            credential_id=uid(10), name="n",
            tokens=ConnectionTokens(
                token_type="Bearer",
                sealed_access_token=cipher.encrypt(access, context=access_token_context(uid(n))),
                sealed_refresh_token=cipher.encrypt(
                    refresh, context=refresh_token_context(uid(n))
                ),
                expires_at=None,
                scopes=("a",),
            ),
            status=ConnectionStatus.ACTIVE, created_at=NOW,
        ))  # fmt: skip
        await storage.connections.add(connection)
        records.append(connection)
    for n in range(30, 32):
        current, previous = f"whsec_current{n}", f"whsec_previous{n}"
        plain[("webhook_secret", uid(n))] = current
        plain[("webhook_previous_secret", uid(n))] = previous
        webhook = sealed(cipher, Webhook(
            id=uid(n), organisation_id=uid(1), url="https://hooks.example/in",
            events=("connection.created",), description=None,
            sealed_secret=cipher.encrypt(current, context=webhook_secret_context(uid(n))),
            sealed_previous_secret=cipher.encrypt(
                previous, context=previous_secret_context(uid(n))
            ),
            previous_secret_until=NOW, created_at=NOW,
        ))  # fmt: skip
        await storage.webhooks.add(webhook)
        records.append(webhook)
    signing_key = sealed(cipher, SigningKey(
        uid(40), uid(1), "k", SigningAlgorithm.ES256, "-----BEGIN PUBLIC KEY-----\n", NOW
    ))  # fmt: skip
    await storage.signing_keys.add(signing_key)
    records.append(signing_key)
    for record in records:
        kind, fields = sealed_fields(record)
        plain[(f"{kind}_seal", fields[0])] = seal_plain(record)
    return plain


async def stored_records(storage: Storage) -> list[Sealable]:
    """What ``seed`` sealed, read back."""
    records: list[Sealable | None] = [
        await storage.api_keys.find(b"k" * 32),
        await storage.hubs.get(uid(1), uid(2)),
        await storage.connectors.get(uid(2), uid(3)),
        *[await storage.connections.get(uid(1), uid(n)) for n in range(20, 23)],
        *[await storage.webhooks.get(uid(1), uid(n)) for n in range(30, 32)],
        await storage.signing_keys.get(uid(1), uid(40)),
    ]
    found = [r for r in records if r is not None]
    assert len(found) == len(records)
    return found


async def read_all(storage: Storage, cipher: AesGcmSecretCipher) -> dict[tuple[str, str], str]:
    values = await storage.sealed_values.not_starting_with(("#",), 1000)
    return {
        (v.kind, v.row_id): cipher.decrypt(v.value, context=sealed_context(v.kind, v.row_id))
        for v in values
    }


@dataclass
class CrashingStore:
    """Lets ``survive`` replacements through, then fails like a killed process would."""

    inner: SealedValueStore
    survive: int

    async def not_starting_with(self, prefixes: Sequence[str], limit: int) -> Sequence[SealedValue]:
        return await self.inner.not_starting_with(prefixes, limit)

    async def replace(self, sealed: SealedValue, new_value: str) -> bool:
        if self.survive == 0:
            raise ConnectionError("interrupted")
        self.survive -= 1
        return await self.inner.replace(sealed, new_value)


async def test_interrupted_rotation_loses_nothing_and_a_rerun_finishes(storage: Storage) -> None:
    plain = await seed(storage, AesGcmSecretCipher(Keyring.parse(OLD)))
    both = AesGcmSecretCipher(Keyring.parse(f"{NEW},{OLD}"))
    with pytest.raises(ConnectionError):
        await RotateEncryptionKeys(CrashingStore(storage.sealed_values, survive=4), both, batch=3)()
    assert await read_all(storage, both) == plain  # readable mid-rotation, old and new mixed
    pending = await storage.sealed_values.not_starting_with((both.current_prefix(),), 100)
    assert 0 < len(pending) < len(plain)

    report = await RotateEncryptionKeys(storage.sealed_values, both, batch=3)()
    assert report.remaining == 0
    assert report.re_encrypted == len(pending)
    only_new = AesGcmSecretCipher(Keyring.parse(NEW))
    assert await read_all(storage, only_new) == plain
    again = await RotateEncryptionKeys(storage.sealed_values, both)()
    assert (again.re_encrypted, again.remaining) == (0, 0)
    for record in await stored_records(storage):  # the seals check with the new key alone
        check_record(only_new, record)


async def test_a_value_changed_during_rotation_is_not_overwritten(storage: Storage) -> None:
    await seed(storage, AesGcmSecretCipher(Keyring.parse(OLD)))
    both = AesGcmSecretCipher(Keyring.parse(f"{NEW},{OLD}"))
    stale = (await storage.sealed_values.not_starting_with((both.current_prefix(),), 1))[0]
    current = both.encrypt("changed meanwhile", context=secret_context(stale.row_id))
    assert await storage.sealed_values.replace(stale, current) is True
    assert await storage.sealed_values.replace(stale, "v1.x.lost") is False


def test_keys_rotate_adds_a_key_to_the_development_file_and_re_encrypts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "keys"
    url = f"sqlite+aiosqlite:///{tmp_path / 'k.sqlite3'}"
    monkeypatch.setenv("EMBED_OAUTH_DATABASE_URL", url)
    monkeypatch.setenv("EMBED_OAUTH_DEVELOPMENT_KEY_FILE", str(key_file))
    first = load_or_create_development_keyring(key_file)

    async def seed_file_db() -> dict[tuple[str, str], str]:
        await cli.prepare_schema(Settings(database_url=url))
        backend = open_backend(url)
        try:
            return await seed(backend.storage, AesGcmSecretCipher(first))
        finally:
            await backend.close()

    plain = asyncio.run(seed_file_db())
    assert cli.main(["keys", "rotate"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["reEncrypted"] == len(plain)
    assert report["remaining"] == 0
    rotated = Keyring.parse(key_file.read_text().strip())
    assert rotated.active_id == report["activeKeyId"] != first.active_id
    assert first.active_id in rotated.keys
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600

    async def read_back() -> dict[tuple[str, str], str]:
        backend = open_backend(url)
        try:
            only_new = Keyring(rotated.active_id, {rotated.active_id: rotated.active_key})
            return await read_all(backend.storage, AesGcmSecretCipher(only_new))
        finally:
            await backend.close()

    assert asyncio.run(read_back()) == plain


def test_a_running_service_reads_values_under_a_key_added_after_it_started(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    started_with = load_or_create_development_keyring(key_file)
    running = AesGcmSecretCipher(
        started_with, reload=lambda: load_or_create_development_keyring(key_file)
    )
    rotated = add_development_key(key_file)
    sealed = AesGcmSecretCipher(rotated).encrypt("value", context="c")
    assert running.decrypt(sealed, context="c") == "value"
