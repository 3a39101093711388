"""Headless Debian Chromium for the browser tests, driven by Playwright."""

import os
import shutil

import pytest

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
