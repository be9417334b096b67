/**
 * The Trend Micro Cloud One Workload Security client (vendors/trendmicro_cloudone.md):
 * turns on the computer-level override of the firewall setting
 * `firewallSettingInterfaceIsolationEnabled` for the host's computer, and resets it on
 * unblock; the element id is the computer `ID`. Static API key. The setting's answer is the
 * product's confirmation; it reaches the agent at its next heartbeat.
 *
 * Interface isolation makes the firewall restrict traffic by interface pattern and
 * priority; what it contains depends on the policy's interface patterns and on the
 * Firewall module being on — the page says so.
 *
 * @module
 */

import type { SecretRef } from "../engine/secrets.ts";
import { serviceSecrets } from "./_config.ts";
import { type Endpoint, endpointClient, failureOfCause } from "./_endpoints.ts";
import { trendApi, type TrendConfig, trendKeys, trendSchema } from "./_trendmicro.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

/** Secret-store service of the Cloud One API key. */
export const CLOUDONE_SECRET_SERVICE = "CloudOne";

/** The setting var overrides. */
const SETTING = "firewallSettingInterfaceIsolationEnabled";

/** The documented keys of the Cloud One client. */
export const TRENDMICRO_CLOUDONE_KEYS: readonly ConfigKey[] = trendKeys(
  "TRENDMICRO_CLOUDONE",
  "Regional Workload Security URL, e.g. https://workload.us-1.cloudone.trendmicro.com (/api is added).",
);

/** Parses the raw `TRENDMICRO_CLOUDONE_*` keys. */
export const CloudOneConfigSchema = trendSchema(
  "TRENDMICRO_CLOUDONE",
  TRENDMICRO_CLOUDONE_KEYS,
  "/api",
);

/** The secret: the API key, as the original named it. */
function cloudOneSecrets(): SecretRef[] {
  return serviceSecrets(CLOUDONE_SECRET_SERVICE, {
    API_Key: "Cloud One API key (a role that may edit computers)",
  });
}

/** Creates the client: reads the key and opens the regional API. */
async function createCloudOneClient(config: TrendConfig, context: ClientContext) {
  const key = await context.secret(CLOUDONE_SECRET_SERVICE, "API_Key");
  const api = trendApi(
    "trendmicro_cloudone",
    config,
    context,
    () => ({ Authorization: `ApiKey ${key}`, "api-version": "v1" }),
    `the secret ${CLOUDONE_SECRET_SERVICE}/API_Key`,
  );
  const setting = (id: string) => `/api/computers/${encodeURIComponent(id)}/settings/${SETTING}`;
  const endpointOf = (c: Record<string, unknown>, value = ""): Endpoint => ({
    id: String(c.ID ?? ""),
    name: String(c.hostName ?? ""),
    ips: typeof c.lastIPUsed === "string" ? [c.lastIPUsed] : [],
    isolation: value === "true" ? "isolated" : "not-isolated",
    connected: null,
  });
  const search = async (fieldName: string, value: string) => {
    const body = JSON.stringify({
      searchCriteria: [{ fieldName, stringTest: "equal", stringValue: value }],
    });
    const { json } = await api.call(
      "POST",
      { path: "/api/computers/search", body },
      `search computers by ${fieldName}`,
    );
    return (Array.isArray(json.computers) ? json.computers as Record<string, unknown>[] : []).map((
      c,
    ) => endpointOf(c));
  };
  /** Writes the override and checks the answer holds `expected`. */
  const write = async (endpoint: Endpoint, value: "true" | "false", what: string) => {
    const { json } = await api.call("POST", {
      path: setting(endpoint.id),
      body: JSON.stringify({ value }),
    }, what);
    if (json.value !== value) {
      throw new Error(
        `cannot ${what}: Workload Security answered the value ${JSON.stringify(json.value)}`,
      );
    }
    return "confirmed" as const;
  };
  return endpointClient({
    name: "trendmicro_cloudone",
    tagName: "CloudOne Client",
    routingKey: "trendmicro_cloudone",
    label: api.label,
    timing: config.timing,
    cancelsPending: false,
    byIp: (ip) => search("lastIPUsed", ip),
    byName: (name) => search("hostName", name),
    async get(id) {
      const computer = await api.call("GET", {
        path: `/api/computers/${encodeURIComponent(id)}`,
        accept: [404],
      }, `read computer ${id}`);
      if (computer.status === 404) return null;
      const value = await api.call(
        "GET",
        { path: setting(id) },
        `read the isolation of computer ${id}`,
      );
      return endpointOf(computer.json, String(value.json.value ?? ""));
    },
    isolate: (e) => write(e, "true", `isolate computer ${e.id}`),
    async release(e) {
      // The documented reset first (back to the policy's value); where it is not offered, an
      // override that turns isolation off.
      const what = `release computer ${e.id}`;
      const reset = await api.call("DELETE", { path: setting(e.id), accept: [404, 405] }, what);
      if (reset.status === 404 || reset.status === 405) return await write(e, "false", what);
      const after = await api.call("GET", { path: setting(e.id) }, what);
      if (after.json.value === "true") return await write(e, "false", what);
      return "confirmed";
    },
    failureOf: failureOfCause,
    close: () => api.close(),
  });
}

/** The Cloud One client definition. */
export const trendmicroCloudOne = {
  name: "trendmicro_cloudone",
  aliases: ["cloudone"],
  tagName: "CloudOne Client",
  routingKey: "trendmicro_cloudone",
  keys: TRENDMICRO_CLOUDONE_KEYS,
  configSchema: CloudOneConfigSchema,
  secrets: cloudOneSecrets,
  create: createCloudOneClient,
} satisfies ClientDefinition<TrendConfig>;
