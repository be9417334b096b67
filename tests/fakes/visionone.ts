/**
 * A stateful fake of the Trend Vision One public API v3.0 for endpoint isolation
 * (vendors/trendmicro_visionone.md, "Test double"), on the shared device base.
 *
 * - `Authorization: Bearer <key>` on every call, else 401.
 * - `GET /v3.0/eiqs/endpoints` with the filter in header `TMV1-Query`:
 *   `<field> eq '<value>'` for `endpointName`, `ip`, `macAddress`, `agentGuid`; anything
 *   else is 400. Items carry `agentGuid`, `endpointName.value`, `ip.value[]`,
 *   `macAddress.value[]`.
 * - `POST /v3.0/response/endpoints/isolate` and `/restore` with an array of
 *   `{agentGuid, description}` answer 207 with one result per item: 202 with an
 *   `Operation-Location` header naming a task, or 400 for an unknown agent.
 * - `GET /v3.0/response/tasks/<id>` reports `running` for `taskPolls` polls, then
 *   `succeeded` (the agent's isolation changed), or `failed` for agents in `failTasksFor`.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface VisionOneRequest {
  readonly method: string;
  readonly path: string;
  readonly query: string | null;
  readonly authorization: string | null;
  readonly body: string;
}

/** An endpoint of the tenant. */
export interface VisionOneEndpoint {
  agentGuid: string;
  endpointName: string;
  ips: string[];
  macs: string[];
  isolated: boolean;
}

/** Options of {@linkcode FakeVisionOne}. */
export interface FakeVisionOneOptions {
  readonly apiKey: string;
  readonly endpoints?: readonly VisionOneEndpoint[];
  readonly taskPolls?: number;
}

/** The fake Vision One. */
export class FakeVisionOne extends FakeDevice<VisionOneRequest> {
  readonly endpoints = new Map<string, VisionOneEndpoint>();
  /** Agents whose tasks fail. */
  failTasksFor = new Set<string>();
  url = "";
  #options: FakeVisionOneOptions;
  #tasks = new Map<string, { polls: number; guid: string; isolate: boolean }>();
  #next = 1;

  constructor(options: FakeVisionOneOptions) {
    super();
    this.#options = options;
    for (const e of options.endpoints ?? []) this.endpoints.set(e.agentGuid, structuredClone(e));
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = await request.text();
    const recorded = {
      method: request.method,
      path: url.pathname,
      query: request.headers.get("TMV1-Query"),
      authorization: request.headers.get("Authorization"),
      body,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) {
      return Response.json({ error: { code: "Injected" } }, { status: injected });
    }
    if (recorded.authorization !== `Bearer ${this.#options.apiKey}`) {
      return Response.json({ error: { code: "InvalidCredentials", message: "Invalid API key" } }, {
        status: 401,
      });
    }
    if (request.method === "GET" && url.pathname === "/v3.0/eiqs/endpoints") {
      return this.#search(recorded.query);
    }
    const action = url.pathname.match(/^\/v3\.0\/response\/endpoints\/(isolate|restore)$/);
    if (request.method === "POST" && action) return this.#act(body, action[1] === "isolate");
    const task = url.pathname.match(/^\/v3\.0\/response\/tasks\/([^/]+)$/);
    if (request.method === "GET" && task) return this.#task(task[1] ?? "");
    return Response.json({ error: { code: "NotFound" } }, { status: 404 });
  }

  #search(query: string | null): Response {
    const m = query?.match(/^(endpointName|ip|macAddress|agentGuid) eq '([^']*)'$/);
    if (!m) {
      return Response.json({ error: { code: "BadRequest", message: "Invalid TMV1-Query" } }, {
        status: 400,
      });
    }
    const [, field, value = ""] = m;
    const items = [...this.endpoints.values()].filter((e) =>
      field === "agentGuid"
        ? e.agentGuid === value
        : field === "endpointName"
        ? e.endpointName.toLowerCase() === value.toLowerCase()
        : field === "ip"
        ? e.ips.includes(value)
        : e.macs.some((mac) => mac.toLowerCase() === value.toLowerCase())
    ).map((e) => ({
      agentGuid: e.agentGuid,
      endpointName: { value: e.endpointName },
      ip: { value: [...e.ips] },
      macAddress: { value: [...e.macs] },
    }));
    return Response.json({ items });
  }

  #act(body: string, isolate: boolean): Response {
    let items: unknown;
    try {
      items = JSON.parse(body);
    } catch {
      items = null;
    }
    if (!Array.isArray(items)) {
      return Response.json({ error: { code: "BadRequest", message: "array expected" } }, {
        status: 400,
      });
    }
    const results = items.map((item) => {
      const guid = String((item as { agentGuid?: unknown }).agentGuid ?? "");
      if (!this.endpoints.has(guid)) {
        return {
          status: 400,
          body: { error: { code: "TaskError", message: `Unknown agent ${guid}` } },
        };
      }
      const id = `task-${this.#next++}`;
      this.#tasks.set(id, { polls: this.#options.taskPolls ?? 1, guid, isolate });
      return {
        status: 202,
        headers: [{ name: "Operation-Location", value: `${this.url}/v3.0/response/tasks/${id}` }],
      };
    });
    return Response.json(results, { status: 207 });
  }

  #task(id: string): Response {
    const task = this.#tasks.get(id);
    if (task === undefined) return Response.json({ error: { code: "NotFound" } }, { status: 404 });
    const action = task.isolate ? "isolate" : "restoreIsolate";
    if (task.polls > 0) {
      task.polls--;
      return Response.json({ id, status: "running", action });
    }
    if (this.failTasksFor.has(task.guid)) return Response.json({ id, status: "failed", action });
    this.endpoints.get(task.guid)!.isolated = task.isolate;
    return Response.json({ id, status: "succeeded", action });
  }
}

/** Starts a fake Vision One on 127.0.0.1. */
export function startFakeVisionOne(
  options: FakeVisionOneOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeVisionOne> {
  const server = serveFake(new FakeVisionOne(options), options.tls);
  server.fake.url = server.url;
  return server;
}
