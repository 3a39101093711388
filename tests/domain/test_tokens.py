"""Token responses (RFC 6749 §5.1, §5.2), refresh timing, and the RFC 9207 issuer rule."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.model import Connector, TokenAuthMethod
from domain.scopes import ScopeSeparator
from domain.tokens import (
    InvalidTokenResponse,
    needs_refresh,
    read_token_error,
    read_token_response,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def read(payload: object) -> object:
    return read_token_response(payload, requested_scopes=("a", "b"), now=NOW)


def test_a_full_response_is_read() -> None:
    tokens = read_token_response(
        {
            "access_token": "at",
            "token_type": "bearer",
            "expires_in": 3600,
            "refresh_token": "rt",
            "scope": "a c",
        },
        requested_scopes=("a", "b"),
        now=NOW,
    )
    assert tokens.access_token == "at"
    assert tokens.token_type == "bearer"
    assert tokens.refresh_token == "rt"
    assert tokens.expires_at == NOW + timedelta(hours=1)
    assert tokens.scopes == ("a", "c")


def test_missing_scope_means_the_requested_ones_and_missing_type_means_bearer() -> None:
    tokens = read_token_response({"access_token": "at"}, requested_scopes=("a", "b"), now=NOW)
    assert tokens.scopes == ("a", "b")
    assert tokens.token_type == "Bearer"
    assert tokens.expires_at is None
    assert tokens.refresh_token is None


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("x,y", ("x", "y")),
        ("x, y", ("x", "y")),
        ("x y x", ("x", "y")),
        (["x", "y"], ("x", "y")),
    ],
)
def test_scope_is_split_on_spaces_and_commas_whatever_was_asked(
    scope: object, expected: tuple[str, ...]
) -> None:
    tokens = read_token_response(
        {"access_token": "at", "scope": scope}, requested_scopes=(), now=NOW
    )
    assert tokens.scopes == expected


@pytest.mark.parametrize("expires_in", ["3600", 3600.0, " 60 "])
def test_numeric_strings_and_whole_floats_are_accepted_as_expiry(expires_in: object) -> None:
    tokens = read_token_response(
        {"access_token": "at", "expires_in": expires_in},
        requested_scopes=(),
        now=NOW,
    )
    assert tokens.expires_at is not None
    assert tokens.expires_at > NOW


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        "text",
        {},
        {"access_token": ""},
        {"access_token": 5},
        {"access_token": "a\nb"},
        {"access_token": "at", "expires_in": -1},
        {"access_token": "at", "expires_in": True},
        {"access_token": "at", "expires_in": "soon"},
        {"access_token": "at", "scope": 5},
        {"access_token": "x" * 40_000},
    ],
)
def test_unusable_responses_are_refused(payload: object) -> None:
    with pytest.raises(InvalidTokenResponse):
        read(payload)


def test_errors_are_read_and_cleaned() -> None:
    error = read_token_error({"error": "invalid_grant", "error_description": "Bad\ncode"})
    assert error is not None
    assert error.error == "invalid_grant"
    assert error.description == "Bad?code"
    assert read_token_error({"access_token": "x"}) is None
    assert read_token_error("nope") is None
    long = read_token_error({"error": "e" * 500})
    assert long is not None
    assert len(long.error) == 100


def test_refresh_is_due_within_the_margin_and_never_without_expiry() -> None:
    margin = timedelta(seconds=60)
    assert needs_refresh(NOW + timedelta(seconds=60), NOW, margin)
    assert not needs_refresh(NOW + timedelta(seconds=61), NOW, margin)
    assert needs_refresh(NOW - timedelta(seconds=1), NOW, margin)
    assert not needs_refresh(None, NOW, margin)


def connector(issuer: str | None, supported: bool = True) -> Connector:
    return Connector(
        id="c",
        hub_id="h",
        name="n",
        token_url="https://p.example/t",
        scope_separator=ScopeSeparator.SPACE,
        pkce=True,
        token_auth_method=TokenAuthMethod.CLIENT_SECRET_BASIC,
        created_at=NOW,
        issuer=issuer,
        iss_parameter_supported=supported,
    )


@pytest.mark.parametrize(
    ("issuer", "supported", "iss", "accepted"),
    [
        (None, True, None, True),
        (None, True, "https://anything.example", True),
        ("https://p.example", True, "https://p.example", True),
        ("https://p.example", True, "https://evil.example", False),
        ("https://p.example", True, None, False),
        ("https://p.example", False, None, True),
        ("https://p.example", False, "https://evil.example", False),
    ],
)
def test_issuer_rule_of_rfc_9207(
    issuer: str | None, supported: bool, iss: str | None, accepted: bool
) -> None:
    assert connector(issuer, supported).accepts_issuer(iss) is accepted
