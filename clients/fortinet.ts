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
import {
  addressOf,
  failureOf,
  type FamilyTables,
  FortiGateApi,
  FORTINET_SECRET_SERVICE,
  type FortinetFirewall,
  type FortiObject,
  FortiOsError,
  isVarObject,
  TABLES,
} from "./fortinet_api.ts";

export { FORTINET_SECRET_SERVICE, type FortinetFirewall } from "./fortinet_api.ts";
import { parseBool } from "./_config.ts";
import {
  deviceListKeys,
  type DeviceListSpec,
  firstDuplicate,
  parseDeviceList,
  perDeviceHelp,
  secretsPer,
} from "./_devices.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import type { Scope, Target } from "./_targets.ts";
import { entryOfName, NAME_PREFIX, objectName, OWNERSHIP_MARK, ownershipNote } from "./_names.ts";
import type { DeviceAnswer, Failure } from "./_fanout.ts";
import { type Session, staticToken } from "./_session.ts";
import { netmaskOf } from "../engine/ip.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

/** Every comment var writes on an address object starts with this; it marks the object as var's. */
export const VAR_COMMENT_MARK = OWNERSHIP_MARK;

/** Which kind of block an address object serves. */
export type FortinetScope = Scope;

/** Object name prefix per kind of block. */
export const FORTINET_NAME_PREFIX = NAME_PREFIX;

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
  return secretsPer(config.firewalls.map((firewall) => firewall.host), (host) => ({
    service: FORTINET_SECRET_SERVICE,
    key: host,
    description: `API token of the FortiGate REST API admin on ${host}`,
  }));
}

/** The deterministic object name of an element for a kind of block. */
export const fortinetObjectName = objectName;

/** The FortiGate client: the kit's client on the FortiGate device adapter. */
export type FortinetClient = AddressClient;

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
