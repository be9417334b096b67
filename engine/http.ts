/**
 * The one HTTP transport shared by every Vectra and vendor call: a timeout on every
 * attempt, retries with exponential backoff and jitter on network errors, 5xx and 429
 * (honouring `Retry-After`), never on other 4xx; a bounded number of requests in flight
 * per origin; TLS verified by default with an optional CA file and an explicit opt-out;
 * errors that name the system, method, path (never the query) and status; a request
 * counter by endpoint.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import pLimit, { type LimitFunction } from "p-limit";
import pRetry, { AbortError } from "p-retry";
import type {
  EndpointOptions,
  HttpResponse,
  RequestCounter,
  RequestOptions,
} from "./http_types.ts";
import { insecureFetch } from "./http_insecure.ts";

export type { EndpointOptions, HttpOptions, HttpResponse, RequestOptions } from "./http_types.ts";

const logger = getLogger(["var", "http"]);

/** Methods retried by default: a repeat has the same effect as one call. */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "PUT", "PATCH", "DELETE"]);

/** Per-origin limiters, shared by every endpoint of the process. */
const originLimits = new Map<string, LimitFunction>();

/** Longest error-body excerpt carried in an error message. */
const BODY_EXCERPT_CHARS = 300;

/** A failed HTTP call, after retries: names the system, method, path and status. */
export class HttpError extends Error {
  /** The system, e.g. `brain brain.example.com`. */
  readonly system: string;
  /** The HTTP method. */
  readonly method: string;
  /** The URL path, without query. */
  readonly path: string;
  /** The HTTP status, or null for network errors, timeouts and unreadable bodies. */
  readonly status: number | null;
  /** The response body (truncated), when the server answered. */
  readonly body: string;
  /** Milliseconds the server asked to wait (`Retry-After`), when it did. */
  readonly retryAfterMs: number | null;

  constructor(
    init: {
      system: string;
      method: string;
      path: string;
      status: number | null;
      body?: string;
      retryAfterMs?: number | null;
      detail: string;
    },
    options?: ErrorOptions,
  ) {
    super(`Cannot ${init.method} ${init.path} on ${init.system}: ${init.detail}`, options);
    this.name = "HttpError";
    this.system = init.system;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.body = init.body ?? "";
    this.retryAfterMs = init.retryAfterMs ?? null;
  }
}

/** Counts requests by `system method path-template` and by status class. */
export class CountingRequestCounter implements RequestCounter {
  #counts = new Map<string, number>();
  #errors = new Map<string, number>();

  /** Records one attempt. */
  record(system: string, method: string, pathTemplate: string, status: number): void {
    const key = `${system} ${method} ${pathTemplate}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    if (status === 0 || status >= 400) {
      this.#errors.set(system, (this.#errors.get(system) ?? 0) + 1);
    }
  }

  /** Requests by `system method path-template`. */
  byEndpoint(): Map<string, number> {
    return new Map(this.#counts);
  }

  /** Failed attempts (network errors and statuses >= 400) by system. */
  errorsBySystem(): Map<string, number> {
    return new Map(this.#errors);
  }

  /** All requests recorded. */
  total(): number {
    let sum = 0;
    for (const count of this.#counts.values()) sum += count;
    return sum;
  }

  /** Forgets everything (start of a cycle). */
  reset(): void {
    this.#counts.clear();
    this.#errors.clear();
  }
}

/** Replaces numeric path segments by `{id}`, so counts group by endpoint. */
export function pathTemplate(path: string): string {
  return path.split("/").map((segment) => /^\d+$/.test(segment) ? "{id}" : segment).join("/");
}

/**
 * Parses `Retry-After` (seconds or an HTTP date) into milliseconds from `now`.
 * Returns null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, now: Date = new Date()): number | null {
  if (value === null || value.trim() === "") return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now.getTime());
}

/** One API endpoint: base URL, TLS settings and auth headers, with the shared transport rules. */
export class HttpEndpoint {
  #options: EndpointOptions;
  #base: URL;
  #client: Deno.HttpClient | null = null;
  #limit: LimitFunction;
  #insecure: boolean;

  constructor(options: EndpointOptions) {
    this.#options = options;
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw new TypeError(
        `Cannot use the URL of ${options.system}: "${options.baseUrl}" is not a URL`,
        { cause },
      );
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError(
        `Cannot use the URL of ${options.system}: "${options.baseUrl}" is not http or https`,
      );
    }
    if (base.username || base.password) {
      throw new TypeError(
        `Cannot use the URL of ${options.system}: credentials do not belong in a URL`,
      );
    }
    this.#base = base;
    this.#insecure = base.protocol === "https:" && options.verifyTls === false;
    if (base.protocol === "http:") {
      logger.warn("{system} is reached over plain http:// at {origin}; use https outside labs", {
        system: options.system,
        origin: base.origin,
      });
    } else if (this.#insecure) {
      logger.warn(
        "TLS certificate verification is off for {system} ({origin}); traffic can be intercepted",
        { system: options.system, origin: base.origin },
      );
    } else {
      const pem = options.caPem ?? (options.caFile ? readCaFile(options) : undefined);
      if (pem !== undefined) this.#client = Deno.createHttpClient({ caCerts: [pem] });
    }
    const existing = originLimits.get(base.origin);
    this.#limit = existing ?? pLimit(options.maxInFlight ?? 8);
    if (!existing) originLimits.set(base.origin, this.#limit);
  }

  /** The system name used in errors and counters. */
  get system(): string {
    return this.#options.system;
  }

  /** The origin (`https://host:port`). */
  get origin(): string {
    return this.#base.origin;
  }

  /** Sends one request, with retries as the method and options allow. */
  async request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<HttpResponse> {
    const url = this.#url(method, path, options);
    const retry = options.retry ?? IDEMPOTENT_METHODS.has(method);
    const {
      retries = 4,
      minRetryDelayMs = 250,
      maxRetryDelayMs = 30_000,
    } = this.#options;
    return await pRetry(() => this.#attempt(method, url, options), {
      retries: retry ? retries : 0,
      minTimeout: minRetryDelayMs,
      maxTimeout: maxRetryDelayMs,
      factor: 2,
      randomize: true,
      ...(options.signal ? { signal: options.signal } : {}),
      onFailedAttempt: async ({ error, retriesLeft }) => {
        if (!(error instanceof HttpError) || retriesLeft === 0) return;
        logger.debug("Retrying {method} {path} on {system} after: {error}", {
          method,
          path: url.pathname,
          system: this.#options.system,
          error: error.message,
        });
        if (error.retryAfterMs !== null) {
          await sleep(Math.min(error.retryAfterMs, maxRetryDelayMs), options.signal);
        }
      },
    });
  }

  /** Releases the TLS client. */
  close(): void {
    this.#client?.close();
    this.#client = null;
  }

  /** Closes through `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #url(method: string, path: string, options: RequestOptions): URL {
    if (options.url !== undefined) {
      const next = new URL(options.url);
      if (next.origin !== this.#base.origin) {
        throw new HttpError({
          system: this.#options.system,
          method,
          path: next.pathname,
          status: null,
          detail: `refused to follow a link to another origin "${next.origin}"`,
        });
      }
      return next;
    }
    const basePath = this.#base.pathname.replace(/\/$/, "");
    const url = new URL(`${basePath}${path.startsWith("/") ? "" : "/"}${path}`, this.#base);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) {
        for (const item of value) url.searchParams.append(key, item);
      } else {
        url.searchParams.set(key, String(value));
      }
    }
    return url;
  }

  async #attempt(method: string, url: URL, options: RequestOptions): Promise<HttpResponse> {
    // Auth headers are resolved before taking a slot: a callback that fetches a token from
    // the same origin must not wait for a slot held by requests waiting for that token.
    const authHeaders = await this.#options.headers?.();
    return await this.#limit(async () => {
      const system = this.#options.system;
      const path = url.pathname;
      const headers = new Headers(authHeaders);
      for (const [key, value] of Object.entries(options.headers ?? {})) headers.set(key, value);
      let body: string | undefined = options.body;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers.set("Content-Type", "application/json");
      }
      if (!headers.has("Accept")) headers.set("Accept", "application/json");
      const timeoutMs = this.#options.timeoutMs ?? 30_000;
      const timeout = new AbortController();
      const timer = setTimeout(
        () => timeout.abort(new DOMException("timed out", "TimeoutError")),
        timeoutMs,
      );
      const signal = options.signal
        ? AbortSignal.any([timeout.signal, options.signal])
        : timeout.signal;
      let status: number;
      let text: string;
      let responseHeaders: Headers;
      try {
        const init = { method, headers, signal, ...(body !== undefined ? { body } : {}) };
        if (this.#insecure) {
          ({ status, headers: responseHeaders, text } = await insecureFetch(url, init));
        } else {
          // Never follow a redirect: it would re-send the credentials (a header, a body)
          // to wherever the Location points.
          const response = await fetch(url, {
            ...init,
            redirect: "manual",
            ...(this.#client ? { client: this.#client } : {}),
          });
          status = response.status;
          responseHeaders = response.headers;
          // Read as it arrives: no whole-body buffer besides the text itself.
          text = "";
          if (response.body !== null) {
            const decoder = new TextDecoder();
            for await (const chunk of response.body) {
              text += decoder.decode(chunk, { stream: true });
            }
            text += decoder.decode();
          }
        }
      } catch (cause) {
        this.#options.counter?.record(system, method, pathTemplate(path), 0);
        if (options.signal?.aborted) throw new AbortError(describeAbort(options.signal.reason));
        const timedOut = timeout.signal.aborted;
        throw new HttpError({
          system,
          method,
          path,
          status: null,
          detail: timedOut
            ? `no answer within ${timeoutMs} ms`
            : `network error (${networkReason(cause)})`,
        }, { cause });
      } finally {
        clearTimeout(timer);
      }
      this.#options.counter?.record(system, method, pathTemplate(path), status);
      if (status >= 300 && status < 400 && !options.accept?.includes(status)) {
        throw new AbortError(
          new HttpError({
            system,
            method,
            path,
            status,
            detail:
              `answered ${status}, a redirect to ${
                redirectTarget(responseHeaders.get("Location"), url)
              }; var follows no redirect (it could carry the credentials to another server): ` +
              "configure the address the API answers on",
          }),
        );
      }
      if ((status >= 200 && status < 300) || options.accept?.includes(status)) {
        return new BodyResponse(system, method, path, status, responseHeaders, text);
      }
      const error = new HttpError({
        system,
        method,
        path,
        status,
        body: text.slice(0, BODY_EXCERPT_CHARS),
        retryAfterMs: parseRetryAfter(responseHeaders.get("Retry-After")),
        detail: `answered ${status}${excerpt(text)}`,
      });
      if (status === 429 || status >= 500) throw error;
      throw new AbortError(error);
    });
  }
}

class BodyResponse implements HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  #system: string;
  #method: string;
  #path: string;

  constructor(
    system: string,
    method: string,
    path: string,
    status: number,
    headers: Headers,
    text: string,
  ) {
    this.#system = system;
    this.#method = method;
    this.#path = path;
    this.status = status;
    this.headers = headers;
    this.text = text;
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text) as T;
    } catch (cause) {
      throw new HttpError({
        system: this.#system,
        method: this.#method,
        path: this.#path,
        status: this.status,
        body: this.text.slice(0, BODY_EXCERPT_CHARS),
        detail: `answered ${this.status} with a body that is not JSON${excerpt(this.text)}`,
      }, { cause });
    }
  }
}

function readCaFile(options: EndpointOptions): string {
  try {
    return Deno.readTextFileSync(options.caFile as string);
  } catch (cause) {
    throw new TypeError(
      `Cannot read the CA file of ${options.system}: "${options.caFile}" (${
        cause instanceof Error ? cause.message : String(cause)
      })`,
      { cause },
    );
  }
}

function excerpt(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, " ");
  if (trimmed === "") return "";
  const cut = trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed;
  return `: ${cut}`;
}

function networkReason(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : "";
  return `${cause.message}${inner}`.slice(0, 200);
}

function describeAbort(reason: unknown): string {
  return reason instanceof Error ? reason.message : "aborted";
}

/** Waits `ms`, or until `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Where a redirect points, as an origin (never a path or query, which may carry data). */
function redirectTarget(location: string | null, from: string | URL): string {
  if (location === null || location === "") return "no Location";
  try {
    const target = new URL(location, from);
    return target.origin === new URL(from).origin
      ? `${target.origin} (the same origin)`
      : target.origin;
  } catch {
    return "an unreadable Location";
  }
}
