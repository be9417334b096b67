/**
 * A stateful fake of the Bitdefender GravityZone public API v1.0 (vendors/bitdefender.md,
 * "Test double"), on the shared device base: JSON-RPC 2.0 on
 * `POST /api/v1.0/jsonrpc/{companies|network|incidents}`.
 *
 * - HTTP Basic with the API key as user and an empty password (401 otherwise); past
 *   `ratePerSecond` requests in one second, 429.
 * - `companies.getCompanyDetails`; `network.getEndpointsList` with `parentId`, `page`,
 *   `perPage` (at most 100) and `filters.details.macs` (12 hex digits), answering `items`
 *   (`id`, `name`, `ip`, `macs`, `isManaged`), `page`, `pagesCount`, `perPage`, `total`;
 *   `network.getManagedEndpointDetails` with `state` (1 online, 0 offline) and `isolated`.
 * - `incidents.createIsolateEndpointTask` / `createRestoreEndpointFromIsolationTask` with
 *   `endpointId` answer `true`; the endpoint-side task completes after `pendingReads` reads
 *   of the endpoint while it is online. Isolating an isolated endpoint, restoring one that
 *   is not, an unknown id: JSON-RPC errors. An unknown method is -32601, bad params -32602.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface GravityZoneRequest {
  readonly module: string;
  readonly method: string;
  readonly params: Record<string, unknown>;
  readonly authorization: string | null;
}

/** An endpoint of the company. */
export interface GravityZoneEndpoint {
  id: string;
  name: string;
  ip: string;
  /** 12 lower-case hex digits each. */
  macs: string[];
  online: boolean;
  isolated: boolean;
}

/** Options of {@linkcode FakeGravityZone}. */
export interface FakeGravityZoneOptions {
  readonly apiKey: string;
  readonly endpoints?: readonly GravityZoneEndpoint[];
  /** Reads of an endpoint before its task completes. @default {1} */
  readonly pendingReads?: number;
  /** Requests allowed per second. @default {1000} */
  readonly ratePerSecond?: number;
}

class RpcFailure {
  constructor(readonly code: number, readonly message: string, readonly details = "") {}
}

/** The fake console. */
export class FakeGravityZone extends FakeDevice<GravityZoneRequest> {
  readonly endpoints = new Map<string, GravityZoneEndpoint>();
  /** False: endpoint details leave the isolation out (a console that does not report it). */
  reportsIsolation = true;
  #options: FakeGravityZoneOptions;
  #tasks = new Map<string, { isolate: boolean; reads: number }>();
  #second = 0;
  #inSecond = 0;

  constructor(options: FakeGravityZoneOptions) {
    super();
    this.#options = options;
    for (const e of options.endpoints ?? []) this.put(e);
  }

  /** Adds or replaces an endpoint. */
  put(endpoint: GravityZoneEndpoint): void {
    this.endpoints.set(endpoint.id, structuredClone(endpoint));
  }

  async handle(request: Request): Promise<Response> {
    const module = new URL(request.url).pathname.replace(/^\/api\/v1\.0\/jsonrpc\//, "");
    let body: Record<string, unknown> = {};
    try {
      body = await request.json() as Record<string, unknown>;
    } catch {
      return Response.json({
        jsonrpc: "2.0",
        id: null,
        error: { code: -32700, message: "Parse error" },
      });
    }
    const params = (body.params ?? {}) as Record<string, unknown>;
    const recorded = {
      module,
      method: String(body.method),
      params,
      authorization: request.headers.get("Authorization"),
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("Injected fault", { status: injected });
    if (recorded.authorization !== `Basic ${btoa(`${this.#options.apiKey}:`)}`) {
      return new Response("Unauthorized", { status: 401 });
    }
    const second = Math.floor(Date.now() / 1000);
    this.#inSecond = second === this.#second ? this.#inSecond + 1 : 1;
    this.#second = second;
    if (this.#inSecond > (this.#options.ratePerSecond ?? 1000)) {
      return new Response("Too Many Requests", { status: 429, headers: { "Retry-After": "1" } });
    }
    try {
      return Response.json({
        jsonrpc: "2.0",
        id: body.id ?? null,
        result: this.#call(module, recorded.method, params),
      });
    } catch (error) {
      if (!(error instanceof RpcFailure)) throw error;
      return Response.json({
        jsonrpc: "2.0",
        id: body.id ?? null,
        error: { code: error.code, message: error.message, data: { details: error.details } },
      });
    }
  }

  #call(module: string, method: string, params: Record<string, unknown>): unknown {
    const key = `${module}.${method}`;
    if (key === "companies.getCompanyDetails") return { id: "company-1", name: "Hospital" };
    if (key === "network.getEndpointsList") return this.#list(params);
    const endpoint = () => {
      const found = this.endpoints.get(String(params.endpointId ?? ""));
      if (found === undefined) {
        throw new RpcFailure(-32602, "Invalid params", "Invalid value for 'endpointId' parameter.");
      }
      return found;
    };
    if (key === "network.getManagedEndpointDetails") {
      const e = endpoint();
      this.#tick(e);
      const details = { id: e.id, name: e.name, ip: e.ip, state: e.online ? 1 : 0 };
      return this.reportsIsolation ? { ...details, isolated: e.isolated } : details;
    }
    if (
      key === "incidents.createIsolateEndpointTask" ||
      key === "incidents.createRestoreEndpointFromIsolationTask"
    ) {
      const e = endpoint();
      const isolate = method === "createIsolateEndpointTask";
      if (e.isolated === isolate || this.#tasks.has(e.id)) {
        throw new RpcFailure(
          -32000,
          "Server error",
          `The endpoint is ${e.isolated ? "" : "not "}isolated or has a task pending`,
        );
      }
      this.#tasks.set(e.id, { isolate, reads: this.#options.pendingReads ?? 1 });
      return true;
    }
    throw new RpcFailure(-32601, "Method not found", `${key} does not exist`);
  }

  /** A read of an online endpoint with a pending task brings the task closer. */
  #tick(e: GravityZoneEndpoint): void {
    const task = this.#tasks.get(e.id);
    if (task === undefined || !e.online) return;
    if (task.reads > 0) {
      task.reads--;
      return;
    }
    e.isolated = task.isolate;
    this.#tasks.delete(e.id);
  }

  #list(params: Record<string, unknown>): unknown {
    if (params.parentId !== "company-1") {
      throw new RpcFailure(-32602, "Invalid params", "Invalid parentId");
    }
    const perPage = Number(params.perPage ?? 30);
    const page = Number(params.page ?? 1);
    if (perPage > 100) {
      throw new RpcFailure(-32602, "Invalid params", "perPage must be at most 100");
    }
    const filters = (params.filters ?? {}) as { details?: { macs?: unknown } };
    const macs = Array.isArray(filters.details?.macs) ? filters.details.macs.map(String) : null;
    const all = [...this.endpoints.values()].filter((e) =>
      macs === null || e.macs.some((m) => macs.includes(m))
    );
    const items = all.slice((page - 1) * perPage, page * perPage).map((e) => ({
      id: e.id,
      name: e.name,
      ip: e.ip,
      macs: [...e.macs],
      isManaged: true,
    }));
    return {
      items,
      page,
      pagesCount: Math.max(1, Math.ceil(all.length / perPage)),
      perPage,
      total: all.length,
    };
  }
}

/** Starts a fake GravityZone console on 127.0.0.1. */
export function startFakeGravityZone(
  options: FakeGravityZoneOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeGravityZone> {
  return serveFake(new FakeGravityZone(options), options.tls);
}
