/**
 * The Cisco ASA client over the HTTP CLI interface (vendors/cisco_asa_http.md): blocks
 * addresses as network objects var creates and owns (`object network var-host-10.1.2.3`
 * with `description Managed by var …`), members of object groups a deny access list uses;
 * each batch of changes ends with `write memory`, so a block survives a reload.
 *
 * Only the CLI lines are percent-encoded into the path, one segment each, never the scheme,
 * host or credentials (HTTP Basic, from a User-Agent the ASA's `http server
 * basic-auth-client` allows). The ASA answers CLI errors with 200: every answer is read
 * for `ERROR:` lines. On unblock var also removes the original's `network-object host <ip>`
 * line for a recorded IP.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint } from "../engine/http.ts";
import { netmaskOf } from "../engine/ip.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, serviceSecrets } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { failureOfCause } from "./_endpoints.ts";
import type { DeviceAnswer, Failure } from "./_fanout.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "./_names.ts";
import type { Scope, Target } from "./_targets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the ASA user name and password. */
export const ASA_SECRET_SERVICE = "Cisco_ASA_HTTP";

/** The parsed configuration of the ASA client. */
export interface AsaConfig extends ApiEndpointConfig {
  readonly hostGroup: string;
  /** The group for detection and static destinations, or null: hosts only. */
  readonly destinationGroup: string | null;
  readonly userAgent: string;
}

/** The documented keys of the ASA client. */
export const CISCO_ASA_HTTP_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "CISCO_ASA_HTTP",
    "CISCO_ASA_HTTP_URL",
    "Base URL of the ASA's HTTP interface, e.g. https://asa.example.com (no path).",
  ),
  {
    key: "CISCO_ASA_HTTP_BLOCK_GROUP",
    default: "",
    required: true,
    help: "object-group network of blocked hosts, denied by an access list; it must exist.",
  },
  {
    key: "CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP",
    default: "",
    help:
      "object-group network of blocked detection and static destinations; empty: var blocks hosts only.",
  },
  {
    key: "CISCO_ASA_HTTP_USER_AGENT",
    default: "ASDM",
    help:
      "User-Agent sent with every request; the ASA accepts Basic auth only from those on its `http server basic-auth-client` list.",
  },
];

/** Parses the raw `CISCO_ASA_HTTP_*` keys. */
export const AsaConfigSchema: z.ZodType<AsaConfig> = keysSchema(CISCO_ASA_HTTP_KEYS, (r, fail) => {
  const api = parseApiUrl(r, "CISCO_ASA_HTTP", "CISCO_ASA_HTTP_URL", "", fail);
  const hostGroup = (r.CISCO_ASA_HTTP_BLOCK_GROUP ?? "").trim();
  const destinationGroup = (r.CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP ?? "").trim();
  const userAgent = (r.CISCO_ASA_HTTP_USER_AGENT ?? "").trim();
  const name = /^[A-Za-z0-9._-]{1,64}$/;
  for (
    const [key, value] of [["CISCO_ASA_HTTP_BLOCK_GROUP", hostGroup], [
      "CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP",
      destinationGroup,
    ]]
  ) {
    if ((value !== "" || key === "CISCO_ASA_HTTP_BLOCK_GROUP") && !name.test(value ?? "")) {
      fail(
        key ?? "",
        `${key} is "${value}"; name an object-group network (letters, digits, . _ -)`,
      );
      return null;
    }
  }
  if (destinationGroup === hostGroup) {
    fail(
      "CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP",
      "CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP is the host group; use a second group",
    );
    return null;
  }
  if (userAgent === "") {
    fail(
      "CISCO_ASA_HTTP_USER_AGENT",
      "CISCO_ASA_HTTP_USER_AGENT is empty; the ASA refuses Basic auth without an allowed User-Agent",
    );
    return null;
  }
  return api === null
    ? null
    : { ...api, hostGroup, destinationGroup: destinationGroup || null, userAgent };
});

/** The secrets: the ASA user name and password, as the original named them. */
function asaSecrets(): SecretRef[] {
  return serviceSecrets(ASA_SECRET_SERVICE, {
    Username: "ASA user with privilege for configuration and write memory",
    Password: "Password of the ASA user",
  });
}

/** The CLI of one ASA. */
class AsaCli {
  readonly label: string;
  readonly #http: HttpEndpoint;
  readonly #signal: AbortSignal | undefined;
  /** True while a `write memory` is owed (an earlier one failed). */
  unsaved = false;

  constructor(
    config: AsaConfig,
    credentials: { username: string; password: string },
    context: ClientContext,
  ) {
    this.label = new URL(config.baseUrl).host;
    this.#signal = context.signal;
    const basic = `Basic ${btoa(`${credentials.username}:${credentials.password}`)}`;
    this.#http = new HttpEndpoint({
      ...context.http,
      system: `cisco_asa_http ${this.label}`,
      baseUrl: `${config.baseUrl}/admin`,
      verifyTls: config.verifyTls,
      ...(config.caFile !== null ? { caFile: config.caFile } : {}),
      headers: () => ({ Authorization: basic, "User-Agent": config.userAgent }),
    });
  }

  /** Runs exec or config lines; the CLI's text, or an error quoting its `ERROR:` lines. */
  async run(mode: "exec" | "config", lines: readonly string[], what: string): Promise<string> {
    let text: string;
    try {
      const path = `/${mode}/${lines.map(encodeURIComponent).join("/")}`;
      text = (await this.#http.request("GET", path, {
        ...(this.#signal ? { signal: this.#signal } : {}),
      })).text;
    } catch (error) {
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const errors = text.split("\n").filter((l) => /^\s*ERROR:/.test(l)).map((l) => l.trim());
    if (errors.length > 0) throw new Error(`cannot ${what}: the ASA answered ${errors.join(" ")}`);
    return text;
  }

  close(): void {
    this.#http.close();
  }
}

/** The client: the kit's client on the ASA adapter. */
export type AsaClient = AddressClient & Required<Pick<AddressClient, "stage" | "endCycle">>;

/** The CLI line of a target's address inside its network object. */
function addressLine(target: Target): string {
  const { address, prefix, isNetwork, version } = target.entry;
  if (!isNetwork) return `host ${address}`;
  return version === 4 ? `subnet ${address} ${netmaskOf(prefix)}` : `subnet ${address}/${prefix}`;
}

/** The ASA device adapter: objects and group members, saved by `write memory`. */
function asaAdapter(cli: AsaCli, config: AsaConfig): DeviceAdapter<AsaCli> {
  const groupOf = (scope: Scope) =>
    scope === "host" ? config.hostGroup : config.destinationGroup ?? "";
  const members = async (group: string) => {
    const text = await cli.run(
      "exec",
      [`show running-config object-group id ${group}`],
      `read object-group ${group}`,
    );
    if (!text.includes(`object-group network ${group}`)) {
      throw new Error(
        `object-group network ${group} does not exist on ${cli.label}; create it and deny it in an access list, or fix the group key`,
      );
    }
    return new Set(
      text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("network-object ")),
    );
  };
  return {
    name: "cisco_asa_http",
    tagName: "ASA HTTP Client",
    routingKey: "cisco_asa_http",
    devices: [cli],
    scopes: config.destinationGroup === null ? ["host"] : ["host", "detection", "static"],
    label: () => cli.label,
    failureOf: failureOfCause,
    async apply(_cli, action, targets, options) {
      const group = groupOf((targets[0] as Target).scope);
      const failed = new Map<string, Failure>();
      const added = new Set<string>();
      let changed = false;
      let held: Set<string>;
      let objects: string;
      try {
        held = await members(group);
        objects = await cli.run(
          "exec",
          ["show running-config object network"],
          "read the network objects",
        );
      } catch (error) {
        return {
          failed: new Map(targets.map((t) => [t.key, failureOfCause(error)])),
          added,
        } as DeviceAnswer;
      }
      for (const target of targets) {
        const name = objectName(target.scope, target.entry);
        const member = `network-object object ${name}`;
        try {
          if (action === "block" && !held.has(member)) {
            const existing = objects.split("object network ").find((o) =>
              o.startsWith(`${name}\n`)
            );
            if (existing !== undefined && !isOwned(existing.match(/description (.*)/)?.[1])) {
              throw new Error(
                `object network ${name} exists but is not var's; rename or delete it`,
              );
            }
            await cli.run("config", [
              `object network ${name}`,
              addressLine(target),
              `description ${ownershipNote(target.scope, target.entry)}`,
              `object-group network ${group}`,
              member,
            ], `add ${name} to ${group}`);
            added.add(target.key);
          }
          if (action === "unblock") {
            const legacy = options.recorded && target.scope === "host"
              ? target.given.map((ip) => `network-object host ${ip}`).filter((l) => held.has(l))
              : [];
            const out = [...(held.has(member) ? [member] : []), ...legacy];
            if (out.length > 0) {
              await cli.run("config", [
                `object-group network ${group}`,
                ...out.map((l) => `no ${l}`),
              ], `remove ${target.key} from ${group}`);
              changed = true;
            }
            if (objects.includes(`object network ${name}\n`)) {
              // Still used by another group or rule of yours: it stays; the block is gone.
              await cli.run("config", [`no object network ${name}`], `delete ${name}`).catch(
                () => {},
              );
              changed = true;
            }
          }
        } catch (error) {
          failed.set(target.key, failureOfCause(error));
        }
      }
      return { failed, added, changed: changed || added.size > 0 };
    },
    async read(_cli, scopes) {
      const found = new Set<string>();
      for (const scope of scopes) {
        for (const line of await members(groupOf(scope))) {
          const entry = entryOfName(scope, line.replace(/^network-object object /, ""));
          if (entry !== null) found.add(`${scope}|${entry.entry}`);
        }
      }
      return found;
    },
    commits: {
      async commit(_cli, changed) {
        if (!changed && !cli.unsaved) return;
        cli.unsaved = true;
        await cli.run("exec", ["write memory"], "save the configuration (write memory)");
        cli.unsaved = false;
      },
      discard: () => Promise.resolve(),
      endCycle: () => Promise.resolve(),
    },
    close: () => cli.close(),
  };
}

/** Creates the client: reads the credentials and opens the HTTP interface. */
async function createAsaClient(config: AsaConfig, context: ClientContext): Promise<AsaClient> {
  const username = await context.secret(ASA_SECRET_SERVICE, "Username");
  const password = await context.secret(ASA_SECRET_SERVICE, "Password");
  return adapterClient(
    asaAdapter(new AsaCli(config, { username, password }, context), config),
  ) as AsaClient;
}

/** The ASA client definition. */
export const ciscoAsaHttp = {
  name: "cisco_asa_http",
  aliases: ["asa_http"],
  tagName: "ASA HTTP Client",
  routingKey: "cisco_asa_http",
  keys: CISCO_ASA_HTTP_KEYS,
  configSchema: AsaConfigSchema,
  secrets: asaSecrets,
  create: createAsaClient,
} satisfies ClientDefinition<AsaConfig>;
