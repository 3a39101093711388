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


MAX_USER_ID_LENGTH = 256


def check_user_id(errors: FieldErrors, user_id: str, field: str = "user_id") -> None:
    """The product's own id for an end user: in paths, ``userId`` fields and token ``sub``."""
    if not user_id or len(user_id) > MAX_USER_ID_LENGTH or not user_id.isprintable():
        errors.add(field, f"must be 1 to {MAX_USER_ID_LENGTH} printable characters")
