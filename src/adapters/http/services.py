"""The use cases the HTTP edge calls, built once by the composition root."""

from dataclasses import dataclass

from application.access_tokens import GetAccessToken
from application.callback import HandleCallback
from application.connections import CreateConnection, ManageConnections
from application.connectors import ManageConnectors
from application.credentials import ManageCredentials
from application.embed_origins import EmbedOrigins
from application.end_users import AuthenticateBearer, ManageConnectSessions, ManageSigningKeys
from application.hubs import ManageHubs
from application.initialise import InitialiseOAuth2Connection
from application.organisations import ReadOrganisation
from application.ports.provider import ProviderCatalogue
from application.ports.storage import HealthCheck
from application.webhooks import ManageWebhooks


@dataclass(frozen=True, slots=True)
class Services:
    authenticate: AuthenticateBearer
    organisation: ReadOrganisation
    signing_keys: ManageSigningKeys
    connect_sessions: ManageConnectSessions
    credentials: ManageCredentials
    hubs: ManageHubs
    connectors: ManageConnectors
    initialise: InitialiseOAuth2Connection
    create_connection: CreateConnection
    connections: ManageConnections
    access_token: GetAccessToken
    callback: HandleCallback
    embed_origins: EmbedOrigins
    webhooks: ManageWebhooks
    health: HealthCheck
    providers: ProviderCatalogue
