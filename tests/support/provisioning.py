"""Setting up a credential, hub and connector for a test provider, over the HTTP API."""

from dataclasses import dataclass

import httpx

from tests.support.oauth_provider import Client, Provider


@dataclass(frozen=True)
class Provisioned:
    hub_id: str
    connector_id: str
    credential_id: str
    client_id: str
    organisation_id: str

    def authorize_url(self, client: httpx.Client, provider: Provider) -> str:
        """A fresh authorize URL from the initialise endpoint."""
        response = client.post(
            f"/embed/{self.hub_id}/connector/{self.connector_id}/oauth2/initialise",
            json={
                "authorizeUrl": provider.authorize_url,
                "clientId": self.client_id,
                "credential": {"id": self.credential_id, "organisationId": self.organisation_id},
            },
        )
        response.raise_for_status()
        return str(response.json()["url"])


def provision(
    client: httpx.Client, provider: Provider, oauth_client: Client, organisation_id: str
) -> Provisioned:
    credential = client.post(
        "/credentials",
        json={
            "name": "c",
            "clientId": oauth_client.client_id,
            "clientSecret": oauth_client.client_secret,
        },
    ).json()
    hub = client.post("/hubs", json={"name": "h"}).json()
    connector = client.post(
        f"/hubs/{hub['id']}/connectors", json={"name": "p", "tokenUrl": provider.token_url}
    ).json()
    return Provisioned(
        hub["id"], connector["id"], credential["id"], oauth_client.client_id, organisation_id
    )
