/**
 * A stateful fake of the Cisco Secure Endpoint (AMP for Endpoints) API v1
 * (vendors/cisco_amp.md, "Test double"), on the shared device base.
 *
 * - HTTP Basic `client_id:api_key` on every request (401 with Secure Endpoint's error body
 *   otherwise); an hourly quota with `X-RateLimit-*` headers and 429 past it.
 * - `GET /v1/version`; `GET /v1/computers` filtered by `internal_ip` and `hostname[]` (the
 *   documented form; `hostname` singular is ignored, as an API version may); a hostname
 *   filter matches a part of the name when `partialHostnames` is on, as the product does.
 * - `GET /v1/computers/{guid}` (404 when unknown) and the isolation sub-resource: `PUT`
 *   starts it (`not_isolated` → `pending_start` → `isolated` after `pendingReads` reads
 *   while the computer is online), `DELETE` stops it (`isolated` or `pending_start` →
 *   `pending_stop` → `not_isolated`); a PUT when isolated or pending, or a DELETE when not
 *   isolated, is 409; a computer whose isolation is not `available` refuses both.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface AmpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly authorization: string | null;
  readonly body: string;
}

/** A computer of the organisation. */
export interface AmpComputer {
  connector_guid: string;
  hostname: string;
  internal_ips: string[];
  /** False: the connector is offline; a pending change waits for it. */
  online: boolean;
  isolation: {
    available: boolean;
    status: "not_isolated" | "pending_start" | "isolated" | "pending_stop";
    comment?: string;
  };
}

/** Options of {@linkcode FakeAmp}. */
export interface FakeAmpOptions {
  readonly clientId: string;
  readonly apiKey: string;
  readonly computers?: readonly AmpComputer[];
  /** Reads of a pending computer before its change completes. @default {1} */
  readonly pendingReads?: number;
  /** Requests allowed per hour. @default {3000} */
  readonly quota?: number;
}

class AmpFailure {
  constructor(readonly status: number, readonly description: string) {}
}

/** The fake Secure Endpoint cloud. */
export class FakeAmp extends FakeDevice<AmpRequest> {
  readonly computers = new Map<string, AmpComputer>();
  /** Hostname filters match a part of the name. */
  partialHostnames = false;
  #options: FakeAmpOptions;
  #pending = new Map<string, number>();
  #used = 0;

  constructor(options: FakeAmpOptions) {
    super();
    this.#options = options;
    for (const c of options.computers ?? []) this.put(c);
  }

  /** Adds or replaces a computer. */
  put(computer: AmpComputer): void {
    this.computers.set(computer.connector_guid, structuredClone(computer));
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const recorded = {
      method: request.method,
      path: url.pathname,
      query: url.search,
      authorization: request.headers.get("Authorization"),
      body: await request.text(),
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return this.#failure(new AmpFailure(injected, "Injected fault"));
    const expected = `Basic ${btoa(`${this.#options.clientId}:${this.#options.apiKey}`)}`;
    if (recorded.authorization !== expected) {
      return this.#failure(new AmpFailure(401, "Unauthorized"));
    }
    this.#used++;
    if (this.#used > (this.#options.quota ?? 3000)) {
      return this.#failure(new AmpFailure(429, "Too Many Requests"));
    }
    try {
      return this.#json(this.#route(request.method, url));
    } catch (error) {
      if (error instanceof AmpFailure) return this.#failure(error);
      throw error;
    }
  }

  #route(method: string, url: URL): unknown {
    const path = url.pathname.replace(/\/$/, "");
    if (method === "GET" && path === "/v1/version") return { version: "v1.2.0", data: {} };
    if (method === "GET" && path === "/v1/computers") return this.#list(url.searchParams);
    const match = path.match(/^\/v1\/computers\/([^/]+)(\/isolation)?$/);
    const computer = match ? this.computers.get(decodeURIComponent(match[1] ?? "")) : undefined;
    if (!match || computer === undefined) throw new AmpFailure(404, "Not Found");
    this.#tick(computer);
    if (match[2] === undefined && method === "GET") return { data: this.#view(computer) };
    if (match[2] === undefined) throw new AmpFailure(405, "Method Not Allowed");
    const isolation = computer.isolation;
    if (method === "GET") return { data: { ...isolation } };
    if (!isolation.available) throw new AmpFailure(409, "Isolation is not available");
    if (method === "PUT") {
      if (isolation.status !== "not_isolated") throw new AmpFailure(409, "Conflict");
      isolation.status = "pending_start";
    } else if (method === "DELETE") {
      if (isolation.status !== "isolated" && isolation.status !== "pending_start") {
        throw new AmpFailure(409, "Conflict");
      }
      isolation.status = "pending_stop";
    } else throw new AmpFailure(405, "Method Not Allowed");
    this.#pending.set(computer.connector_guid, this.#options.pendingReads ?? 1);
    return { data: { ...isolation } };
  }

  #list(params: URLSearchParams): unknown {
    const ip = params.get("internal_ip");
    const names = params.getAll("hostname[]");
    const found = [...this.computers.values()].filter((c) =>
      (ip === null || c.internal_ips.includes(ip)) &&
      (names.length === 0 ||
        names.some((n) =>
          this.partialHostnames
            ? c.hostname.toLowerCase().includes(n.toLowerCase())
            : c.hostname.toLowerCase() === n.toLowerCase()
        ))
    );
    return {
      metadata: { results: { total: found.length, current_item_count: found.length } },
      data: found.map((c) => this.#view(c)),
    };
  }

  #view(c: AmpComputer): Record<string, unknown> {
    return {
      connector_guid: c.connector_guid,
      hostname: c.hostname,
      internal_ips: [...c.internal_ips],
      isolation: { available: c.isolation.available, status: c.isolation.status },
    };
  }

  /** A read of an online computer with a pending change brings the change closer. */
  #tick(c: AmpComputer): void {
    const status = c.isolation.status;
    if ((status !== "pending_start" && status !== "pending_stop") || !c.online) return;
    const left = this.#pending.get(c.connector_guid) ?? 0;
    if (left > 0) {
      this.#pending.set(c.connector_guid, left - 1);
      return;
    }
    c.isolation.status = status === "pending_start" ? "isolated" : "not_isolated";
  }

  #headers(): Record<string, string> {
    const limit = this.#options.quota ?? 3000;
    return {
      "X-RateLimit-Limit": String(limit),
      "X-RateLimit-Remaining": String(Math.max(0, limit - this.#used)),
      "X-RateLimit-Reset": "3600",
    };
  }

  #json(body: unknown): Response {
    return Response.json(body, { headers: this.#headers() });
  }

  #failure(error: AmpFailure): Response {
    return Response.json({
      version: "v1.2.0",
      errors: [{ error_code: error.status, description: error.description, details: [] }],
    }, { status: error.status, headers: this.#headers() });
  }
}

/** Starts a fake Secure Endpoint API on 127.0.0.1. */
export function startFakeAmp(
  options: FakeAmpOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeAmp> {
  return serveFake(new FakeAmp(options), options.tls);
}
