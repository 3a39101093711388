"""Loopback simulations of real providers' authorize and token endpoints, each behaving as
that provider's own documentation says (the page is the catalogue entry's ``docsUrl``).

A profile is written from the documentation, independently of the catalogue: if a template
forgot a setting its provider needs (a parameter without which no refresh token comes, the
JSON body, the client authentication), the connection made through it fails here.
"""

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit


@dataclass(frozen=True)
class Profile:
    """``auth``: how the client must authenticate (``basic``, ``post``, ``none``);
    ``body``: ``form`` or ``json``; ``errors``: ``rfc`` (HTTP 400), ``200`` (HTTP 200 with
    ``error``) or ``ok`` (HTTP 200 with ``ok: false``); ``refresh``: when a refresh token is
    issued (``always``, ``never``, ``offline_access`` scope, or with ``refresh_params`` on
    the authorize URL); ``required``: authorize parameters without which it refuses."""

    auth: str
    body: str = "form"
    errors: str = "rfc"
    granted_separator: str = " "
    expires_in: int | None = 3600
    nest: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    callback_extra: dict[str, str] = field(default_factory=dict)
    refresh: str = "always"
    refresh_params: dict[str, str] = field(default_factory=dict)
    refuses_offline_access: bool = False
    required: dict[str, str] = field(default_factory=dict)
    pkce_required: bool = False
    success_flag: bool = False  # adds "ok": true, as Slack does
    # What the documentation says a connection needs kept (response paths, callback params).
    needs: tuple[str, ...] = ()


PROFILES: dict[str, Profile] = {
    # Basic client authentication with a secret; PKCE S256 required.
    "airtable": Profile(auth="basic", pkce_required=True, expires_in=3600),
    # Credentials in the body; the response carries the user under "data".
    "asana": Profile(
        auth="post", extra={"data": {"gid": "1201", "name": "Ada"}}, needs=("data.gid",)
    ),
    # JSON token requests; audience and prompt=consent required; refresh with offline_access.
    "atlassian": Profile(
        auth="post",
        body="json",
        refresh="offline_access",
        required={"audience": "api.atlassian.com", "prompt": "consent"},
    ),
    "box": Profile(auth="post", expires_in=3600),
    "calendly": Profile(
        auth="post",
        expires_in=7200,
        extra={
            "owner": "https://api.calendly.com/users/U1",
            "organization": "https://api.calendly.com/organizations/O1",
        },
        needs=("owner", "organization"),
    ),
    # Refresh tokens only with token_access_type=offline.
    "dropbox": Profile(
        auth="basic",
        expires_in=14400,
        refresh="params",
        refresh_params={"token_access_type": "offline"},
        extra={"account_id": "dbid:AAH4"},
        needs=("account_id",),
    ),
    # HTTP 200 with an error; scopes granted comma-separated; OAuth app tokens never expire.
    "github": Profile(
        auth="post", errors="200", granted_separator=",", expires_in=None, refresh="never"
    ),
    "gitlab": Profile(auth="post", expires_in=7200),
    # Refresh tokens only with access_type=offline and prompt=consent; no offline_access.
    "google": Profile(
        auth="post",
        expires_in=3599,
        refresh="params",
        refresh_params={"access_type": "offline", "prompt": "consent"},
        refuses_offline_access=True,
    ),
    "hubspot": Profile(auth="post", expires_in=1800, refuses_offline_access=True),
    "intercom": Profile(auth="post", expires_in=None, refresh="never"),
    # Comma-separated scopes; refresh tokens by default since April 2026.
    "linear": Profile(auth="post", granted_separator=",", expires_in=86399),
    "microsoft": Profile(auth="post", expires_in=3599, refresh="offline_access"),
    # JSON body with Basic authentication; owner=user; tokens do not expire.
    "notion": Profile(
        auth="basic",
        body="json",
        expires_in=None,
        refresh="never",
        required={"owner": "user"},
        extra={"workspace_id": "ws-1", "bot_id": "bot-1", "workspace_name": "Acme"},
        needs=("workspace_id",),
    ),
    "pipedrive": Profile(
        auth="basic",
        expires_in=3599,
        extra={"api_domain": "https://acme.pipedrive.com"},
        needs=("api_domain",),
    ),
    # The company id arrives in the callback's query.
    "quickbooks": Profile(
        auth="basic", callback_extra={"realmId": "4620816365"}, needs=("realmId",)
    ),
    # No expires_in; instance_url and id in the response; refresh with offline_access.
    "salesforce": Profile(
        auth="post",
        expires_in=None,
        refresh="offline_access",
        extra={
            "instance_url": "https://acme.my.salesforce.com",
            "id": "https://login.salesforce.com/id/00D/005",
        },
        needs=("instance_url",),
    ),
    # ok: false with an error; comma-separated scopes; team and bot user in the response.
    "slack": Profile(
        auth="post",
        errors="ok",
        granted_separator=",",
        expires_in=None,
        refresh="never",
        success_flag=True,
        extra={"team": {"id": "T0123", "name": "Acme"}, "bot_user_id": "U0BOT"},
        needs=("team.id",),
    ),
    "xero": Profile(auth="basic", expires_in=1800, refresh="offline_access"),
    "zoom": Profile(auth="basic", expires_in=3599),
}


@dataclass
class Issued:
    scope: list[str]
    refresh: bool
    redirect_uri: str
    challenge: str | None


@dataclass
class Simulation:
    profile: Profile
    client_id: str = "sim-client"
    client_secret: str = "sim-secret"
    base_url: str = ""
    codes: dict[str, Issued] = field(default_factory=dict)
    refresh_tokens: dict[str, list[str]] = field(default_factory=dict)
    access_tokens: list[str] = field(default_factory=list)
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.base_url}/revoke"

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The redirect back (status, location) for an end user who consents."""
        profile = self.profile
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect:
            return 400, "unknown client"
        scope = [s for s in query.get("scope", "").split(" ") if s]

        def back(params: dict[str, str]) -> tuple[int, str]:
            return 302, f"{redirect}?{urlencode({**params, 'state': query.get('state', '')})}"

        missing = [k for k, v in profile.required.items() if query.get(k) != v]
        if missing:
            return back({"error": "invalid_request", "error_description": "missing " + missing[0]})
        if profile.refuses_offline_access and "offline_access" in scope:
            return back({"error": "invalid_scope"})
        if profile.pkce_required and query.get("code_challenge_method") != "S256":
            return back({"error": "invalid_request", "error_description": "PKCE required"})
        refresh = {
            "always": True,
            "never": False,
            "offline_access": "offline_access" in scope,
            "params": all(query.get(k) == v for k, v in profile.refresh_params.items()),
        }[profile.refresh]
        code = "code-" + secrets.token_urlsafe(8)
        self.codes[code] = Issued(scope, refresh, redirect, query.get("code_challenge"))
        return back({"code": code, **profile.callback_extra})

    def _client_ok(self, headers: dict[str, str], body: dict[str, str]) -> bool:
        auth = headers.get("authorization", "")
        if self.profile.auth == "basic":
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            return auth == "Basic " + expected.decode() and "client_secret" not in body
        if self.profile.auth == "post":
            return not auth and (body.get("client_id"), body.get("client_secret")) == (
                self.client_id,
                self.client_secret,
            )
        return not auth and body.get("client_id") == self.client_id

    def _error(self, error: str) -> tuple[int, dict[str, Any]]:
        if self.profile.errors == "ok":
            return 200, {"ok": False, "error": error}
        return (200 if self.profile.errors == "200" else 400), {"error": error}

    def _tokens(self, scope: list[str], refresh: bool) -> dict[str, Any]:
        access = "at-" + secrets.token_urlsafe(12)
        self.access_tokens.append(access)
        fields: dict[str, Any] = {"access_token": access, "token_type": "Bearer"}
        if self.profile.expires_in is not None:
            fields["expires_in"] = self.profile.expires_in
        if scope:
            fields["scope"] = self.profile.granted_separator.join(scope)
        if refresh:
            token = "rt-" + secrets.token_urlsafe(12)
            self.refresh_tokens[token] = scope
            fields["refresh_token"] = token
        answer: dict[str, Any] = {self.profile.nest: fields} if self.profile.nest else fields
        if self.profile.success_flag:
            answer["ok"] = True
        return {**answer, **self.profile.extra}

    def token(self, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any]]:
        content_type = headers.get("content-type", "")
        wants_json = self.profile.body == "json"
        if wants_json != content_type.startswith("application/json"):
            return 400, {"error": "invalid_request", "error_description": "wrong body format"}
        body = (
            {str(k): str(v) for k, v in json.loads(raw).items()}
            if wants_json
            else dict(parse_qsl(raw.decode()))
        )
        with self.lock:
            self.token_requests.append({"headers": headers, "body": body})
        if not self._client_ok(headers, body):
            return 401, {"error": "invalid_client"}
        if body.get("grant_type") == "authorization_code":
            issued = self.codes.pop(body.get("code", ""), None)
            if issued is None or body.get("redirect_uri") != issued.redirect_uri:
                return self._error("invalid_grant" if self.profile.errors == "rfc" else "bad_code")
            if issued.challenge is not None:
                verifier = body.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued.challenge:
                    return self._error("invalid_grant")
            return 200, self._tokens(issued.scope, issued.refresh)
        if body.get("grant_type") == "refresh_token":
            scope = self.refresh_tokens.get(body.get("refresh_token", ""))
            if scope is None or body.get("refresh_token") in self.revoked:
                return self._error("invalid_grant")
            return 200, self._tokens(scope, False)  # the refresh token stays valid
        return self._error("unsupported_grant_type")


class RunningSimulation:
    def __init__(self, profile: Profile) -> None:
        self.simulation = Simulation(profile)
        simulation = self.simulation

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/authorize":
                    self._answer(404, {})
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                status, location = simulation.authorize(query)
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if self.path == "/revoke":
                    form = dict(parse_qsl(raw.decode()))
                    with simulation.lock:
                        simulation.revoked.append(form.get("token", ""))
                    self._answer(200, {})
                    return
                self._answer(*simulation.token(headers, raw))

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        simulation.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
