"""Asking a provider's token endpoint for tokens, and reading its answer."""

from datetime import datetime

from application.credentials import secret_context
from application.errors import ProviderBusy, ProviderRejected, ProviderUnavailable
from application.integrity import check_record
from application.ports.crypto import SecretCipher
from application.ports.provider import TokenEndpoint, TokenRequest
from domain.model import Connector, Credential
from domain.scopes import ScopeSeparator
from domain.tokens import InvalidTokenResponse, TokenSet, read_token_error, read_token_response


def token_request(
    connector: Connector,
    credential: Credential,
    cipher: SecretCipher,
    form: tuple[tuple[str, str], ...],
) -> TokenRequest:
    """A grant to the connector's token endpoint, authenticated with the credential; not
    made for a connector whose seal does not cover its token URL (``TamperedRecord``)."""
    check_record(cipher, connector)
    return TokenRequest(
        token_url=connector.token_url,
        auth_method=connector.token_auth_method,
        client_id=credential.client_id,
        client_secret=cipher.decrypt(
            credential.sealed_secret, context=secret_context(credential.id)
        ),
        form=form,
    )


async def obtain_tokens(
    endpoint: TokenEndpoint,
    request: TokenRequest,
    *,
    requested_scopes: tuple[str, ...],
    separator: ScopeSeparator,
    now: datetime,
) -> TokenSet:
    """A token set, or: ``ProviderRejected`` for an RFC 6749 §5.2 error (also when a provider
    sends it with status 200), ``ProviderUnavailable`` for a 5xx or an unreadable answer."""
    answer = await endpoint.request(request)
    error = read_token_error(answer.body)
    if 200 <= answer.status < 300:
        if error is not None and not (
            isinstance(answer.body, dict) and answer.body.get("access_token")
        ):
            raise ProviderRejected(error.error, error.description)
        try:
            return read_token_response(
                answer.body, requested_scopes=requested_scopes, separator=separator, now=now
            )
        except InvalidTokenResponse as exc:
            raise ProviderUnavailable(f"The provider's token response is unusable: {exc}.") from exc
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
