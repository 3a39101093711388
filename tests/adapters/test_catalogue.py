"""The packaged provider catalogue: it loads, and an entry breaking a rule is refused at
start, named with its field."""

import json

import pytest

from adapters.catalogue.packaged import InvalidCatalogue, PackagedCatalogue, parse_catalogue


def entry(**fields: object) -> dict[str, object]:
    return {
        "id": "acme",
        "name": "Acme",
        "docsUrl": "https://docs.acme.example/oauth",
        "authorizeUrl": "https://acme.example/authorize",
        "tokenUrl": "https://acme.example/token",
        "notes": "n",
        **fields,
    }


def test_the_packaged_catalogue_loads_with_every_template_checked() -> None:
    catalogue = PackagedCatalogue.load()
    ids = [t.id for t in catalogue.all()]
    assert ids == sorted(ids)
    assert len(ids) >= 20
    google = catalogue.get("google")
    assert google is not None
    assert dict(google.settings.authorize_params) == {"access_type": "offline"}
    assert google.settings.provider == "google"
    assert catalogue.get("nope") is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tokenUrl": "http://acme.example/token"}, "acme: tokenUrl must use https"),
        ({"metadataFields": ["refresh_token"]}, "acme: metadataFields[0] is named like a secret"),
        ({"authorizeParams": {"state": "x"}}, "acme: authorizeParams.state 'state' is set by"),
        ({"tokenAuthMethod": "none", "pkce": False}, "acme: pkce must be on"),
        ({"unknown": 1}, "malformed"),
    ],
)
def test_a_broken_entry_is_refused_naming_it(fields: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCatalogue, match=message.replace(".", r"\.").replace("[", r"\[")):
        parse_catalogue(json.dumps([entry(**fields)]).encode())


def test_entries_are_unique_and_sorted() -> None:
    with pytest.raises(InvalidCatalogue, match="sorted by id"):
        parse_catalogue(json.dumps([entry(id="b"), entry(id="a")]).encode())
