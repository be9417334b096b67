/**
 * The Sophos Firewall client (vendors/sophos.md): blocks addresses and networks through
 * the SFOS XML API as IP host objects var creates and owns (`var-host-10.1.2.3`, description
 * `Managed by var …`), members of IP host groups the operator denies in firewall rules —
 * hosts in `SOPHOS_BLOCK_GROUP`, detection and static destinations in
 * `SOPHOS_EXTERNAL_BLOCK_GROUP`, with an IPv6 group each. Sophos applies a change at once.
 *
 * Every request is a `POST` whose form field `reqxml` carries the XML document, built by
 * an XML library that escapes every value — credentials never in a URL. A group's host
 * list is read and written whole, one write at a time per group, keeping others' hosts.
 * On unblock var also takes a recorded IP out of the original's IP list
 * (`SOPHOS_BLOCK_LIST_NAME`).
 *
 * @module
 */

import { XMLBuilder, XMLParser } from "fast-xml-parser";
import type { z } from "zod";
import { HttpEndpoint } from "../engine/http.ts";
import { netmaskOf } from "../engine/ip.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, parseBool, serviceSecrets } from "./_config.ts";
import {
  type DeviceEndpoint,
  deviceListKeys,
  type DeviceListSpec,
  parseDeviceList,
} from "./_devices.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { failureOfCause } from "./_endpoints.ts";
import { type Failure, KeyLocks } from "./_fanout.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "./_names.ts";
import type { Scope, Target } from "./_targets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the API user name and password. */
export const SOPHOS_SECRET_SERVICE = "Sophos";

/** The groups of each kind and family. */
const GROUPS = {
  SOPHOS_BLOCK_GROUP: "Vectra Blocked Hosts",
  SOPHOS_BLOCK_GROUP6: "Vectra Blocked Hosts6",
  SOPHOS_EXTERNAL_BLOCK_GROUP: "Vectra Blocked Destinations",
  SOPHOS_EXTERNAL_BLOCK_GROUP6: "Vectra Blocked Destinations6",
} as const;

/** The parsed configuration of the Sophos client. */
export interface SophosConfig {
  readonly firewalls: readonly DeviceEndpoint[];
  /** `passwordform="encrypt"`: the stored password is Sophos's encrypted form. */
  readonly encrypted: boolean;
  readonly legacyList: string;
  readonly groups: Readonly<Record<keyof typeof GROUPS, string>>;
}

const SPEC: DeviceListSpec = {
  prefix: "SOPHOS",
  listKey: "HOSTNAME",
  port: 4444,
  devices: "firewalls",
  product: "Sophos Firewall",
  listHelp: "Host names or IPs of the firewalls' admin consoles, comma-separated (no scheme).",
};

/** The documented keys of the Sophos client. */
export const SOPHOS_KEYS: readonly ConfigKey[] = [
  ...deviceListKeys(SPEC),
  {
    key: "SOPHOS_IS_ENCRYPTED",
    default: "false",
    help:
      "true when the stored password is Sophos's encrypted form (sent as passwordform=encrypt).",
  },
  {
    key: "SOPHOS_BLOCK_LIST_NAME",
    default: "Vectra - Sophos Integration",
    help:
      "The original's IP list: on unblock var also takes a recorded IP out of it, if it exists.",
  },
  ...Object.entries(GROUPS).map(([key, value]) => ({
    key,
    default: value,
    help: `IP host group (${key.endsWith("6") ? "IPv6" : "IPv4"}) of blocked ${
      key.includes("EXTERNAL") ? "detection and static destinations" : "hosts"
    }; it must exist to block that kind.`,
  })),
];

/** Parses the raw `SOPHOS_*` keys. */
export const SophosConfigSchema: z.ZodType<SophosConfig> = keysSchema(SOPHOS_KEYS, (r, fail) => {
  const devices = parseDeviceList(r, SPEC, fail);
  const encrypted = parseBool(r.SOPHOS_IS_ENCRYPTED ?? "");
  if (encrypted === null) {
    fail(
      "SOPHOS_IS_ENCRYPTED",
      `SOPHOS_IS_ENCRYPTED is "${r.SOPHOS_IS_ENCRYPTED}"; use true or false`,
    );
  }
  const groups = Object.fromEntries(
    Object.keys(GROUPS).map((k) => [k, (r[k] ?? "").trim()]),
  ) as Record<keyof typeof GROUPS, string>;
  for (const [key, value] of Object.entries(groups)) {
    if (value === "" || value.length > 60 || value.includes(",")) {
      fail(key, `${key} is "${value}"; name an IP host group (at most 60 characters, no comma)`);
      return null;
    }
  }
  if (devices === null || encrypted === null) return null;
  return {
    firewalls: devices.endpoints,
    encrypted,
    legacyList: (r.SOPHOS_BLOCK_LIST_NAME ?? "").trim(),
    groups,
  };
});

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => ["IPHost", "IPHostGroup", "Host"].includes(name),
});
const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  suppressEmptyNode: true,
});

type Xml = Record<string, unknown>;

/** The XML API of one firewall. */
class SophosApi {
  readonly label: string;
  readonly locks = new KeyLocks();
  readonly #http: HttpEndpoint;
  readonly #login: Xml;
  readonly #signal: AbortSignal | undefined;

  constructor(firewall: DeviceEndpoint, login: Xml, context: ClientContext) {
    this.label = firewall.host;
    this.#login = login;
    this.#signal = context.signal;
    const host = firewall.host.includes(":") ? `[${firewall.host}]` : firewall.host;
    this.#http = new HttpEndpoint({
      ...context.http,
      system: `sophos ${firewall.host}`,
      baseUrl: `${firewall.scheme}://${host}:${firewall.port}/webconsole`,
      verifyTls: firewall.verifyTls,
      ...(firewall.caFile !== null ? { caFile: firewall.caFile } : {}),
    });
  }

  /** One document: the login, then `operations`; the answer's `Response`. */
  async send(operations: Xml, what: string): Promise<Xml> {
    let text: string;
    try {
      const body = new URLSearchParams({
        reqxml: builder.build({ Request: { Login: this.#login, ...operations } }),
      });
      text = (await this.#http.request("POST", "/APIController", {
        body: body.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        ...(this.#signal ? { signal: this.#signal } : {}),
      })).text;
    } catch (error) {
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const response = ((parser.parse(text) as Xml).Response ?? {}) as Xml;
    const status = String((response.Login as Xml | undefined)?.status ?? "");
    if (status !== "Authentication Successful") {
      throw new Error(
        `cannot ${what}: Sophos answered "${
          status || "no login status"
        }"; check the secrets ${SOPHOS_SECRET_SERVICE}/Username and Password, SOPHOS_IS_ENCRYPTED, and that the API allows this machine`,
      );
    }
    return response;
  }

  /** A `Set` or `Remove`; throws unless every answer's status is 200. */
  async change(operations: Xml, kind: string, what: string): Promise<void> {
    const answers = ((await this.send(operations, what))[kind] ?? []) as Xml[];
    const bad = answers.map((a) => a.Status as Xml).find((s) => String(s?.["@_code"]) !== "200");
    if (answers.length === 0 || bad !== undefined) {
      throw new Error(
        `cannot ${what}: Sophos answered ${String(bad?.["@_code"] ?? "nothing")} ${
          String(bad?.["#text"] ?? "")
        }`.trim(),
      );
    }
  }

  /** One object by name, or undefined. */
  async get(kind: "IPHost" | "IPHostGroup", name: string): Promise<Xml | undefined> {
    const answer = await this.send({
      Get: { [kind]: { Filter: { key: { "@_name": "Name", "@_criteria": "=", "#text": name } } } },
    }, `read ${name}`);
    return ((answer[kind] ?? []) as Xml[]).find((o) => o.Name === name);
  }

  close(): void {
    this.#http.close();
  }
}

/** The Sophos client: the kit's client on the Sophos adapter. */
export type SophosClient = AddressClient;

/** The IP host of a target. */
function hostOf(target: Target): Xml {
  const { address, prefix, isNetwork, version } = target.entry;
  return {
    Name: objectName(target.scope, target.entry),
    IPFamily: version === 4 ? "IPv4" : "IPv6",
    HostType: isNetwork ? "Network" : "IP",
    IPAddress: address,
    ...(isNetwork ? { Subnet: version === 4 ? netmaskOf(prefix) : String(prefix) } : {}),
    Description: ownershipNote(target.scope, target.entry),
  };
}

/** The Sophos adapter: var's IP hosts in the kind's IP host group, per address family. */
function sophosAdapter(apis: readonly SophosApi[], config: SophosConfig): DeviceAdapter<SophosApi> {
  const groupOf = (scope: Scope, v6: boolean) =>
    config
      .groups[
        `SOPHOS_${scope === "host" ? "" : "EXTERNAL_"}BLOCK_GROUP${
          v6 ? "6" : ""
        }` as keyof typeof GROUPS
      ];
  const membersOf = async (api: SophosApi, group: string) => {
    const found = await api.get("IPHostGroup", group);
    if (found === undefined) {
      throw new Error(
        `IP host group "${group}" does not exist on ${api.label}; create it and deny it in a firewall rule, or fix the group key`,
      );
    }
    return (((found.HostList as Xml | undefined)?.Host ?? []) as unknown[]).map(String);
  };
  /** Writes a group's host list whole, with `change` made to a fresh read. */
  const rewrite = (
    api: SophosApi,
    group: string,
    family: string,
    change: (hosts: string[]) => string[],
  ) =>
    api.locks.with([group], async () => {
      const hosts = change(await membersOf(api, group));
      await api.change(
        {
          Set: {
            "@_operation": "update",
            IPHostGroup: { Name: group, IPFamily: family, HostList: { Host: hosts } },
          },
        },
        "IPHostGroup",
        `update ${group}`,
      );
    });
  return {
    name: "sophos",
    tagName: "Sophos Client",
    routingKey: "sophos",
    devices: apis,
    scopes: ["host", "detection", "static"],
    label: (api) => api.label,
    failureOf: failureOfCause,
    async apply(api, action, targets, options) {
      const failed = new Map<string, Failure>();
      const added = new Set<string>();
      let changed = false;
      for (const target of targets) {
        const v6 = target.entry.version === 6;
        const group = groupOf(target.scope, v6);
        const host = hostOf(target);
        const name = String(host.Name);
        try {
          const members = await membersOf(api, group);
          if (action === "block" && !members.includes(name)) {
            const existing = await api.get("IPHost", name);
            if (existing === undefined) {
              await api.change(
                { Set: { "@_operation": "add", IPHost: host } },
                "IPHost",
                `create ${name}`,
              );
            } else if (!isOwned(existing.Description) || existing.IPAddress !== host.IPAddress) {
              throw new Error(
                `IP host "${name}" exists but is not var's for ${target.key}; rename or delete it`,
              );
            }
            await rewrite(
              api,
              group,
              String(host.IPFamily),
              (hosts) => [...hosts.filter((h) => h !== name), name],
            );
            added.add(target.key);
          }
          if (action === "unblock") {
            if (members.includes(name) && isOwned((await api.get("IPHost", name))?.Description)) {
              await rewrite(
                api,
                group,
                String(host.IPFamily),
                (hosts) => hosts.filter((h) => h !== name),
              );
              await api.change({ Remove: { IPHost: { Name: name } } }, "IPHost", `delete ${name}`)
                .catch(() => {});
              changed = true;
            }
            if (options.recorded && target.scope === "host" && config.legacyList !== "") {
              changed = await unlist(api, config.legacyList, target) || changed;
            }
          }
        } catch (error) {
          failed.set(target.key, failureOfCause(error));
        }
      }
      return { failed, added, changed: changed || added.size > 0 };
    },
    async read(api, scopes) {
      const found = new Set<string>();
      for (const scope of scopes) {
        for (const v6 of [false, true]) {
          const group = groupOf(scope, v6);
          const members = await membersOf(api, group).catch((error) => {
            // No IPv6 group: nothing is blocked through it (an IPv6 block fails naming it).
            if (v6) return [];
            throw error;
          });
          for (const name of members) {
            const entry = entryOfName(scope, name);
            if (entry !== null) found.add(`${scope}|${entry.entry}`);
          }
        }
      }
      return found;
    },
    close: (api) => api.close(),
  };
}

/** Takes a recorded IP out of the original's IP list, if the list holds it. */
async function unlist(api: SophosApi, list: string, target: Target): Promise<boolean> {
  const existing = await api.get("IPHost", list);
  const ips = String(existing?.ListOfIPAddresses ?? "").split(",").map((ip) => ip.trim()).filter((
    ip,
  ) => ip !== "");
  const kept = ips.filter((ip) => !target.given.includes(ip) && ip !== target.key);
  if (existing === undefined || kept.length === ips.length) return false;
  if (kept.length === 0) {
    throw new Error(
      `${target.key} is the last address of the IP list "${list}", and Sophos keeps no empty list: add another address to it, or take the list out of your rules and delete it`,
    );
  }
  await api.change(
    {
      Set: { "@_operation": "update", IPHost: { ...existing, ListOfIPAddresses: kept.join(",") } },
    },
    "IPHost",
    `update ${list}`,
  );
  return true;
}

/** Creates the client: reads the credentials and opens each firewall's API. */
async function createSophosClient(
  config: SophosConfig,
  context: ClientContext,
): Promise<SophosClient> {
  const username = await context.secret(SOPHOS_SECRET_SERVICE, "Username");
  const password = await context.secret(SOPHOS_SECRET_SERVICE, "Password");
  const login = {
    Username: username,
    Password: { "@_passwordform": config.encrypted ? "encrypt" : "plain", "#text": password },
  };
  const apis = config.firewalls.map((firewall) => new SophosApi(firewall, login, context));
  return adapterClient(sophosAdapter(apis, config)) as SophosClient;
}

/** The Sophos Firewall client definition. */
export const sophos = {
  name: "sophos",
  aliases: [],
  tagName: "Sophos Client",
  routingKey: "sophos",
  keys: SOPHOS_KEYS,
  configSchema: SophosConfigSchema,
  // The API user name and password, as the original named them.
  secrets: (): SecretRef[] =>
    serviceSecrets(SOPHOS_SECRET_SERVICE, {
      Username: "Sophos API administrator",
      Password: "Its password",
    }),
  create: createSophosClient,
} satisfies ClientDefinition<SophosConfig>;
