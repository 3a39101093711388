"""``/schema``: the API reference, rendered here from the OpenAPI document, with no script
and nothing loaded from elsewhere: it works offline, and no third-party code ever runs on
the origin that serves the callback page."""

import html
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

_METHODS = ("get", "post", "put", "patch", "delete")
# Inline styles only; no script may run at all.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1f2328; line-height: 1.45 }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; margin-top: 2rem }
.op { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem .9rem; margin: .8rem 0 }
.m { font-weight: 700; font-family: ui-monospace, monospace; text-transform: uppercase;
     margin-right: .5rem }
code, .p { font-family: ui-monospace, monospace }
.note { color: #57606a; font-size: .9rem }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _schema_name(content: dict[str, Any] | None) -> str:
    if not content:
        return ""
    for media in content.values():
        schema = media.get("schema", {})
        ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
        if ref:
            return str(ref).rsplit("/", 1)[-1]
        return str(schema.get("type", ""))
    return ""


def _answer(status: str, answer: dict[str, Any]) -> str:
    name = _schema_name(answer.get("content"))
    shape = f" (<code>{_e(name)}</code>)" if name else ""
    return f"<li><code>{_e(status)}</code> {_e(answer.get('description', ''))}{shape}</li>"


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    parts = [
        f'<div class="op"><span class="m">{_e(method)}</span><span class="p">{_e(path)}</span>',
        f"<p>{_e(op.get('summary', ''))}</p>",
    ]
    if op.get("description"):
        parts.append(f'<p class="note">{_e(op["description"])}</p>')
    params = op.get("parameters", [])
    if params:
        items = "".join(
            f"<li><code>{_e(p.get('name'))}</code> ({_e(p.get('in'))}"
            f"{', required' if p.get('required') else ''})</li>"
            for p in params
        )
        parts.append(f"<p>Parameters:</p><ul>{items}</ul>")
    body = _schema_name(op.get("requestBody", {}).get("content"))
    if body:
        parts.append(f"<p>Body: <code>{_e(body)}</code></p>")
    answers = "".join(
        _answer(status, answer) for status, answer in sorted(op.get("responses", {}).items())
    )
    parts.append(f"<p>Responses:</p><ul>{answers}</ul></div>")
    return "".join(parts)


def render_reference(openapi: dict[str, Any], json_url: str) -> str:
    info = openapi.get("info", {})
    by_tag: dict[str, list[str]] = {}
    for path, item in openapi.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["other"])[0]
                by_tag.setdefault(tag, []).append(_operation(path, method, op))
    sections = "".join(f"<h2>{_e(tag)}</h2>{''.join(ops)}" for tag, ops in sorted(by_tag.items()))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(info.get('title', 'API'))} API</title><style>{_STYLE}</style></head><body>"
        f"<h1>{_e(info.get('title', 'API'))} {_e(info.get('version', ''))}</h1>"
        f"<p>{_e(info.get('description', ''))}</p>"
        f'<p class="note">The machine-readable schema: <a href="{_e(json_url)}">{_e(json_url)}</a>'
        " (OpenAPI 3.1). Send <code>Authorization: Bearer &lt;token&gt;</code>.</p>"
        f"{sections}</body></html>"
    )


class OfflineReferencePlugin(OpenAPIRenderPlugin):
    def __init__(self) -> None:
        super().__init__(path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return render_reference(openapi_schema, self.get_openapi_json_route(request)).encode()
