"""Seals over stored rows: what a verified seal is remembered for, and what it is not."""

from adapters.crypto.keyring import Keyring, generate_key_spec
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from application.integrity import RecordKind, fields_intact, seal_fields

FIELDS = ("01900000-0000-7000-8000-000000000001", "org-1", "ab" * 32)


class CountingCipher(AesGcmSecretCipher):
    """The real cipher, counting its decryptions."""

    decryptions = 0

    def decrypt(self, sealed: str, *, context: str) -> str:
        self.decryptions += 1
        return super().decrypt(sealed, context=context)


def cipher() -> CountingCipher:
    return CountingCipher(Keyring.parse(generate_key_spec()))


def test_a_verified_seal_is_decrypted_once() -> None:
    own = cipher()
    seal = seal_fields(own, RecordKind.API_KEY, FIELDS)
    assert all(fields_intact(own, RecordKind.API_KEY, FIELDS, seal) for _ in range(5))
    assert own.decryptions == 1


def test_a_seal_verified_under_one_cipher_is_not_taken_on_trust_by_another() -> None:
    own, other = cipher(), cipher()
    seal = seal_fields(own, RecordKind.API_KEY, FIELDS)
    assert fields_intact(own, RecordKind.API_KEY, FIELDS, seal)
    assert not fields_intact(other, RecordKind.API_KEY, FIELDS, seal)
    assert other.decryptions == 1


def test_a_verified_seal_does_not_cover_other_fields_or_another_kind() -> None:
    own = cipher()
    seal = seal_fields(own, RecordKind.API_KEY, FIELDS)
    assert fields_intact(own, RecordKind.API_KEY, FIELDS, seal)
    moved = (FIELDS[0], "org-2", FIELDS[2])
    assert not fields_intact(own, RecordKind.API_KEY, moved, seal)
    assert not fields_intact(own, RecordKind.SIGNING_KEY, FIELDS, seal)
    assert not fields_intact(own, RecordKind.API_KEY, FIELDS, None)
