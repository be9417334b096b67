/**
 * The FortiGate client (vendors/fortinet.md): blocks IPv4 and IPv6 addresses and CIDR
 * networks on one or more FortiGates or VDOMs through the FortiOS CMDB REST API, as
 * address objects that var creates and owns, made members of address groups the operator
 * created and referenced in deny policies. Hosts go to the internal group, detection
 * destinations and static destinations to the external group.
 *
 * Rules (issue 8):
 * - Object names are deterministic and tell the kinds apart: `var-host-<ip>`,
 *   `var-detection-<ip>`, `var-static-<ip>` (a network's `/` becomes `_`). Every object
 *   var creates carries a comment starting with {@linkcode VAR_COMMENT_MARK}; var never
 *   deletes, edits or adopts an object without it.
 * - Group membership changes one member at a time through the member sub-table
 *   (`POST /addrgrp/<g>/member`, `DELETE /addrgrp/<g>/member/<name>`), so a member someone
 *   else adds or removes meanwhile is never lost.
 * - Success only when every firewall confirmed; the token travels only in the
 *   `Authorization: Bearer` header.
 *
 * @module
 */

import { z } from "zod";
import { parseBool } from "./_config.ts";
import {
  deviceListKeys,
  type DeviceListSpec,
  firstDuplicate,
  parseDeviceList,
  perDeviceHelp,
} from "./_devices.ts";
import { adapterClient, type DeviceAdapter } from "./_adapter.ts";
import type { Scope, Target } from "./_targets.ts";
import {
  entryOfName,
  isOwned,
  NAME_PREFIX,
  objectName,
  OWNERSHIP_MARK,
  ownershipNote,
} from "./_names.ts";
import type { DeviceAnswer, Failure } from "./_fanout.ts";
import { type Session, staticToken } from "./_session.ts";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { HttpResponse } from "../engine/http_types.ts";
import { netmaskOf, parseIpOrNetwork, prefixOfNetmask } from "../engine/ip.ts";
import type { ResponseClient } from "../engine/client.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

/** Secret-store service of the FortiGate API tokens (key: the firewall's `FORTINET_IP` entry). */
export const FORTINET_SECRET_SERVICE = "Fortinet";

/** Every comment var writes on an address object starts with this; it marks the object as var's. */
export const VAR_COMMENT_MARK = OWNERSHIP_MARK;

/** Which kind of block an address object serves. */
export type FortinetScope = Scope;

/** Object name prefix per kind of block. */
export const FORTINET_NAME_PREFIX = NAME_PREFIX;

/** One FortiGate (or one VDOM of it) that every operation is applied to. */
export interface FortinetFirewall {
  /** The `FORTINET_IP` entry without scheme: host name or IP; the secret's key. */
  readonly host: string;
  /** `https`, or `http` when the entry was written `http://…` (labs and tests). */
  readonly scheme: "https" | "http";
  readonly port: number;
  readonly vdom: string;
  /** Verify the TLS certificate (`FORTINET_CHECK_SSL`). */
  readonly verifyTls: boolean;
  /** PEM file of a CA to trust (`FORTINET_CA_FILE`), or null. */
  readonly caFile: string | null;
  /** IPv4 group for hosts (`firewall/addrgrp`). */
  readonly internalGroup: string;
  /** IPv4 group for detection and static destinations. */
  readonly externalGroup: string;
  /** IPv6 group for hosts (`firewall/addrgrp6`). */
  readonly internalGroup6: string;
  /** IPv6 group for detection and static destinations. */
  readonly externalGroup6: string;
}

/** The parsed configuration of the FortiGate client. */
export interface FortinetConfig {
  /** The firewalls, in `FORTINET_IP` order. */
  readonly firewalls: readonly FortinetFirewall[];
  /** `FORTINET_LEGACY_UNBLOCK`: also remove members the original framework added. */
  readonly legacyUnblock: boolean;
}

/** The firewall list keys: `FORTINET_IP`, `_PORT`, `_CHECK_SSL`, `_CA_FILE`. */
const DEVICES: DeviceListSpec = {
  prefix: "FORTINET",
  port: 443,
  devices: "firewalls",
  product: "FortiGate",
  listHelp:
    "Management IPs or host names of the FortiGates, comma-separated (repeat an IP to serve several VDOMs). No scheme; `http://` only in labs.",
};

const PER_FIREWALL = perDeviceHelp(DEVICES);

/** The keys beyond the firewall list, each with its default and help. */
const OWN_KEYS: readonly ConfigKey[] = [
  {
    key: "FORTINET_VDOM",
    default: "root",
    help: `VDOM sent with every call. ${PER_FIREWALL}`,
  },
  {
    key: "FORTINET_INTERNAL_ADDRESS_GROUP",
    default: "Internal-Block",
    help:
      `IPv4 address group for blocked hosts (source of an east-west deny policy). ${PER_FIREWALL}`,
  },
  {
    key: "FORTINET_EXTERNAL_ADDRESS_GROUP",
    default: "External-Block",
    help:
      `IPv4 address group for blocked detection and static destinations (destination of a deny policy). ${PER_FIREWALL}`,
  },
  {
    key: "FORTINET_INTERNAL_ADDRESS_GROUP6",
    default: "Internal-Block6",
    help: `IPv6 address group (addrgrp6) for blocked hosts. ${PER_FIREWALL}`,
  },
  {
    key: "FORTINET_EXTERNAL_ADDRESS_GROUP6",
    default: "External-Block6",
    help:
      `IPv6 address group (addrgrp6) for blocked detection and static destinations. ${PER_FIREWALL}`,
  },
  {
    key: "FORTINET_LEGACY_UNBLOCK",
    default: "true",
    help:
      "On unblock, also remove the group member the original framework added for a recorded IP (object named exactly the IP, type iprange); the object itself is kept.",
  },
];

/** The documented keys of the FortiGate client. */
export const FORTINET_KEYS: readonly ConfigKey[] = [
  ...deviceListKeys(DEVICES).slice(0, 2),
  OWN_KEYS[0]!,
  ...deviceListKeys(DEVICES).slice(2),
  ...OWN_KEYS.slice(1),
];

/** The address groups of a firewall, each with its key. */
const GROUP_KEYS = {
  internalGroup: "FORTINET_INTERNAL_ADDRESS_GROUP",
  externalGroup: "FORTINET_EXTERNAL_ADDRESS_GROUP",
  internalGroup6: "FORTINET_INTERNAL_ADDRESS_GROUP6",
  externalGroup6: "FORTINET_EXTERNAL_ADDRESS_GROUP6",
} as const;

/** The raw keys of the client, every value a string (defaults applied when absent). */
const RawFortinetConfig = z.object(
  Object.fromEntries(
    FORTINET_KEYS.map(({ key, default: value }) => [key, z.string().default(value)]),
  ),
);

/** Parses the raw `FORTINET_*` keys into a {@linkcode FortinetConfig}. */
export const FortinetConfigSchema: z.ZodType<FortinetConfig> = RawFortinetConfig.transform(
  (raw, ctx): FortinetConfig => {
    const raws = raw as Record<string, string>;
    let failed = false;
    const fail = (key: string, message: string): typeof z.NEVER => {
      ctx.addIssue({ code: "custom", path: [key], message });
      failed = true;
      return z.NEVER;
    };
    const devices = parseDeviceList(raws, DEVICES, fail);
    if (devices === null) return z.NEVER;
    const vdoms = devices.aligned("FORTINET_VDOM");
    const groups = Object.fromEntries(
      Object.entries(GROUP_KEYS).map(([field, key]) => [field, devices.aligned(key)]),
    ) as Record<keyof typeof GROUP_KEYS, string[] | null>;
    if (failed || vdoms === null) return z.NEVER;
    const legacyUnblock = parseBool(raws.FORTINET_LEGACY_UNBLOCK ?? "");
    if (legacyUnblock === null) {
      return fail(
        "FORTINET_LEGACY_UNBLOCK",
        `FORTINET_LEGACY_UNBLOCK is "${raws.FORTINET_LEGACY_UNBLOCK}"; use true or false`,
      );
    }
    const firewalls: FortinetFirewall[] = [];
    for (const [i, endpoint] of devices.endpoints.entries()) {
      const vdom = vdoms[i] ?? "";
      if (vdom === "") return fail("FORTINET_VDOM", "FORTINET_VDOM is empty; use root or a VDOM");
      const mine = Object.fromEntries(
        Object.keys(GROUP_KEYS).map((
          field,
        ) => [field, groups[field as keyof typeof GROUP_KEYS]?.[i] ?? ""]),
      ) as Record<keyof typeof GROUP_KEYS, string>;
      for (const [field, key] of Object.entries(GROUP_KEYS)) {
        if (mine[field as keyof typeof GROUP_KEYS] === "") {
          return fail(key, `${key} is empty; name an address group that exists on the firewall`);
        }
      }
      for (const v of ["", "6"] as const) {
        const internal = mine[`internalGroup${v}`];
        if (internal === mine[`externalGroup${v}`]) {
          return fail(
            `FORTINET_EXTERNAL_ADDRESS_GROUP${v}`,
            `FORTINET_INTERNAL_ADDRESS_GROUP${v} and FORTINET_EXTERNAL_ADDRESS_GROUP${v} are both "${internal}"; use two groups`,
          );
        }
      }
      firewalls.push({ ...endpoint, vdom, ...mine });
    }
    const twice = firstDuplicate(firewalls, (f) => `${f.host}:${f.port}/${f.vdom}`);
    if (twice !== null) {
      return fail(
        "FORTINET_IP",
        `FORTINET_IP lists ${twice.host} port ${twice.port} VDOM ${twice.vdom} twice`,
      );
    }
    return { firewalls, legacyUnblock };
  },
);

/** The secrets the configuration needs: one API token per distinct firewall host. */
function fortinetSecrets(config: FortinetConfig): SecretRef[] {
  const hosts = [...new Set(config.firewalls.map((firewall) => firewall.host))];
  return hosts.map((host) => ({
    service: FORTINET_SECRET_SERVICE,
    key: host,
    description: `API token of the FortiGate REST API admin on ${host}`,
  }));
}

/** The deterministic object name of an element for a kind of block. */
export const fortinetObjectName = objectName;

/** An address object as FortiOS returns it. */
interface FortiObject {
  readonly name: string;
  readonly type?: string;
  readonly comment?: string;
  readonly subnet?: string;
  readonly "start-ip"?: string;
  readonly "end-ip"?: string;
  readonly ip6?: string;
}

/** True when the object carries var's comment. */
function isVarObject(object: FortiObject): boolean {
  return isOwned(object.comment);
}

/** The address an object covers, normalised, or null when it is not an ipmask/ipprefix. */
function addressOf(object: FortiObject): string | null {
  if (typeof object.ip6 === "string" && (object.type ?? "ipprefix") === "ipprefix") {
    const parsed = parseIpOrNetwork(object.ip6);
    return parsed.ok ? parsed.value.entry : null;
  }
  if (typeof object.subnet === "string" && (object.type ?? "ipmask") === "ipmask") {
    const [address = "", mask = ""] = object.subnet.trim().split(/\s+|\//);
    const prefix = mask.includes(".") ? prefixOfNetmask(mask) : Number(mask);
    if (prefix === null || !Number.isInteger(prefix)) return null;
    const parsed = parseIpOrNetwork(`${address}/${prefix}`);
    return parsed.ok ? parsed.value.entry : null;
  }
  return null;
}

/** The CMDB tables of one address family. */
interface FamilyTables {
  readonly address: "address" | "address6";
  readonly group: "addrgrp" | "addrgrp6";
}

const TABLES: Readonly<Record<4 | 6, FamilyTables>> = {
  4: { address: "address", group: "addrgrp" },
  6: { address: "address6", group: "addrgrp6" },
};

/** Explanations of FortiOS CLI return codes seen in error envelopes. */
const FORTIOS_CODES: Readonly<Record<number, string>> = {
  [-3]: "entry not found",
  [-5]: "an entry with this name already exists",
  [-23]: "the entry is still used by another object",
  [-56]: "a required attribute would be empty",
  [-651]: "invalid value",
};

/** A FortiOS answer that is not success: status, CLI error code and text. */
class FortiOsError extends Error {
  readonly status: number | null;
  readonly code: number | null;

  constructor(message: string, status: number | null, code: number | null = null) {
    super(message);
    this.name = "FortiOsError";
    this.status = status;
    this.code = code;
  }
}

/** The FortiOS CMDB API of one firewall/VDOM. */
class FortiGateApi {
  readonly firewall: FortinetFirewall;
  /** Names the firewall in messages: `10.0.0.1` or `10.0.0.1 VDOM dmz`. */
  readonly label: string;
  #endpoint: HttpEndpoint;
  #signal: AbortSignal | undefined;

  constructor(firewall: FortinetFirewall, session: Session, context: ClientContext) {
    this.firewall = firewall;
    this.label = firewall.vdom === "root"
      ? firewall.host
      : `${firewall.host} VDOM ${firewall.vdom}`;
    this.#signal = context.signal;
    const hostForUrl = firewall.host.includes(":") ? `[${firewall.host}]` : firewall.host;
    this.#endpoint = new HttpEndpoint({
      ...context.http,
      system: `fortinet ${this.label}`,
      baseUrl: `${firewall.scheme}://${hostForUrl}:${firewall.port}/api/v2/cmdb/firewall`,
      verifyTls: firewall.verifyTls,
      ...(firewall.caFile !== null ? { caFile: firewall.caFile } : {}),
      headers: () => session.headers(),
    });
  }

  close(): void {
    this.#endpoint.close();
  }

  /**
   * One CMDB call. Resolves with the envelope on success, with null on an accepted 404,
   * and throws a {@linkcode FortiOsError} that explains any other answer.
   */
  async #call(
    method: string,
    path: string,
    what: string,
    options: { json?: unknown; query?: Record<string, string>; notFoundIsNull?: boolean } = {},
  ): Promise<Record<string, unknown> | null> {
    let response: HttpResponse;
    try {
      response = await this.#endpoint.request(method, path, {
        query: { vdom: this.firewall.vdom, ...options.query },
        ...(options.json !== undefined ? { json: options.json } : {}),
        accept: [400, 401, 403, 404, 405, 424, 500],
        ...(this.#signal ? { signal: this.#signal } : {}),
      });
    } catch (error) {
      if (error instanceof HttpError) {
        throw new FortiOsError(`cannot ${what}: ${error.message}`, error.status);
      }
      const detail = error instanceof Error ? error.message : String(error);
      throw new FortiOsError(`cannot ${what}: ${detail}`, null);
    }
    const status = response.status;
    let body: Record<string, unknown> | null = null;
    try {
      const parsed = response.json<unknown>();
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      body = null;
    }
    if (status === 404 && options.notFoundIsNull) return null;
    if (status >= 200 && status < 300 && body !== null && body.status !== "error") return body;
    throw new FortiOsError(`cannot ${what}: ${this.#explain(status, body)}`, status, codeOf(body));
  }

  #explain(status: number, body: Record<string, unknown> | null): string {
    switch (status) {
      case 401:
        return `FortiOS refused the API token (401); check the secret ${FORTINET_SECRET_SERVICE}/${this.firewall.host} and the trusted hosts of the REST API admin`;
      case 403:
        return "FortiOS answered 403; the admin profile of the API token needs read-write access to firewall addresses";
      case 424:
        return `FortiOS answered 424; VDOM "${this.firewall.vdom}" does not exist`;
    }
    if (body === null) return `FortiOS answered ${status} with a body that is not a JSON object`;
    const code = codeOf(body);
    const cli = typeof body.cli_error === "string" ? body.cli_error.replace(/\s+/g, " ") : "";
    const parts = [`FortiOS answered ${status}`];
    if (code !== null) parts.push(`error ${code} (${FORTIOS_CODES[code] ?? "unknown error"})`);
    if (cli !== "") parts.push(cli);
    if (status >= 200 && status < 300) parts.push(`status "${String(body.status)}"`);
    return parts.join(", ");
  }

  /** Member names of a group; throws when the group does not exist. */
  async groupMembers(tables: FamilyTables, group: string): Promise<Set<string>> {
    const kind = tables.group === "addrgrp6" ? "IPv6 address group" : "address group";
    const body = await this.#call(
      "GET",
      `/${tables.group}/${enc(group)}`,
      `read ${kind} "${group}"`,
      {
        notFoundIsNull: true,
      },
    );
    if (body === null) {
      throw new FortiOsError(
        `${kind} "${group}" does not exist in VDOM ${this.firewall.vdom}; create it (see the README) or fix the group key`,
        404,
      );
    }
    const results = Array.isArray(body.results) ? body.results : [];
    const first = results[0] as { member?: unknown } | undefined;
    if (!first || !Array.isArray(first.member)) {
      throw new FortiOsError(`cannot read ${kind} "${group}": the answer has no member list`, null);
    }
    const names = first.member.map((m) =>
      typeof m === "object" && m !== null && typeof (m as { name?: unknown }).name === "string"
        ? (m as { name: string }).name
        : ""
    );
    return new Set(names.filter((name) => name !== ""));
  }

  /** The address objects whose name starts with `prefix`, by name. */
  async objectsWithPrefix(tables: FamilyTables, prefix: string): Promise<Map<string, FortiObject>> {
    const body = await this.#call("GET", `/${tables.address}`, `list ${tables.address} objects`, {
      query: { filter: `name=@${prefix}` },
    });
    const results = Array.isArray(body?.results) ? body.results : [];
    const objects = new Map<string, FortiObject>();
    for (const item of results) {
      if (typeof item !== "object" || item === null) continue;
      const object = item as FortiObject;
      if (typeof object.name === "string" && object.name.startsWith(prefix)) {
        objects.set(object.name, object);
      }
    }
    return objects;
  }

  /** One address object, or null when it does not exist. */
  async getObject(tables: FamilyTables, name: string): Promise<FortiObject | null> {
    const body = await this.#call("GET", `/${tables.address}/${enc(name)}`, `read "${name}"`, {
      notFoundIsNull: true,
    });
    if (body === null) return null;
    const results = Array.isArray(body.results) ? body.results : [];
    const first = results[0];
    return typeof first === "object" && first !== null ? first as FortiObject : null;
  }

  /** Creates an address object; a duplicate name throws with code -5. */
  async createObject(tables: FamilyTables, object: Record<string, string>): Promise<void> {
    await this.#call("POST", `/${tables.address}`, `create address object "${object.name}"`, {
      json: object,
    });
  }

  /** Deletes an address object; already gone succeeds. */
  async deleteObject(tables: FamilyTables, name: string): Promise<void> {
    await this.#call("DELETE", `/${tables.address}/${enc(name)}`, `delete "${name}"`, {
      notFoundIsNull: true,
    });
  }

  /** True when `name` is a member of the group (member sub-table). */
  async isMember(tables: FamilyTables, group: string, name: string): Promise<boolean> {
    const body = await this.#call(
      "GET",
      `/${tables.group}/${enc(group)}/member/${enc(name)}`,
      `read member "${name}" of "${group}"`,
      { notFoundIsNull: true },
    );
    return body !== null;
  }

  /** Adds one member to a group without touching the others. */
  async addMember(tables: FamilyTables, group: string, name: string): Promise<void> {
    await this.#call(
      "POST",
      `/${tables.group}/${enc(group)}/member`,
      `add "${name}" to "${group}"`,
      {
        json: { name },
      },
    );
  }

  /** Removes one member from a group without touching the others; already gone succeeds. */
  async removeMember(tables: FamilyTables, group: string, name: string): Promise<void> {
    try {
      await this.#call(
        "DELETE",
        `/${tables.group}/${enc(group)}/member/${enc(name)}`,
        `remove "${name}" from "${group}"`,
        { notFoundIsNull: true },
      );
    } catch (error) {
      if (error instanceof FortiOsError && error.code === -56) {
        throw new FortiOsError(
          `${error.message}; FortiOS keeps at least one member in a group: add a placeholder member such as the address "none" to "${group}"`,
          error.status,
          error.code,
        );
      }
      throw error;
    }
  }
}

/** Percent-encodes one path segment (names may hold spaces, `:` and other characters). */
function enc(name: string): string {
  return encodeURIComponent(name);
}

/** The CLI error code of a FortiOS envelope, or null. */
function codeOf(body: Record<string, unknown> | null): number | null {
  return body !== null && typeof body.error === "number" ? body.error : null;
}

/** Text of any error, without a stack. */
/** A firewall's error as a fan-out failure. */
function failureOf(error: unknown): Failure {
  return error instanceof FortiOsError
    ? { message: error.message, status: error.status }
    : { message: describe(error), status: null };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The FortiGate client: every operation on every configured firewall. */
/** The FortiGate client: the kit's client on the FortiGate device adapter. */
export type FortinetClient =
  & ResponseClient
  & Required<
    Pick<
      ResponseClient,
      | "blockHost"
      | "unblockHost"
      | "blockDetection"
      | "unblockDetection"
      | "blockStaticIps"
      | "unblockStaticIps"
      | "listStaticIps"
      | "list"
      | "removeElements"
      | "close"
    >
  >;

/**
 * The FortiGate device adapter: one address object per element (named after it, marked
 * as var's) and its membership in the kind's address group, per firewall and VDOM.
 */
function fortinetAdapter(
  apis: readonly FortiGateApi[],
  legacyUnblock: boolean,
): DeviceAdapter<FortiGateApi> {
  return {
    name: "fortinet",
    tagName: "Fortinet Client",
    routingKey: "fortinet",
    devices: apis,
    scopes: ["host", "detection", "static"],
    label: (api) => api.label,
    failureOf,
    apply: (api, action, targets, options) =>
      applyOn(api, action, targets, options.recorded && legacyUnblock),
    read: readOn,
    close: (api) => api.close(),
  };
}

/**
 * Applies an action to targets of one scope on one firewall. Never throws: a target is
 * confirmed, or failed with the error that stopped it; a block says which targets it newly
 * put in the group (what a rollback takes back).
 */
async function applyOn(
  api: FortiGateApi,
  action: "block" | "unblock",
  targets: readonly Target[],
  legacy: boolean,
): Promise<DeviceAnswer> {
  const failed = new Map<string, Failure>();
  const added = new Set<string>();
  for (const family of [4, 6] as const) {
    const mine = targets.filter((t) => t.entry.version === family);
    if (mine.length === 0) continue;
    const tables = TABLES[family];
    const scope = (mine[0] as Target).scope;
    const group = groupFor(api.firewall, scope, family);
    let members: Set<string>;
    let objects: Map<string, FortiObject>;
    try {
      members = await api.groupMembers(tables, group);
      objects = await api.objectsWithPrefix(tables, FORTINET_NAME_PREFIX[scope]);
    } catch (error) {
      for (const target of mine) failed.set(target.key, failureOf(error));
      continue;
    }
    for (const target of mine) {
      const on = { api, tables, group, members, objects };
      try {
        if (action === "unblock") await unblockOne(on, target, legacy);
        else if (await blockOne(on, target)) added.add(target.key);
      } catch (error) {
        failed.set(target.key, failureOf(error));
      }
    }
  }
  return { failed, added };
}

/** One firewall's group of a scope and family, as read at the start of an action. */
interface GroupState {
  readonly api: FortiGateApi;
  readonly tables: FamilyTables;
  readonly group: string;
  readonly members: Set<string>;
  readonly objects: Map<string, FortiObject>;
}

/**
 * Ensures var's object exists and is a member of the group; true when this call made it
 * a member (a rollback takes it back), false when it already was.
 */
async function blockOne(on: GroupState, target: Target): Promise<boolean> {
  const { api, tables, group, members, objects } = on;
  const name = fortinetObjectName(target.scope, target.entry);
  const existing = objects.get(name);
  if (existing) {
    assertOurs(existing, target);
  } else {
    const body: Record<string, string> = target.entry.version === 4
      ? {
        name: name,
        type: "ipmask",
        subnet: `${target.entry.address} ${netmaskOf(target.entry.prefix)}`,
        comment: ownershipNote(target.scope, target.entry),
      }
      : {
        name: name,
        type: "ipprefix",
        ip6: `${target.entry.address}/${target.entry.prefix}`,
        comment: ownershipNote(target.scope, target.entry),
      };
    try {
      await api.createObject(tables, body);
    } catch (error) {
      // Created meanwhile (another brain of the same run, or a run that crashed): adopt
      // it only when it is var's and covers the same address.
      if (!(error instanceof FortiOsError) || error.code !== -5) throw error;
      const found = await api.getObject(tables, name);
      if (found === null) throw error;
      assertOurs(found, target);
    }
  }
  if (members.has(name)) return false;
  try {
    await api.addMember(tables, group, name);
  } catch (error) {
    // Added meanwhile by another call: confirmed when it is a member now.
    if (!(error instanceof FortiOsError) || error.code !== -5) throw error;
    if (!(await api.isMember(tables, group, name))) throw error;
    members.add(name);
    return false;
  }
  members.add(name);
  return true;
}

/** Removes var's member and object; leaves anything var did not create. */
async function unblockOne(on: GroupState, target: Target, legacy: boolean): Promise<void> {
  const { api, tables, group, members, objects } = on;
  const name = fortinetObjectName(target.scope, target.entry);
  const existing = objects.get(name);
  const ours = existing !== undefined && isVarObject(existing);
  if (ours && members.has(name)) {
    await api.removeMember(tables, group, name);
    members.delete(name);
  }
  if (ours) {
    try {
      await api.deleteObject(tables, name);
      objects.delete(name);
    } catch (error) {
      // Still used by a policy or group someone else made: the block through var's group
      // is gone, which is what unblocking means; the object stays for its other user.
      if (!(error instanceof FortiOsError) || error.code !== -23) throw error;
    }
  }
  if (legacy && target.scope !== "static") {
    for (const given of target.given) {
      if (!members.has(given)) continue;
      const legacy = await api.getObject(tables, given);
      if (legacy !== null && isLegacyObject(legacy, given)) {
        await api.removeMember(tables, group, given);
        members.delete(given);
      }
    }
  }
}

/** The `<scope>|<entry>` keys var's objects enforce in one firewall's groups. */
async function readOn(api: FortiGateApi, scopes: readonly Scope[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const scope of scopes) {
    for (const family of [4, 6] as const) {
      const tables = TABLES[family];
      let members: Set<string>;
      try {
        members = await api.groupMembers(tables, groupFor(api.firewall, scope, family));
      } catch (error) {
        // No IPv6 group: nothing can be blocked through it (an IPv6 block fails and names
        // the group), so IPv4-only sites need not create one.
        if (family === 6 && error instanceof FortiOsError && error.status === 404) continue;
        throw error;
      }
      const objects = await api.objectsWithPrefix(tables, FORTINET_NAME_PREFIX[scope]);
      for (const name of members) {
        const object = objects.get(name);
        const entry = entryOfName(scope, name);
        if (object === undefined || entry === null || !isVarObject(object)) continue;
        if (addressOf(object) !== entry.entry) continue;
        found.add(`${scope}|${entry.entry}`);
      }
    }
  }
  return found;
}

/** The group a kind of block uses on a firewall for an address family. */
function groupFor(firewall: FortinetFirewall, scope: FortinetScope, family: 4 | 6): string {
  if (scope === "host") return family === 4 ? firewall.internalGroup : firewall.internalGroup6;
  return family === 4 ? firewall.externalGroup : firewall.externalGroup6;
}

/** Throws unless the object is var's and covers the target's address. */
function assertOurs(object: FortiObject, target: Target): void {
  if (!isVarObject(object)) {
    throw new FortiOsError(
      `address object "${object.name}" exists but var did not create it (its comment does not start with "${VAR_COMMENT_MARK}"); rename or delete that object`,
      null,
    );
  }
  const covers = addressOf(object);
  if (covers !== target.entry.entry) {
    throw new FortiOsError(
      `address object "${object.name}" covers "${
        covers ?? "something else"
      }", not "${target.entry.entry}"; delete it so var can create it again`,
      null,
    );
  }
}

/** True when the object looks as the original framework made it for `ip`: iprange ip–ip. */
function isLegacyObject(object: FortiObject, ip: string): boolean {
  return object.type === "iprange" && object["start-ip"] === ip && object["end-ip"] === ip;
}

/** Creates the client: looks up one token per firewall host and opens the endpoints. */
async function createFortinetClient(
  config: FortinetConfig,
  context: ClientContext,
): Promise<FortinetClient> {
  // One REST API token per firewall host (a VDOM of the same host shares it).
  const sessions = new Map<string, Session>();
  for (const { key } of fortinetSecrets(config)) {
    const session = staticToken(
      "Authorization",
      "Bearer ",
      () => context.secret(FORTINET_SECRET_SERVICE, key),
    );
    await session.prepare();
    sessions.set(key, session);
  }
  const apis: FortiGateApi[] = [];
  try {
    for (const firewall of config.firewalls) {
      apis.push(new FortiGateApi(firewall, sessions.get(firewall.host)!, context));
    }
  } catch (error) {
    for (const api of apis) api.close();
    throw error;
  }
  return adapterClient(fortinetAdapter(apis, config.legacyUnblock)) as FortinetClient;
}

/** The FortiGate client definition. */
export const fortinet = {
  name: "fortinet",
  aliases: [],
  tagName: "Fortinet Client",
  routingKey: "fortinet",
  keys: FORTINET_KEYS,
  configSchema: FortinetConfigSchema,
  secrets: fortinetSecrets,
  create: createFortinetClient,
} satisfies ClientDefinition<FortinetConfig>;
