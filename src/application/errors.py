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
    """The provider could not be reached, failed, or answered something unreadable.
    ``retry_after``: the seconds the provider asked us to wait, when it said."""

    code = "provider_unavailable"

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderBusy(ProviderUnavailable):
    """The provider is rate limiting us (HTTP 429)."""

    code = "provider_busy"


class ProviderTimeout(DomainError):
    code = "provider_timeout"


class RefreshBackingOff(DomainError):
    """Recent refreshes of this connection failed, the token has expired, and the next try
    is held back until ``retry_after`` seconds from now."""

    code = "refresh_backing_off"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "Refreshing this connection failed recently and is held back; "
            f"retry in {retry_after} s."
        )
        self.retry_after = retry_after


class ReauthorisationRequired(DomainError):
    """The connection cannot be refreshed any more: the end user must connect again."""

    code = "reauthorisation_required"

    def __init__(self, reason: str | None = None) -> None:
        detail = {
            "no_refresh_token": "the access token expired and the provider gave no refresh token",
        }.get(reason or "", "the provider no longer accepts its refresh token")
        super().__init__(f"This connection needs the end user to connect again: {detail}.")
        self.reason = reason


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


class TamperedRecord(DomainError):
    """A stored row that routes secrets failed its integrity check: it was changed outside
    the service (or its key is not configured). Nothing was sent; the log says which row."""

    code = "integrity_check_failed"

    def __init__(self, record: str) -> None:
        super().__init__(
            f"A stored {record} failed its integrity check, so it was not used and nothing "
            "was sent. The service's log names the row; an operator must restore it."
        )


class StorageUnavailable(Exception):
    """The storage cannot answer right now (down, locked, unreachable, out of connections).
    Retryable; nothing was half-written, since every write is one transaction."""


class DuplicateKey(Exception):
    """A row with the same key (primary or unique) is stored already."""
