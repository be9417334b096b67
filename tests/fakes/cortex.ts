/**
 * A stateful fake of the Cortex XDR public API (vendors/pan_cortex.md, "Test double"), on
 * the shared device base: every call `POST /public_api/v1/...` with a body wrapped in
 * `request_data`, answers wrapped in `reply`.
 *
 * - Authentication, recomputed for real: a standard key (`Authorization` is the key,
 *   `x-xdr-auth-id` its id) or an advanced key (`Authorization` is the hex SHA-256 of key,
 *   nonce and timestamp; a timestamp more than five minutes off, or a nonce seen before, is
 *   refused). Anything else is 401.
 * - `endpoints/get_endpoint`: filters `ip_list`, `hostname` and `endpoint_id_list` with
 *   operator `in` (ANDed), sorted by `endpoint_id`, sliced by `search_from`/`search_to`
 *   (at most 100).
 * - `endpoints/isolate` (`endpoint_id`, or `filters`, never both): a connected endpoint
 *   becomes `AGENT_PENDING_ISOLATION`, then `AGENT_ISOLATED` after `pendingReads` reads of
 *   it; a disconnected one stays pending. Isolating one that is isolated or pending is
 *   refused. `endpoints/unisolate` is refused unless the endpoint is isolated, and releases
 *   it the same way.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface CortexRequest {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;
}

/** One endpoint of the tenant. */
export interface CortexEndpoint {
  endpoint_id: string;
  endpoint_name: string;
  ip: string[];
  endpoint_status: "CONNECTED" | "DISCONNECTED" | "LOST" | "UNINSTALLED";
  is_isolated:
    | "AGENT_UNISOLATED"
    | "AGENT_ISOLATED"
    | "AGENT_PENDING_ISOLATION"
    | "AGENT_PENDING_ISOLATION_CANCELLATION";
}

/** Options of {@linkcode FakeCortex}. */
export interface FakeCortexOptions {
  readonly keyId: string;
  readonly key: string;
  readonly endpoints?: readonly CortexEndpoint[];
  /** Reads of a pending endpoint before its change completes. @default {1} */
  readonly pendingReads?: number;
}

class CortexFailure {
  constructor(readonly status: number, readonly message: string) {}
}

/** The fake tenant. */
export class FakeCortex extends FakeDevice<CortexRequest> {
  readonly endpoints = new Map<string, CortexEndpoint>();
  #options: FakeCortexOptions;
  #nonces = new Set<string>();
  #pending = new Map<string, number>();
  /** The clock, epoch ms. */
  now: () => number = Date.now;

  constructor(options: FakeCortexOptions) {
    super();
    this.#options = options;
    for (const e of options.endpoints ?? []) this.endpoints.set(e.endpoint_id, structuredClone(e));
  }

  /** Adds or replaces an endpoint. */
  put(endpoint: CortexEndpoint): void {
    this.endpoints.set(endpoint.endpoint_id, structuredClone(endpoint));
  }

  async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname.replace(/\/$/, "");
    const headers = Object.fromEntries(request.headers);
    let body: Record<string, unknown> = {};
    try {
      body = await request.json() as Record<string, unknown>;
    } catch {
      return failure(new CortexFailure(400, "Bad JSON"));
    }
    const recorded = { path, headers, body };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return failure(new CortexFailure(injected, "Injected fault"));
    try {
      this.#authenticate(request.headers);
      const data = (body.request_data ?? {}) as Record<string, unknown>;
      switch (path) {
        case "/public_api/v1/endpoints/get_endpoint":
          return Response.json({ reply: this.#get(data) });
        case "/public_api/v1/endpoints/isolate":
          return Response.json({ reply: this.#change(data, "isolate") });
        case "/public_api/v1/endpoints/unisolate":
          return Response.json({ reply: this.#change(data, "unisolate") });
        default:
          throw new CortexFailure(404, `Unknown path ${path}`);
      }
    } catch (error) {
      if (error instanceof CortexFailure) return failure(error);
      throw error;
    }
  }

  #authenticate(headers: Headers): void {
    const { keyId, key } = this.#options;
    const authorization = headers.get("Authorization") ?? "";
    if (headers.get("x-xdr-auth-id") !== keyId) throw new CortexFailure(401, "Unknown API key id");
    const nonce = headers.get("x-xdr-nonce");
    const timestamp = headers.get("x-xdr-timestamp");
    if (nonce === null && timestamp === null) {
      if (authorization !== key) throw new CortexFailure(401, "Public API request unauthorized");
      return;
    }
    if (nonce === null || timestamp === null || !/^[A-Za-z0-9]{64}$/.test(nonce)) {
      throw new CortexFailure(401, "Public API request unauthorized: bad nonce");
    }
    if (Math.abs(this.now() - Number(timestamp)) > 5 * 60 * 1000) {
      throw new CortexFailure(401, "Public API request unauthorized: stale timestamp");
    }
    const digest = createHash("sha256").update(`${key}${nonce}${timestamp}`).digest("hex");
    if (authorization !== digest) {
      throw new CortexFailure(401, "Public API request unauthorized: wrong signature");
    }
    if (this.#nonces.has(nonce)) {
      throw new CortexFailure(401, "Public API request unauthorized: nonce reused");
    }
    this.#nonces.add(nonce);
  }

  #get(data: Record<string, unknown>): Record<string, unknown> {
    const filters = Array.isArray(data.filters) ? data.filters as Record<string, unknown>[] : [];
    let found = [...this.endpoints.values()];
    for (const f of filters) {
      const values = Array.isArray(f.value) ? f.value.map(String) : [];
      if (f.operator !== "in") {
        throw new CortexFailure(500, `Unsupported operator ${String(f.operator)}`);
      }
      if (f.field === "ip_list") {
        found = found.filter((e) => e.ip.some((ip) => values.includes(ip)));
      } else if (f.field === "hostname") {
        found = found.filter((e) => values.includes(e.endpoint_name));
      } else if (f.field === "endpoint_id_list") {
        found = found.filter((e) => values.includes(e.endpoint_id));
      } else throw new CortexFailure(500, `Unsupported filter field ${String(f.field)}`);
    }
    found.sort((a, b) => a.endpoint_id.localeCompare(b.endpoint_id));
    const from = Number(data.search_from ?? 0);
    const to = Math.min(Number(data.search_to ?? 100), from + 100);
    for (const e of found) this.#tick(e);
    const page = found.slice(from, to).map((e) => structuredClone(e));
    return { total_count: found.length, result_count: page.length, endpoints: page };
  }

  /** A read of a pending endpoint brings its change closer (it completes when connected). */
  #tick(e: CortexEndpoint): void {
    const pending = e.is_isolated === "AGENT_PENDING_ISOLATION" ||
      e.is_isolated === "AGENT_PENDING_ISOLATION_CANCELLATION";
    if (!pending || e.endpoint_status !== "CONNECTED") return;
    const left = this.#pending.get(e.endpoint_id) ?? 0;
    if (left > 0) {
      this.#pending.set(e.endpoint_id, left - 1);
      return;
    }
    e.is_isolated = e.is_isolated === "AGENT_PENDING_ISOLATION"
      ? "AGENT_ISOLATED"
      : "AGENT_UNISOLATED";
  }

  #change(data: Record<string, unknown>, action: "isolate" | "unisolate"): Record<string, unknown> {
    const filters = Array.isArray(data.filters) ? data.filters as Record<string, unknown>[] : null;
    if (filters !== null && data.endpoint_id !== undefined) {
      throw new CortexFailure(500, "Use either endpoint_id or filters, not both");
    }
    const ids = filters !== null
      ? filters.flatMap((f) =>
        f.field === "endpoint_id_list" && Array.isArray(f.value) ? f.value.map(String) : []
      )
      : [String(data.endpoint_id ?? "")];
    for (const id of ids) {
      const e = this.endpoints.get(id);
      if (e === undefined) throw new CortexFailure(500, `Endpoint ${id} does not exist`);
      if (action === "isolate" && e.is_isolated !== "AGENT_UNISOLATED") {
        throw new CortexFailure(500, `Endpoint ${id} is ${e.is_isolated}; cannot isolate`);
      }
      if (action === "unisolate" && e.is_isolated !== "AGENT_ISOLATED") {
        throw new CortexFailure(500, `Endpoint ${id} is ${e.is_isolated}; cannot unisolate`);
      }
      e.is_isolated = action === "isolate"
        ? "AGENT_PENDING_ISOLATION"
        : "AGENT_PENDING_ISOLATION_CANCELLATION";
      this.#pending.set(id, this.#options.pendingReads ?? 1);
    }
    return { action_id: ids.length, status: true, endpoints_count: ids.length };
  }
}

function failure(error: CortexFailure): Response {
  return Response.json(
    { reply: { err_code: error.status, err_msg: error.message, err_extra: "" } },
    { status: error.status },
  );
}

/** Starts a fake Cortex XDR tenant on 127.0.0.1. */
export function startFakeCortex(
  options: FakeCortexOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeCortex> {
  return serveFake(new FakeCortex(options), options.tls);
}
