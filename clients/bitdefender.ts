/**
 * The Bitdefender GravityZone client (vendors/bitdefender.md): isolates the host's endpoint
 * through the GravityZone public API (JSON-RPC 2.0) and restores it on unblock; the element
 * id is the GravityZone endpoint id. The endpoint is matched by MAC first, then by IP over
 * the whole inventory (every page, cached for a minute), then by name; the kit's endpoint
 * client follows each task on the endpoint until GravityZone reports it isolated or not.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, parseBool, serviceSecrets } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { type Endpoint, endpointClient, failureOfCause, macKey } from "./_endpoints.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the GravityZone API key. */
export const BITDEFENDER_SECRET_SERVICE = "Bitdefender";

/** The parsed configuration of the GravityZone client. */
export interface BitdefenderConfig extends ApiEndpointConfig {
  readonly timing: TaskTiming;
}

/** The documented keys of the GravityZone client. */
export const BITDEFENDER_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "BITDEFENDER",
    "BITDEFENDER_HOSTNAME",
    "The GravityZone API host, e.g. cloud.gravityzone.bitdefender.com, or the on-premises console.",
  ),
  {
    key: "BITDEFENDER_BLOCK_MULTIPLE",
    default: "false",
    help:
      "The original's switch to isolate several endpoints matched to one host; var refuses true: it isolates exactly one endpoint or none.",
  },
  ...taskKeys("BITDEFENDER", "an isolation or its end", 180),
];

/** Parses the raw `BITDEFENDER_*` keys. */
export const BitdefenderConfigSchema: z.ZodType<BitdefenderConfig> = keysSchema(
  BITDEFENDER_KEYS,
  (r, fail) => {
    const api = parseApiUrl(r, "BITDEFENDER", "BITDEFENDER_HOSTNAME", "/api", fail);
    const timing = parseTaskTiming(r, "BITDEFENDER", fail);
    if (parseBool(r.BITDEFENDER_BLOCK_MULTIPLE ?? "") !== false) {
      fail(
        "BITDEFENDER_BLOCK_MULTIPLE",
        `BITDEFENDER_BLOCK_MULTIPLE is "${r.BITDEFENDER_BLOCK_MULTIPLE}"; var isolates exactly one endpoint per host (several matches are an error, never a guess): set false or remove the key`,
      );
      return null;
    }
    return api === null || timing === null ? null : { ...api, timing };
  },
);

/** The secret: the API key, as the original named it. */
function bitdefenderSecrets(): SecretRef[] {
  return serviceSecrets(BITDEFENDER_SECRET_SERVICE, { API_Key: "GravityZone API key" });
}

/** A JSON-RPC error answer: code, message and details. */
class RpcError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

/** An inventory item or endpoint details as an endpoint. */
function endpointOf(item: Record<string, unknown>): Endpoint {
  const flag = item.isolated ?? item.isIsolated;
  return {
    id: String(item.id ?? ""),
    name: String(item.name ?? ""),
    ips: typeof item.ip === "string" ? [item.ip] : [],
    macs: Array.isArray(item.macs) ? item.macs.map(String) : [],
    isolation: flag === true ? "isolated" : flag === false ? "not-isolated" : "unknown",
    connected: item.state === 1 ? true : item.state === 0 ? false : null,
  };
}

/** Creates the client: reads the key and opens the console's API. */
async function createBitdefenderClient(config: BitdefenderConfig, context: ClientContext) {
  const key = await context.secret(BITDEFENDER_SECRET_SERVICE, "API_Key");
  const label = new URL(config.baseUrl).host;
  const http = new HttpEndpoint({
    ...context.http,
    system: `bitdefender ${label}`,
    baseUrl: `${config.baseUrl}/api/v1.0/jsonrpc`,
    verifyTls: config.verifyTls,
    ...(config.caFile !== null ? { caFile: config.caFile } : {}),
    headers: () => ({ Authorization: `Basic ${btoa(`${key}:`)}` }),
  });
  let id = 1;
  const rpc = async (module: string, method: string, params: unknown, what: string) => {
    let answer: Record<string, unknown>;
    try {
      const response = await http.request("POST", `/${module}`, {
        json: { id: String(id++), jsonrpc: "2.0", method, params },
        retry: method.startsWith("get"),
        ...(context.signal ? { signal: context.signal } : {}),
      });
      answer = response.json<Record<string, unknown>>();
    } catch (error) {
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
    const failure = answer.error as {
      code?: unknown;
      message?: unknown;
      data?: { details?: unknown };
    } | undefined;
    if (failure === undefined) return answer.result;
    const details = failure.data?.details ? `: ${String(failure.data.details)}` : "";
    throw new RpcError(
      `cannot ${what}: GravityZone answered error ${String(failure.code)} ${
        String(failure.message)
      }${details}`,
      Number(failure.code),
    );
  };
  let company: Promise<string> | null = null;
  const companyId = () =>
    company ??= rpc("companies", "getCompanyDetails", {}, "read the company").then((r) =>
      String((r as { id?: unknown } | null)?.id ?? "")
    ).catch((error) => {
      company = null;
      throw error;
    });
  /** Every endpoint of a listing, all pages read. */
  const list = async (filters: Record<string, unknown>, what: string) => {
    const items: Record<string, unknown>[] = [];
    for (let page = 1, pages = 1; page <= pages; page++) {
      const result = await rpc("network", "getEndpointsList", {
        parentId: await companyId(),
        page,
        perPage: 100,
        filters: {
          ...filters,
          depth: { allItemsRecursively: true },
          type: { computers: true, virtualMachines: true },
        },
      }, what) as { items?: unknown; pagesCount?: unknown } | null;
      items.push(
        ...(Array.isArray(result?.items) ? result.items as Record<string, unknown>[] : []),
      );
      pages = Number(result?.pagesCount ?? 1);
    }
    return items.map(endpointOf);
  };
  let inventory: { at: number; endpoints: Promise<Endpoint[]> } | null = null;
  const everything = () => {
    if (inventory === null || Date.now() - inventory.at > 60_000) {
      const endpoints = list({}, "read the endpoint inventory");
      inventory = { at: Date.now(), endpoints };
      endpoints.catch(() => inventory = null);
    }
    return inventory.endpoints;
  };
  const task = async (method: string, endpoint: Endpoint, what: string) => {
    const result = await rpc("incidents", method, { endpointId: endpoint.id }, what);
    if (result === false) throw new Error(`cannot ${what}: GravityZone did not create the task`);
  };
  return endpointClient({
    name: "bitdefender",
    tagName: "Bitdefender Client",
    routingKey: "bitdefender",
    label,
    timing: config.timing,
    cancelsPending: false,
    byMac: (macs) => list({ details: { macs: macs.map(macKey) } }, "look up endpoints by MAC"),
    byIp: async (ip) => (await everything()).filter((e) => e.ips.includes(ip)),
    byName: async () => await everything(),
    async get(endpointId) {
      try {
        const details = await rpc(
          "network",
          "getManagedEndpointDetails",
          { endpointId },
          `read endpoint ${endpointId}`,
        );
        const endpoint = endpointOf((details ?? {}) as Record<string, unknown>);
        if (endpoint.isolation === "unknown") {
          throw new Error(
            `GravityZone does not report the isolation of endpoint ${endpointId}; var cannot confirm an isolation on ${label}`,
          );
        }
        return endpoint;
      } catch (error) {
        if (error instanceof RpcError && error.code === -32602) return null;
        throw error;
      }
    },
    isolate: (e) => task("createIsolateEndpointTask", e, `isolate endpoint ${e.id}`),
    release: (e) => task("createRestoreEndpointFromIsolationTask", e, `restore endpoint ${e.id}`),
    failureOf: failureOfCause,
    close: () => http.close(),
  });
}

/** The GravityZone client definition. */
export const bitdefender = {
  name: "bitdefender",
  aliases: [],
  tagName: "Bitdefender Client",
  routingKey: "bitdefender",
  keys: BITDEFENDER_KEYS,
  configSchema: BitdefenderConfigSchema,
  secrets: bitdefenderSecrets,
  create: createBitdefenderClient,
} satisfies ClientDefinition<BitdefenderConfig>;
