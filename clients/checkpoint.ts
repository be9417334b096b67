/**
 * The Check Point client (vendors/checkpoint.md): blocks addresses through a Check Point
 * Security Management server, as host and network objects var creates and owns, members
 * of groups the operator uses in a drop rule. Hosts go to the internal group, detection
 * and static destinations to the external group.
 *
 * A change counts only once enforced: each batch of changes is published, then the policy
 * package is installed on every configured target, both tasks polled to success within a
 * deadline. One management session serves a whole cycle (login on first use, logout at its
 * end); a batch whose publish or install fails is discarded and counts for nothing, so the
 * next cycle tries again. Object names are `var-host-<ip>`, `var-detection-<ip>`,
 * `var-static-<entry>`; var never deletes or adopts an object whose comments do not start
 * with `Managed by var`.
 *
 * @module
 */

import { z } from "zod";
import { getLogger } from "@logtape/logtape";
import {
  CHECKPOINT_SECRET_SERVICE,
  CheckPointApi,
  CheckPointError,
  type CheckPointLogin,
  type CheckPointObject,
  failureOf,
} from "./checkpoint_api.ts";
import { splitList } from "./_config.ts";
import {
  type DeviceEndpoint,
  deviceListKeys,
  type DeviceListSpec,
  parseDeviceList,
} from "./_devices.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { sessionCommits } from "./_batch.ts";
import type { DeviceAnswer, Failure } from "./_fanout.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "./_names.ts";
import { CycleSession } from "./_session.ts";
import { parseTaskTiming, taskKeys } from "./_tasks.ts";
import type { Scope, Target } from "./_targets.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

export { CHECKPOINT_SECRET_SERVICE } from "./checkpoint_api.ts";

const logger = getLogger(["var", "client", "checkpoint"]);

/** The parsed configuration of the Check Point client. */
export interface CheckPointConfig {
  readonly server: DeviceEndpoint;
  readonly login: CheckPointLogin;
  readonly internalGroup: string;
  readonly externalGroup: string;
  readonly policyPackage: string;
  readonly installTargets: readonly string[];
}

/** The server keys: `CHECKPOINT_HOST`, `_PORT`, `_CHECK_SSL`, `_CA_FILE`. */
const SERVER: DeviceListSpec = {
  prefix: "CHECKPOINT",
  listKey: "HOST",
  port: 443,
  devices: "management servers",
  product: "Check Point Security Management",
  listHelp:
    "IP or host name of the Security Management server (no scheme; `http://` only in labs).",
};

/** The documented keys of the Check Point client. */
export const CHECKPOINT_KEYS: readonly ConfigKey[] = [
  ...deviceListKeys(SERVER).map((key) => ({ ...key, help: key.help.replace(/ One value.*$/, "") })),
  {
    key: "CHECKPOINT_USER",
    default: "admin",
    help: "Management API administrator; also the key of its secret (service CheckPoint).",
  },
  {
    key: "CHECKPOINT_AUTH",
    default: "password",
    help: "How the administrator logs in: password, or api-key (the secret is then an API key).",
  },
  {
    key: "CHECKPOINT_DOMAIN",
    default: "",
    help:
      "Multi-Domain Server only: the domain to log in to; empty for a Security Management server.",
  },
  {
    key: "CHECKPOINT_INTERNAL_ADDRESS_GROUP",
    default: "Internal-Block",
    help:
      "Group for blocked hosts; it must exist and be used in a drop rule of the policy package.",
  },
  {
    key: "CHECKPOINT_EXTERNAL_ADDRESS_GROUP",
    default: "External-Block",
    help:
      "Group for blocked detection and static destinations; it must exist and be used in a drop rule.",
  },
  {
    key: "CHECKPOINT_POLICY_PACKAGE",
    default: "Standard",
    help: "Policy package installed after each batch of changes.",
  },
  {
    key: "CHECKPOINT_INSTALL_TARGETS",
    default: "",
    required: true,
    help:
      "Gateways or clusters the policy package is installed on, comma-separated; a block counts once every one installed it.",
  },
  ...taskKeys("CHECKPOINT", "a publish or install-policy"),
];

/** Parses the raw `CHECKPOINT_*` keys into a {@linkcode CheckPointConfig}. */
export const CheckPointConfigSchema: z.ZodType<CheckPointConfig> = z.object(
  Object.fromEntries(
    CHECKPOINT_KEYS.map(({ key, default: value }) => [key, z.string().default(value)]),
  ),
).transform((raw, ctx): CheckPointConfig => {
  const r = raw as Record<string, string>;
  const fail = (key: string, message: string): typeof z.NEVER => {
    ctx.addIssue({ code: "custom", path: [key], message });
    return z.NEVER;
  };
  const value = (key: string) => (r[key] ?? "").trim();
  const servers = parseDeviceList(r, SERVER, fail);
  const installTargets = splitList(value("CHECKPOINT_INSTALL_TARGETS")).filter((t) => t !== "");
  if (installTargets.length === 0) {
    fail(
      "CHECKPOINT_INSTALL_TARGETS",
      "CHECKPOINT_INSTALL_TARGETS is empty; name the gateways that enforce the policy package (a block counts only once installed)",
    );
  }
  const [server, second] = servers?.endpoints ?? [];
  if (server === undefined || installTargets.length === 0) return z.NEVER;
  if (second !== undefined) {
    return fail(
      "CHECKPOINT_HOST",
      `CHECKPOINT_HOST lists ${servers?.endpoints.length} servers; give one Security Management server (one per var configuration)`,
    );
  }
  const auth = value("CHECKPOINT_AUTH");
  if (auth !== "password" && auth !== "api-key") {
    return fail("CHECKPOINT_AUTH", `CHECKPOINT_AUTH is "${auth}"; use password or api-key`);
  }
  const user = value("CHECKPOINT_USER");
  if (user === "") {
    return fail("CHECKPOINT_USER", "CHECKPOINT_USER is empty; name the API administrator");
  }
  for (
    const key of [
      "CHECKPOINT_INTERNAL_ADDRESS_GROUP",
      "CHECKPOINT_EXTERNAL_ADDRESS_GROUP",
      "CHECKPOINT_POLICY_PACKAGE",
    ]
  ) {
    if (value(key) === "") {
      return fail(key, `${key} is empty; name one that exists on the management server`);
    }
  }
  if (value("CHECKPOINT_INTERNAL_ADDRESS_GROUP") === value("CHECKPOINT_EXTERNAL_ADDRESS_GROUP")) {
    return fail(
      "CHECKPOINT_EXTERNAL_ADDRESS_GROUP",
      `CHECKPOINT_INTERNAL_ADDRESS_GROUP and CHECKPOINT_EXTERNAL_ADDRESS_GROUP are both "${
        value("CHECKPOINT_INTERNAL_ADDRESS_GROUP")
      }"; use two groups`,
    );
  }
  const tasks = parseTaskTiming(r, "CHECKPOINT", fail);
  if (tasks === null) return z.NEVER;
  return {
    server,
    login: {
      user,
      auth,
      domain: value("CHECKPOINT_DOMAIN"),
      tasks,
    },
    internalGroup: value("CHECKPOINT_INTERNAL_ADDRESS_GROUP"),
    externalGroup: value("CHECKPOINT_EXTERNAL_ADDRESS_GROUP"),
    policyPackage: value("CHECKPOINT_POLICY_PACKAGE"),
    installTargets,
  };
});

/** The secret: the administrator's password or API key, under its user name. */
function checkPointSecrets(config: CheckPointConfig): SecretRef[] {
  return [{
    service: CHECKPOINT_SECRET_SERVICE,
    key: config.login.user,
    description: config.login.auth === "api-key"
      ? `API key of the Check Point administrator ${config.login.user}`
      : `Password of the Check Point administrator ${config.login.user}`,
  }];
}

/** The management server with its session for the cycle. */
interface Server {
  readonly api: CheckPointApi;
  readonly session: CycleSession<string>;
}

/** The Check Point client: the kit's client on the Check Point adapter. */
export type CheckPointClient = AddressClient & Required<Pick<AddressClient, "stage" | "endCycle">>;

/** The Check Point device adapter: staged object and group changes, published and installed. */
function checkPointAdapter(server: Server, config: CheckPointConfig): DeviceAdapter<Server> {
  const groupOf = (scope: Scope) => scope === "host" ? config.internalGroup : config.externalGroup;
  return {
    name: "checkpoint",
    tagName: "CheckPoint Client",
    routingKey: "checkpoint",
    devices: [server],
    scopes: ["host", "detection", "static"],
    label: (s) => s.api.label,
    failureOf,
    apply: async (s, action, targets) => {
      const sid = await s.session.session();
      const group = groupOf((targets[0] as Target).scope);
      return await applyOn(
        { api: s.api, sid, group, members: await s.api.groupMembers(sid, group) },
        action,
        targets,
      );
    },
    async read(s, scopes) {
      const sid = await s.session.session();
      const found = new Set<string>();
      for (const scope of scopes) {
        for (const [name, member] of await s.api.groupMembers(sid, groupOf(scope))) {
          const entry = entryOfName(scope, name);
          // A member shown without its address (a terser details level) counts by its name.
          if (entry !== null && (member.address ?? entry.entry) === entry.entry) {
            found.add(`${scope}|${entry.entry}`);
          }
        }
      }
      return found;
    },
    commits: sessionCommits((s) => s.session),
    close: (s) => s.api.close(),
  };
}

/** A group as read at the start of an action, in one session. */
interface GroupState {
  readonly api: CheckPointApi;
  readonly sid: string;
  readonly group: string;
  readonly members: Map<string, CheckPointObject>;
}

/** Applies an action to targets of one scope; never throws (a target fails with its error). */
async function applyOn(
  on: GroupState,
  action: "block" | "unblock",
  targets: readonly Target[],
): Promise<DeviceAnswer> {
  const failed = new Map<string, Failure>();
  const added = new Set<string>();
  let changed = false;
  for (const target of targets) {
    try {
      if (action === "block" && await blockOne(on, target)) added.add(target.key);
      if (action === "unblock" && await unblockOne(on, target)) changed = true;
    } catch (error) {
      failed.set(target.key, failureOf(error));
    }
  }
  return { failed, added, changed: changed || added.size > 0 };
}

/** The object type and creation fields of a target. */
function objectOf(target: Target): { type: "host" | "network"; fields: Record<string, unknown> } {
  const name = objectName(target.scope, target.entry);
  const comments = ownershipNote(target.scope, target.entry);
  return target.entry.isNetwork
    ? {
      type: "network",
      fields: { name, subnet: target.entry.address, "mask-length": target.entry.prefix, comments },
    }
    : { type: "host", fields: { name, "ip-address": target.entry.address, comments } };
}

/** Makes var's object a member of the group; true when this call staged the membership. */
async function blockOne(on: GroupState, target: Target): Promise<boolean> {
  const { api, sid, group, members } = on;
  const { type, fields } = objectOf(target);
  const name = String(fields.name);
  const member = members.get(name);
  if (member !== undefined) {
    if ((member.address ?? target.key) !== target.key) throw notOurs(name, member, target);
    return false;
  }
  try {
    await api.addObject(sid, type, fields, group);
  } catch (error) {
    // The object exists already (a run that crashed, or another brain of this one): adopt
    // it only when it is var's and covers the same address.
    const existing = await api.object(sid, type, name);
    if (existing === null) throw error;
    if (!isOwned(existing.comments) || existing.address !== target.key) {
      throw notOurs(name, existing, target);
    }
    await api.setMember(sid, group, "add", name);
  }
  members.set(name, { name, type, comments: String(fields.comments), address: target.key });
  return true;
}

/**
 * Takes var's object out of the group and deletes it; leaves any object var did not make.
 * True when this call staged a change.
 */
async function unblockOne(on: GroupState, target: Target): Promise<boolean> {
  const { api, sid, group, members } = on;
  const { type, fields } = objectOf(target);
  const name = String(fields.name);
  const existing = await api.object(sid, type, name);
  if (existing === null || !isOwned(existing.comments)) return false;
  if (members.has(name)) {
    await api.setMember(sid, group, "remove", name);
    members.delete(name);
  }
  try {
    await api.deleteObject(sid, type, name);
  } catch (error) {
    // Out of the group, the block is gone; an object another rule still uses stays.
    logger.warn("Kept the Check Point object {name} after unblocking: {error}", {
      name,
      error: failureOf(error).message,
    });
  }
  return true;
}

function notOurs(name: string, object: CheckPointObject, target: Target): CheckPointError {
  return new CheckPointError(
    `object "${name}" exists but is not var's for ${target.key} (it covers ${
      object.address ?? "something else"
    }${
      isOwned(object.comments) ? "" : ' and its comments do not start with "Managed by var"'
    }); rename or delete it`,
    null,
  );
}

/** Creates the client: looks up the secret and prepares the session for the cycles. */
async function createCheckPointClient(
  config: CheckPointConfig,
  context: ClientContext,
): Promise<CheckPointClient> {
  const secret = await context.secret(CHECKPOINT_SECRET_SERVICE, config.login.user);
  const api = new CheckPointApi(config.server, config.login, context);
  const session = new CycleSession<string>({
    login: () => api.login(secret),
    async commit(sid, changed) {
      if (changed) await api.publish(sid);
      // Nothing changed: install only when var's groups changed after the last install (an
      // install that failed), never to push what others published.
      const groups = [config.internalGroup, config.externalGroup];
      if (
        !changed &&
        await api.installedSince(sid, groups, config.policyPackage, config.installTargets)
      ) return;
      await api.installPolicy(sid, config.policyPackage, config.installTargets);
    },
    discard: (sid) => api.discard(sid),
    logout: (sid) => api.logout(sid),
  });
  return adapterClient(checkPointAdapter({ api, session }, config)) as CheckPointClient;
}

/** The Check Point client definition. */
export const checkpoint = {
  name: "checkpoint",
  aliases: [],
  tagName: "CheckPoint Client",
  routingKey: "checkpoint",
  keys: CHECKPOINT_KEYS,
  configSchema: CheckPointConfigSchema,
  secrets: checkPointSecrets,
  create: createCheckPointClient,
} satisfies ClientDefinition<CheckPointConfig>;
