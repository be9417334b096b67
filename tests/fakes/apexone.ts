/**
 * A stateful fake of the Apex Central Automation API for Apex One agents
 * (vendors/trendmicro_apexone.md, "Test double"), on the shared device base.
 *
 * - Every request carries `Authorization: Bearer <JWT>`: the fake recomputes the HS256
 *   signature with the application's key, checks `appid`, `version: "V1"` and an `iat`
 *   within five minutes, and recomputes the checksum — Base64 SHA-256 of the method, the
 *   lower-cased path and query, empty canonical headers and the raw body, `|`-separated.
 *   Any mismatch is 401.
 * - `GET /WebApp/API/AgentResource/ProductAgents` filters agents by `entity_id`,
 *   `ip_address`, `mac_address` (any case, hyphens) and `host_name`.
 * - `POST` the same path with `act` `cmd_isolate_agent` or `cmd_restore_isolated_agent`
 *   and one match field: no match, or several with `allow_multiple_match` false, answer
 *   `result_code` 0 in a 200; otherwise the agent becomes `isolated` (or `normal`) after
 *   `pendingReads` reads, and the answer lists the agents as before the action.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface ApexRequest {
  readonly method: string;
  readonly pathAndQuery: string;
  readonly authorization: string | null;
  readonly body: string;
}

/** An Apex One agent. */
export interface ApexAgent {
  entity_id: string;
  host_name: string;
  ip_address_list: string;
  mac_address_list: string;
  isolation_status: "normal" | "isolated";
}

/** Options of {@linkcode FakeApexCentral}. */
export interface FakeApexCentralOptions {
  readonly applicationId: string;
  readonly apiKey: string;
  readonly agents?: readonly ApexAgent[];
  readonly pendingReads?: number;
}

export const APEX_PATH = "/WebApp/API/AgentResource/ProductAgents";

const b64url = (buffer: Buffer) => buffer.toString("base64url");

/** The fake Apex Central. */
export class FakeApexCentral extends FakeDevice<ApexRequest> {
  readonly agents = new Map<string, ApexAgent>();
  #options: FakeApexCentralOptions;
  #pending = new Map<string, { to: "normal" | "isolated"; reads: number }>();

  constructor(options: FakeApexCentralOptions) {
    super();
    this.#options = options;
    for (const a of options.agents ?? []) this.agents.set(a.entity_id, { ...a });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    const recorded = {
      method: request.method,
      pathAndQuery: `${url.pathname}${url.search}`,
      authorization: request.headers.get("Authorization"),
      body,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("Injected fault", { status: injected });
    const refusal = this.#verify(recorded);
    if (refusal !== null) return Response.json({ Message: refusal }, { status: 401 });
    if (url.pathname !== APEX_PATH) return new Response("Not found", { status: 404 });
    if (request.method === "GET") {
      const found = this.#match(Object.fromEntries(url.searchParams));
      for (const a of found) this.#tick(a);
      return this.#result(1, "Operation successful", found.map((a) => ({ ...a })));
    }
    const b = JSON.parse(body || "{}") as Record<string, unknown>;
    const act = b.act;
    if (act !== "cmd_isolate_agent" && act !== "cmd_restore_isolated_agent") {
      return this.#result(0, `Unknown act ${String(act)}`, []);
    }
    const found = this.#match(b);
    if (found.length === 0) return this.#result(0, "No agents matched", []);
    if (found.length > 1 && b.allow_multiple_match !== true) {
      return this.#result(0, "Multiple agents matched", []);
    }
    const before = found.map((a) => ({ ...a }));
    for (const a of found) {
      this.#pending.set(a.entity_id, {
        to: act === "cmd_isolate_agent" ? "isolated" : "normal",
        reads: this.#options.pendingReads ?? 1,
      });
    }
    return this.#result(1, "Operation successful", before);
  }

  #verify(r: ApexRequest): string | null {
    const jwt = (r.authorization ?? "").replace(/^Bearer /, "");
    const [header = "", payload = "", signature = ""] = jwt.split(".");
    const expected = b64url(
      createHmac("sha256", this.#options.apiKey).update(`${header}.${payload}`).digest(),
    );
    if (signature === "" || signature !== expected) return "Invalid signature";
    let claims: Record<string, unknown>;
    try {
      claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return "Invalid payload";
    }
    if (claims.appid !== this.#options.applicationId || claims.version !== "V1") {
      return "Unknown application";
    }
    if (typeof claims.iat !== "number" || Math.abs(Date.now() / 1000 - claims.iat) > 300) {
      return "Token expired";
    }
    const checksum = createHash("sha256").update(
      `${r.method.toUpperCase()}|${r.pathAndQuery.toLowerCase()}||${r.body}`,
    ).digest("base64");
    return claims.checksum === checksum ? null : "Checksum mismatch";
  }

  #match(fields: Record<string, unknown>): ApexAgent[] {
    const mac = (m: string) => m.toUpperCase().replace(/[:]/g, "-");
    return [...this.agents.values()].filter((a) =>
      (fields.entity_id === undefined || a.entity_id === fields.entity_id) &&
      (fields.ip_address === undefined ||
        a.ip_address_list.split(",").includes(String(fields.ip_address))) &&
      (fields.mac_address === undefined ||
        a.mac_address_list.split(",").map(mac).includes(mac(String(fields.mac_address)))) &&
      (fields.host_name === undefined ||
        a.host_name.toLowerCase() === String(fields.host_name).toLowerCase())
    );
  }

  #tick(a: ApexAgent): void {
    const pending = this.#pending.get(a.entity_id);
    if (pending === undefined) return;
    if (pending.reads > 0) {
      pending.reads--;
      return;
    }
    a.isolation_status = pending.to;
    this.#pending.delete(a.entity_id);
  }

  #result(code: number, description: string, content: unknown[]): Response {
    return Response.json({
      result_code: code,
      result_description: description,
      result_content: content,
    });
  }
}

/** Starts a fake Apex Central on 127.0.0.1. */
export function startFakeApexCentral(
  options: FakeApexCentralOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeApexCentral> {
  return serveFake(new FakeApexCentral(options), options.tls);
}
