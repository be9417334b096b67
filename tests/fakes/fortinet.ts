/**
 * A stateful fake of the FortiOS CMDB REST API (vendors/fortinet.md, "Test double"):
 * `firewall/address`, `address6`, `addrgrp` and `addrgrp6`, per VDOM, with the group
 * member sub-table (`/addrgrp/<group>/member[/<name>]`), bearer-token auth and FortiOS's
 * response envelopes. It rejects what a FortiGate rejects: a wrong token (401), an unknown
 * VDOM (424), malformed JSON (400), a duplicate name (500, error -5), a group member that
 * names no object (500, error -3), deleting an object a group still references (500,
 * error -23), removing a group's last member (500, error -56), an invalid address (500,
 * error -651). Error codes follow FortiOS's CLI return codes as far as they are known;
 * -56 and -651 are modelled, not captured from a device.
 *
 * Fault knobs: {@linkcode FakeFortiGate.failNext}, {@linkcode FakeFortiGate.failAlways},
 * {@linkcode FakeFortiGate.beforeNext} (an administrator acting between two calls), and
 * {@linkcode FakeFortiGateServer.down} / {@linkcode FakeFortiGateServer.up} (connection
 * refused, then back on the same port).
 *
 * @module
 */

import { FakeDevice } from "./_device.ts";
import { type FakeServer, serveFake } from "./_serve.ts";
/** An address object as FortiOS stores it (only the fields var uses, plus any others sent). */
export interface FortiAddress {
  name: string;
  type: string;
  comment?: string;
  /** IPv4 `ipmask`: `"198.51.100.0 255.255.255.0"`. */
  subnet?: string;
  /** IPv4 `iprange`. */
  "start-ip"?: string;
  "end-ip"?: string;
  /** IPv6 `ipprefix`: `"2001:db8::7/128"`. */
  ip6?: string;
  [field: string]: unknown;
}

/** An address group: its name and member names in order. */
export interface FortiGroup {
  name: string;
  member: string[];
  comment?: string;
}

/** The four tables of one VDOM. */
export interface VdomTables {
  readonly address: Map<string, FortiAddress>;
  readonly address6: Map<string, FortiAddress>;
  readonly addrgrp: Map<string, FortiGroup>;
  readonly addrgrp6: Map<string, FortiGroup>;
}

/** Address tables and their group tables. */
export type AddressTable = "address" | "address6";
/** Group tables. */
export type GroupTable = "addrgrp" | "addrgrp6";

/** One request as the fake received it. */
export interface RecordedRequest {
  readonly method: string;
  /** The full URL as received (path and query, still encoded). */
  readonly url: string;
  /** The decoded path. */
  readonly path: string;
  /** The `vdom` query parameter, or null. */
  readonly vdom: string | null;
  /** The raw body, "" when none. */
  readonly body: string;
  /** True when the `Authorization` header carried the right bearer token. */
  readonly authorized: boolean;
}

/** Options for {@linkcode FakeFortiGate}. */
export interface FakeFortiGateOptions {
  /** The API token the fake accepts as `Authorization: Bearer <token>`. */
  token: string;
  /**
   * VDOMs that exist; each is seeded with the groups below.
   * @default {["root"]}
   */
  vdoms?: readonly string[];
  /**
   * IPv4 groups created in every VDOM, each with the placeholder member `none`.
   * @default {["Internal-Block", "External-Block"]}
   */
  groups?: readonly string[];
  /**
   * IPv6 groups created in every VDOM, each with the placeholder member `none`.
   * @default {["Internal-Block6", "External-Block6"]}
   */
  groups6?: readonly string[];
}

const SERIAL = "FGVMTEST00000001";
const VERSION = "v7.4.4";
const BUILD = 2662;
const NAME_MAX = 79;

/** FortiOS CLI return codes the fake answers with. */
export const FORTIOS_ERRORS = {
  notFound: -3,
  duplicate: -5,
  inUse: -23,
  mustBeSet: -56,
  invalidValue: -651,
} as const;

class FortiFailure {
  constructor(
    readonly status: number,
    readonly code: number | null,
    readonly cliError: string | null = null,
  ) {}
}

/** The fake FortiGate: state per VDOM, a request handler, admin helpers and fault knobs. */
export class FakeFortiGate extends FakeDevice<RecordedRequest> {
  #token: string;
  #vdoms = new Map<string, VdomTables>();
  #revision = 1;

  constructor(options: FakeFortiGateOptions) {
    super();
    this.#token = options.token;
    const groups = options.groups ?? ["Internal-Block", "External-Block"];
    const groups6 = options.groups6 ?? ["Internal-Block6", "External-Block6"];
    for (const vdom of options.vdoms ?? ["root"]) {
      const tables: VdomTables = {
        address: new Map([["none", {
          name: "none",
          type: "ipmask",
          subnet: "0.0.0.0 255.255.255.255",
        }]]),
        address6: new Map([["none", { name: "none", type: "ipprefix", ip6: "::/128" }]]),
        addrgrp: new Map(),
        addrgrp6: new Map(),
      };
      for (const name of groups) tables.addrgrp.set(name, { name, member: ["none"] });
      for (const name of groups6) tables.addrgrp6.set(name, { name, member: ["none"] });
      this.#vdoms.set(vdom, tables);
    }
  }

  /** The tables of a VDOM (direct access, as an administrator on the console). */
  vdom(name = "root"): VdomTables {
    const tables = this.#vdoms.get(name);
    if (!tables) throw new Error(`Cannot find VDOM "${name}" in the fake FortiGate`);
    return tables;
  }

  /** Member names of a group, or null when the group does not exist. */
  members(group: string, options: { vdom?: string; v6?: boolean } = {}): string[] | null {
    const tables = this.vdom(options.vdom);
    const found = (options.v6 ? tables.addrgrp6 : tables.addrgrp).get(group);
    return found ? [...found.member] : null;
  }

  /** Creates an address object as someone else would (no checks beyond the name). */
  addAddress(object: FortiAddress, options: { vdom?: string; v6?: boolean } = {}): void {
    const tables = this.vdom(options.vdom);
    (options.v6 ? tables.address6 : tables.address).set(object.name, { ...object });
  }

  /** Adds a member to a group as someone else would; the object must exist. */
  addMember(group: string, name: string, options: { vdom?: string; v6?: boolean } = {}): void {
    const tables = this.vdom(options.vdom);
    const objects = options.v6 ? tables.address6 : tables.address;
    const groupTable = options.v6 ? tables.addrgrp6 : tables.addrgrp;
    const found = groupTable.get(group);
    if (!found) throw new Error(`Cannot add to group "${group}": it does not exist`);
    if (!objects.has(name) && !groupTable.has(name)) {
      throw new Error(`Cannot add "${name}" to group "${group}": no such object`);
    }
    if (!found.member.includes(name)) found.member.push(name);
  }

  /** Handles one HTTP request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = request.body ? await request.text() : "";
    const path = safeDecodePath(url.pathname);
    const vdom = url.searchParams.get("vdom");
    const authorized = request.headers.get("Authorization") === `Bearer ${this.#token}`;
    const recorded: RecordedRequest = {
      method: request.method,
      url: `${url.pathname}${url.search}`,
      path,
      vdom,
      body,
      authorized,
    };
    this.record(recorded);
    const method = request.method;
    const context: EnvelopeContext = { method, vdom: vdom ?? "root", path: "", name: "" };
    if (!authorized) {
      return Response.json({ http_status: 401, status: "error" }, { status: 401 });
    }
    const injected = await this.interpose(recorded);
    if (injected !== null) return envelopeError(context, new FortiFailure(injected, null));
    try {
      return this.#route(method, url.pathname, url.searchParams, body, context);
    } catch (error) {
      if (error instanceof FortiFailure) return envelopeError(context, error);
      throw error;
    }
  }

  #route(
    method: string,
    path: string,
    query: URLSearchParams,
    rawBody: string,
    context: EnvelopeContext,
  ): Response {
    const match = path.match(
      /^\/api\/v2\/cmdb\/firewall\/(address6?|addrgrp6?)(?:\/([^/]+))?(?:\/(member)(?:\/([^/]+))?)?\/?$/,
    );
    if (!match) throw new FortiFailure(404, null);
    const [, table = "", rawKey, sub, rawSubKey] = match;
    const key = rawKey === undefined ? undefined : decodeSegment(rawKey);
    const subKey = rawSubKey === undefined ? undefined : decodeSegment(rawSubKey);
    context.path = "firewall";
    context.name = table;
    if (key !== undefined) context.mkey = key;
    const tables = this.#vdoms.get(context.vdom);
    if (!tables) throw new FortiFailure(424, null, `vdom "${context.vdom}" does not exist`);
    let body: Record<string, unknown> = {};
    if (method === "POST" || method === "PUT") {
      try {
        const parsed = JSON.parse(rawBody);
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
          throw new SyntaxError("not an object");
        }
        body = parsed as Record<string, unknown>;
      } catch {
        throw new FortiFailure(400, null, "invalid JSON body");
      }
    }
    if (table === "addrgrp" || table === "addrgrp6") {
      const isV6 = table === "addrgrp6";
      const groups = isV6 ? tables.addrgrp6 : tables.addrgrp;
      const objects = isV6 ? tables.address6 : tables.address;
      if (sub === "member") {
        if (key === undefined) throw new FortiFailure(404, null);
        return this.#memberRoute(method, groups, objects, key, subKey, body, context);
      }
      return this.#groupRoute(method, groups, objects, key, query, body, context);
    }
    const isV6 = table === "address6";
    const objects = isV6 ? tables.address6 : tables.address;
    const groups = isV6 ? tables.addrgrp6 : tables.addrgrp;
    if (sub !== undefined) throw new FortiFailure(404, null);
    return this.#addressRoute(method, objects, groups, isV6, key, query, body, context);
  }

  #addressRoute(
    method: string,
    objects: Map<string, FortiAddress>,
    groups: Map<string, FortiGroup>,
    isV6: boolean,
    key: string | undefined,
    query: URLSearchParams,
    body: Record<string, unknown>,
    context: EnvelopeContext,
  ): Response {
    switch (method) {
      case "GET": {
        if (key === undefined) {
          const all = [...objects.values()].filter((o) => matchesFilter(o, query.get("filter")));
          return envelope(context, all.map((o) => ({ ...o, q_origin_key: o.name })));
        }
        const found = objects.get(key);
        if (!found) throw new FortiFailure(404, null);
        return envelope(context, [{ ...found, q_origin_key: found.name }]);
      }
      case "POST": {
        if (key !== undefined) throw new FortiFailure(405, null);
        const object = validateAddress(body, isV6);
        if (objects.has(object.name) || groups.has(object.name)) {
          throw new FortiFailure(500, FORTIOS_ERRORS.duplicate);
        }
        objects.set(object.name, object);
        return this.#changed(context, object.name);
      }
      case "PUT": {
        if (key === undefined) throw new FortiFailure(405, null);
        const found = objects.get(key);
        if (!found) throw new FortiFailure(404, null);
        const merged = validateAddress({ ...found, ...body, name: key }, isV6);
        objects.set(key, merged);
        return this.#changed(context, key);
      }
      case "DELETE": {
        if (key === undefined) throw new FortiFailure(405, null);
        if (!objects.has(key)) throw new FortiFailure(404, null);
        if ([...groups.values()].some((g) => g.member.includes(key))) {
          throw new FortiFailure(500, FORTIOS_ERRORS.inUse);
        }
        objects.delete(key);
        return this.#changed(context, key);
      }
      default:
        throw new FortiFailure(405, null);
    }
  }

  #groupRoute(
    method: string,
    groups: Map<string, FortiGroup>,
    objects: Map<string, FortiAddress>,
    key: string | undefined,
    query: URLSearchParams,
    body: Record<string, unknown>,
    context: EnvelopeContext,
  ): Response {
    const present = (group: FortiGroup) => ({
      name: group.name,
      q_origin_key: group.name,
      comment: group.comment ?? "",
      member: group.member.map((name) => ({ name, q_origin_key: name })),
    });
    const memberNames = (value: unknown): string[] => {
      if (!Array.isArray(value) || value.length === 0) {
        throw new FortiFailure(500, FORTIOS_ERRORS.mustBeSet, "Attribute 'member' MUST be set.");
      }
      const names = value.map((item) =>
        typeof item === "object" && item !== null && typeof item.name === "string" ? item.name : ""
      );
      for (const name of names) {
        if (!objects.has(name) && !groups.has(name)) {
          throw new FortiFailure(
            500,
            FORTIOS_ERRORS.notFound,
            `entry not found in datasource\nvalue parse error before '${name}'`,
          );
        }
      }
      return [...new Set(names)];
    };
    switch (method) {
      case "GET": {
        if (key === undefined) {
          const all = [...groups.values()].filter((g) => matchesFilter(g, query.get("filter")));
          return envelope(context, all.map(present));
        }
        const found = groups.get(key);
        if (!found) throw new FortiFailure(404, null);
        return envelope(context, [present(found)]);
      }
      case "POST": {
        const name = typeof body.name === "string" ? body.name : "";
        if (name === "" || name.length > NAME_MAX) {
          throw new FortiFailure(500, FORTIOS_ERRORS.invalidValue);
        }
        if (groups.has(name) || objects.has(name)) {
          throw new FortiFailure(500, FORTIOS_ERRORS.duplicate);
        }
        groups.set(name, { name, member: memberNames(body.member) });
        return this.#changed(context, name);
      }
      case "PUT": {
        if (key === undefined) throw new FortiFailure(405, null);
        const found = groups.get(key);
        if (!found) throw new FortiFailure(404, null);
        if ("member" in body) found.member = memberNames(body.member);
        if (typeof body.comment === "string") found.comment = body.comment;
        return this.#changed(context, key);
      }
      case "DELETE": {
        if (key === undefined) throw new FortiFailure(405, null);
        if (!groups.has(key)) throw new FortiFailure(404, null);
        if ([...groups.values()].some((g) => g.member.includes(key))) {
          throw new FortiFailure(500, FORTIOS_ERRORS.inUse);
        }
        groups.delete(key);
        return this.#changed(context, key);
      }
      default:
        throw new FortiFailure(405, null);
    }
  }

  #memberRoute(
    method: string,
    groups: Map<string, FortiGroup>,
    objects: Map<string, FortiAddress>,
    groupName: string,
    memberName: string | undefined,
    body: Record<string, unknown>,
    context: EnvelopeContext,
  ): Response {
    const group = groups.get(groupName);
    if (!group) throw new FortiFailure(404, null);
    switch (method) {
      case "GET": {
        if (memberName === undefined) {
          return envelope(context, group.member.map((name) => ({ name, q_origin_key: name })));
        }
        if (!group.member.includes(memberName)) throw new FortiFailure(404, null);
        return envelope(context, [{ name: memberName, q_origin_key: memberName }]);
      }
      case "POST": {
        if (memberName !== undefined) throw new FortiFailure(405, null);
        const name = typeof body.name === "string" ? body.name : "";
        if (!objects.has(name) && !groups.has(name)) {
          throw new FortiFailure(
            500,
            FORTIOS_ERRORS.notFound,
            `entry not found in datasource\nvalue parse error before '${name}'`,
          );
        }
        if (group.member.includes(name)) throw new FortiFailure(500, FORTIOS_ERRORS.duplicate);
        group.member.push(name);
        return this.#changed(context, name);
      }
      case "DELETE": {
        if (memberName === undefined) throw new FortiFailure(405, null);
        if (!group.member.includes(memberName)) throw new FortiFailure(404, null);
        if (group.member.length === 1) {
          throw new FortiFailure(500, FORTIOS_ERRORS.mustBeSet, "Attribute 'member' MUST be set.");
        }
        group.member = group.member.filter((name) => name !== memberName);
        return this.#changed(context, memberName);
      }
      default:
        throw new FortiFailure(405, null);
    }
  }

  #changed(context: EnvelopeContext, mkey: string): Response {
    this.#revision++;
    return Response.json({
      http_method: context.method,
      revision: String(this.#revision),
      revision_changed: true,
      old_revision: String(this.#revision - 1),
      mkey,
      status: "success",
      http_status: 200,
      vdom: context.vdom,
      path: context.path,
      name: context.name,
      serial: SERIAL,
      version: VERSION,
      build: BUILD,
    });
  }
}

interface EnvelopeContext {
  method: string;
  vdom: string;
  path: string;
  name: string;
  mkey?: string;
}

function envelope(context: EnvelopeContext, results: unknown[]): Response {
  return Response.json({
    http_method: context.method,
    size: results.length,
    matched_count: results.length,
    next_idx: results.length - 1,
    revision: "1",
    results,
    vdom: context.vdom,
    path: context.path,
    name: context.name,
    ...(context.mkey !== undefined ? { mkey: context.mkey } : {}),
    status: "success",
    http_status: 200,
    serial: SERIAL,
    version: VERSION,
    build: BUILD,
  });
}

function envelopeError(context: EnvelopeContext, failure: FortiFailure): Response {
  return Response.json({
    http_method: context.method,
    status: "error",
    http_status: failure.status,
    ...(failure.code !== null ? { error: failure.code } : {}),
    ...(failure.cliError !== null ? { cli_error: failure.cliError } : {}),
    vdom: context.vdom,
    path: context.path,
    name: context.name,
    ...(context.mkey !== undefined ? { mkey: context.mkey } : {}),
    serial: SERIAL,
    version: VERSION,
    build: BUILD,
  }, { status: failure.status });
}

/** Decodes a whole path for the request log; undecodable text stays as is. */
function safeDecodePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Decodes one name from the path (names arrive URL-encoded). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new FortiFailure(400, null, "invalid URL encoding");
  }
}

/** FortiOS `filter`: `field==value`, `field!=value`, `field=@value` (contains), `field!@value`. */
function matchesFilter(object: object, filter: string | null): boolean {
  if (filter === null || filter === "") return true;
  const match = filter.match(/^([\w-]+)(==|!=|=@|!@)(.*)$/);
  if (!match) throw new FortiFailure(400, null, `invalid filter "${filter}"`);
  const [, field = "", op, value = ""] = match;
  const raw = (object as Record<string, unknown>)[field];
  const text = typeof raw === "string" ? raw : "";
  switch (op) {
    case "==":
      return text === value;
    case "!=":
      return text !== value;
    case "=@":
      return text.includes(value);
    default:
      return !text.includes(value);
  }
}

const V4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Validates an address object body as FortiOS would, returning the stored object. */
function validateAddress(body: Record<string, unknown>, isV6: boolean): FortiAddress {
  const name = typeof body.name === "string" ? body.name : "";
  if (name === "" || name.length > NAME_MAX) {
    throw new FortiFailure(500, FORTIOS_ERRORS.invalidValue, "invalid name");
  }
  if (typeof body.comment === "string" && body.comment.length > 255) {
    throw new FortiFailure(500, FORTIOS_ERRORS.invalidValue, "comment too long");
  }
  const invalid = () => new FortiFailure(500, FORTIOS_ERRORS.invalidValue, "invalid address");
  if (isV6) {
    const type = body.type ?? "ipprefix";
    if (type !== "ipprefix") throw invalid();
    const ip6 = typeof body.ip6 === "string" ? body.ip6 : "";
    const [address = "", prefix = "", extra] = ip6.split("/");
    if (extra !== undefined || !address.includes(":") || !/^\d{1,3}$/.test(prefix)) {
      throw invalid();
    }
    if (Number(prefix) > 128 || !/^[0-9a-fA-F:.]+$/.test(address)) throw invalid();
    return { ...body, name, type: "ipprefix", ip6 } as FortiAddress;
  }
  const type = body.type ?? "ipmask";
  if (type === "ipmask") {
    const subnet = typeof body.subnet === "string" ? body.subnet : "";
    const [address = "", mask = "", extra] = subnet.split(" ");
    if (extra !== undefined || !V4.test(address) || !V4.test(mask)) throw invalid();
    return { ...body, name, type, subnet } as FortiAddress;
  }
  if (type === "iprange") {
    const start = body["start-ip"];
    const end = body["end-ip"];
    if (typeof start !== "string" || typeof end !== "string" || !V4.test(start) || !V4.test(end)) {
      throw invalid();
    }
    return { ...body, name, type } as FortiAddress;
  }
  throw invalid();
}

/** A fake FortiGate listening on 127.0.0.1. */
export interface FakeFortiGateServer extends FakeServer<FakeFortiGate> {
  /** The host part for `FORTINET_IP`, with the scheme when it is http. */
  readonly entry: string;
}

/** Options for {@linkcode startFakeFortiGate}. */
export interface StartFakeFortiGateOptions extends FakeFortiGateOptions {
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** Starts a fake FortiGate on 127.0.0.1, port 0. */
export function startFakeFortiGate(options: StartFakeFortiGateOptions): FakeFortiGateServer {
  const served = serveFake(new FakeFortiGate(options), options.tls);
  return { ...served, entry: options.tls ? "localhost" : "http://127.0.0.1" };
}
