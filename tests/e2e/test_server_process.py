"""The service as users run it: `embed-oauth serve` in its own process, over a real socket."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.sqlite3'}",
        "EMBED_OAUTH_DEVELOPMENT_KEY_FILE": str(tmp_path / "keys"),
        "EMBED_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"the server did not start:\n{output}")
            time.sleep(0.1)
        yield base, env
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def test_served_app_creates_everything_and_initialises(
    server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = server
    created = subprocess.run(
        [sys.executable, "-m", "adapters.cli", "organisations", "create", "--name", "Acme"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    org = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {org['apiKey']}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        assert client.get("/health/ready").json() == {"status": "ok"}
        credential = client.post(
            "/credentials", json={"name": "c", "clientId": "cid", "clientSecret": "sec"}
        ).json()
        hub = client.post("/hubs", json={"name": "h"}).json()
        connector = client.post(
            f"/hubs/{hub['id']}/connectors", json={"name": "p", "tokenUrl": "https://p.example/t"}
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
    assert query["redirect_uri"] == [f"{base}/oauth2/callback"]
    key_file = tmp_path / "keys"
    assert key_file.stat().st_mode & 0o777 == 0o600
