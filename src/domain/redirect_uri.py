"""The ``redirect_uri``: one per organisation.

A provider sends an authorization code only to a redirect URI registered for the client. With
one URI per organisation, the page that receives a code for organisation A's client can check
that the state in the same response was issued to A, and never hands A's code to a page of
another organisation that registered the same client ID.
"""

CALLBACK_PATH = "/oauth2/callback"


def redirect_uri(callback_url: str, organisation_id: str) -> str:
    """``callback_url`` is the service's public URL followed by ``CALLBACK_PATH``."""
    return f"{callback_url}/{organisation_id}"
