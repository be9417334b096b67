/**
 * A stateful fake of the Check Point Management Web API (vendors/checkpoint.md, "Test
 * double"): `POST /web_api/<command>` with JSON bodies, on the shared device base.
 *
 * - `login` with `user` and `password` (or `api-key`) answers a `sid`; every other command
 *   needs a valid `X-chkp-sid` header (401 `generic_err_wrong_session_id` otherwise).
 * - Each session sees the published database with its own changes over it: hosts,
 *   networks and groups it changes are locked to it (another session touching them gets
 *   409 `err_object_locked`), and nobody else sees the changes until `publish`. `discard` drops them; `logout`
 *   discards what was not published.
 * - `publish` and `install-policy` answer a `task-id`; `show-task` reports `in progress`
 *   for `taskPolls` polls, then `succeeded`. Only `install-policy` changes what a gateway
 *   enforces ({@linkcode FakeCheckPoint.installed}), so publish alone blocks nothing. It
 *   needs a known `policy-package` and known `targets`.
 * - Switches: `failPublish` and `failInstallOn` (gateways) make tasks end `failed`
 *   (publishing nothing, installing on no gateway), `stallTasks` keeps them `in progress`,
 *   {@linkcode FakeCheckPoint.expireSessions} ends every session (401 afterwards), and
 *   {@linkcode FakeCheckPoint.lockByAdministrator} holds an object locked as an
 *   administrator's unpublished SmartConsole session does.
 * - Objects: `add-host` (with `groups`), `show-host`, `delete-host` (400 while a group
 *   still holds it), `add-network`, `show-network`, `delete-network`, `add-group`,
 *   `show-group` (members as objects), `set-group` with `members.add` / `members.remove`.
 *   A duplicate name is 400 `err_validation_failed`, a missing object 404
 *   `generic_err_object_not_found`.
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";

/** One request as the fake received it. */
export interface CheckPointRequest {
  readonly command: string;
  readonly sid: string | null;
  readonly body: Record<string, unknown>;
}

/** A host or network object. */
export interface CheckPointObject {
  readonly name: string;
  readonly type: "host" | "network";
  /** `ip-address` of a host, `subnet` of a network. */
  readonly address: string;
  /** `mask-length` of a network (null for a host). */
  readonly maskLength: number | null;
  readonly comments: string;
}

/** The database: objects and groups (group name → member names). */
interface Database {
  objects: Map<string, CheckPointObject>;
  groups: Map<string, Set<string>>;
}

interface Session {
  readonly user: string;
  db: Database;
  /** Names this session changed and holds locked until publish, discard or logout. */
  touched: Set<string>;
}

/** Options of {@linkcode FakeCheckPoint}. */
export interface FakeCheckPointOptions {
  /** Accepted users and their passwords. */
  readonly users: Readonly<Record<string, string>>;
  /** Accepted API keys. @default {[]} */
  readonly apiKeys?: readonly string[];
  /** Groups that exist from the start. @default {["Internal-Block", "External-Block"]} */
  readonly groups?: readonly string[];
  /** Gateways `install-policy` may target. @default {["gw1"]} */
  readonly gateways?: readonly string[];
  /** `show-task` answers `in progress` this many times per task first. @default {1} */
  readonly taskPolls?: number;
  /** Policy packages `install-policy` knows. @default {["Standard"]} */
  readonly packages?: readonly string[];
}

/** A fault-free answer or an API error. */
class CheckPointFailure {
  constructor(readonly status: number, readonly code: string, readonly message: string) {}
}

const clone = (db: Database): Database => ({
  objects: new Map(db.objects),
  groups: new Map([...db.groups].map(([name, members]) => [name, new Set(members)])),
});

/** The fake management server. */
export class FakeCheckPoint extends FakeDevice<CheckPointRequest> {
  /** The published database (what `publish` made visible to everyone). */
  published: Database;
  #options: FakeCheckPointOptions;
  #sessions = new Map<string, Session>();
  #tasks = new Map<string, { polls: number; done: () => string | null }>();
  /** Publish tasks end `failed` and publish nothing. */
  failPublish = false;
  /** Install tasks end `failed` on these gateways, which keep what they had. */
  failInstallOn = new Set<string>();
  /** Tasks stay `in progress`. */
  stallTasks = false;
  /** True: `show-group` names its members only (no addresses), as a terser server may. */
  terseMembers = false;
  /** False: `show-gateways-and-servers` is an unknown command (an older or other server). */
  reportsInstallState = true;
  #installed = new Map<string, Map<string, Set<string>>>();
  /** Per gateway: the package and the time (epoch ms) of its last install. */
  #installs = new Map<string, { pkg: string; at: number }>();
  /** Per group: when a publish last changed it (epoch ms). */
  #groupChanged = new Map<string, number>();
  /** The clock of publish and install times. */
  now: () => number = Date.now;
  #next = 1;

  constructor(options: FakeCheckPointOptions) {
    super();
    this.#options = options;
    const groups = options.groups ?? ["Internal-Block", "External-Block"];
    this.published = { objects: new Map(), groups: new Map(groups.map((g) => [g, new Set()])) };
  }

  /** What a gateway enforces: group name → member names, as last installed. */
  installed(gateway = "gw1"): Map<string, Set<string>> {
    return this.#installed.get(gateway) ?? new Map();
  }

  /** The published members of a group, by address. */
  members(group: string): Set<string> {
    return this.#addresses(this.published, group);
  }

  /** Ends every session, as a timeout or an administrator would: their changes are lost. */
  expireSessions(): void {
    this.#sessions.clear();
  }

  /** Holds `name` locked by an administrator's unpublished session. */
  lockByAdministrator(name: string): void {
    this.#sessions.set(`gui-${this.#next++}`, {
      user: "smartconsole-admin",
      db: clone(this.published),
      touched: new Set([name]),
    });
  }

  /**
   * Deletes, behind every session's back, the objects whose name matches, from the
   * published database and every gateway (an administrator removed and installed them).
   */
  deleteEverywhere(match: (name: string) => boolean): void {
    const views = [this.published.groups, ...this.#installed.values()];
    for (const groups of views) {
      for (const members of groups.values()) {
        for (const name of [...members]) if (match(name)) members.delete(name);
      }
    }
    for (const name of [...this.published.objects.keys()]) {
      if (match(name)) this.published.objects.delete(name);
    }
  }

  /** The published object of a name (host or network), if any. */
  object(name: string): CheckPointObject | undefined {
    return this.published.objects.get(name);
  }

  /** Open sessions (a client that never logs out leaks them). */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Handles one request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const command = url.pathname.replace(/^\/web_api\//, "");
    let body: Record<string, unknown> = {};
    try {
      const parsed = await request.json();
      if (typeof parsed === "object" && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      return failure(new CheckPointFailure(400, "generic_err_invalid_syntax", "Bad JSON"));
    }
    const sid = request.headers.get("X-chkp-sid");
    const recorded = { command, sid, body };
    this.record(recorded);
    const injected = await this.interpose(recorded);
    if (injected !== null) {
      return failure(new CheckPointFailure(injected, "generic_error", "Injected fault"));
    }
    try {
      if (command === "login") return Response.json(this.#login(body));
      const session = sid === null ? undefined : this.#sessions.get(sid);
      if (session === undefined || sid === null) {
        throw new CheckPointFailure(401, "generic_err_wrong_session_id", "Wrong session id");
      }
      this.#rebase(session);
      return Response.json(this.#command(command, sid, session, body));
    } catch (error) {
      if (error instanceof CheckPointFailure) return failure(error);
      throw error;
    }
  }

  #login(body: Record<string, unknown>): Record<string, unknown> {
    const user = String(body.user ?? "");
    const key = String(body["api-key"] ?? "");
    const byPassword = user !== "" && this.#options.users[user] === body.password;
    const byKey = key !== "" && (this.#options.apiKeys ?? []).includes(key);
    if (!byPassword && !byKey) {
      throw new CheckPointFailure(400, "err_login_failed", "Authentication to server failed.");
    }
    const sid = `sid-${this.#next++}`;
    this.#sessions.set(sid, {
      user: user || "api-key",
      db: clone(this.published),
      touched: new Set(),
    });
    return { sid, "session-timeout": 600 };
  }

  #command(
    command: string,
    sid: string,
    session: Session,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    const name = String(body.name ?? "");
    switch (command) {
      case "logout":
        this.#release(sid);
        return { message: "OK" };
      case "discard":
        session.db = clone(this.published);
        session.touched.clear();
        return { message: "OK" };
      case "publish":
        return {
          "task-id": this.#task(() => {
            if (this.failPublish) return "Publish failed: validation errors in the session";
            for (const touched of session.touched) {
              if (session.db.groups.has(touched)) this.#groupChanged.set(touched, this.now());
              this.#publishName(session.db, touched);
            }
            session.touched.clear();
            return null;
          }),
        };
      case "show-task":
        return this.#showTask(String(body["task-id"] ?? ""));
      case "install-policy":
        return this.#install(body);
      case "add-host":
      case "add-network":
        return this.#add(command === "add-host" ? "host" : "network", sid, session, body);
      case "show-host":
      case "show-network":
        return this.#show(session.db, name);
      case "delete-host":
      case "delete-network":
        return this.#delete(sid, session, name);
      case "add-group":
        this.#lock(sid, session, name);
        if (session.db.groups.has(name) || session.db.objects.has(name)) throw duplicate(name);
        session.db.groups.set(name, new Set());
        return { name };
      case "show-group":
        return this.#showGroup(session.db, name);
      case "show-gateways-and-servers":
        if (!this.reportsInstallState) throw unknownCommand(command);
        return this.#gateways(body);
      case "set-group":
        return this.#setGroup(sid, session, name, body);
      default:
        throw unknownCommand(command);
    }
  }

  #add(
    type: "host" | "network",
    sid: string,
    session: Session,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    const name = String(body.name ?? "");
    this.#lock(sid, session, name);
    if (session.db.objects.has(name) || session.db.groups.has(name)) throw duplicate(name);
    const address = String(type === "host" ? body["ip-address"] ?? "" : body.subnet ?? "");
    if (address === "") {
      throw new CheckPointFailure(
        400,
        "generic_err_missing_required_parameters",
        "Missing address",
      );
    }
    const maskLength = type === "network" ? Number(body["mask-length"] ?? NaN) : null;
    if (maskLength !== null && !Number.isInteger(maskLength)) {
      throw new CheckPointFailure(400, "generic_err_invalid_parameter", "Invalid mask-length");
    }
    const comments = typeof body.comments === "string" ? body.comments : "";
    session.db.objects.set(name, { name, type, address, maskLength, comments });
    const groups = Array.isArray(body.groups) ? body.groups.map(String) : [];
    for (const group of groups) {
      this.#lock(sid, session, group);
      const members = session.db.groups.get(group);
      if (members === undefined) throw notFound(group);
      members.add(name);
    }
    return { name, type, uid: `uid-${name}` };
  }

  #delete(sid: string, session: Session, name: string): Record<string, unknown> {
    this.#lock(sid, session, name);
    if (!session.db.objects.has(name)) throw notFound(name);
    const user = [...session.db.groups].find(([, members]) => members.has(name));
    if (user !== undefined) {
      throw new CheckPointFailure(
        400,
        "err_validation_failed",
        `Object ${name} is used by group ${user[0]}`,
      );
    }
    session.db.objects.delete(name);
    return { message: "OK" };
  }

  #show(db: Database, name: string): Record<string, unknown> {
    const object = db.objects.get(name);
    if (object === undefined) throw notFound(name);
    const v6 = object.address.includes(":");
    return object.type === "host"
      ? {
        name,
        type: "host",
        [v6 ? "ipv6-address" : "ipv4-address"]: object.address,
        comments: object.comments,
      }
      : {
        name,
        type: "network",
        [v6 ? "subnet6" : "subnet4"]: object.address,
        [v6 ? "mask-length6" : "mask-length4"]: object.maskLength,
        comments: object.comments,
      };
  }

  #showGroup(db: Database, name: string): Record<string, unknown> {
    const members = db.groups.get(name);
    if (members === undefined) throw notFound(name);
    return {
      name,
      type: "group",
      "meta-info": { "last-modify-time": { posix: this.#groupChanged.get(name) ?? 0 } },
      // Members at the standard details level: no comments.
      members: [...members].map((member) => {
        const object = db.objects.get(member);
        if (object === undefined || this.terseMembers) return { name: member };
        const { comments: _comments, ...standard } = this.#show(db, member);
        return standard;
      }),
    };
  }

  #setGroup(
    sid: string,
    session: Session,
    name: string,
    body: Record<string, unknown>,
  ): Record<string, unknown> {
    this.#lock(sid, session, name);
    const members = session.db.groups.get(name);
    if (members === undefined) throw notFound(name);
    const change = (body.members ?? {}) as Record<string, unknown>;
    const list = (value: unknown) =>
      value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];
    for (const member of list(change.add)) {
      if (!session.db.objects.has(member)) throw notFound(member);
      members.add(member);
    }
    for (const member of list(change.remove)) members.delete(member);
    return this.#showGroup(session.db, name);
  }

  #install(body: Record<string, unknown>): Record<string, unknown> {
    const targets = Array.isArray(body.targets) ? body.targets.map(String) : [];
    const pkg = String(body["policy-package"] ?? "");
    if (!(this.#options.packages ?? ["Standard"]).includes(pkg)) {
      throw new CheckPointFailure(
        404,
        "generic_err_object_not_found",
        `Requested object [${pkg}] not found`,
      );
    }
    const known = this.#options.gateways ?? ["gw1"];
    const unknown = targets.filter((t) => !known.includes(t));
    if (targets.length === 0 || unknown.length > 0) {
      throw new CheckPointFailure(
        404,
        "generic_err_object_not_found",
        `Unknown targets ${unknown}`,
      );
    }
    const snapshot = new Map(
      [...this.published.groups].map(([group, members]) => [group, new Set(members)]),
    );
    return {
      "task-id": this.#task(() => {
        const failing = targets.filter((t) => this.failInstallOn.has(t));
        for (const target of targets) {
          if (failing.includes(target)) continue;
          this.#installed.set(target, snapshot);
          this.#installs.set(target, { pkg, at: this.now() });
        }
        return failing.length === 0 ? null : `Policy installation failed on ${failing.join(", ")}`;
      }),
    };
  }

  /** `show-gateways-and-servers` at the full details level, paged by `limit` and `offset`. */
  #gateways(body: Record<string, unknown>): Record<string, unknown> {
    const all = (this.#options.gateways ?? ["gw1"]).map((name) => {
      const install = this.#installs.get(name);
      return {
        name,
        type: "simple-gateway",
        policy: install === undefined ? { "access-policy-installed": false } : {
          "access-policy-installed": true,
          "access-policy-name": install.pkg,
          "access-policy-installation-date": { posix: install.at },
        },
      };
    });
    const offset = Number(body.offset ?? 0);
    const limit = Number(body.limit ?? 50);
    const objects = all.slice(offset, offset + limit);
    return { objects, from: offset + 1, to: offset + objects.length, total: all.length };
  }

  #task(done: () => string | null): string {
    const id = `task-${this.#next++}`;
    this.#tasks.set(id, { polls: this.#options.taskPolls ?? 1, done });
    return id;
  }

  #showTask(id: string): Record<string, unknown> {
    const task = this.#tasks.get(id);
    if (task === undefined) throw notFound(id);
    if (task.polls > 0 || this.stallTasks) {
      task.polls--;
      return { tasks: [{ "task-id": id, status: "in progress", "progress-percentage": 50 }] };
    }
    const failure = task.done();
    task.done = () => failure;
    return failure === null
      ? { tasks: [{ "task-id": id, status: "succeeded", "progress-percentage": 100 }] }
      : {
        tasks: [{ "task-id": id, status: "failed", "progress-percentage": 100, comments: failure }],
      };
  }

  #publishName(db: Database, name: string): void {
    for (const table of ["objects", "groups"] as const) {
      const value = db[table].get(name);
      if (value === undefined) this.published[table].delete(name);
      else {
        (this.published[table] as Map<string, unknown>).set(
          name,
          table === "groups" ? new Set(value as Set<string>) : value,
        );
      }
    }
  }

  /** Locks a name to a session; another session's lock is a 409. */
  #lock(sid: string, session: Session, name: string): void {
    for (const [other, s] of this.#sessions) {
      if (other !== sid && s.touched.has(name)) {
        throw new CheckPointFailure(
          409,
          "err_object_locked",
          `Object ${name} is locked by session of ${s.user}`,
        );
      }
    }
    session.touched.add(name);
  }

  /** The session's view: what is published now, with the session's own changes over it. */
  #rebase(session: Session): void {
    const view = clone(this.published);
    for (const name of session.touched) {
      for (const table of ["objects", "groups"] as const) {
        const mine = session.db[table].get(name);
        if (mine === undefined) view[table].delete(name);
        else (view[table] as Map<string, unknown>).set(name, mine);
      }
    }
    session.db = view;
  }

  #release(sid: string): void {
    this.#sessions.delete(sid);
  }

  #addresses(db: Database, group: string): Set<string> {
    const members = db.groups.get(group) ?? new Set<string>();
    return new Set(
      [...members].map((m) => {
        const object = db.objects.get(m);
        if (object === undefined) return m;
        return object.type === "host" ? object.address : `${object.address}/${object.maskLength}`;
      }),
    );
  }
}

function failure(error: CheckPointFailure): Response {
  return Response.json({ code: error.code, message: error.message }, { status: error.status });
}

function unknownCommand(command: string): CheckPointFailure {
  return new CheckPointFailure(404, "generic_err_command_not_found", `Unknown command ${command}`);
}

function duplicate(name: string): CheckPointFailure {
  return new CheckPointFailure(
    400,
    "err_validation_failed",
    `More than one object named '${name}' exists.`,
  );
}

function notFound(name: string): CheckPointFailure {
  return new CheckPointFailure(
    404,
    "generic_err_object_not_found",
    `Requested object [${name}] not found`,
  );
}

/** Starts a fake Check Point management server on 127.0.0.1. */
export function startFakeCheckPoint(
  options: FakeCheckPointOptions & { tls?: { cert: string; key: string } },
): FakeServer<FakeCheckPoint> {
  return serveFake(new FakeCheckPoint(options), options.tls);
}
