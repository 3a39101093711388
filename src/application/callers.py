"""Who is calling: an organisation's backend (API key) or one of its end users (a signed JWT
or a connect session), and what an end user may reach."""

from collections.abc import Collection
from typing import NamedTuple

from application.errors import Forbidden, NotFound


class EndUser(NamedTuple):
    """An end user of one hub, as an end-user token names them. ``connector_ids``: the
    connectors a connect session is limited to, or ``None`` for all of the hub's."""

    hub_id: str
    user_id: str
    connector_ids: Collection[str] | None = None


class Caller(NamedTuple):
    organisation_id: str
    end_user: EndUser | None = None


def backend_organisation(caller: Caller) -> str:
    """The organisation of a caller holding an API key; end-user tokens are refused (403).
    Every route but the end user's few asks for its caller through this."""
    if caller.end_user is not None:
        raise Forbidden("This route needs the organisation's API key, not an end-user token.")
    return caller.organisation_id


def check_hub(caller: Caller, hub_id: str) -> None:
    """An end user sees only their own hub: another one does not exist for them (404)."""
    if caller.end_user is not None and caller.end_user.hub_id != hub_id:
        raise NotFound("hub")


def check_connector(caller: Caller, connector_id: str) -> None:
    """A connect session limited to some connectors sees only those (404)."""
    end_user = caller.end_user
    if (
        end_user is not None
        and end_user.connector_ids is not None
        and connector_id not in end_user.connector_ids
    ):
        raise NotFound("connector")


def check_user(caller: Caller, user_id: str) -> None:
    """An end user acts only for themselves (403: the path names someone else)."""
    if caller.end_user is not None and caller.end_user.user_id != user_id:
        raise Forbidden("An end-user token acts only for its own user.")


def sees_connection(caller: Caller, hub_id: str, user_id: str) -> bool:
    end_user = caller.end_user
    return end_user is None or (end_user.hub_id, end_user.user_id) == (hub_id, user_id)
