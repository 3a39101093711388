"""Shared helpers for the HTML pages the service serves (callback, demo)."""

import json
import secrets
from typing import Any

from litestar import MediaType, Response


def page_headers(nonce: str, connect_self: bool = False) -> dict[str, str]:
    """No caching, no framing, no referrer, and only our own nonce-tagged scripts and styles;
    with ``connect_self``, the page may also call this service and import its SDK module."""
    connect = " connect-src 'self';" if connect_self else ""
    scripts = f"'nonce-{nonce}' 'self'" if connect_self else f"'nonce-{nonce}'"
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": (
            f"default-src 'none'; script-src {scripts}; style-src 'nonce-{nonce}';{connect} "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
    }


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def json_for_html(value: object) -> str:
    """JSON that can sit inside a <script> element without ever closing it."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html_response(body: str, status: int, headers: dict[str, str]) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.HTML, headers=headers)
