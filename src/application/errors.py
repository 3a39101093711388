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
