/**
 * The Cisco Secure Firewall Management Center client (vendors/cisco_fmc.md): blocks
 * addresses as host and network objects var creates and owns, members of network groups
 * an access control rule uses — hosts in `CISCO_FMC_BLOCK_GROUP`, detection and static
 * destinations in `CISCO_FMC_EXTERNAL_BLOCK_GROUP` — then deploys to the configured
 * devices. A block counts once the deployment holding it succeeded.
 *
 * Groups are read whole and written whole (FMC has no member call), one write at a time
 * per group, keeping every member someone else put there. The original recorded the UUID
 * of a host object named after the IP; var records the IP, and takes the original's UUIDs
 * out of the group on unblock (their objects are not var's, so they stay).
 *
 * @module
 */

import type { z } from "zod";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, serviceSecrets, splitList } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { type DeviceAnswer, type Failure, KeyLocks } from "./_fanout.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "./_names.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { Scope, Target } from "./_targets.ts";
import {
  FMC_SECRET_SERVICE,
  FmcApi,
  FmcError,
  type FmcGroup,
  type FmcObject,
} from "./cisco_fmc_api.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

export { FMC_SECRET_SERVICE } from "./cisco_fmc_api.ts";

/** The parsed configuration of the FMC client. */
export interface FmcConfig extends ApiEndpointConfig {
  readonly hostGroup: string;
  readonly destinationGroup: string;
  readonly devices: readonly string[];
  readonly timing: TaskTiming;
}

/** The documented keys of the FMC client. */
export const CISCO_FMC_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "CISCO_FMC",
    "CISCO_FMC_URL",
    "FMC base URL, e.g. https://fmc.example.com (a trailing / is fine).",
  ),
  {
    key: "CISCO_FMC_BLOCK_GROUP",
    default: "",
    required: true,
    help: "Network group for blocked hosts, used as the source of a block rule; it must exist.",
  },
  {
    key: "CISCO_FMC_EXTERNAL_BLOCK_GROUP",
    default: "External-Block",
    help:
      "Network group for blocked detection and static destinations, used as a destination; it must exist.",
  },
  {
    key: "CISCO_FMC_DEVICES",
    default: "",
    required: true,
    help:
      "Managed devices (FTD names) to deploy to, comma-separated; a block counts once every one deployed it.",
  },
  ...taskKeys("CISCO_FMC", "a deployment"),
];

/** Parses the raw `CISCO_FMC_*` keys. */
export const FmcConfigSchema: z.ZodType<FmcConfig> = keysSchema(CISCO_FMC_KEYS, (r, fail) => {
  const api = parseApiUrl(r, "CISCO_FMC", "CISCO_FMC_URL", "/api", fail);
  const timing = parseTaskTiming(r, "CISCO_FMC", fail);
  const hostGroup = (r.CISCO_FMC_BLOCK_GROUP ?? "").trim();
  const destinationGroup = (r.CISCO_FMC_EXTERNAL_BLOCK_GROUP ?? "").trim();
  const devices = splitList(r.CISCO_FMC_DEVICES ?? "").filter((d) => d !== "");
  if (hostGroup === "") {
    fail(
      "CISCO_FMC_BLOCK_GROUP",
      "CISCO_FMC_BLOCK_GROUP is empty; name the network group of the block rule",
    );
  }
  if (destinationGroup === "" || destinationGroup === hostGroup) {
    fail(
      "CISCO_FMC_EXTERNAL_BLOCK_GROUP",
      `CISCO_FMC_EXTERNAL_BLOCK_GROUP is "${destinationGroup}"; name a second network group, for destinations`,
    );
  }
  if (devices.length === 0) {
    fail(
      "CISCO_FMC_DEVICES",
      "CISCO_FMC_DEVICES is empty; name the devices to deploy to (a block counts only once deployed)",
    );
  }
  if (api === null || timing === null || hostGroup === "" || devices.length === 0) return null;
  if (destinationGroup === "" || destinationGroup === hostGroup) return null;
  return { ...api, hostGroup, destinationGroup, devices, timing };
});

/** The secrets: the FMC user name and password, as the original named them. */
function fmcSecrets(): SecretRef[] {
  return serviceSecrets(FMC_SECRET_SERVICE, {
    Username: "FMC API user (Object Manager: modify; deployment)",
    Password: "Password of the FMC API user",
  });
}

/** The FMC client: the kit's client on the FMC adapter. */
export type FmcClient = AddressClient & Required<Pick<AddressClient, "stage" | "endCycle">>;

/** The FMC device adapter: objects and group members, deployed as a batch's commit. */
function fmcAdapter(api: FmcApi, config: FmcConfig): DeviceAdapter<FmcApi> {
  const groupName = (scope: Scope) => scope === "host" ? config.hostGroup : config.destinationGroup;
  const ids = new Map<string, string>();
  const groupId = async (name: string) => {
    const known = ids.get(name);
    if (known !== undefined) return known;
    const found = (await api.list("/object/networkgroups", "list the network groups")).find((g) =>
      g.name === name
    );
    if (found === undefined) {
      throw new FmcError(
        `network group "${name}" does not exist on ${api.label}; create it and use it in a block rule, or fix the group key`,
        404,
      );
    }
    ids.set(name, found.id);
    return found.id;
  };
  const locks = new KeyLocks();
  return {
    name: "cisco_fmc",
    tagName: "FMC Client",
    routingKey: "cisco_fmc",
    devices: [api],
    scopes: ["host", "detection", "static"],
    legacyIds: true,
    label: () => api.label,
    failureOf: (error): Failure => ({
      message: errorText(error),
      status: error instanceof FmcError ? error.status : null,
    }),
    async apply(_api, action, targets, options) {
      const scope = targets[0]?.scope ?? "host";
      const id = await groupId(groupName(scope));
      return await locks.with(
        [id],
        () => applyOn(api, id, action, targets, options.legacyIds ?? []),
      );
    },
    async read(_api, scopes) {
      const found = new Set<string>();
      for (const scope of scopes) {
        const group = await api.call(
          "GET",
          `/object/networkgroups/${await groupId(groupName(scope))}`,
          "read a network group",
        );
        for (const member of (group?.objects ?? []) as FmcObject[]) {
          const entry = entryOfName(scope, member.name);
          if (entry !== null) found.add(`${scope}|${entry.entry}`);
        }
      }
      return found;
    },
    commits: {
      commit: () => api.deploy(config.devices),
      discard: () => Promise.resolve(),
      endCycle: () => Promise.resolve(),
    },
    close: () => api.close(),
  };
}

/**
 * One read and one write of the group for all targets: blocks add var's objects (created
 * when missing), unblocks take var's out and delete them, and the original's recorded
 * UUIDs leave the group. Never throws; each target confirmed or failed.
 */
async function applyOn(
  api: FmcApi,
  groupId: string,
  action: "block" | "unblock",
  targets: readonly Target[],
  legacyIds: readonly string[],
): Promise<DeviceAnswer> {
  const failed = new Map<string, Failure>();
  const added = new Set<string>();
  const failAll = (error: unknown) => {
    const failure = {
      message: errorText(error),
      status: error instanceof FmcError ? error.status : null,
    };
    for (const key of [...targets.map((t) => t.key), ...legacyIds]) {
      if (!failed.has(key)) failed.set(key, failure);
    }
    return { failed, added };
  };
  let group: FmcGroup;
  try {
    group = await api.call(
      "GET",
      `/object/networkgroups/${groupId}`,
      "read a network group",
    ) as FmcGroup;
  } catch (error) {
    return failAll(error);
  }
  const members = [...(group.objects ?? [])];
  const removed: FmcObject[] = [];
  for (const target of targets) {
    const name = objectName(target.scope, target.entry);
    const member = members.find((m) => m.name === name);
    try {
      if (action === "block" && member === undefined) {
        members.push(await ownObject(api, target));
        added.add(target.key);
      }
      if (action === "unblock" && member !== undefined) {
        const object = await api.call(
          "GET",
          `/object/${member.type === "Network" ? "networks" : "hosts"}/${member.id}`,
          `read ${name}`,
          { notFound: true },
        );
        if (object !== null && isOwned(object.description)) {
          members.splice(members.indexOf(member), 1);
          removed.push(member);
        }
      }
    } catch (error) {
      failed.set(target.key, {
        message: errorText(error),
        status: error instanceof FmcError ? error.status : null,
      });
    }
  }
  const legacy = members.filter((m) => legacyIds.includes(m.id));
  const kept = members.filter((m) => !legacy.includes(m));
  if (added.size > 0 || removed.length > 0 || legacy.length > 0) {
    try {
      const { links: _links, metadata: _metadata, ...writable } = group;
      await api.call("PUT", `/object/networkgroups/${groupId}`, "write a network group", {
        json: { ...writable, objects: kept.map((m) => ({ id: m.id, type: m.type, name: m.name })) },
      });
    } catch (error) {
      added.clear();
      return failAll(error);
    }
  }
  for (const member of removed) {
    const kind = member.type === "Network" ? "networks" : "hosts";
    await api.call("DELETE", `/object/${kind}/${member.id}`, `delete ${member.name}`).catch(
      () => {},
    );
  }
  return { failed, added, changed: added.size > 0 || removed.length > 0 || legacy.length > 0 };
}

/** var's object of a target: created, or adopted when a crashed run left it. */
async function ownObject(api: FmcApi, target: Target): Promise<FmcObject> {
  const name = objectName(target.scope, target.entry);
  const network = target.entry.isNetwork;
  const kind = network ? "networks" : "hosts";
  const body = {
    type: network ? "Network" : "Host",
    name,
    value: target.entry.entry,
    description: ownershipNote(target.scope, target.entry),
  };
  try {
    const created = await api.call("POST", `/object/${kind}`, `create ${name}`, { json: body });
    return { id: String(created?.id ?? ""), type: body.type, name };
  } catch (error) {
    if (!(error instanceof FmcError) || error.status !== 400) throw error;
    const found = (await api.list(`/object/${kind}`, `find ${name}`)).find((o) => o.name === name);
    if (found === undefined) throw error;
    if (!isOwned(found.description) || found.value !== target.entry.entry) {
      throw new FmcError(
        `object "${name}" exists but is not var's for ${target.key}; rename or delete it`,
        null,
      );
    }
    return { id: found.id, type: body.type, name };
  }
}

/** Creates the client: reads the credentials and opens the API. */
async function createFmcClient(config: FmcConfig, context: ClientContext): Promise<FmcClient> {
  const username = await context.secret(FMC_SECRET_SERVICE, "Username");
  const password = await context.secret(FMC_SECRET_SERVICE, "Password");
  const api = new FmcApi(config, { username, password }, config.timing, context);
  return adapterClient(fmcAdapter(api, config)) as FmcClient;
}

/** The FMC client definition. */
export const ciscoFmc = {
  name: "cisco_fmc",
  aliases: ["fmc"],
  tagName: "FMC Client",
  routingKey: "cisco_fmc",
  keys: CISCO_FMC_KEYS,
  configSchema: FmcConfigSchema,
  secrets: fmcSecrets,
  create: createFmcClient,
} satisfies ClientDefinition<FmcConfig>;
