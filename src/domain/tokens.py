"""Reading token endpoint responses (RFC 6749 §5.1 and §5.2) and deciding when to refresh."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_TOKEN_LENGTH = 32 * 1024
# Linear documents 315705599 s (ten years and a few days): allow twenty years.
MAX_EXPIRES_IN = 20 * 366 * 24 * 3600
# error and error_description: %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2)
_ERROR_TEXT = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")


def is_error_text(value: str) -> bool:
    """``error`` and ``error_description`` use only these characters (RFC 6749 §4.1.2.1)."""
    return _ERROR_TEXT.fullmatch(value) is not None


class InvalidTokenResponse(ValueError):
    """A successful-looking response that does not carry a usable token."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    access_token: str
    token_type: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: tuple[str, ...]
    lifetime_seconds: int | None = None  # the expires_in granted


@dataclass(frozen=True, slots=True)
class TokenError:
    """The provider's own words for a refusal, cleaned so they are safe to pass on."""

    error: str
    description: str | None


def _token(payload: Mapping[str, object], name: str) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TOKEN_LENGTH or not value.isprintable():
        raise InvalidTokenResponse(f"{name} is not a usable string")
    return value


def _expires_in(value: object) -> int | None:
    """A positive number of seconds; numeric strings are accepted (several providers send them)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidTokenResponse("expires_in is not a number")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 < value <= MAX_EXPIRES_IN:
        raise InvalidTokenResponse("expires_in is not a positive number of seconds")
    return value


def read_token_response(
    payload: object,
    *,
    requested_scopes: tuple[str, ...],
    now: datetime,
    path: str | None = None,
    default_expires_in: int | None = None,
) -> TokenSet:
    """Interpret a 200 answer. The token fields are at ``path`` (dotted) when the provider
    nests them. ``access_token`` is required; a missing ``token_type`` is taken as ``Bearer``
    (some providers omit it); a missing ``expires_in`` means ``default_expires_in`` (a
    provider whose tokens expire without saying when); a missing ``scope`` means the
    requested scopes; ``scope`` is split on spaces and on commas, whichever the provider
    uses (several grant with commas what was asked with spaces)."""
    if not isinstance(payload, Mapping):
        raise InvalidTokenResponse("the response is not a JSON object")
    if path is not None:
        for segment in path.split("."):
            nested = payload.get(segment)
            if not isinstance(nested, Mapping):
                raise InvalidTokenResponse(f"the response has no object at {path}")
            payload = nested
    access_token = _token(payload, "access_token")
    if access_token is None:
        raise InvalidTokenResponse("access_token is missing")
    token_type = _token(payload, "token_type") or "Bearer"
    expires_in = _expires_in(payload.get("expires_in")) or default_expires_in
    raw_scope = payload.get("scope")
    if raw_scope is None or raw_scope == "":
        scopes = requested_scopes
    elif isinstance(raw_scope, str):
        scopes = tuple(dict.fromkeys(s for s in re.split(r"[ ,]+", raw_scope) if s))
    elif isinstance(raw_scope, list) and all(isinstance(s, str) for s in raw_scope):
        scopes = tuple(dict.fromkeys(s for s in raw_scope if s))
    else:
        raise InvalidTokenResponse("scope is neither a string nor a list of strings")
    return TokenSet(
        access_token=access_token,
        token_type=token_type,
        refresh_token=_token(payload, "refresh_token"),
        expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
        scopes=scopes,
        lifetime_seconds=expires_in,
    )


def _clean(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    text = value if _ERROR_TEXT.fullmatch(value) else re.sub(r"[^\x20-\x7e]", "?", value)
    return text[:limit]


def read_token_error(payload: object) -> TokenError | None:
    """The RFC 6749 §5.2 error in a response body, if there is one; ``"ok": false`` without
    an ``error`` (a provider's own convention) counts as ``invalid_request``."""
    if not isinstance(payload, Mapping):
        return None
    error = _clean(payload.get("error"), 100)
    if error is None and payload.get("ok") is False:
        return TokenError("invalid_request", "the provider answered ok: false")
    if error is None:
        return None
    return TokenError(error=error, description=_clean(payload.get("error_description"), 500))


def needs_refresh(expires_at: datetime | None, now: datetime, margin: timedelta) -> bool:
    """A token without an expiry is used until the provider says otherwise."""
    return expires_at is not None and now + margin >= expires_at


def refresh_margin(configured: timedelta, lifetime_seconds: int | None) -> timedelta:
    """How long before its expiry a token is refreshed: the configured margin, but never more
    than half the lifetime the provider granted. A margin longer than the lifetime would make
    every caller, even right after a refresh, see a token "about to expire" and refresh it
    again; with half the lifetime, a token is refreshed once per lifetime."""
    if lifetime_seconds is None:
        return configured
    return min(configured, timedelta(seconds=lifetime_seconds) / 2)


def refresh_backoff(failures: int, base: timedelta, cap: timedelta) -> timedelta:
    """How long to hold refreshing back after ``failures`` consecutive failures: ``base``
    doubled each time, at most ``cap``."""
    if failures <= 0:
        return timedelta(0)
    return min(cap, base * (1 << min(failures - 1, 30)))
