"""Entry point for the ASGI server's worker processes: the app, configured from the environment."""

import gc
import os

from litestar import Litestar

from adapters.bootstrap import create_app
from adapters.observability import configure_logging, use_multiprocess_metrics_if_configured
from adapters.settings import Settings


def app_from_environment() -> Litestar:
    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    use_multiprocess_metrics_if_configured()
    app = create_app(settings)
    # Objects made at start-up live as long as the worker: keep the collector from walking
    # them on every full collection (measured: those walks were the initialise p99 tail).
    gc.freeze()
    return app
