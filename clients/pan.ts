/**
 * The Palo Alto Networks client (vendors/pan.md): blocks IPs on PAN-OS firewalls and
 * through Panorama by registering them with a tag through the User-ID part of the XML API
 * (`type=user-id`). The operator creates Dynamic Address Groups (DAGs) matching the tags
 * and security rules that drop traffic from or to them; registrations take effect at once,
 * without a commit.
 *
 * Rules (issue 8):
 * - One tag per use: hosts (`PAN_INTERNAL_BLOCK_TAG`), detection destinations
 *   (`PAN_EXTERNAL_BLOCK_TAG`), static destinations (`PAN_STATIC_BLOCK_TAG`), so each can
 *   be read back (`show object registered-ip`) and static entries never disturb detection
 *   blocks of the same IP. The element id is the registered IP or network.
 * - Every operation goes to every configured device (URL, vsys, Panorama target) and
 *   succeeds only when every device confirmed it. A block that failed on one device is
 *   rolled back on the others (only the pairs it newly registered), so a failed action
 *   leaves the state as it was and the next cycle tries again.
 * - The API key travels in the `X-PAN-KEY` header, never in a URL; requests are form
 *   bodies; uid-messages are built by an XML library so values are escaped; every answer
 *   is checked for `status="error"`, not only the HTTP status.
 * - The key comes from the secret store (service: the `PAN_URLS` entry, key `API_Key`), or
 *   is generated once from `username` / `password` (`type=keygen`, credentials in the
 *   body) and stored through `storeSecret` when secret storage is allowed.
 *
 * @module
 */

import { z } from "zod";
import {
  PAN_API_KEY_SECRET,
  PAN_PASSWORD_SECRET,
  PAN_USERNAME_SECRET,
  PanApi,
  PanCallError,
  PanDevice,
  type PanDeviceConfig,
  safeMessage,
  type UidResult,
} from "./pan_api.ts";
import { alignedValues, parseBool, splitList } from "./_config.ts";
import { adapterClient, type AddressClient, type DeviceAdapter } from "./_adapter.ts";
import { parseBaseUrl, secretsPer } from "./_devices.ts";
import type { DeviceAnswer, Failure } from "./_fanout.ts";
import type { Scope, Target } from "./_targets.ts";
import { ClientError } from "../engine/client.ts";
import type { SecretRef } from "../engine/secrets.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

export {
  buildRegisteredIpQuery,
  buildUidMessage,
  PAN_API_KEY_SECRET,
  PAN_PAGE_SIZE,
  PAN_PASSWORD_SECRET,
  PAN_USERNAME_SECRET,
  type PanDeviceConfig,
} from "./pan_api.ts";

/** Which kind of block a tag serves. */
export type PanScope = "host" | "detection" | "static";

/** The parsed configuration of the PAN-OS client. */
export interface PanConfig {
  /** The devices, in `PAN_URLS` order. */
  readonly devices: readonly PanDeviceConfig[];
  /** The tag per kind of block. */
  readonly tags: Readonly<Record<PanScope, string>>;
}

const DEFAULTS = {
  PAN_URLS: "",
  PAN_VSYS: "",
  PAN_TARGET: "",
  PAN_CHECK_SSL: "true",
  PAN_CA_FILE: "",
  PAN_INTERNAL_BLOCK_TAG: "Block_Host",
  PAN_EXTERNAL_BLOCK_TAG: "Block_Detection",
  PAN_STATIC_BLOCK_TAG: "Block_Static",
} as const;

type PanKey = keyof typeof DEFAULTS;

const PER_URL =
  "One value for every URL, or one per PAN_URLS entry in the same order, comma-separated.";

/** The documented keys of the PAN-OS client. */
export const PAN_KEYS: readonly ConfigKey[] = [
  {
    key: "PAN_URLS",
    default: DEFAULTS.PAN_URLS,
    required: true,
    help:
      "Firewall or Panorama base URLs, comma-separated (`https://fw1.example.com`, port allowed). Each entry is also the secret service name. Repeat a URL to serve several vsys or Panorama targets.",
  },
  {
    key: "PAN_VSYS",
    default: DEFAULTS.PAN_VSYS,
    help: `Virtual system to register in (vsys1, vsys2, …); empty: the device default. ${PER_URL}`,
  },
  {
    key: "PAN_TARGET",
    default: DEFAULTS.PAN_TARGET,
    help:
      `Panorama only: serial number of the managed firewall to register on; empty: the URL's device itself. ${PER_URL}`,
  },
  {
    key: "PAN_CHECK_SSL",
    default: DEFAULTS.PAN_CHECK_SSL,
    help: `Verify the device's TLS certificate (true/false). ${PER_URL}`,
  },
  {
    key: "PAN_CA_FILE",
    default: DEFAULTS.PAN_CA_FILE,
    help:
      `PEM file of the CA that signed the device's certificate; empty: system roots. ${PER_URL}`,
  },
  {
    key: "PAN_INTERNAL_BLOCK_TAG",
    default: DEFAULTS.PAN_INTERNAL_BLOCK_TAG,
    help: "Tag registered on blocked host IPs; the source DAG of the host drop rule matches it.",
  },
  {
    key: "PAN_EXTERNAL_BLOCK_TAG",
    default: DEFAULTS.PAN_EXTERNAL_BLOCK_TAG,
    help:
      "Tag registered on blocked detection destination IPs; the destination DAG of the drop rule matches it.",
  },
  {
    key: "PAN_STATIC_BLOCK_TAG",
    default: DEFAULTS.PAN_STATIC_BLOCK_TAG,
    help:
      "Tag registered on the static destination list's entries; match it in the destination DAG too (e.g. 'Block_Detection' or 'Block_Static').",
  },
];

/** The raw keys of the client, every value a string (defaults applied when absent). */
const RawPanConfig = z.object(
  Object.fromEntries(
    Object.entries(DEFAULTS).map(([key, value]) => [key, z.string().default(value)]),
  ) as Record<PanKey, z.ZodDefault<z.ZodString>>,
);

/** Longest tag name PAN-OS accepts. */
const TAG_MAX = 127;

/** Parses the raw `PAN_*` keys into a {@linkcode PanConfig}. */
export const PanConfigSchema: z.ZodType<PanConfig> = RawPanConfig.transform(
  (raw, ctx): PanConfig => {
    const fail = (key: PanKey, message: string): typeof z.NEVER => {
      ctx.addIssue({ code: "custom", path: [key], message });
      return z.NEVER;
    };
    const entries = raw.PAN_URLS.trim() === "" ? [] : splitList(raw.PAN_URLS);
    if (entries.length === 0) {
      return fail("PAN_URLS", "PAN_URLS is empty; give the firewall or Panorama URLs");
    }
    const urls: string[] = [];
    for (const entry of entries) {
      const parsed = parseBaseUrl(entry, "/api");
      if ("error" in parsed) return fail("PAN_URLS", `PAN_URLS entry ${parsed.error}`);
      urls.push(parsed.baseUrl);
    }
    const aligned = (key: PanKey): string[] | null => {
      const values = alignedValues(raw[key], entries.length, {
        key,
        listKey: "PAN_URLS",
        devices: "URLs",
        device: "URL",
      });
      if (typeof values !== "string") return values;
      fail(key, values);
      return null;
    };
    const vsyses = aligned("PAN_VSYS");
    const targets = aligned("PAN_TARGET");
    const checks = aligned("PAN_CHECK_SSL");
    const caFiles = aligned("PAN_CA_FILE");
    if (!vsyses || !targets || !checks || !caFiles) return z.NEVER;
    const devices: PanDeviceConfig[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < entries.length; i++) {
      const vsys = vsyses[i] ?? "";
      if (vsys !== "" && !/^vsys\d{1,3}$/.test(vsys)) {
        return fail("PAN_VSYS", `PAN_VSYS "${vsys}" is not a vsys id; use vsys1, vsys2, …`);
      }
      const target = targets[i] ?? "";
      if (target !== "" && !/^[0-9A-Za-z]{1,32}$/.test(target)) {
        return fail("PAN_TARGET", `PAN_TARGET "${target}" is not a serial number`);
      }
      const checkText = checks[i] ?? "";
      const verifyTls = parseBool(checkText);
      if (verifyTls === null) {
        return fail("PAN_CHECK_SSL", `PAN_CHECK_SSL is "${checkText}"; use true or false`);
      }
      const entry = entries[i] ?? "";
      const baseUrl = urls[i] ?? "";
      const id = `${baseUrl} ${vsys} ${target}`;
      if (seen.has(id)) {
        return fail(
          "PAN_URLS",
          `PAN_URLS lists ${entry} twice with the same vsys and target; give each device once`,
        );
      }
      seen.add(id);
      const caFile = caFiles[i] ?? "";
      devices.push({
        entry,
        baseUrl,
        vsys: vsys === "" ? null : vsys,
        target: target === "" ? null : target,
        verifyTls,
        caFile: caFile === "" ? null : caFile,
      });
    }
    const tagKeys: Record<PanScope, PanKey> = {
      host: "PAN_INTERNAL_BLOCK_TAG",
      detection: "PAN_EXTERNAL_BLOCK_TAG",
      static: "PAN_STATIC_BLOCK_TAG",
    };
    const tags = {} as Record<PanScope, string>;
    for (const [scope, key] of Object.entries(tagKeys) as [PanScope, PanKey][]) {
      const tag = raw[key].trim();
      if (tag === "") return fail(key, `${key} is empty; name the tag its DAG matches`);
      if (tag.length > TAG_MAX) {
        return fail(key, `${key} is ${tag.length} characters long; PAN-OS allows ${TAG_MAX}`);
      }
      const clash = (Object.entries(tags) as [PanScope, string][]).find(([, t]) => t === tag);
      if (clash) {
        return fail(
          key,
          `${key} and ${tagKeys[clash[0]]} are both "${tag}"; use a separate tag per use`,
        );
      }
      tags[scope] = tag;
    }
    return { devices, tags };
  },
);

/** The secrets the configuration needs: one API key per distinct `PAN_URLS` entry. */
function panSecrets(config: PanConfig): SecretRef[] {
  return secretsPer(config.devices.map((device) => device.entry), (entry) => ({
    service: entry,
    key: PAN_API_KEY_SECRET,
    alternatives: [[PAN_USERNAME_SECRET, PAN_PASSWORD_SECRET]],
    description:
      `PAN-OS API key of ${entry} (or store ${PAN_USERNAME_SECRET} and ${PAN_PASSWORD_SECRET} under the same service and var generates the key once)`,
  }));
}

/** The PAN-OS client: the kit's client on the PAN-OS device adapter. */
export type PanClient = AddressClient;

/** Why PAN-OS cannot block an entry, or null: it registers IPv6 addresses, not networks. */
function unregistrable(target: Target): string | null {
  return target.entry.version === 6 && target.entry.isNetwork
    ? "PAN-OS registers IPv6 addresses only, not IPv6 networks; list the addresses one by one"
    : null;
}

/** A device's error as a failure, without repeating the device's label. */
function failureOn(device: PanDevice, error: unknown): Failure {
  const message = safeMessage(error);
  const text = message.startsWith(device.label)
    ? message.slice(device.label.length).replace(/^:?\s*/, "")
    : message;
  return { message: text, status: error instanceof PanCallError ? error.status : null };
}

/**
 * The PAN-OS device adapter: each element is an IP (or IPv4 network) registered with the
 * kind's tag through User-ID, on every device (URL, vsys, Panorama target), so dynamic
 * address groups matching the tag block it.
 */
function panAdapter(
  devices: readonly PanDevice[],
  apis: readonly PanApi[],
  tags: Readonly<Record<Scope, string>>,
): DeviceAdapter<PanDevice> {
  let closed = false;
  return {
    name: "pan",
    tagName: "PAN Client",
    routingKey: "pan",
    devices,
    scopes: ["host", "detection", "static"],
    label: (device) => device.label,
    failureOf: (error) => ({
      message: safeMessage(error),
      status: error instanceof PanCallError ? error.status : null,
    }),
    async apply(device, action, targets): Promise<DeviceAnswer> {
      const failed = new Map<string, Failure>();
      const sent: string[] = [];
      for (const target of targets) {
        const reason = unregistrable(target);
        // Nothing of it can be registered, so nothing is there to unregister.
        if (reason !== null && action === "block") {
          failed.set(target.key, { message: reason, status: null });
        } else if (reason === null) sent.push(target.key);
      }
      if (sent.length === 0) return { failed, added: new Set() };
      const tag = tags[(targets[0] as Target).scope];
      let result: UidResult;
      try {
        result = await device.uid(action === "block" ? "register" : "unregister", sent, tag);
      } catch (error) {
        for (const key of sent) failed.set(key, failureOn(device, error));
        return { failed, added: new Set() };
      }
      for (const key of sent) {
        const refused = result.failed.get(key);
        if (refused !== undefined) failed.set(key, { message: `refused: ${refused}`, status: 200 });
        else if (!result.ok.has(key)) failed.set(key, { message: "not confirmed", status: 200 });
      }
      return { failed, added: result.added };
    },
    async read(device, scopes) {
      const found = new Set<string>();
      for (const scope of scopes) {
        for (const entry of await device.registered(tags[scope])) found.add(`${scope}|${entry}`);
      }
      return found;
    },
    close() {
      if (closed) return;
      closed = true;
      for (const api of apis) api.close();
    },
  };
}

/**
 * Looks up a stored secret without prompting when the context can (so a terminal is not
 * asked for the API key while credentials are stored), else through the normal lookup;
 * null when it cannot be found.
 */
async function optionalSecret(
  context: ClientContext,
  service: string,
  key: string,
): Promise<string | null> {
  try {
    const value = context.findSecret
      ? await context.findSecret(service, key)
      : await context.secret(service, key);
    return value === "" ? null : value;
  } catch {
    return null;
  }
}

/** The API key through the normal lookup, which may prompt on a terminal; null when missing. */
async function promptedKey(context: ClientContext, service: string): Promise<string | null> {
  if (!context.findSecret) return null;
  try {
    const value = await context.secret(service, PAN_API_KEY_SECRET);
    return value === "" ? null : value;
  } catch {
    return null;
  }
}

/** Creates the client: resolves each URL's key (or credentials) and opens the endpoints. */
async function createPanClient(config: PanConfig, context: ClientContext): Promise<PanClient> {
  const secrets = new Map<
    string,
    { key: string | null; credentials: { user: string; password: string } | null }
  >();
  for (const { service } of panSecrets(config)) {
    const key = await optionalSecret(context, service, PAN_API_KEY_SECRET);
    if (key !== null) {
      secrets.set(service, { key, credentials: null });
      continue;
    }
    const user = await optionalSecret(context, service, PAN_USERNAME_SECRET);
    const password = user === null
      ? null
      : await optionalSecret(context, service, PAN_PASSWORD_SECRET);
    if (user === null || password === null) {
      const prompted = await promptedKey(context, service);
      if (prompted !== null) {
        secrets.set(service, { key: prompted, credentials: null });
        continue;
      }
      throw new ClientError(
        "pan",
        "create",
        `Cannot create the pan client: no secret ${PAN_API_KEY_SECRET}, nor ${PAN_USERNAME_SECRET} and ${PAN_PASSWORD_SECRET}, for service "${service}"; store the API key, or the credentials to generate it once`,
      );
    }
    secrets.set(service, { key: null, credentials: { user, password } });
  }
  const apis = new Map<string, PanApi>();
  const devices: PanDevice[] = [];
  try {
    for (const device of config.devices) {
      const apiKey = `${device.entry}\n${device.verifyTls}\n${device.caFile ?? ""}`;
      let api = apis.get(apiKey);
      if (!api) {
        api = new PanApi(
          device,
          secrets.get(device.entry) ?? { key: null, credentials: null },
          context,
        );
        apis.set(apiKey, api);
      }
      devices.push(new PanDevice(device, api));
    }
  } catch (error) {
    for (const api of apis.values()) api.close();
    throw error;
  }
  return adapterClient(panAdapter(devices, [...apis.values()], config.tags)) as PanClient;
}

/** The PAN-OS / Panorama client definition. */
export const pan = {
  name: "pan",
  aliases: [],
  tagName: "PAN Client",
  routingKey: "pan",
  keys: PAN_KEYS,
  configSchema: PanConfigSchema,
  secrets: panSecrets,
  create: createPanClient,
} satisfies ClientDefinition<PanConfig>;
