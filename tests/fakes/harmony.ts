/**
 * A stateful fake of the Infinity Portal gateway and the Harmony Endpoint management API
 * (vendors/harmony.md, "Test double"), on the shared device base.
 *
 * - `POST /auth/external` with `clientId` and `accessKey` answers `{success, data: {token,
 *   expiresIn}}` (200 with `success: false` on bad keys); tokens expire after `tokenSeconds`.
 * - `POST <BASE>/v1/session/login/cloud` with a valid bearer answers the session token in
 *   header `x-mgmt-api-token`; every other call needs both (401 otherwise).
 * - Every job-based call (header `x-mgmt-run-as-job: on`) answers `{jobId}`; `GET
 *   <BASE>/v1/jobs/<id>` answers `IN_PROGRESS` for `jobPolls` polls, then `DONE` with its
 *   data, or `FAILED`; an unknown id is `NOT_FOUND`. A job call without the header is 400.
 * - `asset-management/computers/filtered`: filters on `computerName`, `computerIP`,
 *   `computerId` with `Exact` or `Contains`, paged.
 * - `remediation/isolate` and `remediation/de-isolate` flip the isolation of the included
 *   computers when their job completes; isolating an isolated computer, or releasing one
 *   that is not, ends the job `FAILED`, as does a computer listed in `failJobsFor`.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** The management API's path below the gateway. */
export const HARMONY_BASE = "/app/endpoint-web-mgmt/harmony/endpoint/api";

/** One request as the fake received it. */
export interface HarmonyRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** A computer of the tenant. */
export interface HarmonyComputer {
  computerId: string;
  computerName: string;
  computerIP: string;
  isolationStatus: "Isolated" | "Not Isolated";
}

/** Options of {@linkcode FakeHarmony}. */
export interface FakeHarmonyOptions {
  readonly clientId: string;
  readonly accessKey: string;
  readonly computers?: readonly HarmonyComputer[];
  /** Polls of a job before it ends. @default {1} */
  readonly jobPolls?: number;
  /** Lifetime of a bearer token, seconds. @default {300} */
  readonly tokenSeconds?: number;
}

class HarmonyFailure {
  constructor(readonly status: number, readonly message: string) {}
}

interface Job {
  polls: number;
  run: () => unknown;
  result?: { status: "DONE" | "FAILED"; data: unknown };
}

/** The fake gateway and tenant. */
export class FakeHarmony extends FakeDevice<HarmonyRequest> {
  readonly computers = new Map<string, HarmonyComputer>();
  /** Computers whose remediation jobs fail. */
  failJobsFor = new Set<string>();
  /** Bearer tokens and their expiry (epoch ms). */
  #tokens = new Map<string, number>();
  #sessions = new Set<string>();
  #jobs = new Map<string, Job>();
  #options: FakeHarmonyOptions;
  #next = 1;
  /** Logins so far (token renewals show here). */
  logins = 0;

  constructor(options: FakeHarmonyOptions) {
    super();
    this.#options = options;
    for (const c of options.computers ?? []) this.computers.set(c.computerId, { ...c });
  }

  /** Expires every bearer token now (the next call gets 401). */
  expireTokens(): void {
    this.#tokens.clear();
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const headers = Object.fromEntries(request.headers);
    const text = await request.text();
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      return Response.json({ message: "Bad JSON" }, { status: 400 });
    }
    const recorded = { method: request.method, path: url.pathname, headers, body };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) {
      return Response.json({ message: "Injected fault" }, { status: injected });
    }
    try {
      if (url.pathname === "/auth/external") return Response.json(this.#auth(body));
      const bearer = (request.headers.get("Authorization") ?? "").replace(/^Bearer /, "");
      if ((this.#tokens.get(bearer) ?? 0) < Date.now()) {
        throw new HarmonyFailure(401, "Invalid token");
      }
      const path = url.pathname.slice(HARMONY_BASE.length);
      if (!url.pathname.startsWith(HARMONY_BASE)) throw new HarmonyFailure(404, "Not found");
      if (path === "/v1/session/login/cloud") {
        const session = `mgmt-${this.#next++}`;
        this.#sessions.add(session);
        return new Response("{}", {
          headers: { "x-mgmt-api-token": session, "x-mgmt-session-expiry-seconds": "600" },
        });
      }
      if (!this.#sessions.has(request.headers.get("x-mgmt-api-token") ?? "")) {
        throw new HarmonyFailure(401, "Invalid management session");
      }
      if (request.method === "GET" && path.startsWith("/v1/jobs/")) {
        return Response.json(this.#job(path.slice("/v1/jobs/".length)));
      }
      if (request.headers.get("x-mgmt-run-as-job") !== "on") {
        throw new HarmonyFailure(400, "This operation runs as a job only");
      }
      return Response.json({ jobId: this.#submit(path, (body ?? {}) as Record<string, unknown>) });
    } catch (error) {
      if (error instanceof HarmonyFailure) {
        return Response.json({ message: error.message }, { status: error.status });
      }
      throw error;
    }
  }

  #auth(body: unknown): unknown {
    const b = (body ?? {}) as Record<string, unknown>;
    if (b.clientId !== this.#options.clientId || b.accessKey !== this.#options.accessKey) {
      return { success: false, message: "Authentication failed" };
    }
    this.logins++;
    const token = `bearer-${this.#next++}`;
    const seconds = this.#options.tokenSeconds ?? 300;
    this.#tokens.set(token, Date.now() + seconds * 1000);
    return { success: true, data: { token, expiresIn: seconds, csrf: "x" } };
  }

  #submit(path: string, body: Record<string, unknown>): string {
    const id = `job-${this.#next++}`;
    const job: Job = { polls: this.#options.jobPolls ?? 1, run: () => null };
    if (path === "/v1/asset-management/computers/filtered") job.run = () => this.#filter(body);
    else if (path === "/v1/remediation/isolate" || path === "/v1/remediation/de-isolate") {
      const include =
        ((body.targets as Record<string, unknown> | undefined)?.include ?? {}) as Record<
          string,
          unknown
        >;
      const ids = (Array.isArray(include.computers) ? include.computers : []).map((c) =>
        String((c as { id?: unknown }).id)
      );
      const isolate = path.endsWith("/isolate");
      job.run = () => {
        for (const id of ids) {
          const computer = this.computers.get(id);
          if (computer === undefined || this.failJobsFor.has(id)) {
            throw new Error(`computer ${id} failed`);
          }
          if ((computer.isolationStatus === "Isolated") === isolate) {
            throw new Error(`computer ${id} is already ${computer.isolationStatus}`);
          }
          computer.isolationStatus = isolate ? "Isolated" : "Not Isolated";
        }
        return { computers: ids.length };
      };
    } else throw new HarmonyFailure(404, `Unknown operation ${path}`);
    this.#jobs.set(id, job);
    return id;
  }

  #job(id: string): unknown {
    const job = this.#jobs.get(id);
    if (job === undefined) return { status: "NOT_FOUND" };
    if (job.polls > 0) {
      job.polls--;
      return { status: "IN_PROGRESS" };
    }
    if (job.result === undefined) {
      try {
        job.result = { status: "DONE", data: job.run() };
      } catch (error) {
        job.result = { status: "FAILED", data: { message: (error as Error).message } };
      }
    }
    return job.result;
  }

  #filter(body: Record<string, unknown>): unknown {
    const filters = Array.isArray(body.filters) ? body.filters as Record<string, unknown>[] : [];
    let found = [...this.computers.values()];
    for (const f of filters) {
      const values = Array.isArray(f.filterValues) ? f.filterValues.map(String) : [];
      const column = String(f.columnName) as keyof HarmonyComputer;
      const contains = f.filterType === "Contains";
      found = found.filter((c) =>
        values.some((v) =>
          contains
            ? String(c[column]).toLowerCase().includes(v.toLowerCase())
            : String(c[column]).toLowerCase() === v.toLowerCase()
        )
      );
    }
    const paging = (body.paging ?? {}) as { pageSize?: number; offset?: number };
    const offset = paging.offset ?? 0;
    return {
      computers: found.slice(offset, offset + (paging.pageSize ?? 10)).map((c) => ({ ...c })),
      totalCount: found.length,
    };
  }
}

/** Starts a fake Infinity Portal gateway with Harmony Endpoint on 127.0.0.1. */
export function startFakeHarmony(
  options: FakeHarmonyOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeHarmony> {
  return serveFake(new FakeHarmony(options), options.tls);
}
