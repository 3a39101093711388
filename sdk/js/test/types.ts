// Compiled by `tsc --noEmit` in `npm test`: the declarations describe the API as documented.
import { EmbedOAuth, EmbedOAuthError, type Connection } from "../embed-oauth.js";

async function example(): Promise<Connection[]> {
  const client = new EmbedOAuth({ baseUrl: "https://connect.example.com", token: "t", hubId: "h" });
  const connection: Connection = await client.connect({
    connectorId: "c",
    authorizeUrl: "https://provider.example/authorize",
    clientId: "id",
    credential: { id: "cred", organisationId: "org" },
    scopes: ["read"],
    prompt: "consent",
    additionalParams: "access_type=offline",
    connectionId: "conn",
  });
  await client.disconnect(connection.id);
  try {
    // @ts-expect-error: connect needs the credential
    await client.connect({ connectorId: "c", authorizeUrl: "u", clientId: "id" });
  } catch (e) {
    if (e instanceof EmbedOAuthError && e.code === "provider_error") {
      const described: string | undefined = e.errorDescription;
      void described;
    }
  }
  // @ts-expect-error: hubId is required
  new EmbedOAuth({ baseUrl: "https://connect.example.com", token: "t" });
  return client.connections();
}

void example;
