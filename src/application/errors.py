"""Errors of the use cases. Their messages never reveal anything about other organisations."""

from domain.errors import DomainError, FieldError


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    """The object does not exist for this caller: absent, or another organisation's."""

    code = "not_found"

    def __init__(self, resource: str, field: str | None = None) -> None:
        fields = [FieldError(field, f"no such {resource}")] if field else []
        super().__init__(f"The {resource} was not found.", fields, code=f"{resource}_not_found")


class ProviderRejected(DomainError):
    """The provider refused the grant (RFC 6749 §5.2); its words are passed on."""

    code = "provider_rejected"

    def __init__(self, error: str, description: str | None) -> None:
        detail = f": {description}" if description else ""
        super().__init__(f"The provider refused the request ({error}){detail}.")
        self.provider_error = error
        self.provider_error_description = description


class ProviderUnavailable(DomainError):
    """The provider could not be reached, failed, or answered something unreadable."""

    code = "provider_unavailable"


class ProviderTimeout(DomainError):
    code = "provider_timeout"


class ReauthorisationRequired(DomainError):
    """The provider no longer honours the refresh token: the end user must connect again."""

    code = "reauthorisation_required"

    def __init__(self) -> None:
        super().__init__(
            "The provider no longer accepts this connection's refresh token; "
            "the end user must connect again."
        )


class RefreshInProgress(DomainError):
    """Another request has been refreshing this connection for longer than we wait."""

    code = "refresh_in_progress"


class CredentialInUse(DomainError):
    """A credential still used by connections cannot be deleted: their refreshes need it."""

    code = "credential_in_use"

    def __init__(self) -> None:
        super().__init__(
            "The credential is used by connections; delete them first, or they could no longer "
            "be refreshed."
        )


class StorageUnavailable(Exception):
    """The storage cannot answer right now (down, locked, unreachable, out of connections).
    Retryable; nothing was half-written, since every write is one transaction."""


class DuplicateKey(Exception):
    """A row with the same key (primary or unique) is stored already."""
