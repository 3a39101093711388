"""What ``embed-oauth dev-provider`` sets up in the service's own database: an organisation,
a credential for the development provider's client, a hub allowing the service's own origin
and a connector for the provider, created once and reused on later runs.

What it made is remembered in a file beside the development encryption keys (mode 0600: it
holds the API key and the client secret), so a second run reuses it when it still exists.
"""

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from adapters.catalogue.packaged import PackagedCatalogue
from adapters.crypto.secret_cipher import AesGcmSecretCipher
from adapters.settings import Settings
from adapters.system import SecureRandom, SystemClock
from application.connectors import ManageConnectors, NewConnector
from application.credentials import ManageCredentials, NewCredential
from application.hubs import ManageHubs, NewHub
from application.organisations import CreateOrganisation
from application.ports.storage import Storage
from domain.api_keys import hash_api_key
from domain.redirect_uri import redirect_uri

DEMO_USER = "demo-user"
SCOPES = "openid profile contacts.read"


@dataclass(frozen=True)
class DevSetup:
    organisation_id: str
    api_key: str
    client_id: str
    client_secret: str
    credential_id: str
    hub_id: str
    connector_id: str

    def demo_link(self, settings: Settings, authorize_url: str) -> str:
        """The demo page with every field filled in (in the fragment: never sent anywhere)."""
        fragment = urlencode(
            {
                "apiKey": self.api_key,
                "hub": self.hub_id,
                "connector": self.connector_id,
                "credential": self.credential_id,
                "authorizeUrl": authorize_url,
                "scopes": SCOPES,
                "userId": DEMO_USER,
            }
        )
        return f"{settings.public_url}/demo#{fragment}"

    def redirect_uri(self, settings: Settings) -> str:
        return redirect_uri(settings.callback_url, self.organisation_id)


def state_file(settings: Settings) -> Path:
    return settings.development_key_file.parent / "dev-provider.json"


async def set_up(
    settings: Settings, storage: Storage, cipher: AesGcmSecretCipher, token_url: str
) -> DevSetup:
    """Reuse what an earlier run made if it is all still there, else make it anew."""
    path = state_file(settings)
    previous = _read(path)
    if previous is not None and await _still_there(storage, previous, token_url):
        return previous
    clock, random = SystemClock(), SecureRandom()
    created = await CreateOrganisation(storage.unit_of_work, clock, random, cipher)("Development")
    organisation_id = created.organisation.id
    client_id, client_secret = "dev-client", secrets.token_urlsafe(24)
    credential = await ManageCredentials(storage.credentials, cipher, clock, random).create(
        organisation_id,
        NewCredential(
            name="Development provider", client_id=client_id, client_secret=client_secret
        ),
    )
    public = urlsplit(settings.public_url)
    hub = await ManageHubs(storage.hubs, clock, random, cipher).create(
        organisation_id,
        NewHub(name="Development", allowed_origins=[f"{public.scheme}://{public.netloc}"]),
    )
    connector = await ManageConnectors(
        storage.hubs,
        storage.connectors,
        clock,
        random,
        cipher=cipher,
        catalogue=PackagedCatalogue.load(),
        allow_local_providers=True,
    ).create(
        organisation_id, hub.id, NewConnector(name="Development provider", token_url=token_url)
    )
    setup = DevSetup(
        organisation_id=organisation_id,
        api_key=created.api_key,
        client_id=client_id,
        client_secret=client_secret,
        credential_id=credential.id,
        hub_id=hub.id,
        connector_id=connector.id,
    )
    _write(path, setup)
    return setup


async def _still_there(storage: Storage, setup: DevSetup, token_url: str) -> bool:
    org = setup.organisation_id
    connector = await storage.connectors.get(setup.hub_id, setup.connector_id)
    key = await storage.api_keys.find(hash_api_key(setup.api_key))
    return (
        key is not None
        and key.organisation_id == org
        and await storage.credentials.get(org, setup.credential_id) is not None
        and await storage.hubs.get(org, setup.hub_id) is not None
        and connector is not None
        and connector.token_url == token_url
    )


def _read(path: Path) -> DevSetup | None:
    try:
        return DevSetup(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, setup: DevSetup) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(asdict(setup), file)
