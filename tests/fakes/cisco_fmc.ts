/**
 * A stateful fake of the Cisco Secure Firewall Management Center REST API
 * (vendors/cisco_fmc.md, "Test double"), on the shared device base.
 *
 * - `POST /api/fmc_platform/v1/auth/generatetoken` with Basic credentials answers 204 with
 *   `X-auth-access-token`, `X-auth-refresh-token` and `DOMAIN_UUID`; a token lives
 *   `tokenSeconds`; `refreshtoken` renews it at most three times. Every other call needs a
 *   live `X-auth-access-token` (401 otherwise).
 * - `object/hosts` and `object/networks`: list (paged by `offset`/`limit`, `paging.next` an
 *   array of URLs), create (400 on a duplicate name), get, delete (400 while a group holds
 *   the object). `object/networkgroups`: list, get (no `objects` key when it holds none),
 *   PUT replacing `objects` and `literals` (400 for an unknown object id).
 * - Every change marks every managed device as having undeployed changes;
 *   `deployment/deployabledevices` lists them with the current `version`;
 *   `deployment/deploymentrequests` (the version and device ids) answers 202 with a task
 *   id, and `job/taskstatuses/<id>` reports `Running` for `taskPolls` polls, then
 *   `Deployed` (the devices enforce the groups as they were) or `Failed` on devices listed
 *   in `failDeployOn`.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface FmcRequest {
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

/** A host or network object. */
export interface FmcObject {
  id: string;
  type: "Host" | "Network";
  name: string;
  value: string;
  description: string;
}

/** A network group: its member object ids. */
export interface FmcGroup {
  id: string;
  name: string;
  objects: string[];
  literals: { type: string; value: string }[];
}

/** Options of {@linkcode FakeFmc}. */
export interface FakeFmcOptions {
  readonly username: string;
  readonly password: string;
  /** Network groups that exist. @default {["Vectra-Block", "External-Block"]} */
  readonly groups?: readonly string[];
  /** Managed devices. @default {["ftd-ward", "ftd-core"]} */
  readonly devices?: readonly string[];
  /** Lifetime of an access token. @default {1800} */
  readonly tokenSeconds?: number;
  /** Polls of a deployment task before it ends. @default {1} */
  readonly taskPolls?: number;
}

class FmcFailure {
  constructor(readonly status: number, readonly description: string) {}
}

export const DOMAIN = "e276abec-e0f2-11e3-8169-6d9ed49b625f";

/** The fake management center. */
export class FakeFmc extends FakeDevice<FmcRequest> {
  readonly objects = new Map<string, FmcObject>();
  readonly groups = new Map<string, FmcGroup>();
  /** Devices whose deployment fails. */
  failDeployOn = new Set<string>();
  /** Token generations so far (renewals show here), and refreshes. */
  generated = 0;
  refreshed = 0;
  #options: FakeFmcOptions;
  #tokens = new Map<string, { expires: number; refreshes: number; refresh: string }>();
  #pending = new Set<string>();
  #deployed = new Map<string, Map<string, string[]>>();
  #tasks = new Map<string, { polls: number; devices: string[]; snapshot: Map<string, string[]> }>();
  #version = 1;
  #next = 1;

  constructor(options: FakeFmcOptions) {
    super();
    this.#options = options;
    for (const name of options.groups ?? ["Vectra-Block", "External-Block"]) {
      const id = this.#uuid();
      this.groups.set(id, { id, name, objects: [], literals: [] });
    }
  }

  /** The managed devices. */
  get devices(): readonly string[] {
    return this.#options.devices ?? ["ftd-ward", "ftd-core"];
  }

  /** What a device enforces: group name → member object names, as last deployed. */
  deployed(device = "ftd-ward"): Map<string, string[]> {
    return this.#deployed.get(device) ?? new Map();
  }

  /** A group by name. */
  group(name: string): FmcGroup | undefined {
    return [...this.groups.values()].find((g) => g.name === name);
  }

  /** Expires every access token now. */
  expireTokens(): void {
    for (const token of this.#tokens.values()) token.expires = 0;
  }

  /** Marks every device as having undeployed changes (someone changed the policy). */
  touch(): void {
    this.#version++;
    for (const device of this.devices) this.#pending.add(device);
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const text = await request.text();
    let body: unknown = null;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      return this.#error(new FmcFailure(400, "Invalid JSON"));
    }
    const recorded = {
      method: request.method,
      path: url.pathname,
      search: url.search,
      headers: Object.fromEntries(request.headers),
      body,
    };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return this.#error(new FmcFailure(injected, "Injected fault"));
    try {
      if (url.pathname === "/api/fmc_platform/v1/auth/generatetoken") {
        return this.#generate(request);
      }
      if (url.pathname === "/api/fmc_platform/v1/auth/refreshtoken") return this.#refresh(request);
      const token = this.#tokens.get(request.headers.get("X-auth-access-token") ?? "");
      if (token === undefined || token.expires < Date.now()) {
        throw new FmcFailure(401, "Access token invalid.");
      }
      const prefix = `/api/fmc_config/v1/domain/${DOMAIN}`;
      if (!url.pathname.startsWith(prefix)) throw new FmcFailure(404, "Not found");
      return Response.json(
        this.#route(request.method, url.pathname.slice(prefix.length), url, body),
        {
          status: request.method === "POST"
            ? (url.pathname.endsWith("deploymentrequests") ? 202 : 201)
            : 200,
        },
      );
    } catch (error) {
      if (error instanceof FmcFailure) return this.#error(error);
      throw error;
    }
  }

  #generate(request: Request): Response {
    const expected = `Basic ${btoa(`${this.#options.username}:${this.#options.password}`)}`;
    if (request.headers.get("Authorization") !== expected) {
      throw new FmcFailure(401, "Invalid credentials");
    }
    this.generated++;
    return this.#issue(0);
  }

  #refresh(request: Request): Response {
    const access = request.headers.get("X-auth-access-token") ?? "";
    const token = this.#tokens.get(access);
    if (token === undefined || token.refresh !== request.headers.get("X-auth-refresh-token")) {
      throw new FmcFailure(401, "Invalid refresh token");
    }
    if (token.refreshes >= 3) {
      throw new FmcFailure(401, "Refresh limit reached; generate a new token");
    }
    this.#tokens.delete(access);
    this.refreshed++;
    return this.#issue(token.refreshes + 1);
  }

  #issue(refreshes: number): Response {
    const access = `access-${this.#next++}`;
    const refresh = `refresh-${this.#next++}`;
    const seconds = this.#options.tokenSeconds ?? 1800;
    this.#tokens.set(access, { expires: Date.now() + seconds * 1000, refreshes, refresh });
    return new Response(null, {
      status: 204,
      headers: {
        "X-auth-access-token": access,
        "X-auth-refresh-token": refresh,
        DOMAIN_UUID: DOMAIN,
      },
    });
  }

  #route(method: string, path: string, url: URL, body: unknown): unknown {
    const parts = path.split("/").filter((p) => p !== "");
    const [area, kind, id] = parts;
    if (area === "object" && (kind === "hosts" || kind === "networks")) {
      return this.#objects(method, kind === "hosts" ? "Host" : "Network", id, url, body);
    }
    if (area === "object" && kind === "networkgroups") return this.#groups(method, id, url, body);
    if (area === "deployment" && kind === "deployabledevices" && method === "GET") {
      const items = [...this.#pending].map((name) => ({
        type: "DeployableDevice",
        name,
        version: String(this.#version),
        device: { id: `dev-${name}`, name, type: "Device" },
      }));
      return { items, paging: { count: items.length, offset: 0, limit: 25, pages: 1 } };
    }
    if (area === "deployment" && kind === "deploymentrequests" && method === "POST") {
      const b = (body ?? {}) as { version?: unknown; deviceList?: unknown };
      if (b.version !== String(this.#version)) throw new FmcFailure(400, "Stale version");
      const devices = (Array.isArray(b.deviceList) ? b.deviceList : []).map((d) =>
        String(d).replace(/^dev-/, "")
      );
      if (devices.length === 0 || devices.some((d) => !this.devices.includes(d))) {
        throw new FmcFailure(400, "Invalid device list");
      }
      const taskId = `task-${this.#next++}`;
      const snapshot = new Map(
        [...this.groups.values()].map((g) => [
          g.name,
          g.objects.map((o) => this.objects.get(o)?.name ?? o),
        ]),
      );
      this.#tasks.set(taskId, { polls: this.#options.taskPolls ?? 1, devices, snapshot });
      return {
        type: "DeploymentRequest",
        version: b.version,
        metadata: { task: { id: taskId, taskType: "DEVICE_DEPLOYMENT" } },
      };
    }
    if (area === "job" && kind === "taskstatuses" && method === "GET" && id !== undefined) {
      const task = this.#tasks.get(id);
      if (task === undefined) throw new FmcFailure(404, "Task not found");
      if (task.polls > 0) {
        task.polls--;
        return { id, taskType: "DEVICE_DEPLOYMENT", status: "Running" };
      }
      const failed = task.devices.filter((d) => this.failDeployOn.has(d));
      for (const device of task.devices) {
        if (failed.includes(device)) continue;
        this.#deployed.set(device, task.snapshot);
        this.#pending.delete(device);
      }
      return failed.length > 0
        ? {
          id,
          taskType: "DEVICE_DEPLOYMENT",
          status: "Failed",
          message: `Deployment failed on ${failed.join(", ")}`,
        }
        : { id, taskType: "DEVICE_DEPLOYMENT", status: "Deployed" };
    }
    throw new FmcFailure(404, "Not found");
  }

  #objects(
    method: string,
    type: "Host" | "Network",
    id: string | undefined,
    url: URL,
    body: unknown,
  ): unknown {
    const all = [...this.objects.values()].filter((o) => o.type === type);
    if (method === "GET" && id === undefined) return this.#page(all, url);
    if (method === "POST" && id === undefined) {
      const b = (body ?? {}) as Record<string, unknown>;
      const name = String(b.name ?? "");
      if (b.type !== type || name === "" || typeof b.value !== "string") {
        throw new FmcFailure(400, "Invalid object");
      }
      if ([...this.objects.values()].some((o) => o.name === name)) {
        throw new FmcFailure(400, `The object name ${name} already exists. Enter a new name.`);
      }
      const created: FmcObject = {
        id: this.#uuid(),
        type,
        name,
        value: b.value,
        description: String(b.description ?? ""),
      };
      this.objects.set(created.id, created);
      this.touch();
      return created;
    }
    const found = id === undefined ? undefined : this.objects.get(id);
    if (found === undefined || found.type !== type) throw new FmcFailure(404, "Object not found");
    if (method === "GET") return { ...found };
    if (method === "DELETE") {
      if ([...this.groups.values()].some((g) => g.objects.includes(found.id))) {
        throw new FmcFailure(400, `The object ${found.name} is in use by a network group.`);
      }
      this.objects.delete(found.id);
      this.touch();
      return { ...found };
    }
    throw new FmcFailure(405, "Method not allowed");
  }

  #groups(method: string, id: string | undefined, url: URL, body: unknown): unknown {
    if (method === "GET" && id === undefined) return this.#page([...this.groups.values()], url);
    const group = id === undefined ? undefined : this.groups.get(id);
    if (group === undefined) throw new FmcFailure(404, "Network group not found");
    if (method === "GET") return this.#view(group);
    if (method === "PUT") {
      const b = (body ?? {}) as { objects?: unknown; literals?: unknown; name?: unknown };
      const ids = (Array.isArray(b.objects) ? b.objects : []).map((o) =>
        String((o as { id?: unknown }).id)
      );
      for (const member of ids) {
        if (!this.objects.has(member)) throw new FmcFailure(400, `Invalid object id ${member}`);
      }
      group.objects = ids;
      group.literals = Array.isArray(b.literals) ? b.literals as FmcGroup["literals"] : [];
      this.touch();
      return this.#view(group);
    }
    throw new FmcFailure(405, "Method not allowed");
  }

  #view(group: FmcGroup): Record<string, unknown> {
    const objects = group.objects.map((id) => {
      const o = this.objects.get(id);
      return { id, type: o?.type ?? "Host", name: o?.name ?? id };
    });
    return {
      id: group.id,
      type: "NetworkGroup",
      name: group.name,
      ...(objects.length > 0 ? { objects } : {}),
      ...(group.literals.length > 0 ? { literals: group.literals } : {}),
      links: {
        self: `https://fmc/api/fmc_config/v1/domain/${DOMAIN}/object/networkgroups/${group.id}`,
      },
    };
  }

  #page(items: { id: string; name: string }[], url: URL): unknown {
    const offset = Number(url.searchParams.get("offset") ?? 0);
    const limit = Math.min(Number(url.searchParams.get("limit") ?? 25), 1000);
    const expanded = url.searchParams.get("expanded") === "true";
    const page = items.slice(offset, offset + limit).map((i) =>
      expanded ? { ...i } : { id: i.id, name: i.name }
    );
    const next = offset + limit < items.length
      ? [`${url.origin}${url.pathname}?offset=${offset + limit}&limit=${limit}`]
      : undefined;
    return {
      items: page,
      paging: {
        offset,
        limit,
        count: items.length,
        pages: Math.ceil(items.length / limit),
        ...(next ? { next } : {}),
      },
    };
  }

  #error(error: FmcFailure): Response {
    return Response.json({
      error: {
        category: "FRAMEWORK",
        messages: [{ description: error.description }],
        severity: "ERROR",
      },
    }, { status: error.status });
  }

  #uuid(): string {
    return `00505686-${String(this.#next++).padStart(4, "0")}-0ed3-0000-000000000000`;
  }
}

/** Starts a fake FMC on 127.0.0.1. */
export function startFakeFmc(
  options: FakeFmcOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeFmc> {
  return serveFake(new FakeFmc(options), options.tls);
}
