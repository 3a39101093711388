// embed-oauth browser SDK: connect an end user's account from the product's own page.
// Served by the service at /sdk/embed-oauth.js; see docs/embedding.md.

const DEFAULT_TIMEOUT_MS = 5 * 60 * 1000;
const CLOSED_POLL_MS = 250;
// The callback page posts its message, then closes itself: a popup seen closed this soon
// after may still have a message on its way.
const CLOSED_GRACE_MS = 500;
const SESSION_PREFIX = "eocs_";

/** Every failure of the SDK: `code` says what happened. */
export class EmbedOAuthError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = "EmbedOAuthError";
    this.code = code;
    this.status = details.status;
    this.fields = details.fields || [];
    this.error = details.error;
    this.errorDescription = details.errorDescription;
  }
}

function base64UrlDecode(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The end user a token names: a connect session carries it after its prefix, a JWT in `sub`. */
export function userIdFromToken(token) {
  try {
    if (token.startsWith(SESSION_PREFIX)) {
      return base64UrlDecode(token.slice(SESSION_PREFIX.length).split(".")[0]);
    }
    const parts = token.split(".");
    if (parts.length === 3) {
      const sub = JSON.parse(base64UrlDecode(parts[1])).sub;
      return typeof sub === "string" ? sub : undefined;
    }
  } catch (e) {
    return undefined;
  }
  return undefined;
}

export class EmbedOAuth {
  /**
   * @param {{baseUrl: string, token: string, hubId: string, userId?: string,
   *          timeoutMs?: number, window?: Window, fetch?: typeof fetch}} options
   */
  constructor(options) {
    if (!options || !options.baseUrl || !options.token || !options.hubId) {
      throw new EmbedOAuthError("invalid_options", "baseUrl, token and hubId are required.");
    }
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.origin = new URL(this.baseUrl).origin;
    this.token = options.token;
    this.hubId = options.hubId;
    this.userId = options.userId || userIdFromToken(options.token);
    if (!this.userId) {
      throw new EmbedOAuthError("invalid_options", "userId is required with this token.");
    }
    this.timeoutMs = options.timeoutMs || DEFAULT_TIMEOUT_MS;
    this.window = options.window || globalThis.window;
    this.fetch = options.fetch || globalThis.fetch.bind(globalThis);
  }

  /**
   * Opens the popup at once (call it inside the user's click), sends it to the provider,
   * waits for the callback page's message and creates the connection.
   */
  connect(options) {
    const popup = this.window.open("", "embed-oauth", "popup,width=560,height=720");
    if (!popup) {
      return Promise.reject(
        new EmbedOAuthError("popup_blocked", "The browser blocked the popup: call connect() from a click."),
      );
    }
    return this._connect(popup, options).finally(() => {
      if (!popup.closed) popup.close();
    });
  }

  async _connect(popup, options) {
    const body = {
      authorizeUrl: options.authorizeUrl || (await this._defaultAuthorizeUrl(options.connectorId)),
      clientId: options.clientId,
      credential: options.credential,
    };
    for (const key of ["scopes", "prompt", "additionalParams", "connectionId", "disableOfflineAccess"]) {
      if (options[key] !== undefined) body[key] = options[key];
    }
    const path = `/embed/${encodeURIComponent(this.hubId)}/connector/${encodeURIComponent(options.connectorId)}/oauth2/initialise`;
    const { url } = await this._request("POST", path, body);
    const state = new URL(url).searchParams.get("state");
    popup.location.href = url;
    const result = await this._callback(popup, state);
    const connection = { connectorId: options.connectorId, code: result.code, state: result.state };
    if (result.callbackParams && typeof result.callbackParams === "object") {
      connection.callbackParams = result.callbackParams; // e.g. QuickBooks' realmId
    }
    return this._request("POST", this._userPath(), connection);
  }

  /** The connector's own authorize URL, when the call gives none. */
  async _defaultAuthorizeUrl(connectorId) {
    const path = `/embed/${encodeURIComponent(this.hubId)}/connector/${encodeURIComponent(connectorId)}`;
    const connector = await this._request("GET", path);
    if (!connector.authorizeUrl) {
      throw new EmbedOAuthError("invalid_options", "authorizeUrl is required: the connector has none.");
    }
    return connector.authorizeUrl;
  }

  /** The end user's connections in this hub, every page of them. */
  async connections() {
    const all = [];
    let after = null;
    do {
      const query = after ? `?after=${encodeURIComponent(after)}` : "";
      const page = await this._request("GET", this._userPath() + query);
      all.push(...page.items);
      after = page.next;
    } while (after);
    return all;
  }

  async disconnect(connectionId) {
    await this._request("DELETE", `/connections/${encodeURIComponent(connectionId)}`);
  }

  _userPath() {
    return `/hubs/${encodeURIComponent(this.hubId)}/users/${encodeURIComponent(this.userId)}/connections`;
  }

  _callback(popup, state) {
    return new Promise((resolve, reject) => {
      let closedAt = null;
      const finish = (settle, value) => {
        this.window.removeEventListener("message", onMessage);
        clearInterval(poll);
        clearTimeout(timer);
        settle(value);
      };
      const onMessage = (event) => {
        const data = event.data;
        if (event.origin !== this.origin || event.source !== popup) return;
        if (!data || typeof data !== "object" || data.state !== state) return;
        if (data.error) {
          finish(
            reject,
            new EmbedOAuthError("provider_error", `The provider answered: ${data.error}.`, {
              error: data.error,
              errorDescription: data.errorDescription,
            }),
          );
        } else if (typeof data.code === "string" && data.code) {
          finish(resolve, data);
        }
      };
      const poll = setInterval(() => {
        if (!popup.closed) return;
        closedAt = closedAt || Date.now();
        if (Date.now() - closedAt >= CLOSED_GRACE_MS) {
          finish(reject, new EmbedOAuthError("cancelled", "The popup was closed before the provider answered."));
        }
      }, CLOSED_POLL_MS);
      const timer = setTimeout(() => {
        finish(reject, new EmbedOAuthError("timeout", "The provider did not answer in time."));
      }, this.timeoutMs);
      this.window.addEventListener("message", onMessage);
    });
  }

  async _request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await this.fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
      });
    } catch (e) {
      throw new EmbedOAuthError("network_error", `The service could not be reached: ${e.message}`);
    }
    if (response.status === 204) return undefined;
    let data;
    try {
      data = await response.json();
    } catch (e) {
      throw new EmbedOAuthError("bad_response", `The service answered ${response.status} without JSON.`, {
        status: response.status,
      });
    }
    if (!response.ok) {
      throw new EmbedOAuthError(data.code || "error", data.message || `HTTP ${response.status}`, {
        status: response.status,
        fields: data.fields,
      });
    }
    return data;
  }
}
