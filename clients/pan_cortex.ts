/**
 * The Cortex XDR client (vendors/pan_cortex.md): isolates the host's endpoint through the
 * Cortex XDR public API and releases it on unblock; the element id is the `endpoint_id`.
 * Standard and advanced API keys; an advanced key signs every request afresh (a new nonce
 * and timestamp, the hex SHA-256 of key, nonce and timestamp). The kit's endpoint client
 * does the matching and follows each change on the endpoint until Cortex reports it done.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { z } from "zod";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, serviceSecrets } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { type Endpoint, endpointClient, failureOfCause, type Isolation } from "./_endpoints.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the Cortex API key and its id. */
export const CORTEX_SECRET_SERVICE = "Cortex";

/** The parsed configuration of the Cortex XDR client. */
export interface CortexConfig extends ApiEndpointConfig {
  readonly advanced: boolean;
  readonly timing: TaskTiming;
}

/** The documented keys of the Cortex XDR client. */
export const PAN_CORTEX_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "PAN_CORTEX",
    "PAN_CORTEX_CORTEX_URL",
    "API base URL of the tenant, `https://api-<tenant fqdn>` (Settings › API Keys › Copy URL).",
  ).slice(0, 1),
  {
    key: "PAN_CORTEX_CORTEX_API_TYPE",
    default: "standard",
    help: "Security level of the API key: standard or advanced.",
  },
  ...apiUrlKeys("PAN_CORTEX", "PAN_CORTEX_CORTEX_URL", "").slice(1),
  ...taskKeys("PAN_CORTEX", "an isolation or its release", 180),
];

/** Parses the raw `PAN_CORTEX_*` keys. */
export const CortexConfigSchema: z.ZodType<CortexConfig> = keysSchema(
  PAN_CORTEX_KEYS,
  (r, fail) => {
    const api = parseApiUrl(r, "PAN_CORTEX", "PAN_CORTEX_CORTEX_URL", "/public_api/v1", fail);
    if (api === null) return null;
    const type = (r.PAN_CORTEX_CORTEX_API_TYPE ?? "").trim();
    if (type !== "standard" && type !== "advanced") {
      fail(
        "PAN_CORTEX_CORTEX_API_TYPE",
        `PAN_CORTEX_CORTEX_API_TYPE is "${type}"; use standard or advanced`,
      );
      return null;
    }
    const timing = parseTaskTiming(r, "PAN_CORTEX", fail);
    if (timing === null) return null;
    return { ...api, advanced: type === "advanced", timing };
  },
);

/** The secrets: the API key and its id, as the original named them. */
function cortexSecrets(): SecretRef[] {
  return serviceSecrets(CORTEX_SECRET_SERVICE, {
    API_Token: "Cortex XDR API key",
    Key_ID: "Cortex XDR API key id",
  });
}

const NONCE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** The headers of one request: a standard key as is, an advanced key signed afresh. */
export function cortexHeaders(key: string, keyId: string, advanced: boolean, now = Date.now()) {
  if (!advanced) return { "x-xdr-auth-id": keyId, Authorization: key };
  const bytes = crypto.getRandomValues(new Uint8Array(64));
  const nonce = [...bytes].map((b) => NONCE_ALPHABET[b % NONCE_ALPHABET.length]).join("");
  const timestamp = String(Math.floor(now / 1000) * 1000);
  const signature = createHash("sha256").update(`${key}${nonce}${timestamp}`).digest("hex");
  return {
    "x-xdr-auth-id": keyId,
    "x-xdr-nonce": nonce,
    "x-xdr-timestamp": timestamp,
    Authorization: signature,
  };
}

const ISOLATION: Readonly<Record<string, Isolation>> = {
  AGENT_ISOLATED: "isolated",
  AGENT_UNISOLATED: "not-isolated",
  AGENT_PENDING_ISOLATION: "pending-isolation",
  AGENT_PENDING_ISOLATION_CANCELLATION: "pending-release",
};

/** An endpoint of a `get_endpoint` reply. */
function endpointOf(value: Record<string, unknown>): Endpoint {
  const status = String(value.endpoint_status ?? "");
  return {
    id: String(value.endpoint_id ?? ""),
    name: String(value.endpoint_name ?? ""),
    ips: Array.isArray(value.ip) ? value.ip.map(String) : [],
    isolation: ISOLATION[String(value.is_isolated)] ?? "unavailable",
    connected: status === "" ? null : status === "CONNECTED",
  };
}

/** Creates the client: reads the key and its id, and opens the API endpoint. */
async function createCortexClient(config: CortexConfig, context: ClientContext) {
  const key = await context.secret(CORTEX_SECRET_SERVICE, "API_Token");
  const keyId = await context.secret(CORTEX_SECRET_SERVICE, "Key_ID");
  const label = new URL(config.baseUrl).host;
  const http = new HttpEndpoint({
    ...context.http,
    system: `pan_cortex ${label}`,
    baseUrl: `${config.baseUrl}/public_api/v1`,
    verifyTls: config.verifyTls,
    ...(config.caFile !== null ? { caFile: config.caFile } : {}),
    headers: () => cortexHeaders(key, keyId, config.advanced),
  });
  const call = async (path: string, data: Record<string, unknown>, what: string) => {
    try {
      const response = await http.request("POST", path, {
        json: { request_data: data },
        retry: path.endsWith("get_endpoint/"),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      return (response.json<{ reply?: Record<string, unknown> }>().reply ?? {}) as Record<
        string,
        unknown
      >;
    } catch (error) {
      const detail = errorText(error);
      const hint = error instanceof HttpError && (error.status === 401 || error.status === 403)
        ? `; check the secrets ${CORTEX_SECRET_SERVICE}/API_Token and Key_ID, PAN_CORTEX_CORTEX_API_TYPE, and the key's role (Action Center edit, Endpoint Administration view)`
        : "";
      throw new Error(`cannot ${what}: ${detail}${hint}`, { cause: error });
    }
  };
  const find = async (field: string, value: string) => {
    const reply = await call("/endpoints/get_endpoint/", {
      search_from: 0,
      search_to: 100,
      sort: { field: "endpoint_id", keyword: "ASC" },
      filters: [{ field, operator: "in", value: [value] }],
    }, `look up endpoints by ${field}`);
    const endpoints = Array.isArray(reply.endpoints)
      ? reply.endpoints as Record<string, unknown>[]
      : [];
    return endpoints.map(endpointOf);
  };
  return endpointClient({
    name: "pan_cortex",
    tagName: "Cortex Client",
    routingKey: "cortex",
    label,
    timing: config.timing,
    cancelsPending: false,
    byIp: (ip) => find("ip_list", ip),
    byName: (name) => find("hostname", name),
    get: async (id) => (await find("endpoint_id_list", id))[0] ?? null,
    async isolate(endpoint) {
      await call(
        "/endpoints/isolate/",
        { endpoint_id: endpoint.id },
        `isolate endpoint ${endpoint.id}`,
      );
    },
    async release(endpoint) {
      await call(
        "/endpoints/unisolate/",
        { endpoint_id: endpoint.id },
        `release endpoint ${endpoint.id}`,
      );
    },
    failureOf: failureOfCause,
    close: () => http.close(),
  });
}

/** The Cortex XDR client definition. */
export const panCortex = {
  name: "pan_cortex",
  aliases: ["cortex"],
  tagName: "Cortex Client",
  routingKey: "cortex",
  keys: PAN_CORTEX_KEYS,
  configSchema: CortexConfigSchema,
  secrets: cortexSecrets,
  create: createCortexClient,
} satisfies ClientDefinition<CortexConfig>;
