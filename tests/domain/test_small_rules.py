"""PKCE, origins, identifiers, API keys, state claims and form encoding."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.api_keys import format_api_key, hash_api_key
from domain.form_encoding import MalformedFormData, decode_component, encode_component, parse_form
from domain.identifiers import time_ordered_id
from domain.origins import InvalidOrigin, normalise_origin
from domain.pkce import s256_challenge
from domain.provider_settings import pick_metadata
from domain.state import StateClaims, state_binding


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.mark.parametrize("verifier", ["short", "x" * 129, "has space" + "x" * 40, "é" * 43])
def test_pkce_refuses_verifiers_outside_rfc_7636(verifier: str) -> None:
    with pytest.raises(ValueError, match="43 to 128"):
        s256_challenge(verifier)


@pytest.mark.parametrize(
    ("raw", "origin"),
    [
        ("https://App.Example.com", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("https://app.example.com/", "https://app.example.com"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("https://[::1]:9000", "https://[::1]:9000"),
        ("https://[0:0:0:0:0:0:0:1]", "https://[::1]"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("HTTPS://APP.example.com", "https://app.example.com"),
    ],
)
def test_origins_are_normalised_as_browsers_spell_them(raw: str, origin: str) -> None:
    assert normalise_origin(raw) == origin


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "*",
        "app.example.com",
        "http://app.example.com",
        "https://app.example.com/path",
        "https://app.example.com?q=1",
        "https://app.example.com#f",
        "https://u@app.example.com",
        "https://app.example.com:99999",
        "https://[::zz]",
        "ftp://app.example.com",
        "https://evil.com\\.good.com",
        "https://%65vil.com",
        'https://a"b.com',
        "https://x<y>",
        "https://app.example.com:0",
        "https://*.example.com",
        "https://app.example.com.",
        "https://127.1",
        "https://0x7f.0.0.1",
        "https://2130706433",
        "https://01.02.03.04",
        "https://a_b.example.com",
        "https://-a.example.com",
        "https://app.example.com:",
        "https://app.example.com:+443",
    ],
)
def test_non_origins_are_refused(raw: str) -> None:
    with pytest.raises(InvalidOrigin):
        normalise_origin(raw)


def test_in_production_http_loopback_origins_are_refused() -> None:
    assert normalise_origin("http://localhost:3000") == "http://localhost:3000"
    with pytest.raises(InvalidOrigin, match="in development"):
        normalise_origin("http://localhost:3000", allow_loopback_http=False)
    assert normalise_origin("https://localhost:3000", allow_loopback_http=False)


def test_time_ordered_ids_are_uuid7_and_sort_by_time() -> None:
    first = time_ordered_id(1_700_000_000_000, bytes(10))
    later = time_ordered_id(1_700_000_000_001, b"\xff" * 10)
    assert uuid.UUID(first).version == 7
    assert uuid.UUID(first).variant == uuid.RFC_4122
    assert first < later


def test_api_keys_are_long_random_and_hashed() -> None:
    key = format_api_key(b"\x01" * 32)
    assert key.startswith("eo_")
    assert len(key) == 3 + 43
    assert hash_api_key(key) != hash_api_key(format_api_key(b"\x02" * 32))
    assert len(hash_api_key(key)) == 32


def claims(expires_at: datetime) -> StateClaims:
    return StateClaims(
        state_id=b"\x00" * 16,
        organisation_id="o",
        hub_id="h",
        connector_id="c",
        credential_id="k",
        binding=state_binding("client", "https://x/cb"),
        scopes=("a",),
        expires_at=expires_at,
    )


def test_state_expires_at_its_expiry_instant() -> None:
    expiry = datetime(2026, 1, 1, tzinfo=UTC)
    assert not claims(expiry).is_expired(expiry - timedelta(seconds=1))
    assert claims(expiry).is_expired(expiry)


def test_state_binding_covers_client_id_and_redirect_uri() -> None:
    c = claims(datetime(2026, 1, 1, tzinfo=UTC))
    assert c.is_bound_to("client", "https://x/cb")
    assert not c.is_bound_to("other", "https://x/cb")
    assert not c.is_bound_to("client", "https://y/cb")
    assert state_binding("a\x00b", "c") != state_binding("a", "b\x00c")


def test_form_decoding_turns_plus_into_space_and_keeps_order() -> None:
    assert parse_form("a=1+2&b=%2B&a=3&&") == [("a", "1 2"), ("b", "+"), ("a", "3")]


@pytest.mark.parametrize("bad", ["%", "%g0", "%0", "x%ZZ"])
def test_bad_percent_escapes_are_refused(bad: str) -> None:
    with pytest.raises(MalformedFormData):
        decode_component(bad)


@given(st.text(st.characters(codec="utf-8", exclude_categories=["Cs"])))
def test_encoding_then_decoding_gives_back_the_text(text: str) -> None:
    assert decode_component(encode_component(text)) == text


def test_metadata_is_read_by_path_from_responses_and_by_name_from_callbacks() -> None:
    response = {"team": {"id": "T1"}, "instance_url": "https://x.example", "n": 3, "t": True}
    kept, missing = pick_metadata(
        response, ("team.id", "instance_url", "n", "t", "absent"), dotted=True
    )
    assert kept == (
        ("team.id", "T1"),
        ("instance_url", "https://x.example"),
        ("n", "3"),
        ("t", "true"),
    )
    assert missing == ["absent"]
    query = {"realm.id": "42", "realmId": "7"}
    assert pick_metadata(query, ("realm.id", "realmId"), dotted=False) == (
        (("realm.id", "42"), ("realmId", "7")),
        [],
    )
    assert pick_metadata(query, ("realm.id",), dotted=True) == ((), ["realm.id"])
