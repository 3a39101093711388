"""OAuth client credentials of an organisation. The client secret is encrypted before it is
stored, and no use case ever returns it."""

from dataclasses import dataclass

from application.errors import NotFound
from application.identity import new_id
from application.ports.crypto import SecretCipher
from application.ports.storage import CredentialRepository
from application.ports.system import Clock, RandomSource
from application.validation import check_name
from domain.authorize_url import VSCHAR, validate_client_id
from domain.errors import FieldErrors
from domain.model import Credential

MAX_SECRET_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class NewCredential:
    name: str
    client_id: str
    client_secret: str


def secret_context(credential_id: str) -> str:
    """Binds an encrypted client secret to its credential row."""
    return f"credential:{credential_id}:client_secret"


class ManageCredentials:
    def __init__(
        self,
        credentials: CredentialRepository,
        cipher: SecretCipher,
        clock: Clock,
        random: RandomSource,
    ) -> None:
        self._credentials = credentials
        self._cipher = cipher
        self._clock = clock
        self._random = random

    async def create(self, organisation_id: str, new: NewCredential) -> Credential:
        errors = FieldErrors()
        check_name(errors, new.name)
        validate_client_id(new.client_id, errors)
        if not new.client_secret:
            errors.add("clientSecret", "is required")
        elif len(new.client_secret) > MAX_SECRET_LENGTH:
            errors.add("clientSecret", f"must be at most {MAX_SECRET_LENGTH} characters")
        elif VSCHAR.fullmatch(new.client_secret) is None:
            errors.add("clientSecret", "must be printable ASCII (RFC 6749 Appendix A)")
        errors.raise_if_any()
        credential_id, now = new_id(self._clock, self._random)
        credential = Credential(
            id=credential_id,
            organisation_id=organisation_id,
            name=new.name,
            client_id=new.client_id,
            sealed_secret=self._cipher.encrypt(
                new.client_secret, context=secret_context(credential_id)
            ),
            created_at=now,
        )
        await self._credentials.add(credential)
        return credential

    async def list(self, organisation_id: str) -> list[Credential]:
        return await self._credentials.list(organisation_id)

    async def get(self, organisation_id: str, credential_id: str) -> Credential:
        credential = await self._credentials.get(organisation_id, credential_id)
        if credential is None:
            raise NotFound("credential")
        return credential

    async def delete(self, organisation_id: str, credential_id: str) -> None:
        if not await self._credentials.delete(organisation_id, credential_id):
            raise NotFound("credential")
