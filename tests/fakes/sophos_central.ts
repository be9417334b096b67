/**
 * A stateful fake of Sophos Central for endpoint isolation (vendors/sophos_edr.md, "Test
 * double"), on the shared device base: the identity server, who-am-I and the tenant's
 * data region, all on one listener.
 *
 * - `POST /api/v2/oauth2/token` (form `grant_type=client_credentials`, `client_id`,
 *   `client_secret`, `scope=token`) answers a bearer token living `tokenSeconds`; a wrong
 *   secret is 401 with `errorCode` and `message`.
 * - `GET /whoami/v1` answers the tenant id and `apiHosts.dataRegion` (this fake), or a
 *   partner id with `idType: partner` when `partner` is set.
 * - `/endpoint/v1/*` needs the bearer and `X-Tenant-ID`: `GET endpoints` filtered by
 *   `ipAddresses` and `hostnameContains` (a part of the name, as Sophos does), `GET
 *   endpoints/<id>`, `POST endpoints/isolation` with `enabled`, `ids` and `comment`. An
 *   isolation change completes after `pendingReads` reads of the endpoint while it is
 *   online; unknown ids are 400.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface CentralRequest {
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** An endpoint of the tenant. */
export interface CentralEndpoint {
  id: string;
  hostname: string;
  ipv4Addresses: string[];
  online: boolean;
  isolated: boolean;
}

/** Options of {@linkcode FakeSophosCentral}. */
export interface FakeSophosCentralOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly endpoints?: readonly CentralEndpoint[];
  readonly tokenSeconds?: number;
  readonly pendingReads?: number;
}

export const TENANT = "7d4a5b2e-1f3c-4e8a-9b6d-0c1e2f3a4b5c";

/** The fake Sophos Central. */
export class FakeSophosCentral extends FakeDevice<CentralRequest> {
  readonly endpoints = new Map<string, CentralEndpoint>();
  /** The credentials are a partner's: who-am-I answers `idType: partner`. */
  partner = false;
  /** Tokens issued so far. */
  tokens = 0;
  /** Set by `serveFake`'s caller: the data region's URL. */
  url = "";
  #options: FakeSophosCentralOptions;
  #live = new Map<string, number>();
  #pending = new Map<string, { enabled: boolean; reads: number }>();

  constructor(options: FakeSophosCentralOptions) {
    super();
    this.#options = options;
    for (const e of options.endpoints ?? []) this.endpoints.set(e.id, structuredClone(e));
  }

  /** Expires every token now. */
  expireTokens(): void {
    this.#live.clear();
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    const recorded = {
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: Object.fromEntries(request.headers),
      body,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return Response.json({ error: "Injected fault" }, { status: injected });
    if (request.method === "POST" && url.pathname === "/api/v2/oauth2/token") {
      return this.#token(body);
    }
    const bearer = (request.headers.get("Authorization") ?? "").replace(/^Bearer /, "");
    if ((this.#live.get(bearer) ?? 0) < Date.now()) {
      return Response.json({ error: "Unauthorized", message: "token expired or invalid" }, {
        status: 401,
      });
    }
    if (url.pathname === "/whoami/v1") {
      return Response.json({
        id: TENANT,
        idType: this.partner ? "partner" : "tenant",
        apiHosts: { global: this.url, dataRegion: this.url },
      });
    }
    if (request.headers.get("X-Tenant-ID") !== TENANT) {
      return Response.json({ error: "Forbidden", message: "X-Tenant-ID missing or wrong" }, {
        status: 403,
      });
    }
    const item = (e: CentralEndpoint) => {
      this.#tick(e);
      return {
        id: e.id,
        hostname: e.hostname,
        ipv4Addresses: [...e.ipv4Addresses],
        online: e.online,
        isolation: {
          status: e.isolated ? "isolated" : "notIsolated",
          adminIsolated: e.isolated,
          selfIsolated: false,
        },
      };
    };
    if (request.method === "GET" && url.pathname === "/endpoint/v1/endpoints") {
      const ips = url.searchParams.getAll("ipAddresses").flatMap((v) => v.split(","));
      const part = url.searchParams.get("hostnameContains")?.toLowerCase();
      const items = [...this.endpoints.values()].filter((e) =>
        (ips.length === 0 || e.ipv4Addresses.some((ip) => ips.includes(ip))) &&
        (part === undefined || e.hostname.toLowerCase().includes(part))
      ).map(item);
      return Response.json({
        items,
        pages: { current: 1, size: 50, total: 1, items: items.length },
      });
    }
    const one = url.pathname.match(/^\/endpoint\/v1\/endpoints\/([^/]+)$/);
    if (request.method === "GET" && one) {
      const e = this.endpoints.get(decodeURIComponent(one[1] ?? ""));
      return e === undefined
        ? Response.json({ error: "NotFound", message: "endpoint not found" }, { status: 404 })
        : Response.json(item(e));
    }
    if (request.method === "POST" && url.pathname === "/endpoint/v1/endpoints/isolation") {
      const b = JSON.parse(body || "{}") as { enabled?: unknown; ids?: unknown; comment?: unknown };
      const ids = Array.isArray(b.ids) ? b.ids.map(String) : [];
      if (
        typeof b.enabled !== "boolean" || ids.length === 0 ||
        ids.some((id) => !this.endpoints.has(id))
      ) {
        return Response.json(
          { error: "BadRequest", message: "enabled and known ids are required" },
          { status: 400 },
        );
      }
      for (const id of ids) {
        this.#pending.set(id, { enabled: b.enabled, reads: this.#options.pendingReads ?? 1 });
      }
      return Response.json(
        { items: ids.map((id) => ({ id, isolation: { enabled: b.enabled } })) },
        { status: 201 },
      );
    }
    return Response.json({ error: "NotFound" }, { status: 404 });
  }

  #token(body: string): Response {
    const form = new URLSearchParams(body);
    if (
      form.get("grant_type") !== "client_credentials" || form.get("scope") !== "token" ||
      form.get("client_id") !== this.#options.clientId ||
      form.get("client_secret") !== this.#options.clientSecret
    ) {
      return Response.json({
        errorCode: "oauth.invalid_client_secret",
        message: "Invalid client secret",
      }, { status: 401 });
    }
    this.tokens++;
    const token = `central-token-${this.tokens}`;
    const seconds = this.#options.tokenSeconds ?? 3600;
    this.#live.set(token, Date.now() + seconds * 1000);
    return Response.json({ access_token: token, token_type: "bearer", expires_in: seconds });
  }

  /** A read of an online endpoint with a pending change brings it closer. */
  #tick(e: CentralEndpoint): void {
    const pending = this.#pending.get(e.id);
    if (pending === undefined || !e.online) return;
    if (pending.reads > 0) {
      pending.reads--;
      return;
    }
    e.isolated = pending.enabled;
    this.#pending.delete(e.id);
  }
}

/** Starts a fake Sophos Central on 127.0.0.1; its data region is itself. */
export function startFakeSophosCentral(
  options: FakeSophosCentralOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeSophosCentral> {
  const server = serveFake(new FakeSophosCentral(options), options.tls);
  server.fake.url = server.url;
  return server;
}
