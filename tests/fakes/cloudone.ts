/**
 * A stateful fake of Trend Micro Cloud One Workload Security (the Deep Security API;
 * vendors/trendmicro_cloudone.md, "Test double"), on the shared device base.
 *
 * - `Authorization: ApiKey <key>` and `api-version: v1` on every call (401, 400 otherwise).
 * - `POST /api/computers/search` with `searchCriteria` on `lastIPUsed` or `hostName`
 *   (`stringTest: "equal"`); `GET /api/computers/<ID>` (404 when unknown).
 * - The computer setting `firewallSettingInterfaceIsolationEnabled`: `GET` (its value,
 *   `""` when inherited), `POST {"value": …}` (sets the override, answers the value), and
 *   `DELETE` (resets it to the policy's) unless `resetSupported` is off (405 then).
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface CloudOneRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A computer of the account. */
export interface CloudOneComputer {
  ID: number;
  hostName: string;
  lastIPUsed: string;
  /** The interface isolation override: "true", "false", or "" (inherited). */
  isolation: string;
}

export const SETTING = "firewallSettingInterfaceIsolationEnabled";

/** The fake Workload Security. */
export class FakeCloudOne extends FakeDevice<CloudOneRequest> {
  readonly computers = new Map<number, CloudOneComputer>();
  /** False: DELETE on a setting is 405 (reset not offered). */
  resetSupported = true;
  #key: string;

  constructor(options: { apiKey: string; computers?: readonly CloudOneComputer[] }) {
    super();
    this.#key = options.apiKey;
    for (const c of options.computers ?? []) this.computers.set(c.ID, { ...c });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    const recorded = {
      method: request.method,
      path: url.pathname,
      headers: Object.fromEntries(request.headers),
      body,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) {
      return Response.json({ message: "Injected fault" }, { status: injected });
    }
    if (request.headers.get("Authorization") !== `ApiKey ${this.#key}`) {
      return Response.json({ message: "Invalid API key" }, { status: 401 });
    }
    if (request.headers.get("api-version") !== "v1") {
      return Response.json({ message: "api-version missing" }, { status: 400 });
    }
    if (request.method === "POST" && url.pathname === "/api/computers/search") {
      const criteria = (JSON.parse(body || "{}") as {
        searchCriteria?: { fieldName?: string; stringValue?: string }[];
      }).searchCriteria ?? [];
      const found = [...this.computers.values()].filter((c) =>
        criteria.every((k) =>
          k.fieldName === "lastIPUsed"
            ? c.lastIPUsed === k.stringValue
            : k.fieldName === "hostName"
            ? c.hostName.toLowerCase() === String(k.stringValue).toLowerCase()
            : false
        )
      );
      return Response.json({
        computers: found.map(({ ID, hostName, lastIPUsed }) => ({ ID, hostName, lastIPUsed })),
      });
    }
    const m = url.pathname.match(/^\/api\/computers\/(\d+)(\/settings\/([A-Za-z]+))?$/);
    const computer = m ? this.computers.get(Number(m[1])) : undefined;
    if (!m || computer === undefined) {
      return Response.json({ message: "Not found" }, { status: 404 });
    }
    if (m[2] === undefined && request.method === "GET") {
      return Response.json({
        ID: computer.ID,
        hostName: computer.hostName,
        lastIPUsed: computer.lastIPUsed,
      });
    }
    if (m[3] !== SETTING) return Response.json({ message: "Unknown setting" }, { status: 404 });
    if (request.method === "POST") {
      const value = (JSON.parse(body || "{}") as { value?: unknown }).value;
      if (value !== "true" && value !== "false") {
        return Response.json({ message: "Invalid value" }, { status: 400 });
      }
      computer.isolation = value;
    } else if (request.method === "DELETE") {
      if (!this.resetSupported) {
        return Response.json({ message: "Method not allowed" }, { status: 405 });
      }
      computer.isolation = "";
    } else if (request.method !== "GET") {
      return Response.json({ message: "Method not allowed" }, { status: 405 });
    }
    return Response.json({ value: computer.isolation === "" ? "false" : computer.isolation });
  }
}

/** Starts a fake Workload Security on 127.0.0.1. */
export function startFakeCloudOne(
  options: {
    apiKey: string;
    computers?: readonly CloudOneComputer[];
    tls?: { cert: string; key: string };
  },
): FakeServer<FakeCloudOne> {
  return serveFake(new FakeCloudOne(options), options.tls);
}
