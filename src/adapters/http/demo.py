"""``GET /demo``: a page that walks a developer through the whole flow in a browser.

On by default in development, off in production (EMBED_OAUTH_DEMO). It is a plain client of
the public API: the developer pastes an API key, which stays in that browser tab.
"""

from pathlib import Path
from typing import Any

from litestar import Response, get

from adapters.http.pages import html_response, new_nonce, page_headers

_PAGE = (Path(__file__).parent / "static" / "demo.html").read_text(encoding="utf-8")


@get("/demo", tags=["demo"], security=[], include_in_schema=False)
async def demo_page() -> Response[Any]:
    nonce = new_nonce()
    body = _PAGE.replace("{{NONCE}}", nonce)
    return html_response(body, 200, page_headers(nonce, connect_self=True))
