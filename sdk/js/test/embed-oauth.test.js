// Unit tests of the SDK's logic with a fake window and fetch; the real browser flow is
// tested by tests/e2e/test_browser_sdk.py in headless Chromium.
import assert from "node:assert/strict";
import { test } from "node:test";

import { EmbedOAuth, EmbedOAuthError, userIdFromToken } from "../embed-oauth.js";

const BASE = "https://connect.example.com";
const b64url = (text) => Buffer.from(text).toString("base64url");
const SESSION = `eocs_${b64url("user 1")}.${b64url("s".repeat(32))}`;
const AUTHORIZE = "https://provider.example/authorize?client_id=c&state=STATE-1";
const CONNECTION = { id: "conn-1", status: "active" };

function fakeWindow({ blockPopups = false } = {}) {
  const listeners = new Set();
  const popup = {
    closed: false,
    location: { href: "" },
    close() {
      this.closed = true;
    },
  };
  return {
    popup,
    open: () => (blockPopups ? null : popup),
    addEventListener: (type, listener) => listeners.add(listener),
    removeEventListener: (type, listener) => listeners.delete(listener),
    post(data, { origin = BASE, source = popup } = {}) {
      for (const listener of [...listeners]) listener({ data, origin, source });
    },
    listeners,
  };
}

function fakeFetch(answers) {
  const calls = [];
  const fetch = async (url, init) => {
    calls.push({ url, ...init, body: init.body === undefined ? undefined : JSON.parse(init.body) });
    const [status, body] = answers.shift();
    return {
      status,
      ok: status >= 200 && status < 300,
      json: async () => body,
    };
  };
  return { fetch, calls };
}

const connectOptions = {
  connectorId: "conn/1",
  authorizeUrl: "https://provider.example/authorize",
  clientId: "c",
  credential: { id: "cred", organisationId: "org" },
  scopes: ["read"],
};

const waitFor = async (predicate) => {
  for (let i = 0; i < 200 && !predicate(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(predicate(), "condition not reached");
};

test("the user id is read from a connect session and from a JWT's sub", () => {
  assert.equal(userIdFromToken(SESSION), "user 1");
  const jwt = `${b64url('{"alg":"RS256"}')}.${b64url('{"sub":"jwt-user","hub":"h"}')}.sig`;
  assert.equal(userIdFromToken(jwt), "jwt-user");
  assert.equal(userIdFromToken("opaque"), undefined);
  assert.throws(() => new EmbedOAuth({ baseUrl: BASE, token: "opaque", hubId: "h" }), {
    code: "invalid_options",
  });
});

test("connect opens the popup, follows the callback's message and creates the connection", async () => {
  const window = fakeWindow();
  const { fetch, calls } = fakeFetch([
    [200, { url: AUTHORIZE }],
    [201, CONNECTION],
  ]);
  const client = new EmbedOAuth({ baseUrl: BASE + "/", token: SESSION, hubId: "hub 1", window, fetch });
  const connecting = client.connect(connectOptions);
  await waitFor(() => window.popup.location.href === AUTHORIZE);
  window.post({ code: "the-code", state: "STATE-1" }, { origin: "https://evil.example" });
  window.post({ code: "the-code", state: "OTHER" });
  window.post({ code: "the-code", state: "STATE-1" }, { source: {} });
  window.post({ code: "the-code", state: "STATE-1" });
  assert.deepEqual(await connecting, CONNECTION);

  assert.equal(calls[0].url, `${BASE}/embed/hub%201/connector/conn%2F1/oauth2/initialise`);
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].headers.Authorization, `Bearer ${SESSION}`);
  assert.equal(calls[0].credentials, "omit");
  assert.deepEqual(calls[0].body, {
    authorizeUrl: connectOptions.authorizeUrl,
    clientId: "c",
    credential: connectOptions.credential,
    scopes: ["read"],
  });
  assert.equal(calls[1].url, `${BASE}/hubs/hub%201/users/user%201/connections`);
  assert.deepEqual(calls[1].body, { connectorId: "conn/1", code: "the-code", state: "STATE-1" });
  assert.equal(calls.length, 2, "the messages of other origins, states and windows were ignored");
  assert.ok(window.popup.closed);
  assert.equal(window.listeners.size, 0);
});

test("callback parameters the page passes on reach the connection's creation", async () => {
  const window = fakeWindow();
  const { fetch, calls } = fakeFetch([
    [200, { url: AUTHORIZE }],
    [201, CONNECTION],
  ]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "hub 1", window, fetch });
  const connecting = client.connect(connectOptions);
  await waitFor(() => window.popup.location.href === AUTHORIZE);
  window.post({ code: "the-code", state: "STATE-1", callbackParams: { realmId: "4620816365" } });
  await connecting;
  assert.deepEqual(calls[1].body, {
    connectorId: "conn/1",
    code: "the-code",
    state: "STATE-1",
    callbackParams: { realmId: "4620816365" },
  });
});

test("without an authorizeUrl, connect uses the connector's own", async () => {
  const window = fakeWindow();
  const { fetch, calls } = fakeFetch([
    [200, { id: "conn/1", name: "CRM", provider: "hubspot", authorizeUrl: "https://crm.example/authorize" }],
    [200, { url: AUTHORIZE }],
    [201, CONNECTION],
  ]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "hub 1", window, fetch });
  const { authorizeUrl, ...withoutUrl } = connectOptions;
  const connecting = client.connect(withoutUrl);
  await waitFor(() => window.popup.location.href === AUTHORIZE);
  window.post({ code: "the-code", state: "STATE-1" });
  await connecting;
  assert.equal(calls[0].method, "GET");
  assert.equal(calls[0].url, `${BASE}/embed/hub%201/connector/conn%2F1`);
  assert.equal(calls[1].body.authorizeUrl, "https://crm.example/authorize");
  assert.notEqual(authorizeUrl, calls[1].body.authorizeUrl);
});

test("a blocked popup rejects at once with popup_blocked", async () => {
  const { fetch, calls } = fakeFetch([]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window: fakeWindow({ blockPopups: true }), fetch });
  await assert.rejects(client.connect(connectOptions), { name: "EmbedOAuthError", code: "popup_blocked" });
  assert.equal(calls.length, 0);
});

test("a provider's error rejects with provider_error and its words", async () => {
  const window = fakeWindow();
  const { fetch, calls } = fakeFetch([[200, { url: AUTHORIZE }]]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window, fetch });
  const connecting = client.connect(connectOptions);
  await waitFor(() => window.popup.location.href !== "");
  window.post({ error: "access_denied", errorDescription: "No thanks", state: "STATE-1" });
  await assert.rejects(connecting, (e) => {
    assert.ok(e instanceof EmbedOAuthError);
    assert.equal(e.code, "provider_error");
    assert.equal(e.error, "access_denied");
    assert.equal(e.errorDescription, "No thanks");
    return true;
  });
  assert.equal(calls.length, 1);
});

test("closing the popup rejects with cancelled", async () => {
  const window = fakeWindow();
  const { fetch } = fakeFetch([[200, { url: AUTHORIZE }]]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window, fetch });
  const connecting = client.connect(connectOptions);
  await waitFor(() => window.popup.location.href !== "");
  window.popup.close();
  await assert.rejects(connecting, { code: "cancelled" });
});

test("a provider that never answers rejects with timeout and closes the popup", async () => {
  const window = fakeWindow();
  const { fetch } = fakeFetch([[200, { url: AUTHORIZE }]]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window, fetch, timeoutMs: 50 });
  await assert.rejects(client.connect(connectOptions), { code: "timeout" });
  assert.ok(window.popup.closed);
});

test("the API's errors reject with their code, message and fields, and close the popup", async () => {
  const window = fakeWindow();
  const fields = [{ field: "authorizeUrl", message: "must use https" }];
  const { fetch } = fakeFetch([[400, { code: "invalid_input", message: "The request has invalid fields.", fields }]]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window, fetch });
  await assert.rejects(client.connect(connectOptions), (e) => {
    assert.equal(e.code, "invalid_input");
    assert.equal(e.status, 400);
    assert.equal(e.message, "The request has invalid fields.");
    assert.deepEqual(e.fields, fields);
    return true;
  });
  assert.ok(window.popup.closed);
});

test("connections lists and disconnect deletes the end user's connections", async () => {
  const second = { id: "conn-2", status: "active" };
  const { fetch, calls } = fakeFetch([
    [200, { items: [CONNECTION], next: "conn-1" }],
    [200, { items: [second], next: null }],
    [204, null],
  ]);
  const client = new EmbedOAuth({ baseUrl: BASE, token: SESSION, hubId: "h", window: fakeWindow(), fetch });
  assert.deepEqual(await client.connections(), [CONNECTION, second]);
  assert.equal(await client.disconnect("conn-1"), undefined);
  assert.equal(calls[0].method, "GET");
  assert.equal(calls[0].url, `${BASE}/hubs/h/users/user%201/connections`);
  assert.equal(calls[1].url, `${BASE}/hubs/h/users/user%201/connections?after=conn-1`);
  assert.equal(calls[2].method, "DELETE");
  assert.equal(calls[2].url, `${BASE}/connections/conn-1`);
});
