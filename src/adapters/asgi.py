"""Entry point for the ASGI server's worker processes: the app, configured from the environment."""

import os

from litestar import Litestar

from adapters.bootstrap import create_app
from adapters.settings import Settings


def app_from_environment() -> Litestar:
    return create_app(Settings.from_env(os.environ))
