"""A real OAuth 2.0 authorization server for trying the service locally and for its tests,
built with Authlib (``embed-oauth dev-provider``; development only).

It runs on loopback in a thread. It has a login and consent page, the authorization-code
grant (with PKCE when the client sends a challenge), refresh tokens with rotation, both client
authentication methods, token revocation (RFC 7009), its metadata (RFC 8414), and optionally
``iss`` in its authorization responses (RFC 9207). It records every token request, and its
faults can be switched on (slow answers, refusals, grants revoked on reuse, a failing
revocation) to see how the service copes.

Flask and Authlib come with the ``dev`` extra, not with the service.
"""

import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, Response, request
from markupsafe import escape
from werkzeug.serving import make_server

# Authlib refuses plain-http redirect URIs unless told this is a local test set-up.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

USERNAME, PASSWORD = "alice", "wonderland"


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uri: str
    auth_method: str
    scope: str = "openid profile contacts.read contacts.write offline_access"

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.scope.split())
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint not in ("token", "revocation") or method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token:
    client_id: str
    access_token: str
    refresh_token: str | None
    scope: str
    user: str
    issued_at: float
    expires_in: int
    revoked: bool = False
    grant: str = ""  # the tokens issued from one authorization share it

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return False  # refresh tokens do not expire here

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> str:
        return self.user


@dataclass
class TokenRequestRecord:
    grant_type: str
    basic_auth: bool
    form: dict[str, str]


@dataclass
class Provider:
    """The server's state. Tests change ``expires_in``, ``send_iss`` or ``iss_value``."""

    base_url: str = ""
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    token_requests: list[TokenRequestRecord] = field(default_factory=list)
    expires_in: int = 3600
    send_iss: bool = False
    iss_value: str | None = None
    token_delay: float = 0.0
    # Every refresh answers at least this late: a slow provider widens the window for
    # duplicate refreshes, which the tests of single-flight refreshing rely on.
    refresh_latency: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # As strict providers do: presenting a rotated refresh token again revokes the grant.
    reuse_revokes_grant: bool = False
    revoked_grants: list[str] = field(default_factory=list)
    # Answers for the next refresh requests instead of processing them: (status, headers).
    refresh_faults: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Rotate, then wait this long before answering: a response the caller may never read.
    delay_after_refresh: float = 0.0
    # Added to the redirect back, as some providers add an account id (QuickBooks' realmId).
    callback_extra: dict[str, str] = field(default_factory=dict)
    # Revocation answers this status instead of revoking (200: it works).
    revocation_status: int = 200
    revocation_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def authorize_url(self) -> str:
        return f"{self.base_url}/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def revocation_url(self) -> str:
        return f"{self.base_url}/revoke"

    def register(
        self,
        redirect_uri: str,
        auth_method: str = "client_secret_basic",
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> Client:
        client = Client(
            client_id=client_id or f"client-{secrets.token_hex(4)}",
            client_secret=client_secret or f"secret-{secrets.token_urlsafe(16)}",
            redirect_uri=redirect_uri,
            auth_method=auth_method,
        )
        self.clients[client.client_id] = client
        return client

    def refresh_requests(self) -> list[TokenRequestRecord]:
        with self.lock:
            return [r for r in self.token_requests if r.grant_type == "refresh_token"]

    def revoke_all_tokens(self) -> None:
        for token in self.tokens.values():
            token.revoked = True

    def grant_alive(self, grant: str) -> bool:
        return grant not in self.revoked_grants and any(
            t.grant == grant and not t.revoked for t in self.tokens.values()
        )


def _code_grant(provider: Provider) -> type[grants.AuthorizationCodeGrant]:
    class CodeGrant(grants.AuthorizationCodeGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")

        def save_authorization_code(self, code: str, req: Any) -> None:
            payload = req.payload
            provider.codes[code] = AuthorizationCode(
                code=code,
                client_id=req.client.client_id,
                redirect_uri=payload.redirect_uri,
                scope=payload.scope,
                user=req.user,
                code_challenge=payload.data.get("code_challenge"),
                code_challenge_method=payload.data.get("code_challenge_method"),
            )

        def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
            found = provider.codes.get(code)
            return found if found and found.client_id == client.client_id else None

        def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
            provider.codes.pop(authorization_code.code, None)

        def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
            return authorization_code.user

    return CodeGrant


def _refresh_grant(provider: Provider) -> type[grants.RefreshTokenGrant]:
    class RefreshGrant(grants.RefreshTokenGrant):
        TOKEN_ENDPOINT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
        INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

        def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
            token = next(
                (t for t in provider.tokens.values() if t.refresh_token == refresh_token), None
            )
            if token is not None and token.revoked and provider.reuse_revokes_grant:
                provider.revoked_grants.append(token.grant)
                for other in provider.tokens.values():
                    if other.grant == token.grant:
                        other.revoked = True
            return token if token and not token.revoked else None

        def authenticate_user(self, credential: Token) -> str:
            return credential.user

        def revoke_old_credential(self, credential: Token) -> None:
            credential.revoked = True

    return RefreshGrant


_LOGIN_PAGE = """<!doctype html><html><head><title>Test provider: sign in</title></head><body>
<h1>Sign in to the test provider</h1><p>{client} asks for: {scope}</p>
<form method="post" action="{action}">
<label>User <input name="username" id="username"></label>
<label>Password <input name="password" id="password" type="password"></label>
<button name="decision" value="allow" id="allow">Allow</button>
<button name="decision" value="deny" id="deny">Deny</button>
</form></body></html>"""


def _revocation(provider: Provider) -> type[RevocationEndpoint]:
    class Revocation(RevocationEndpoint):
        CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["client_secret_basic", "client_secret_post"]

        def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
            for token in provider.tokens.values():
                if token_string in (token.access_token, token.refresh_token):
                    return token
            return None

        def revoke_token(self, token: Token, request: Any) -> None:
            """A refresh token takes its grant's access tokens with it (RFC 7009 §2.1)."""
            token.revoked = True
            if request.form.get("token") == token.refresh_token:
                provider.revoked_grants.append(token.grant)
                for other in provider.tokens.values():
                    if other.grant == token.grant:
                        other.revoked = True

    return Revocation


def create_provider_app(provider: Provider) -> Flask:
    app = Flask("test-provider")

    def query_client(client_id: str) -> Client | None:
        return provider.clients.get(client_id)

    def save_token(token: dict[str, Any], req: Any) -> None:
        previous = getattr(req, "refresh_token", None)
        grant = previous.grant if isinstance(previous, Token) else secrets.token_hex(4)
        provider.tokens[token["access_token"]] = Token(
            client_id=req.client.client_id,
            access_token=token["access_token"],
            refresh_token=token.get("refresh_token"),
            scope=token.get("scope", ""),
            user=req.user,
            issued_at=time.time(),
            expires_in=int(token.get("expires_in", 0)),
            grant=grant,
        )

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    server.register_grant(_code_grant(provider), [CodeChallenge(required=False)])
    server.register_grant(_refresh_grant(provider))
    server.register_endpoint(_revocation(provider))
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda **_: "at-" + secrets.token_urlsafe(24),
            refresh_token_generator=lambda **_: "rt-" + secrets.token_urlsafe(24),
            expires_generator=lambda client, grant_type: provider.expires_in,
        ),
    )

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as exc:  # RFC 6749 §4.1.2.1: never redirect to an unknown URI
            return Response(f"{exc.error}: {exc.description}", status=400)
        if request.method == "GET":
            return _LOGIN_PAGE.format(
                client=escape(grant.client.client_id),
                scope=escape(grant.request.payload.scope or ""),
                action=escape(request.full_path),
            )
        allowed = request.form.get("decision") == "allow"
        if allowed and (request.form.get("username"), request.form.get("password")) != (
            USERNAME,
            PASSWORD,
        ):
            return Response("wrong user or password", status=401)
        response = server.create_authorization_response(
            grant=grant, grant_user=USERNAME if allowed else None
        )
        extra = list(provider.callback_extra.items())
        if provider.send_iss:
            extra.append(("iss", provider.iss_value or provider.issuer))
        if extra and "Location" in response.headers:
            parts = urlsplit(response.headers["Location"])
            query = [*parse_qsl(parts.query), *extra]
            response.headers["Location"] = urlunsplit(parts._replace(query=urlencode(query)))
        return response

    @app.route("/.well-known/oauth-authorization-server")
    def metadata() -> Any:
        return {
            "issuer": provider.issuer,
            "authorization_endpoint": provider.authorize_url,
            "token_endpoint": provider.token_url,
            "revocation_endpoint": provider.revocation_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": Client("", "", "", "").scope.split(),
        }

    @app.route("/revoke", methods=["POST"])
    def revoke() -> Any:
        with provider.lock:
            provider.revocation_requests.append(dict(request.form))
        if provider.revocation_status != 200:
            return Response("unavailable", status=provider.revocation_status)
        return server.create_endpoint_response(RevocationEndpoint.ENDPOINT_NAME)

    @app.route("/token", methods=["POST"])
    def token() -> Any:
        with provider.lock:
            provider.token_requests.append(
                TokenRequestRecord(
                    grant_type=request.form.get("grant_type", ""),
                    basic_auth=request.headers.get("Authorization", "").startswith("Basic "),
                    form=dict(request.form),
                )
            )
        refreshing = request.form.get("grant_type") == "refresh_token"
        time.sleep(max(provider.token_delay, provider.refresh_latency if refreshing else 0.0))
        if refreshing and provider.refresh_faults:
            status, headers = provider.refresh_faults.pop(0)
            body = '{"error": "temporarily_unavailable"}'
            return Response(body, status=status, headers=headers, mimetype="application/json")
        answer = server.create_token_response()
        if refreshing:
            time.sleep(provider.delay_after_refresh)
        return answer

    return app


class RunningProvider:
    """Serves a provider on 127.0.0.1 (on a free port unless told one) until ``stop``."""

    def __init__(self, port: int = 0) -> None:
        self.provider = Provider()
        self._server = make_server(
            "127.0.0.1", port, create_provider_app(self.provider), threaded=True
        )
        self.provider.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
