// Type declarations for the embed-oauth browser SDK.

export type EmbedOAuthErrorCode =
  | "popup_blocked"
  | "cancelled"
  | "provider_error"
  | "timeout"
  | "invalid_options"
  | "network_error"
  | "bad_response"
  | string; // the API's own error codes, e.g. "invalid_input", "forbidden"

export interface FieldError {
  field: string;
  message: string;
}

export declare class EmbedOAuthError extends Error {
  readonly code: EmbedOAuthErrorCode;
  readonly status?: number;
  readonly fields: FieldError[];
  /** With `provider_error`: the provider's `error` and `error_description`. */
  readonly error?: string;
  readonly errorDescription?: string;
  constructor(code: EmbedOAuthErrorCode, message: string, details?: object);
}

export interface Connection {
  id: string;
  hubId: string;
  userId: string;
  connectorId: string;
  credentialId: string;
  name: string;
  scopes: string[];
  expiresAt: string | null;
  status: "active" | "reauthorisation_required";
  createdAt: string;
  lastRefreshedAt: string | null;
  refreshFailures: number;
  statusReason: string | null;
  /** What the connector keeps from the token response and the callback (never a secret). */
  metadata: Record<string, string>;
}

export interface EmbedOAuthOptions {
  baseUrl: string;
  /** A connect-session token or a JWT signed by the product's backend. */
  token: string;
  hubId: string;
  /** Read from the token when omitted. */
  userId?: string;
  /** How long `connect` waits for the provider; 5 minutes by default. */
  timeoutMs?: number;
}

export interface ConnectOptions {
  connectorId: string;
  /** The connector's own authorizeUrl when omitted. */
  authorizeUrl?: string;
  clientId: string;
  credential: { id: string; organisationId: string };
  scopes?: string[];
  prompt?: string;
  additionalParams?: string;
  disableOfflineAccess?: boolean;
  /** Re-authorise this connection in place. */
  connectionId?: string;
}

export declare function userIdFromToken(token: string): string | undefined;

export declare class EmbedOAuth {
  constructor(options: EmbedOAuthOptions);
  readonly userId: string;
  connect(options: ConnectOptions): Promise<Connection>;
  connections(): Promise<Connection[]>;
  disconnect(connectionId: string): Promise<void>;
}
