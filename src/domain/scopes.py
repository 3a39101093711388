"""Scope rules: RFC 6749 §3.3 scope-tokens, first occurrence wins, ``offline_access`` last."""

import re
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from domain.errors import FieldErrors

OFFLINE_ACCESS = "offline_access"
MAX_SCOPES = 100
MAX_SCOPE_LENGTH = 512
# scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): printable ASCII except space, '"' and '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


class ScopeSeparator(StrEnum):
    """How a provider wants scopes joined: the standard space, or a comma for some providers."""

    SPACE = " "
    COMMA = ","


@lru_cache(maxsize=4096)
def _is_scope_token(scope: str) -> bool:
    return _SCOPE_TOKEN.fullmatch(scope) is not None


def normalise_scopes(
    scopes: Sequence[str],
    *,
    separator: ScopeSeparator,
    offline_access: bool,
    errors: FieldErrors,
    field: str = "scopes",
) -> tuple[str, ...]:
    """Validate each scope, drop repeats keeping the first, and append ``offline_access``.

    ``offline_access`` is appended unless it is disabled or already present (where it then
    keeps its place). A scope containing the connector's separator could not be told apart
    from two scopes at the provider, so it is refused.
    """
    if len(scopes) > MAX_SCOPES:
        errors.add(field, f"must have at most {MAX_SCOPES} entries")
        return ()
    kept: dict[str, None] = {}
    for index, scope in enumerate(scopes):
        where = f"{field}[{index}]"
        if len(scope) > MAX_SCOPE_LENGTH:
            errors.add(where, f"must be at most {MAX_SCOPE_LENGTH} characters")
        elif not _is_scope_token(scope):
            errors.add(
                where,
                "must be a non-empty RFC 6749 scope-token: printable ASCII without spaces, "
                "double quotes or backslashes",
            )
        elif separator is ScopeSeparator.COMMA and "," in scope:
            errors.add(
                where, "must not contain ',' because the connector separates scopes with ','"
            )
        else:
            kept.setdefault(scope, None)
    if offline_access:
        kept.setdefault(OFFLINE_ACCESS, None)
    return tuple(kept)
