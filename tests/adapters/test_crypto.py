"""Keys, secrets at rest and sealed states."""

import base64
import hashlib
import hmac
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.crypto.hmac_sha256 import HmacSha256
from adapters.crypto.keyring import (
    InvalidKeyring,
    Keyring,
    generate_key_spec,
    load_or_create_development_keyring,
)
from adapters.crypto.sealed_state import AesGcmStateSealer
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.crypto.token_hash import HmacTokenHasher
from application.ports.crypto import UndecryptableSecret
from domain.state import StateClaims, state_binding

OLD = generate_key_spec(datetime(2025, 1, 1, tzinfo=UTC))
NEW = generate_key_spec(datetime(2026, 1, 1, tzinfo=UTC))


def test_keyring_first_key_is_active_and_others_kept_for_reading() -> None:
    ring = Keyring.parse(f"{NEW},{OLD}")
    assert ring.active_id == NEW.split(":")[0]
    assert set(ring.keys) == {NEW.split(":")[0], OLD.split(":")[0]}
    assert Keyring.parse(ring.format()) == ring


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "nocolon",
        "bad id!:AAAA",
        "k:" + base64.urlsafe_b64encode(b"short").decode(),
        f"{OLD},{OLD}",
    ],
)
def test_bad_keyrings_are_refused(spec: str) -> None:
    with pytest.raises(InvalidKeyring):
        Keyring.parse(spec)


def test_development_key_file_is_created_once_with_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "var" / "keys"
    first = load_or_create_development_keyring(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "generated a development key" in caplog.text
    assert load_or_create_development_keyring(path) == first


def test_processes_racing_to_create_the_development_key_all_use_one_key(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    with ProcessPoolExecutor(max_workers=4) as pool:
        rings = list(pool.map(load_or_create_development_keyring, [path] * 8))
    assert len({ring.format() for ring in rings}) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keys"]


def test_secret_round_trips_and_names_its_key() -> None:
    cipher = AesGcmSecretCipher(Keyring.parse(NEW))
    sealed = cipher.encrypt("client-secret-value", context="credential:1")
    assert "client-secret-value" not in sealed
    assert sealed.startswith(f"v1.{NEW.split(':')[0]}.")
    assert cipher.decrypt(sealed, context="credential:1") == "client-secret-value"
    assert cipher.encrypt("x", context="c") != cipher.encrypt("x", context="c")


def test_secret_moved_to_another_row_or_altered_does_not_decrypt() -> None:
    cipher = AesGcmSecretCipher(Keyring.parse(NEW))
    sealed = cipher.encrypt("value", context="credential:1")
    with pytest.raises(UndecryptableSecret):
        cipher.decrypt(sealed, context="credential:2")
    middle = len(sealed) - 10
    tampered = sealed[:middle] + ("A" if sealed[middle] != "A" else "B") + sealed[middle + 1 :]
    with pytest.raises(UndecryptableSecret):
        cipher.decrypt(tampered, context="credential:1")
    with pytest.raises(UndecryptableSecret):
        cipher.decrypt("v1.unknown.AAAA", context="credential:1")


def test_secrets_written_with_an_old_key_still_decrypt_after_a_new_key_is_added() -> None:
    sealed = AesGcmSecretCipher(Keyring.parse(OLD)).encrypt("value", context="c")
    assert AesGcmSecretCipher(Keyring.parse(f"{NEW},{OLD}")).decrypt(sealed, context="c") == "value"


def claims(scopes: tuple[str, ...] = ("openid", "offline_access")) -> StateClaims:
    return StateClaims(
        state_id=os.urandom(16),
        organisation_id="01900000-0000-7000-8000-000000000001",
        hub_id="01900000-0000-7000-8000-000000000002",
        connector_id="01900000-0000-7000-8000-000000000003",
        credential_id="01900000-0000-7000-8000-000000000004",
        binding=state_binding("client", "https://x.example/cb"),
        scopes=scopes,
        expires_at=datetime(2026, 11, 28, 12, 10, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    "scopes", [(), ("a",), ("openid", "https://x.example/read", "offline_access")]
)
def test_sealed_state_opens_to_the_same_claims_and_verifier(scopes: tuple[str, ...]) -> None:
    sealer = AesGcmStateSealer(Keyring.parse(NEW))
    original = claims(scopes)
    sealed = sealer.seal(original)
    opened = sealer.open(sealed.value)
    assert opened is not None
    assert opened.claims == original
    assert opened.pkce_verifier == sealed.pkce_verifier
    assert 43 <= len(sealed.pkce_verifier) <= 128


def test_sealed_state_is_url_safe_and_short() -> None:
    value = AesGcmStateSealer(Keyring.parse(NEW)).seal(claims()).value
    assert value.replace("-", "").replace("_", "").isalnum()
    assert len(value) <= 200


def test_only_the_canonical_spelling_of_a_state_opens() -> None:
    sealer = AesGcmStateSealer(Keyring.parse(NEW))
    for _ in range(20):
        value = sealer.seal(claims()).value
        # The last character may carry unused bits: other letters decode to the same bytes.
        same_bytes = [
            value[:-1] + c
            for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            if c != value[-1]
        ]
        assert all(sealer.open(variant) is None for variant in same_bytes)
        assert sealer.open(value) is not None


def test_tampered_truncated_or_foreign_states_do_not_open() -> None:
    sealer = AesGcmStateSealer(Keyring.parse(NEW))
    value = sealer.seal(claims()).value
    for i in (0, 5, 30, len(value) - 1):
        flipped = value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1 :]
        assert sealer.open(flipped) is None
    assert sealer.open(value[:-4]) is None
    assert sealer.open("") is None
    assert sealer.open("not base64 at all!") is None
    assert sealer.open("é" * 10) is None
    assert AesGcmStateSealer(Keyring.parse(OLD)).open(value) is None


def test_states_sealed_before_a_key_rotation_still_open_with_their_verifier() -> None:
    before = AesGcmStateSealer(Keyring.parse(OLD)).seal(claims())
    opened = AesGcmStateSealer(Keyring.parse(f"{NEW},{OLD}")).open(before.value)
    assert opened is not None
    assert opened.pkce_verifier == before.pkce_verifier


def test_two_states_for_the_same_claims_differ_and_verifiers_differ() -> None:
    sealer = AesGcmStateSealer(Keyring.parse(NEW))
    first, second = sealer.seal(claims()), sealer.seal(claims())
    assert first.value != second.value
    assert first.pkce_verifier != second.pkce_verifier


@pytest.mark.parametrize("size", [0, 1, 16, 63, 64, 65, 3000])
@pytest.mark.parametrize("key_size", [0, 16, 32, 64, 65, 200])
def test_hmac_sha256_is_the_standard_mac_every_time(key_size: int, size: int) -> None:
    key = os.urandom(key_size)
    mac = HmacSha256(key)
    for _ in range(3):  # the keyed state is copied, never consumed
        message = os.urandom(size)
        assert mac.digest(message) == hmac.digest(key, message, "sha256")


def _reference_subkey(key: bytes, purpose: bytes) -> bytes:
    return hmac.digest(key, b"embed-oauth/" + purpose, "sha256")


def test_pkce_verifier_is_the_hmac_of_the_state_id_so_states_in_flight_survive_an_upgrade() -> None:
    ring = Keyring.parse(NEW)
    original = claims()
    sealed = AesGcmStateSealer(ring).seal(original)
    expected = hmac.digest(
        _reference_subkey(ring.active_key, b"pkce-verifier/v1"), original.state_id, "sha256"
    )
    assert sealed.pkce_verifier == base64.urlsafe_b64encode(expected).rstrip(b"=").decode()


def test_session_token_hashes_are_the_hmac_under_each_key_so_stored_sessions_still_match() -> None:
    ring = Keyring.parse(f"{NEW},{OLD}")
    hasher = HmacTokenHasher(ring)
    token = "cs_user-1.secret-part"
    by_key = [
        hmac.digest(_reference_subkey(ring.keys[key_id], b"connect-session/v1"), token.encode(),
                    hashlib.sha256)
        for key_id in (NEW.split(":")[0], OLD.split(":")[0])
    ]  # fmt: skip
    assert hasher.digest(token) == by_key[0]
    assert hasher.digests(token) == by_key
