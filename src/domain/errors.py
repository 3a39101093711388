"""Errors the business rules raise. Each carries a stable machine-readable code."""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending request field, addressed like ``credential.id`` or ``scopes[2]``."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error that is the caller's to fix; adapters map each subclass to a status."""

    code = "error"

    def __init__(
        self, message: str, fields: Iterable[FieldError] = (), *, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = tuple(fields)
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """The request is malformed or breaks a rule about a single value."""

    code = "invalid_input"


class ParameterConflict(DomainError):
    """The request asks for an authorize parameter that the service sets itself, or twice."""

    code = "parameter_conflict"


class FieldErrors:
    """Collects field errors so that one response can list every offending field."""

    def __init__(self) -> None:
        self.invalid: list[FieldError] = []
        self.conflicts: list[FieldError] = []
        self.conflicting_parameters: list[str] = []

    def add(self, field: str, message: str) -> None:
        self.invalid.append(FieldError(field, message))

    def conflict(self, field: str, parameter: str, message: str) -> None:
        self.conflicts.append(FieldError(field, message))
        if parameter not in self.conflicting_parameters:
            self.conflicting_parameters.append(parameter)

    def raise_if_any(self) -> None:
        """Invalid values come before conflicts, which only mean something on valid input."""
        if self.invalid:
            raise InvalidInput("The request has invalid fields.", self.invalid)
        if self.conflicts:
            names = ", ".join(self.conflicting_parameters)
            raise ParameterConflict(
                f"The request sets authorize parameters that conflict: {names}.", self.conflicts
            )
