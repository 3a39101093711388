"""``GET /oauth2/callback/{organisation_id}``: where providers send the end user back (each
organisation's ``redirect_uri``)."""

import html
from typing import Annotated, Any

from litestar import MediaType, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from adapters.http.dependencies import UseCases
from adapters.http.pages import html_response, json_for_html, new_nonce, page_headers
from application.callback import CallbackParams, CallbackResult

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style nonce="{nonce}">
body {{ font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem;
       color: #1f2328; line-height: 1.5 }}
h1 {{ font-size: 1.3rem }}
</style>
</head>
<body>
<h1>{title}</h1>
<p id="summary">{summary}</p>
<script type="application/json" id="result" nonce="{nonce}">{result}</script>
<script nonce="{nonce}">
(function () {{
  var result = JSON.parse(document.getElementById("result").textContent);
  if (!window.opener || result.origins.length === 0) {{ return; }}
  var query = new URLSearchParams(window.location.search);
  if (result.codeFromUrl) {{
    result.message.code = query.get("code");
  }}
  if (result.paramsFromUrl.length) {{
    result.message.callbackParams = {{}};
    result.paramsFromUrl.forEach(function (name) {{
      if (query.get(name) !== null) {{ result.message.callbackParams[name] = query.get(name); }}
    }});
  }}
  result.origins.forEach(function (origin) {{
    try {{ window.opener.postMessage(result.message, origin); }} catch (e) {{}}
  }});
  window.close();
}})();
</script>
</body>
</html>
"""


MAX_QUERY_VALUE = 4096


def _query(name: str) -> Any:
    """Lengths are checked by the route, so that even a refusal is the callback's page."""
    return QueryParameter(
        name=name, required=False, description=f"At most {MAX_QUERY_VALUE} characters"
    )


@get(
    "/oauth2/callback/{organisation:str}",
    media_type=MediaType.HTML,
    responses={
        400: ResponseSpec(
            data_container=str,
            media_type=MediaType.HTML,
            description="A page saying why the connection could not be completed",
        )
    },
    tags=["connect"],
    security=[],
    summary="The redirect_uri: hands the authorization result to the embedding page",
    include_in_schema=True,
)
async def oauth2_callback(
    *,
    services: UseCases,
    organisation: FromPath[str],
    oauth_state: Annotated[str | None, _query("state")] = None,
    code: Annotated[str | None, _query("code")] = None,
    iss: Annotated[str | None, _query("iss")] = None,
    error: Annotated[str | None, _query("error")] = None,
    error_description: Annotated[str | None, _query("error_description")] = None,
) -> Response[Any]:
    """Answers with a small page that posts `{code, state}` (with `callbackParams` when the
    connector keeps some; or `{error, errorDescription, state}`) to `window.opener`,
    addressed only to the hub's allowed origins, then closes. The state is checked here but
    consumed only when the connection is created."""
    values = (oauth_state, code, iss, error, error_description)
    if any(value is not None and len(value) > MAX_QUERY_VALUE for value in values):
        return _page(
            CallbackResult(False, "The provider's answer is not valid: a value is too long.")
        )
    result = await services.callback(
        CallbackParams(
            organisation_id=organisation,
            state=oauth_state or None,
            code=code or None,
            iss=iss or None,
            error=error or None,
            error_description=error_description or None,
        )
    )
    return _page(result)


def _page(result: CallbackResult) -> Response[Any]:
    nonce = new_nonce()
    title = "Connected" if result.ok else "The connection could not be completed"
    body = _PAGE.format(
        title=html.escape(title),
        summary=html.escape(result.summary),
        nonce=nonce,
        result=json_for_html(
            {
                "origins": list(result.origins),
                "message": result.message,
                "codeFromUrl": result.code_from_url,
                "paramsFromUrl": list(result.params_from_url),
            }
        ),
    )
    return html_response(body, 200 if result.ok else 400, page_headers(nonce))


@get(
    "/oauth2/callback",
    media_type=MediaType.HTML,
    include_in_schema=False,
    status_code=404,
)
async def oauth2_callback_without_organisation() -> Response[Any]:
    """The redirect URI names its organisation; an old or mistyped one gets a page saying so."""
    nonce = new_nonce()
    body = _PAGE.format(
        title="Not found",
        summary=html.escape(
            "This redirect URI names no organisation. Register the one GET /organisation "
            "returns (…/oauth2/callback/{organisation_id}) with your provider."
        ),
        nonce=nonce,
        result=json_for_html({"origins": [], "message": {}, "codeFromUrl": False}),
    )
    return html_response(body, 404, page_headers(nonce))
