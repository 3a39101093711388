"""The service as users run it: `embed-oauth serve` in its own process, over a real socket."""

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.processes import create_organisation, free_port, serving

pytestmark = pytest.mark.slow


def test_served_app_creates_everything_and_initialises(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.sqlite3'}",
        "EMBED_OAUTH_DEVELOPMENT_KEY_FILE": str(tmp_path / "keys"),
        "EMBED_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    with serving(env, port) as base:
        org = create_organisation(env)
        headers = {"Authorization": f"Bearer {org['apiKey']}"}
        with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
            assert client.get("/health/ready").json() == {"status": "ok"}
            credential = client.post(
                "/credentials", json={"name": "c", "clientId": "cid", "clientSecret": "sec"}
            ).json()
            hub = client.post("/hubs", json={"name": "h"}).json()
            connector = client.post(
                f"/hubs/{hub['id']}/connectors",
                json={"name": "p", "tokenUrl": "https://p.example/t"},
            ).json()
            response = client.post(
                f"/embed/{hub['id']}/connector/{connector['id']}/oauth2/initialise",
                json={
                    "authorizeUrl": "https://p.example/authorize",
                    "clientId": "cid",
                    "credential": {"id": credential["id"], "organisationId": org["organisationId"]},
                },
            )
    assert response.status_code == 200, response.text
    query = parse_qs(urlsplit(response.json()["url"]).query)
    assert query["redirect_uri"] == [f"{base}/oauth2/callback/{org['organisationId']}"]
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o600
