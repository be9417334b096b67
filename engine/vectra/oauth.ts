/**
 * OAuth2 client-credentials tokens for a Vectra brain (vectra-api.md §2.2): the v3
 * token endpoint at `/oauth2/token` with the refresh grant, and the v2.5 endpoint at
 * `/api/v2.5/oauth2/token` without one. Tokens live only in memory (decisions.md #7) and
 * never appear in a log line, URL or error message.
 *
 * @module
 */

import { z } from "zod";
import { type HttpEndpoint, HttpError } from "../http.ts";
import { VectraError } from "./api.ts";
import { type Authenticator, httpDetail, withoutQuery } from "./shared.ts";

/** Options of {@linkcode OAuthTokens}. */
export interface OAuthTokensOptions {
  /** The endpoint at the brain's origin (no path prefix). */
  endpoint: HttpEndpoint;
  /** The brain's host, for errors. */
  brain: string;
  /** Path of the token endpoint, e.g. `/oauth2/token` or `/api/v2.5/oauth2/token`. */
  tokenPath: string;
  /** Reads the client id and secret (called on the first authentication only). */
  credentials: () => Promise<{ clientId: string; secret: string }>;
  /**
   * Use the refresh grant before falling back to client credentials (v3).
   * @default {false}
   */
  useRefresh?: boolean;
  /**
   * Seconds before expiry at which a token is renewed; capped at a tenth of its lifetime.
   * @default {100}
   */
  renewEarlySeconds?: number;
  /**
   * The clock, in epoch milliseconds.
   * @default {Date.now}
   */
  now?: () => number;
}

const TokenResponse = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive().nullish(),
  refresh_token: z.string().min(1).nullish(),
  refresh_expires_in: z.coerce.number().positive().nullish(),
});

/** Lifetime assumed when the token endpoint gives no `expires_in`, in seconds. */
const DEFAULT_LIFETIME_SECONDS = 300;

/** Current tokens and when to renew them (epoch ms). */
interface TokenState {
  readonly access: string;
  readonly renewAt: number;
  readonly refresh: string | null;
  readonly refreshRenewAt: number;
}

/**
 * Obtains and renews OAuth2 access tokens. Concurrent callers share one token request.
 *
 * @example
 * ```ts
 * const tokens = new OAuthTokens({ endpoint, brain, tokenPath: "/oauth2/token", credentials, useRefresh: true });
 * await tokens.ensure();
 * const headers = { Authorization: `Bearer ${tokens.current()}` };
 * ```
 */
export class OAuthTokens {
  #options: OAuthTokensOptions;
  #state: TokenState | null = null;
  #pending: Promise<void> | null = null;
  #credentials: { clientId: string; secret: string } | null = null;
  #grants = { clientCredentials: 0, refresh: 0 };

  constructor(options: OAuthTokensOptions) {
    this.#options = options;
  }

  /** The current access token, or null before the first {@linkcode ensure}. */
  current(): string | null {
    return this.#state?.access ?? null;
  }

  /** How many token requests of each grant were made (for tests and metrics). */
  get grants(): { readonly clientCredentials: number; readonly refresh: number } {
    return { ...this.#grants };
  }

  /** Makes sure a token is held that is not due for renewal. */
  async ensure(): Promise<void> {
    const now = this.#now();
    if (this.#state && now < this.#state.renewAt) return;
    await this.#single(() => this.#renew());
  }

  /**
   * Drops the access token `rejected` after a 401 and obtains a new one. A token already
   * replaced by a concurrent caller is not renewed twice.
   */
  async reauthenticate(rejected: string | null): Promise<void> {
    if (this.#pending) await this.#pending.catch(() => {});
    if (this.#state && this.#state.access !== rejected) return;
    if (this.#state) this.#state = { ...this.#state, renewAt: 0 };
    await this.#single(() => this.#renew());
  }

  async #single(task: () => Promise<void>): Promise<void> {
    if (!this.#pending) {
      this.#pending = task().finally(() => {
        this.#pending = null;
      });
    }
    await this.#pending;
  }

  async #renew(): Promise<void> {
    const now = this.#now();
    if (this.#state && now < this.#state.renewAt) return;
    const refresh = this.#state?.refresh;
    if (this.#options.useRefresh && refresh && now < (this.#state?.refreshRenewAt ?? 0)) {
      try {
        await this.#request({ grant_type: "refresh_token", refresh_token: refresh }, false);
        return;
      } catch (error) {
        const refused = error instanceof VectraError &&
          (error.status === 401 || error.status === 400);
        if (!refused) throw error;
      }
    }
    await this.#request({ grant_type: "client_credentials" }, true);
  }

  async #request(form: Record<string, string>, basic: boolean): Promise<void> {
    const { endpoint, brain, tokenPath } = this.#options;
    const grant = form["grant_type"] ?? "";
    const headers: Record<string, string> = {
      "Content-Type": "application/x-www-form-urlencoded",
    };
    if (basic) {
      this.#credentials ??= await this.#options.credentials();
      const { clientId, secret } = this.#credentials;
      headers["Authorization"] = `Basic ${base64(`${clientId}:${secret}`)}`;
      this.#grants.clientCredentials++;
    } else {
      this.#grants.refresh++;
    }
    const issuedAt = this.#now();
    let text: string;
    let answered: number;
    try {
      const response = await endpoint.request("POST", tokenPath, {
        body: new URLSearchParams(form).toString(),
        headers,
        retry: true,
      });
      text = response.text;
      answered = response.status;
    } catch (cause) {
      const status = cause instanceof HttpError ? cause.status : null;
      const hint = status === 401 || status === 400
        ? grant === "client_credentials"
          ? "; check the Client_ID and Secret_Key of this brain"
          : "; the refresh token was refused"
        : "";
      const what = status === null ? describe(cause) : `answered ${status}`;
      throw new VectraError(
        brain,
        `Cannot authenticate to brain ${brain} (${grant} grant): POST ${tokenPath} ${what}${hint}`,
        { cause, status },
      );
    }
    // A token response is parsed here, not by the transport, so that no excerpt of it
    // (a token) can reach an error message.
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
    const parsed = TokenResponse.safeParse(body);
    if (!parsed.success) {
      throw new VectraError(
        brain,
        `Cannot authenticate to brain ${brain} (${grant} grant): POST ${tokenPath} answered ${answered} without a readable access token`,
        { status: answered },
      );
    }
    const token = parsed.data;
    const lifetime = (token.expires_in ?? DEFAULT_LIFETIME_SECONDS) * 1000;
    const refreshLifetime = token.refresh_expires_in
      ? token.refresh_expires_in * 1000
      : Number.POSITIVE_INFINITY;
    this.#state = {
      access: token.access_token,
      renewAt: issuedAt + lifetime - this.#early(lifetime),
      refresh: token.refresh_token ?? (basic ? null : this.#state?.refresh ?? null),
      refreshRenewAt: token.refresh_token
        ? issuedAt + refreshLifetime - this.#early(refreshLifetime)
        : this.#state?.refreshRenewAt ?? 0,
    };
  }

  #early(lifetimeMs: number): number {
    const early = (this.#options.renewEarlySeconds ?? 100) * 1000;
    return Math.min(early, lifetimeMs / 10);
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}

/** A short description of a failure that carries no secret. */
function describe(cause: unknown): string {
  if (cause instanceof HttpError) return withoutQuery(httpDetail(cause));
  return cause instanceof Error ? cause.message : String(cause);
}

/** Base64 of the UTF-8 bytes of `text`. */
function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** An {@linkcode Authenticator} sending `Authorization: Bearer <access token>`. */
export class OAuthAuthenticator implements Authenticator {
  #tokens: OAuthTokens;

  constructor(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }

  /** The token source (for tests and metrics). */
  get tokens(): OAuthTokens {
    return this.#tokens;
  }

  /** Obtains or renews the access token when due. */
  async prepare(): Promise<void> {
    await this.#tokens.ensure();
  }

  /** `Bearer <access token>`. */
  authorization(): string {
    return `Bearer ${this.#tokens.current() ?? ""}`;
  }

  /** Obtains a new token after a 401. */
  async reauthenticate(authorization: string): Promise<boolean> {
    await this.#tokens.reauthenticate(authorization.replace(/^Bearer /, ""));
    return true;
  }
}
