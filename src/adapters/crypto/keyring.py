"""Encryption keys with identifiers, so that keys can be rotated without losing old data.

Configured as ``EMBED_OAUTH_ENCRYPTION_KEYS="k2:<base64url 32 bytes>,k1:<...>"``: the first
key encrypts everything new; the others are kept only to read what they encrypted.
"""

import base64
import logging
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domain.base64url import b64url_encode

KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
log = logging.getLogger("embed_oauth.keys")


class InvalidKeyring(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Keyring:
    active_id: str
    keys: Mapping[str, bytes]

    @property
    def active_key(self) -> bytes:
        return self.keys[self.active_id]

    @classmethod
    def parse(cls, spec: str) -> "Keyring":
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            key_id, sep, encoded = item.partition(":")
            if not sep or _KEY_ID.fullmatch(key_id) is None:
                raise InvalidKeyring("each key is 'id:base64url', the id made of [A-Za-z0-9_-]")
            if key_id in keys:
                raise InvalidKeyring(f"key id {key_id!r} appears twice")
            try:
                raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except ValueError as exc:
                raise InvalidKeyring(f"key {key_id!r} is not base64url") from exc
            if len(raw) != KEY_BYTES:
                raise InvalidKeyring(f"key {key_id!r} must be {KEY_BYTES} bytes")
            keys[key_id] = raw
        if not keys:
            raise InvalidKeyring("no key configured")
        return cls(active_id=next(iter(keys)), keys=keys)

    def format(self) -> str:
        ordered = [self.active_id, *(k for k in self.keys if k != self.active_id)]
        return ",".join(f"{k}:{b64url_encode(self.keys[k])}" for k in ordered)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def generate_key_spec(now: datetime | None = None) -> str:
    """A new key entry. Its id is short (it travels inside every ``state``): the creation time
    in base 36, so that newer keys sort after older ones, and 3 random characters, so that
    keys made in the same second differ: ``k<7 chars><3 chars>``."""
    stamp = int((now or datetime.now(UTC)).timestamp())
    suffix = _base36(secrets.randbelow(36**3)).rjust(3, "0")
    return f"k{_base36(stamp)}{suffix}:{b64url_encode(secrets.token_bytes(KEY_BYTES))}"


def add_development_key(path: Path) -> Keyring:
    """Put a new key first in the development key file, keeping the others to read old data.

    The file is replaced atomically (written aside with mode 0600, then renamed).
    """
    current = load_or_create_development_keyring(path)
    new_entry = generate_key_spec()
    while new_entry.split(":", 1)[0] in current.keys:  # a 1 in 46656 chance per second
        new_entry = generate_key_spec()
    updated = Keyring.parse(new_entry + "," + current.format())
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(updated.format() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(aside, path)
    return updated


def load_or_create_development_keyring(path: Path) -> Keyring:
    """Read the development key file, creating it (mode 0600) on first run.

    The file appears complete or not at all (written aside, then hard-linked into place), and
    when several processes start together exactly one key wins and all of them use it.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(generate_key_spec() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.link(aside, path)
            log.warning(
                "No EMBED_OAUTH_ENCRYPTION_KEYS configured: generated a development key in %s. "
                "Configure real keys before storing production secrets.",
                path,
            )
        except FileExistsError:
            pass  # another process created it first: use theirs
        finally:
            aside.unlink(missing_ok=True)
    return Keyring.parse(path.read_text().strip())
