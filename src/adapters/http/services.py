"""The use cases the HTTP edge calls, built once by the composition root."""

from dataclasses import dataclass

from application.connectors import ManageConnectors
from application.credentials import ManageCredentials
from application.hubs import ManageHubs
from application.initialise import InitialiseOAuth2Connection
from application.ports import HealthCheck


@dataclass(frozen=True, slots=True)
class Services:
    credentials: ManageCredentials
    hubs: ManageHubs
    connectors: ManageConnectors
    initialise: InitialiseOAuth2Connection
    health: HealthCheck
