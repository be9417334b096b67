/**
 * The FortiManager client (vendors/fortimanager.md): blocks IPv4 addresses and networks
 * centrally through one or more FortiManagers, as address objects var creates and owns in
 * the configured ADOM, members of address groups a deny policy of the policy package uses;
 * hosts in `FORTIMANAGER_BLOCK_GROUP`, detection and static destinations in
 * `FORTIMANAGER_EXTERNAL_BLOCK_GROUP`.
 *
 * A change counts only once installed: one JSON-RPC session per FortiManager and cycle
 * (with the ADOM's workspace locked when FortiManager runs in workspace mode), each batch
 * committed (workspace) and the package installed on every configured device, the task
 * polled to success within a deadline. A batch that changed nothing installs only when the
 * package status says a device lags behind. Object names and the ownership mark are the
 * kit's (`var-host-10.1.2.3`, comment `Managed by var`).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { failureOf, type Family, FmgApi, FmgError } from "./fortimanager_api.ts";
import {
  FORTIMANAGER_KEYS,
  type FortiManagerConfig,
  FortiManagerConfigSchema,
  fortiManagerSecrets,
} from "./fortimanager_config.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { sessionCommits } from "./_batch.ts";
import type { Failure } from "./_fanout.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "./_names.ts";
import { CycleSession } from "./_session.ts";
import type { Scope, Target } from "./_targets.ts";
import { netmaskOf } from "../engine/ip.ts";
import type { ClientContext, ClientDefinition } from "./interface.ts";

export {
  FORTIMANAGER_KEYS,
  type FortiManagerConfig,
  FortiManagerConfigSchema,
} from "./fortimanager_config.ts";

const logger = getLogger(["var", "client", "fortimanager"]);

/** A JSON-RPC session, and whether it holds the ADOM's workspace lock. */
interface FmgSession {
  readonly id: string;
  readonly workspace: boolean;
}

/** One FortiManager with its session for the cycle. */
interface Manager {
  readonly api: FmgApi;
  readonly session: CycleSession<FmgSession>;
}

/** The FortiManager client: the kit's client on the FortiManager adapter. */
export type FortiManagerClient =
  & AddressClient
  & Required<Pick<AddressClient, "stage" | "endCycle">>;

/** The FortiManager device adapter: staged objects and members, committed and installed. */
function fortiManagerAdapter(
  managers: readonly Manager[],
  config: FortiManagerConfig,
): DeviceAdapter<Manager> {
  const groupOf = (scope: Scope, family: Family) =>
    (scope === "host" ? config.groups.host : config.groups.destination)[family];
  return {
    name: "fortimanager",
    tagName: "FMG Client",
    routingKey: "fortimanager",
    devices: managers,
    scopes: ["host", "detection", "static"],
    label: (m) => m.api.label,
    failureOf,
    async apply(m, action, targets) {
      const { id } = await m.session.session();
      const failed = new Map<string, Failure>();
      const added = new Set<string>();
      let changed = false;
      for (const family of [4, 6] as const) {
        const mine = targets.filter((t) => t.entry.version === family);
        if (mine.length === 0) continue;
        const group = groupOf((mine[0] as Target).scope, family);
        const on = {
          api: m.api,
          sid: id,
          adom: config.adom,
          family,
          group,
          members: [] as string[],
        };
        try {
          on.members = await m.api.members(id, config.adom, family, group);
        } catch (error) {
          for (const target of mine) failed.set(target.key, failureOf(error));
          continue;
        }
        for (const target of mine) {
          try {
            if (action === "block" && await blockOne(on, target)) added.add(target.key);
            if (action === "unblock" && await unblockOne(on, target)) changed = true;
          } catch (error) {
            failed.set(target.key, failureOf(error));
          }
        }
      }
      return { failed, added, changed: changed || added.size > 0 };
    },
    async read(m, scopes) {
      const { id } = await m.session.session();
      const found = new Set<string>();
      for (const scope of scopes) {
        for (const family of [4, 6] as const) {
          let members: string[];
          try {
            members = await m.api.members(id, config.adom, family, groupOf(scope, family));
          } catch (error) {
            // No IPv6 group: nothing is blocked through it (an IPv6 block fails naming it).
            if (family === 6 && error instanceof FmgError && error.code === -3) continue;
            throw error;
          }
          for (const name of members) {
            const entry = entryOfName(scope, name);
            if (entry !== null) found.add(`${scope}|${entry.entry}`);
          }
        }
      }
      return found;
    },
    commits: sessionCommits((m) => m.session),
    close: (m) => m.api.close(),
  };
}

/** A group of one family as read at the start of an action, in one session. */
interface GroupState {
  readonly api: FmgApi;
  readonly sid: string;
  readonly adom: string;
  readonly family: Family;
  readonly group: string;
  members: string[];
}

/** Makes var's object a member of the group; true when this call staged the membership. */
async function blockOne(on: GroupState, target: Target): Promise<boolean> {
  const { api, sid, adom, family, group } = on;
  const name = objectName(target.scope, target.entry);
  if (on.members.includes(name)) return false;
  const { address, prefix } = target.entry;
  const object = {
    name,
    ...(family === 4
      ? { type: "ipmask", subnet: [address, netmaskOf(prefix)] }
      : { type: "ipprefix", ip6: `${address}/${prefix}` }),
    comment: ownershipNote(target.scope, target.entry),
  };
  try {
    await api.addAddress(sid, adom, family, object);
  } catch (error) {
    // Left by a run that crashed, or made by another brain: adopt only var's own object.
    const existing = await api.address(sid, adom, family, name);
    if (existing === null) throw error;
    if (!isOwned(existing.comment) || existing.entry !== target.key) {
      throw new FmgError(
        `address "${name}" exists but is not var's for ${target.key} (it covers ${
          existing.entry ?? "something else"
        }; var's comment starts with "Managed by var"); rename or delete it`,
        null,
      );
    }
  }
  await api.setMember(sid, adom, family, group, "add", name);
  on.members = [...on.members, name];
  return true;
}

/** Takes var's object out of the group and deletes it; true when this call staged a change. */
async function unblockOne(on: GroupState, target: Target): Promise<boolean> {
  const { api, sid, adom, family, group } = on;
  const name = objectName(target.scope, target.entry);
  const existing = await api.address(sid, adom, family, name);
  if (existing === null || !isOwned(existing.comment)) return false;
  if (on.members.includes(name)) {
    await api.setMember(sid, adom, family, group, "delete", name);
    on.members = on.members.filter((m) => m !== name);
  }
  try {
    await api.deleteAddress(sid, adom, family, name);
  } catch (error) {
    // Out of the group, the block is gone; an object another policy still uses stays.
    logger.warn("Kept the FortiManager address {name} after unblocking: {error}", {
      name,
      error: failureOf(error).message,
    });
  }
  return true;
}

/** Creates the client: looks up each password and prepares a session per FortiManager. */
async function createFortiManagerClient(
  config: FortiManagerConfig,
  context: ClientContext,
): Promise<FortiManagerClient> {
  const managers: Manager[] = [];
  for (const server of config.servers) {
    const password = await context.secret(server.entry, "password");
    const api = new FmgApi(server, config.tasks, context);
    const { adom, policyPackage, scope } = config;
    const session = new CycleSession<FmgSession>({
      async login() {
        const id = await api.login(config.user, password);
        const workspace = await api.workspaceMode(id);
        if (workspace) await api.workspace(id, adom, "lock");
        return { id, workspace };
      },
      async commit({ id, workspace }, changed) {
        if (changed && workspace) await api.workspace(id, adom, "commit");
        if (!changed && await api.installed(id, adom, policyPackage, scope)) return;
        await api.install(id, adom, policyPackage, scope);
      },
      async discard({ id, workspace }) {
        // Unlocking drops what was not committed; the cycle goes on under a new lock.
        if (!workspace) return;
        await api.workspace(id, adom, "unlock");
        await api.workspace(id, adom, "lock");
      },
      async logout({ id, workspace }) {
        if (workspace) await api.workspace(id, adom, "unlock").catch(() => {});
        await api.logout(id);
      },
    });
    managers.push({ api, session });
  }
  return adapterClient(fortiManagerAdapter(managers, config)) as FortiManagerClient;
}

/** The FortiManager client definition. */
export const fortimanager = {
  name: "fortimanager",
  aliases: [],
  tagName: "FMG Client",
  routingKey: "fortimanager",
  keys: FORTIMANAGER_KEYS,
  configSchema: FortiManagerConfigSchema,
  secrets: fortiManagerSecrets,
  create: createFortiManagerClient,
} satisfies ClientDefinition<FortiManagerConfig>;
