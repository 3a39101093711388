"""Asking a provider's token endpoint for tokens, and reading its answer."""

from datetime import datetime

from application.credentials import secret_context
from application.errors import ProviderBusy, ProviderRejected, ProviderUnavailable
from application.integrity import check_record
from application.ports.crypto import SecretCipher
from application.ports.provider import TokenEndpoint, TokenRequest
from domain.model import Connector, Credential
from domain.tokens import InvalidTokenResponse, TokenSet, read_token_error, read_token_response


def token_request(
    connector: Connector,
    credential: Credential,
    cipher: SecretCipher,
    form: tuple[tuple[str, str], ...],
    *,
    url: str | None = None,
) -> TokenRequest:
    """A request to the connector's token endpoint (or ``url``, another of its endpoints,
    such as its revocation URL), authenticated with the credential; not made for a connector
    whose seal does not cover its URLs (``TamperedRecord``)."""
    check_record(cipher, connector)
    return TokenRequest(
        token_url=url or connector.token_url,
        auth_method=connector.token_auth_method,
        client_id=credential.client_id,
        client_secret=cipher.decrypt(
            credential.sealed_secret, context=secret_context(credential.id)
        ),
        form=form,
        body_format=connector.settings.token_request_format,
    )


async def obtain_tokens(
    endpoint: TokenEndpoint,
    request: TokenRequest,
    *,
    requested_scopes: tuple[str, ...],
    connector: Connector,
    now: datetime,
) -> tuple[TokenSet, object]:
    """A token set read as the connector's settings say, with the response it came from;
    or: ``ProviderRejected`` for an RFC 6749 §5.2 error (also when a provider sends it with
    status 200, or ``"ok": false``), ``ProviderUnavailable`` for a 5xx or an unreadable
    answer."""
    answer = await endpoint.request(request)
    error = read_token_error(answer.body)
    if 200 <= answer.status < 300:
        if error is not None and not (
            isinstance(answer.body, dict) and answer.body.get("access_token")
        ):
            raise ProviderRejected(error.error, error.description)
        try:
            tokens = read_token_response(
                answer.body,
                requested_scopes=requested_scopes,
                now=now,
                path=connector.settings.token_response_path,
                default_expires_in=connector.settings.default_expires_in,
            )
        except InvalidTokenResponse as exc:
            raise ProviderUnavailable(f"The provider's token response is unusable: {exc}.") from exc
        return tokens, answer.body
    if answer.status == 429:
        raise ProviderBusy(
            "The provider's token endpoint is rate limiting this service (HTTP 429).",
            retry_after=answer.retry_after,
        )
    if error is not None and answer.status < 500:
        raise ProviderRejected(error.error, error.description)
    raise ProviderUnavailable(
        f"The provider's token endpoint answered HTTP {answer.status}.",
        retry_after=answer.retry_after,
    )
