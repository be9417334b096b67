/**
 * The Trend Vision One client (vendors/trendmicro_visionone.md): isolates the host's
 * endpoint through the Vision One response API and restores it on unblock; the element id
 * is the `agentGuid`. Bearer API key. Each action answers 207 with one result per item: an
 * accepted one names its task (`Operation-Location`), polled until it `succeeded` within
 * the deadline — the product's confirmation. The tag name keeps the original's leading
 * space (` VisionOne Client`), byte for byte, so its recorded blocks are found.
 *
 * @module
 */

import type { SecretRef } from "../engine/secrets.ts";
import { serviceSecrets } from "./_config.ts";
import { type Endpoint, endpointClient, failureOfCause } from "./_endpoints.ts";
import { pollTask } from "./_tasks.ts";
import { trendApi, type TrendConfig, trendKeys, trendSchema } from "./_trendmicro.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

/** Secret-store service of the Vision One API key. */
export const VISIONONE_SECRET_SERVICE = "VisionOne";

/** The tag name, with the original's leading space. */
const TAG_NAME = " VisionOne Client";

/** The documented keys of the Vision One client. */
export const TRENDMICRO_VISIONONE_KEYS: readonly ConfigKey[] = trendKeys(
  "TRENDMICRO_VISIONONE",
  "Regional API domain, e.g. https://api.xdr.trendmicro.com or https://api.eu.xdr.trendmicro.com (/v3.0 is added).",
);

/** Parses the raw `TRENDMICRO_VISIONONE_*` keys. */
export const VisionOneConfigSchema = trendSchema(
  "TRENDMICRO_VISIONONE",
  TRENDMICRO_VISIONONE_KEYS,
  "/v3.0",
);

/** The secret: the API key, as the original named it. */
function visionOneSecrets(): SecretRef[] {
  return serviceSecrets(VISIONONE_SECRET_SERVICE, {
    API_Key: "Vision One API key (role that may isolate endpoints)",
  });
}

/** A field that may come as a value or as `{value: …}`. */
const valueOf = (field: unknown): unknown =>
  typeof field === "object" && field !== null && "value" in field
    ? (field as { value: unknown }).value
    : field;

/** An endpoint item of the endpoint inventory. */
function endpointOf(item: Record<string, unknown>): Endpoint {
  const list = (field: unknown) => {
    const value = valueOf(field);
    return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(String);
  };
  return {
    id: String(item.agentGuid ?? ""),
    name: String(valueOf(item.endpointName) ?? ""),
    ips: list(item.ip),
    macs: list(item.macAddress),
    isolation: "unknown",
    connected: null,
  };
}

/** Creates the client: reads the key and opens the regional API. */
async function createVisionOneClient(config: TrendConfig, context: ClientContext) {
  const key = await context.secret(VISIONONE_SECRET_SERVICE, "API_Key");
  const api = trendApi(
    "trendmicro_visionone",
    config,
    context,
    () => ({ Authorization: `Bearer ${key}` }),
    `the secret ${VISIONONE_SECRET_SERVICE}/API_Key`,
  );
  /** The endpoints a `TMV1-Query` of one field finds; a value with a quote finds none. */
  const search = async (field: string, value: string) => {
    if (value.includes("'")) return [];
    const { json } = await api.call("GET", {
      path: "/v3.0/eiqs/endpoints",
      headers: { "TMV1-Query": `${field} eq '${value}'` },
    }, `look up endpoints by ${field}`);
    return (Array.isArray(json.items) ? json.items as Record<string, unknown>[] : []).map(
      endpointOf,
    );
  };
  /** Runs an action on one agent and waits until its task succeeded. */
  const act = (action: "isolate" | "restore") => async (endpoint: Endpoint) => {
    const what = `${action} endpoint ${endpoint.id}`;
    const body = JSON.stringify([{
      agentGuid: endpoint.id,
      description: `${action} by var (Vectra Automated Response)`,
    }]);
    const { json } = await api.call(
      "POST",
      { path: `/v3.0/response/endpoints/${action}`, body },
      what,
    );
    const results: unknown = json;
    const result = (Array.isArray(results) ? results[0] : undefined) as
      | Record<string, unknown>
      | undefined;
    const headers = (Array.isArray(result?.headers) ? result.headers : []) as {
      name?: unknown;
      value?: unknown;
    }[];
    const location = headers.find((h) => String(h.name).toLowerCase() === "operation-location")
      ?.value;
    if (result?.status !== 202 || typeof location !== "string") {
      const error = (result?.body as { error?: { code?: unknown; message?: unknown } } | undefined)
        ?.error;
      throw new Error(
        `cannot ${what}: Vision One answered ${String(result?.status ?? "nothing")}${
          error ? ` ${String(error.code)}: ${String(error.message)}` : ""
        }`,
      );
    }
    const task = new URL(location).pathname;
    await pollTask(
      config.timing,
      async () => {
        const status = String(
          (await api.call("GET", { path: task }, `follow ${what}`)).json.status ?? "",
        );
        if (status === "succeeded") return true;
        if (/fail|reject|cancel/i.test(status)) {
          throw new Error(
            `cannot ${what}: its task ended ${status}`,
          );
        }
        return false;
      },
      (seconds) =>
        new Error(
          `cannot ${what}: its task did not end within ${seconds} s; the next cycle looks again`,
        ),
    );
    return "confirmed" as const;
  };
  return endpointClient({
    name: "trendmicro_visionone",
    tagName: TAG_NAME,
    routingKey: "trendmicro_visionone",
    label: api.label,
    timing: config.timing,
    cancelsPending: false,
    byMac: async (macs) =>
      (await Promise.all(macs.map((mac) => search("macAddress", mac.match(/../g)!.join(":")))))
        .flat(),
    byIp: (ip) => search("ip", ip),
    byName: (name) => search("endpointName", name),
    get: async (id) => (await search("agentGuid", id))[0] ?? null,
    isolate: act("isolate"),
    release: act("restore"),
    failureOf: failureOfCause,
    close: () => api.close(),
  });
}

/** The Vision One client definition. */
export const trendmicroVisionOne = {
  name: "trendmicro_visionone",
  aliases: ["vision_one"],
  tagName: TAG_NAME,
  routingKey: "trendmicro_visionone",
  keys: TRENDMICRO_VISIONONE_KEYS,
  configSchema: VisionOneConfigSchema,
  secrets: visionOneSecrets,
  create: createVisionOneClient,
} satisfies ClientDefinition<TrendConfig>;
