/**
 * A stateful fake of the FortiManager JSON-RPC API (vendors/fortimanager.md, "Test
 * double"): one route, `POST /jsonrpc`, dispatched on `method` and `params[0].url`, every
 * answer `{id, result: [{status: {code, message}, url, data?}]}` with HTTP 200 even for a
 * logical error, on the shared device base.
 *
 * - `exec /sys/login/user` checks `user`/`passwd` and answers a top-level `session`; any
 *   other call with an unknown session is code -11. `exec /sys/logout` ends the session.
 * - Per ADOM: IPv4 address objects (`obj/firewall/address`: add, get, delete; a duplicate
 *   is -2, a missing object -3, deleting one a group holds -10) and address groups
 *   (`obj/firewall/addrgrp/<g>`: get, `update` replacing the attributes given; the member
 *   sub-URL `.../addrgrp/<g>/member` with `add`/`delete` of `["<name>"]`, unless
 *   `memberSubUrl` is off, when it answers -3 like an unknown URL).
 * - Workspace mode (`workspaceMode`, read from `get /cli/global/system/global`): a write
 *   needs the session to hold the ADOM's lock (`exec /dvmdb/adom/<a>/workspace/lock`,
 *   else -20055); its changes stay pending until `.../workspace/commit`; `.../unlock`
 *   drops what was not committed.
 * - `exec /securityconsole/install/package` checks ADOM, package and every scope device,
 *   answers `{task}`; `get /task/task/<id>` reports `percent` rising to 100, with
 *   `num_err` and per-device `line`s. Only an install changes what a device enforces
 *   ({@linkcode FakeFortiManager.installed}); `get /pm/config/adom/<a>/_package/status`
 *   reports per device whether the package is `installed` or `modified` since.
 * - Switches: `failInstallOn` (devices whose install fails), `stallTasks`,
 *   `reportsPackageStatus`, `memberSubUrl`, `reportsSystemGlobal`, and {@linkcode FakeFortiManager.expireSessions}.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One JSON-RPC request as the fake received it. */
export interface FmgRequest {
  readonly method: string;
  readonly url: string;
  readonly session: string | null;
  readonly data: unknown;
  readonly body: Record<string, unknown>;
}

/** An address object as FortiManager keeps it. */
export interface FmgAddress {
  name: string;
  type: string;
  /** IPv4: `[address, netmask]`. */
  subnet?: [string, string];
  /** IPv6: `address/prefix`. */
  ip6?: string;
  comment: string;
}

/** One ADOM's objects: IPv4 and IPv6 addresses and groups (name → member names). */
interface AdomDb {
  addresses: Map<string, FmgAddress>;
  groups: Map<string, string[]>;
  addresses6: Map<string, FmgAddress>;
  groups6: Map<string, string[]>;
}

interface Adom {
  db: AdomDb;
  /** The lock holder's uncommitted copy (workspace mode). */
  pending: AdomDb | null;
  lock: string | null;
  /** When the ADOM's objects last changed (a commit, or a write without workspace). */
  changedAt: number;
}

/** Options of {@linkcode FakeFortiManager}. */
export interface FakeFortiManagerOptions {
  readonly users: Readonly<Record<string, string>>;
  /** ADOM name. @default {"vectra_adom"} */
  readonly adom?: string;
  /** Groups that exist from the start. @default {["Blocked_Vectra_IPs", "Blocked_Vectra_Destinations"]} */
  readonly groups?: readonly string[];
  /** IPv6 groups that exist from the start. @default {["Blocked_Vectra_IPs6", "Blocked_Vectra_Destinations6"]} */
  readonly groups6?: readonly string[];
  /** Policy packages. @default {["vectra_policy"]} */
  readonly packages?: readonly string[];
  /** Managed devices as `name/vdom`. @default {["fgt-ward/root", "fgt-core/root"]} */
  readonly devices?: readonly string[];
  /** Workspace mode on. @default {false} */
  readonly workspaceMode?: boolean;
  /** Polls of a task before it reaches 100 %. @default {1} */
  readonly taskPolls?: number;
}

/** A JSON-RPC status that is not success. */
class FmgFailure {
  constructor(readonly code: number, readonly message: string) {}
}

const cloneDb = (db: AdomDb): AdomDb => ({
  addresses: new Map([...db.addresses].map(([k, v]) => [k, { ...v }])),
  groups: new Map([...db.groups].map(([k, v]) => [k, [...v]])),
  addresses6: new Map([...db.addresses6].map(([k, v]) => [k, { ...v }])),
  groups6: new Map([...db.groups6].map(([k, v]) => [k, [...v]])),
});

/** The fake FortiManager. */
export class FakeFortiManager extends FakeDevice<FmgRequest> {
  readonly adomName: string;
  /** Devices (`name/vdom`) whose install fails. */
  failInstallOn = new Set<string>();
  /** Tasks stay below 100 %. */
  stallTasks = false;
  /** False: `_package/status` is an unknown URL. */
  reportsPackageStatus = true;
  /** False: the group member sub-URL is unknown; only `update` of the group works. */
  memberSubUrl = true;
  /** False: `/cli/global/system/global` is an unknown URL. */
  reportsSystemGlobal = true;
  #options: FakeFortiManagerOptions;
  #adom: Adom;
  #sessions = new Map<string, string>();
  #tasks = new Map<number, { polls: number; done: () => { device: string; error: string }[] }>();
  /** Per device: group name → member names, as last installed, and when. */
  #installed = new Map<string, { groups: Map<string, string[]>; at: number }>();
  #next = 1;

  constructor(options: FakeFortiManagerOptions) {
    super();
    this.#options = options;
    this.adomName = options.adom ?? "vectra_adom";
    const groups = options.groups ?? ["Blocked_Vectra_IPs", "Blocked_Vectra_Destinations"];
    const groups6 = options.groups6 ?? ["Blocked_Vectra_IPs6", "Blocked_Vectra_Destinations6"];
    this.#adom = {
      db: {
        addresses: new Map(),
        groups: new Map(groups.map((g) => [g, []])),
        addresses6: new Map(),
        groups6: new Map(groups6.map((g) => [g, []])),
      },
      pending: null,
      lock: null,
      changedAt: 0,
    };
  }

  /** The committed ADOM database. */
  get db(): AdomDb {
    return this.#adom.db;
  }

  /** What a device (`name/vdom`) enforces: group → member names, as last installed. */
  installed(device = "fgt-ward/root"): Map<string, string[]> {
    return this.#installed.get(device)?.groups ?? new Map();
  }

  /** Open sessions. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Ends every session (a timeout): the lock and what it did not commit are dropped. */
  expireSessions(): void {
    this.#sessions.clear();
    this.#adom.lock = null;
    this.#adom.pending = null;
  }

  /** Holds the ADOM locked by another administrator. */
  lockByAdministrator(): void {
    this.#adom.lock = "gui-admin";
  }

  /** Handles one request. */
  async handle(request: Request): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await request.json() as Record<string, unknown>;
    } catch {
      return Response.json({ id: null, result: [{ status: { code: -9, message: "bad JSON" } }] });
    }
    const params = Array.isArray(body.params) ? body.params[0] as Record<string, unknown> : {};
    const url = String(params?.url ?? "");
    const method = String(body.method ?? "");
    const session = typeof body.session === "string" ? body.session : null;
    const recorded = { method, url, session, data: params?.data, body };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) return new Response("injected", { status: injected });
    const answer = (status: { code: number; message: string }, data?: unknown, extra = {}) =>
      Response.json({
        id: body.id ?? null,
        result: [{ status, url, ...(data === undefined ? {} : { data }) }],
        ...extra,
      });
    try {
      if (method === "exec" && url === "/sys/login/user") {
        const data = (params?.data ?? {}) as Record<string, unknown>;
        const user = String(data.user ?? "");
        if (this.#options.users[user] !== data.passwd || user === "") {
          throw new FmgFailure(-22, "Login fail");
        }
        const sid = `fmg-session-${this.#next++}`;
        this.#sessions.set(sid, user);
        return answer({ code: 0, message: "OK" }, undefined, { session: sid });
      }
      if (session === null || !this.#sessions.has(session)) {
        throw new FmgFailure(-11, "No permission for the resource");
      }
      return answer({ code: 0, message: "OK" }, this.#dispatch(method, url, session, params));
    } catch (error) {
      if (error instanceof FmgFailure) {
        return answer({ code: error.code, message: error.message });
      }
      throw error;
    }
  }

  #dispatch(
    method: string,
    url: string,
    session: string,
    params: Record<string, unknown>,
  ): unknown {
    const adom = this.adomName;
    const data = params.data;
    if (method === "exec" && url === "/sys/logout") {
      this.#sessions.delete(session);
      if (this.#adom.lock === session) this.#unlock();
      return undefined;
    }
    if (method === "get" && url === "/cli/global/system/global" && this.reportsSystemGlobal) {
      return { "workspace-mode": this.#options.workspaceMode ? 1 : 0 };
    }
    const ws = `/dvmdb/adom/${adom}/workspace/`;
    if (method === "exec" && url.startsWith(ws)) {
      return this.#workspace(url.slice(ws.length), session);
    }
    if (method === "exec" && url === "/securityconsole/install/package") return this.#install(data);
    if (method === "get" && url.startsWith("/task/task/")) return this.#task(Number(url.slice(11)));
    if (method === "get" && url === `/pm/config/adom/${adom}/_package/status`) {
      if (!this.reportsPackageStatus) throw new FmgFailure(-3, "Object does not exist");
      return this.#packageStatus();
    }
    const objects = `/pm/config/adom/${adom}/obj/firewall/`;
    if (!url.startsWith(objects)) throw new FmgFailure(-3, "Object does not exist");
    const [table = "", name, sub] = url.slice(objects.length).split("/").map(decodeURIComponent);
    const write = method !== "get";
    const db = write ? this.#writable(session) : this.#readable(session);
    const v6 = table.endsWith("6");
    const addresses = v6 ? db.addresses6 : db.addresses;
    const groups = v6 ? db.groups6 : db.groups;
    if (table === "address" || table === "address6") {
      return this.#address({ addresses, groups }, method, name, data);
    }
    if ((table === "addrgrp" || table === "addrgrp6") && name !== undefined) {
      const members = groups.get(name);
      if (members === undefined) throw new FmgFailure(-3, "Object does not exist");
      if (sub === "member") {
        if (!this.memberSubUrl) throw new FmgFailure(-3, "Object does not exist");
        const names = (Array.isArray(data) ? data : [data]).map(String);
        if (method === "add") {
          for (const n of names) {
            if (!addresses.has(n)) throw new FmgFailure(-3, `${n}: object does not exist`);
            if (!members.includes(n)) members.push(n);
          }
        } else if (method === "delete") {
          groups.set(name, members.filter((m) => !names.includes(m)));
        } else throw new FmgFailure(-8, "Invalid method");
        this.#touched(write);
        return undefined;
      }
      if (method === "get") return { name, member: [...members] };
      if (method === "update" || method === "set") {
        const given = (data ?? {}) as { member?: unknown };
        if (Array.isArray(given.member)) {
          const names = given.member.map((m) =>
            typeof m === "object" && m !== null ? String((m as { name?: unknown }).name) : String(m)
          );
          for (const n of names) {
            if (!addresses.has(n)) throw new FmgFailure(-3, `${n}: object does not exist`);
          }
          groups.set(name, names);
        }
        this.#touched(write);
        return { name };
      }
    }
    throw new FmgFailure(-3, "Object does not exist");
  }

  #address(
    db: Pick<AdomDb, "addresses" | "groups">,
    method: string,
    name: string | undefined,
    data: unknown,
  ): unknown {
    if (method === "get" && name !== undefined) {
      const found = db.addresses.get(name);
      if (found === undefined) throw new FmgFailure(-3, "Object does not exist");
      return { ...found };
    }
    if (method === "add" && name === undefined) {
      for (const item of Array.isArray(data) ? data : [data]) {
        const o = item as Record<string, unknown>;
        const n = String(o?.name ?? "");
        if (n === "") throw new FmgFailure(-6, "name: missing");
        if (db.addresses.has(n)) throw new FmgFailure(-2, "Object already exists");
        const address: FmgAddress = {
          name: n,
          type: String(o.type ?? "ipmask"),
          comment: String(o.comment ?? ""),
        };
        if (typeof o.ip6 === "string") address.ip6 = o.ip6;
        else if (Array.isArray(o.subnet)) {
          address.subnet = [String(o.subnet[0]), String(o.subnet[1])];
        } else throw new FmgFailure(-6, "subnet: invalid value");
        db.addresses.set(n, address);
      }
      this.#touched(true);
      return undefined;
    }
    if (method === "delete" && name !== undefined) {
      if (!db.addresses.has(name)) throw new FmgFailure(-3, "Object does not exist");
      if ([...db.groups.values()].some((m) => m.includes(name))) {
        throw new FmgFailure(-10, "The data is invalid for selected url: used by a group");
      }
      db.addresses.delete(name);
      this.#touched(true);
      return undefined;
    }
    throw new FmgFailure(-8, "Invalid method");
  }

  #workspace(action: string, session: string): unknown {
    const adom = this.#adom;
    if (!this.#options.workspaceMode) throw new FmgFailure(-20054, "Workspace is disabled");
    if (action === "lock") {
      if (adom.lock !== null && adom.lock !== session) {
        throw new FmgFailure(
          -20055,
          `Workspace is locked by ${adom.lock === "gui-admin" ? "admin" : "another session"}`,
        );
      }
      adom.lock = session;
      adom.pending ??= cloneDb(adom.db);
      return undefined;
    }
    if (adom.lock !== session) {
      throw new FmgFailure(-20055, "Workspace is not locked by this session");
    }
    if (action === "commit") {
      if (adom.pending) adom.db = cloneDb(adom.pending);
      adom.changedAt = Date.now();
      return undefined;
    }
    if (action === "unlock") {
      this.#unlock();
      return undefined;
    }
    throw new FmgFailure(-3, "Object does not exist");
  }

  #unlock(): void {
    this.#adom.lock = null;
    this.#adom.pending = null;
  }

  /** The database a session reads: its uncommitted copy while it holds the lock. */
  #readable(session: string): AdomDb {
    return this.#adom.lock === session && this.#adom.pending ? this.#adom.pending : this.#adom.db;
  }

  /** The database a session writes; in workspace mode only under its own lock. */
  #writable(session: string): AdomDb {
    if (!this.#options.workspaceMode) return this.#adom.db;
    if (this.#adom.lock !== session || this.#adom.pending === null) {
      throw new FmgFailure(-20055, "Workspace is not locked by this session: no write permission");
    }
    return this.#adom.pending;
  }

  #touched(write: boolean): void {
    if (write && !this.#options.workspaceMode) this.#adom.changedAt = Date.now();
  }

  #install(data: unknown): unknown {
    const d = (data ?? {}) as Record<string, unknown>;
    if (d.adom !== this.adomName) throw new FmgFailure(-3, `ADOM ${String(d.adom)} does not exist`);
    if (!(this.#options.packages ?? ["vectra_policy"]).includes(String(d.pkg))) {
      throw new FmgFailure(-3, `Package ${String(d.pkg)} does not exist`);
    }
    const known = this.#options.devices ?? ["fgt-ward/root", "fgt-core/root"];
    const scope = Array.isArray(d.scope) ? d.scope as Record<string, unknown>[] : [];
    const devices = scope.map((s) => `${String(s?.name)}/${String(s?.vdom ?? "root")}`);
    const unknown = devices.filter((dev) => !known.includes(dev));
    if (devices.length === 0 || unknown.length > 0) {
      throw new FmgFailure(-3, `Devices not managed: ${unknown.join(", ")}`);
    }
    const snapshot = new Map(
      [...this.#adom.db.groups, ...this.#adom.db.groups6].map(([g, m]) => [g, [...m]]),
    );
    const id = this.#next++;
    this.#tasks.set(id, {
      polls: this.#options.taskPolls ?? 1,
      done: () =>
        devices.flatMap((device) => {
          if (this.failInstallOn.has(device)) {
            return [{ device, error: "install failed: policy conflicts" }];
          }
          this.#installed.set(device, { groups: snapshot, at: Date.now() });
          return [];
        }),
    });
    return { task: id };
  }

  #task(id: number): unknown {
    const task = this.#tasks.get(id);
    if (task === undefined) throw new FmgFailure(-3, "Object does not exist");
    if (task.polls > 0 || this.stallTasks) {
      task.polls--;
      return { id, percent: 50, num_err: 0, num_done: 0, line: [] };
    }
    const errors = task.done();
    task.done = () => errors;
    return {
      id,
      percent: 100,
      num_err: errors.length,
      num_done: 1,
      line: errors.map((e) => ({ name: e.device, err: 1, detail: e.error })),
    };
  }

  #packageStatus(): unknown {
    const known = this.#options.devices ?? ["fgt-ward/root", "fgt-core/root"];
    return known.map((device) => {
      const [dev = "", vdom = "root"] = device.split("/");
      const install = this.#installed.get(device);
      const status = install === undefined
        ? "never"
        : install.at >= this.#adom.changedAt
        ? "installed"
        : "modified";
      return { dev, vdom, pkg: (this.#options.packages ?? ["vectra_policy"])[0], status };
    });
  }
}

/** Starts a fake FortiManager on 127.0.0.1. */
export function startFakeFortiManager(
  options: FakeFortiManagerOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeFortiManager> {
  return serveFake(new FakeFortiManager(options), options.tls);
}
