"""Headless Debian Chromium for the browser tests, driven by Playwright."""

import os
import shutil
from typing import Any

import pytest

from tests.support.oauth_provider import PASSWORD, USERNAME

CHROMIUM = os.environ.get("EMBED_OAUTH_TEST_CHROMIUM") or shutil.which("chromium") or ""
needs_chromium = pytest.mark.skipif(
    not CHROMIUM,
    reason="no Chromium found (make test installs Debian's chromium where apt-get can), "
    "so the browser test is skipped",
)
# As this machine's notes advise: no sandbox as root, and no background traffic to the internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def consent_in(popup: Any, decision: str = "allow") -> None:
    """At the tests' provider, in the popup: sign in, then allow or deny."""
    popup.wait_for_selector("#username")
    popup.fill("#username", USERNAME)
    popup.fill("#password", PASSWORD)
    popup.click(f"#{decision}")
