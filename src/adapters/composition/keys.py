"""Where the encryption keys come from: EMBED_OAUTH_ENCRYPTION_KEYS, else the development
key file (created on first use)."""

from collections.abc import Callable

from adapters.crypto.keyring import Keyring, load_or_create_development_keyring
from adapters.settings import Settings


def load_keyring(settings: Settings) -> Keyring:
    if settings.encryption_keys:
        return Keyring.parse(settings.encryption_keys)
    return load_or_create_development_keyring(settings.development_key_file)


def keyring_reloader(settings: Settings) -> Callable[[], Keyring] | None:
    """With the development key file, `keys rotate` may add a key while the service runs;
    configured keys change only with the service's environment."""
    if settings.encryption_keys:
        return None
    return lambda: load_or_create_development_keyring(settings.development_key_file)
