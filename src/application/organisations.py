"""Organisations and their API keys: the tenants of the service."""

from dataclasses import dataclass

from application.errors import NotFound, Unauthenticated
from application.identity import new_id
from application.integrity import intact, sealed
from application.ports.crypto import SecretCipher
from application.ports.storage import ApiKeyRepository, OrganisationRepository, UnitOfWork
from application.ports.system import Clock, RandomSource
from application.validation import check_name
from domain.api_keys import KEY_BYTES, format_api_key, hash_api_key
from domain.errors import FieldErrors
from domain.model import ApiKey, Organisation
from domain.redirect_uri import redirect_uri


@dataclass(frozen=True, slots=True)
class CreatedOrganisation:
    organisation: Organisation
    api_key: str  # shown once; only its hash is stored


async def issue_api_key(
    api_keys: ApiKeyRepository,
    clock: Clock,
    random: RandomSource,
    cipher: SecretCipher,
    organisation_id: str,
) -> str:
    """Store a new key's hash, sealed to its organisation, and return the key, which is
    shown this once."""
    key = format_api_key(random.token_bytes(KEY_BYTES))
    key_id, now = new_id(clock, random)
    stored = ApiKey(
        id=key_id, organisation_id=organisation_id, key_hash=hash_api_key(key), created_at=now
    )
    await api_keys.add(sealed(cipher, stored))
    return key


class CreateOrganisation:
    """Create an organisation with its first API key.

    Rules: the name is valid; the organisation and its key are written in one transaction,
    so there is never an organisation without a key to use it, or a key without its
    organisation.
    """

    def __init__(
        self, unit_of_work: UnitOfWork, clock: Clock, random: RandomSource, cipher: SecretCipher
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._random = random
        self._cipher = cipher

    async def __call__(self, name: str) -> CreatedOrganisation:
        errors = FieldErrors()
        check_name(errors, name)
        errors.raise_if_any()
        organisation_id, now = new_id(self._clock, self._random)
        organisation = Organisation(id=organisation_id, name=name, created_at=now)
        async with self._unit_of_work.begin() as storage:
            await storage.organisations.add(organisation)
            key = await issue_api_key(
                storage.api_keys, self._clock, self._random, self._cipher, organisation_id
            )
        return CreatedOrganisation(organisation=organisation, api_key=key)


class ManageApiKeys:
    """Further keys for an organisation, and revocation. A revoked key stops working at once
    on the instance that revoked it, and on the others within the read cache's bound."""

    def __init__(
        self,
        organisations: OrganisationRepository,
        api_keys: ApiKeyRepository,
        clock: Clock,
        random: RandomSource,
        cipher: SecretCipher,
    ) -> None:
        self._organisations = organisations
        self._api_keys = api_keys
        self._clock = clock
        self._random = random
        self._cipher = cipher

    async def issue(self, organisation_id: str) -> str:
        if await self._organisations.get(organisation_id) is None:
            raise NotFound("organisation")
        return await issue_api_key(
            self._api_keys, self._clock, self._random, self._cipher, organisation_id
        )

    async def revoke(self, api_key: str) -> None:
        if not await self._api_keys.delete(hash_api_key(api_key)):
            raise NotFound("API key")


class AuthenticateApiKey:
    """Resolve a presented API key to the organisation that owns it. A stored hash whose
    seal does not bind it to that organisation (planted, or moved to another organisation,
    by someone without the keys) matches nothing."""

    def __init__(self, api_keys: ApiKeyRepository, cipher: SecretCipher) -> None:
        self._api_keys = api_keys
        self._cipher = cipher

    async def __call__(self, presented: str) -> str:
        stored = await self._api_keys.find(hash_api_key(presented))
        if stored is None or not intact(self._cipher, stored):
            raise Unauthenticated("The API key is not valid.")
        return stored.organisation_id


@dataclass(frozen=True, slots=True)
class OrganisationProfile:
    organisation: Organisation
    redirect_uri: str  # what to register with every provider


class ReadOrganisation:
    """The caller's organisation, with the redirect URI its providers must know."""

    def __init__(self, organisations: OrganisationRepository, callback_url: str) -> None:
        self._organisations = organisations
        self._callback_url = callback_url

    async def __call__(self, organisation_id: str) -> OrganisationProfile:
        organisation = await self._organisations.get(organisation_id)
        if organisation is None:
            raise NotFound("organisation")
        return OrganisationProfile(organisation, redirect_uri(self._callback_url, organisation.id))
