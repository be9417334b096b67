/**
 * How a vendor client authenticates to a device, as one small interface with the
 * strategies products use: a static header token, a key generated once and stored, an
 * expiring token renewed before it lapses, OAuth client credentials (the Vectra
 * `OAuthTokens`, single-flight), and a session per cycle for a device that commits
 * (login on first use, commits, the changes of a failed commit discarded, logout). {@linkcode authenticated} sends a request and, after a
 * 401, renews the credential once and sends once more. Private to `clients/`.
 *
 * @module
 */

import type { OAuthTokens } from "../engine/vectra/oauth.ts";

/** A device credential. */
export interface Session {
  /** Makes sure a credential is loaded and valid (logs in when needed). */
  prepare(): Promise<void>;
  /** The headers that authenticate a request, after {@linkcode Session.prepare}. */
  headers(): Record<string, string>;
  /**
   * After a 401 answered to `used`: obtains a new credential and returns true, or returns
   * false when it cannot change (a static token). Concurrent callers share one renewal.
   */
  renew(used: Record<string, string>): Promise<boolean>;
}

/**
 * Sends with the session's headers; when `unauthorized(answer)` (a 401), renews once and
 * sends once more. The second answer is returned whatever it is.
 */
export async function authenticated<T>(
  session: Session,
  send: (headers: Record<string, string>) => Promise<T>,
  unauthorized: (answer: T) => boolean,
): Promise<T> {
  await session.prepare();
  const used = session.headers();
  const answer = await send(used);
  if (!unauthorized(answer) || !(await session.renew(used))) return answer;
  return await send(session.headers());
}

/** Runs `task` once for all callers that arrive while it runs. */
function singleFlight(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  return () => {
    running ??= task().finally(() => running = null);
    return running;
  };
}

/** A token sent as is in one header (`Authorization: Bearer …`); it cannot be renewed. */
export function staticToken(
  header: string,
  scheme: string,
  token: () => Promise<string>,
): Session {
  let value: string | null = null;
  return {
    async prepare() {
      value ??= await token();
    },
    headers: () => ({ [header]: `${scheme}${value ?? ""}` }),
    renew: () => Promise.resolve(false),
  };
}

/** What {@linkcode generatedKey} needs. */
export interface GeneratedKeyOptions {
  /** The stored key, or null when none is stored. */
  find(): Promise<string | null>;
  /** Generates a key (e.g. from a user name and password). */
  generate(): Promise<string>;
  /** Stores a generated key for the next runs; absent: kept in memory only. */
  store?(key: string): Promise<void>;
  /** The headers that carry a key. */
  headers(key: string): Record<string, string>;
}

/** A key generated once and stored; a rejected key is generated anew, once per rejection. */
export function generatedKey(options: GeneratedKeyOptions): Session {
  let key: string | null = null;
  const generate = singleFlight(async () => {
    key = await options.generate();
    await options.store?.(key);
  });
  return {
    async prepare() {
      if (key !== null) return;
      key = await options.find();
      if (key === null) await generate();
    },
    headers: () => options.headers(key ?? ""),
    async renew(used) {
      if (JSON.stringify(options.headers(key ?? "")) === JSON.stringify(used)) await generate();
      return true;
    },
  };
}

/** What {@linkcode expiringToken} needs. */
export interface ExpiringTokenOptions {
  /** Logs in: a token and its lifetime in seconds. */
  login(): Promise<{ token: string; expiresInSeconds: number }>;
  /** The headers that carry a token. */
  headers(token: string): Record<string, string>;
  /** Seconds before expiry at which the token is renewed. @default {60} */
  renewEarlySeconds?: number;
  /** The clock, epoch ms. @default {Date.now} */
  now?: () => number;
}

/** A token with a lifetime: renewed before it lapses, and once after a 401. */
export function expiringToken(options: ExpiringTokenOptions): Session {
  const now = options.now ?? Date.now;
  let token: string | null = null;
  let renewAt = 0;
  const login = singleFlight(async () => {
    const answer = await options.login();
    const lifetimeMs = answer.expiresInSeconds * 1000;
    const early = Math.min((options.renewEarlySeconds ?? 60) * 1000, lifetimeMs / 10);
    token = answer.token;
    renewAt = now() + lifetimeMs - early;
  });
  return {
    async prepare() {
      if (token === null || now() >= renewAt) await login();
    },
    headers: () => options.headers(token ?? ""),
    async renew(used) {
      if (JSON.stringify(options.headers(token ?? "")) === JSON.stringify(used)) await login();
      return true;
    },
  };
}

/** OAuth2 client credentials through the Vectra `OAuthTokens` (refresh, single-flight). */
export function oauthSession(tokens: OAuthTokens): Session {
  return {
    prepare: () => tokens.ensure(),
    headers: () => ({ Authorization: `Bearer ${tokens.current() ?? ""}` }),
    async renew(used) {
      const rejected = (used["Authorization"] ?? "").replace(/^Bearer /, "");
      await tokens.reauthenticate(rejected === "" ? null : rejected);
      return true;
    },
  };
}

/** The steps of a device session whose changes take effect only once committed. */
export interface CommitSteps<S> {
  /** Opens a session (a login, a lock on the policy). */
  login(): Promise<S>;
  /**
   * Makes the session's changes take effect (publish, commit, install); `changed` is false
   * when the caller changed nothing since the last commit.
   */
  commit(session: S, changed: boolean): Promise<void>;
  /** Drops the session's changes since the last commit. */
  discard(session: S): Promise<void>;
  /** Closes the session. */
  logout(session: S): Promise<void>;
}

/**
 * A device session for one cycle: logged in on first use (a failed login is tried again at
 * the next use), committed as often as asked, the changes of a failed commit discarded
 * (a failing discard never hides the commit's error), logged out at the end of the cycle.
 */
export class CycleSession<S> {
  readonly #steps: CommitSteps<S>;
  #open: Promise<S> | null = null;

  constructor(steps: CommitSteps<S>) {
    this.#steps = steps;
  }

  /** The open session, logging in when the cycle has none yet. */
  session(): Promise<S> {
    if (this.#open === null) {
      const open = this.#steps.login();
      this.#open = open;
      open.catch(() => {
        if (this.#open === open) this.#open = null;
      });
    }
    return this.#open;
  }

  /** Commits the session's changes; on failure discards them and throws the commit's error. */
  async commit(changed = true): Promise<void> {
    const session = await this.session();
    try {
      await this.#steps.commit(session, changed);
    } catch (error) {
      await this.#steps.discard(session).catch(() => {});
      throw error;
    }
  }

  /** Drops the session's uncommitted changes (nothing to do without a session). */
  async discard(): Promise<void> {
    const session = await this.#current();
    if (session !== null) await this.#steps.discard(session);
  }

  /** Logs out, when a session is open; the next use logs in again. */
  async end(): Promise<void> {
    const session = await this.#current();
    this.#open = null;
    if (session !== null) await this.#steps.logout(session);
  }

  async #current(): Promise<S | null> {
    return this.#open === null ? null : await this.#open.catch(() => null);
  }
}
