/**
 * Types of the one HTTP transport shared by every Vectra and vendor call
 * (implementation in `engine/http.ts`).
 *
 * @module
 */

/** Counts requests per cycle by endpoint, for metrics and benchmarks. */
export interface RequestCounter {
  /** Records one request: `system` (e.g. `brain a.example`), method, path template, status (0 = network error). */
  record(system: string, method: string, pathTemplate: string, status: number): void;
}

/** Transport defaults, shared by every endpoint of a run. */
export interface HttpOptions {
  /**
   * Timeout of one attempt, in milliseconds.
   * @default {30000}
   */
  timeoutMs?: number;
  /**
   * Retries after the first attempt, on network errors, timeouts, 5xx and 429.
   * @default {4}
   */
  retries?: number;
  /**
   * First backoff delay in milliseconds (doubles each retry, with jitter).
   * @default {250}
   */
  minRetryDelayMs?: number;
  /**
   * Longest wait for one retry, `Retry-After` included, in milliseconds.
   * @default {30000}
   */
  maxRetryDelayMs?: number;
  /**
   * Requests in flight at once per origin.
   * @default {8}
   */
  maxInFlight?: number;
  /** Receives one record per request attempt. */
  counter?: RequestCounter;
}

/** One API endpoint: a base URL with its TLS settings and auth headers. */
export interface EndpointOptions extends HttpOptions {
  /** Names the system in errors and counters, e.g. `brain brain.example.com` or `fortinet 10.0.0.1`. */
  system: string;
  /** Scheme, host, port and optional path prefix, e.g. `https://10.0.0.1:8443/api/v2`. */
  baseUrl: string;
  /**
   * Verify the server certificate. Off only by explicit configuration; logs a warning.
   * @default {true}
   */
  verifyTls?: boolean;
  /** PEM file of a CA to trust in addition to the system roots. */
  caFile?: string;
  /** PEM text of a CA to trust (tests; takes precedence over `caFile`). */
  caPem?: string;
  /** Headers sent with every request (auth); called per attempt, so a refreshed token is used. */
  headers?: () => Record<string, string> | Promise<Record<string, string>>;
}

/** Options of one request. */
export interface RequestOptions {
  /** Query parameters; arrays repeat the parameter. Values are never logged. */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** A JSON body (sets `Content-Type: application/json`). */
  json?: unknown;
  /** A raw body (form or XML); set `Content-Type` in `headers`. */
  body?: string;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
  /**
   * Statuses treated as success besides 2xx (e.g. 404 for "already gone").
   * @default {[]}
   */
  accept?: readonly number[];
  /**
   * Retry this request on failure. Defaults to true for GET, PUT, PATCH, DELETE and
   * HEAD, false for POST (a POST may not be idempotent).
   */
  retry?: boolean;
  /** Aborts the request and its retries. */
  signal?: AbortSignal;
  /**
   * A full URL to request instead of `baseUrl + path` (paging `next` links). Refused unless
   * it has the endpoint's origin.
   */
  url?: string;
}

/** A response with its body already read. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON; throws an {@linkcode HttpError} naming the call when it is not JSON. */
  json<T = unknown>(): T;
}
