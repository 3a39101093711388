"""Small input checks shared by the management use cases."""

from domain.errors import FieldErrors

MAX_NAME_LENGTH = 200


def check_name(errors: FieldErrors, value: str, field: str = "name") -> None:
    if not value.strip():
        errors.add(field, "is required")
    elif len(value) > MAX_NAME_LENGTH:
        errors.add(field, f"must be at most {MAX_NAME_LENGTH} characters")
    elif not value.isprintable():
        errors.add(field, "must not contain control characters")
