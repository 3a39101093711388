"""The README's curl walk-through, pasted into a shell against a running service."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from adapters.crypto.keyring import generate_key_spec
from tests.support.processes import free_port, serving

pytestmark = pytest.mark.slow
README = Path(__file__).parents[2] / "README.md"


def test_the_curl_walk_through_runs_as_pasted(tmp_path: Path) -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    (walk_through,) = [b for b in blocks if "curl" in b]
    port = free_port()
    env = {
        "EMBED_OAUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'readme.sqlite3'}",
        "EMBED_OAUTH_ENCRYPTION_KEYS": generate_key_spec(),
        "EMBED_OAUTH_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    script = walk_through.replace("API=http://127.0.0.1:8000", f"API=http://127.0.0.1:{port}")
    with serving(env, port):
        done = subprocess.run(
            [shutil.which("bash") or "/bin/bash", "-euo", "pipefail", "-c", script],
            cwd=README.parent,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    organisation, authorize, session = (json.loads(line) for line in done.stdout.splitlines())
    assert (
        organisation["redirectUri"]
        == f"http://127.0.0.1:{port}/oauth2/callback/{organisation['id']}"
    )
    assert authorize["url"].startswith("https://crm.example.com/oauth/authorize?")
    assert set(session) == {"token", "expiresAt"}
