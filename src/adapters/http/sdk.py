"""``GET /sdk/embed-oauth.js``: the browser SDK, as an ES module any page may import.

The source lives in ``sdk/js/`` (an npm package with its own tests); the package's static
folder links to it, so the service serves exactly the file those tests cover.
"""

from pathlib import Path
from typing import Any

from litestar import Response, get

SDK_PATH = "/sdk/embed-oauth.js"
_SOURCE = (Path(__file__).parent / "static" / "embed-oauth.js").read_bytes()
_HEADERS = {
    # A module script from another origin is fetched with CORS; the file is public.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Cache-Control": "public, max-age=300",
}


@get(SDK_PATH, tags=["connect"], security=[], include_in_schema=False)
async def sdk_module() -> Response[Any]:
    return Response(content=_SOURCE, media_type="text/javascript", headers=_HEADERS)
