/**
 * The Trend Micro Apex One client (vendors/trendmicro_apexone.md): isolates the host's
 * Apex One agent through the Apex Central Automation API and restores it on unblock; the
 * element id is the agent's `entity_id`. Every request carries a fresh JWT (HS256 with the
 * application's API key) whose checksum covers the method, the lower-cased path and query
 * and the body exactly as sent. An answer counts only with `result_code` 1.
 *
 * The original recorded the host's MAC addresses (or its IP): var releases such an id by
 * finding the agent with that MAC or IP.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, createHmac } from "node:crypto";
import type { SecretRef } from "../engine/secrets.ts";
import { parseIpOrNetwork } from "../engine/ip.ts";
import { serviceSecrets } from "./_config.ts";
import { type Endpoint, endpointClient, failureOfCause, macKey } from "./_endpoints.ts";
import { trendApi, type TrendConfig, trendKeys, trendSchema } from "./_trendmicro.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";

/** Secret-store service of the Apex Central application id and key. */
export const APEXONE_SECRET_SERVICE = "ApexOne";

/** The product agents resource (the original's `API_PATH`). */
const AGENTS = "/WebApp/API/AgentResource/ProductAgents";

/** The documented keys of the Apex One client. */
export const TRENDMICRO_APEXONE_KEYS: readonly ConfigKey[] = trendKeys(
  "TRENDMICRO_APEXONE",
  "Apex Central URL, e.g. https://<name>.manage.trendmicro.com (without /WebApp).",
);

/** Parses the raw `TRENDMICRO_APEXONE_*` keys. */
export const ApexOneConfigSchema = trendSchema("TRENDMICRO_APEXONE", TRENDMICRO_APEXONE_KEYS, "");

/** The secrets: the application id and its API key, as the original named them. */
function apexOneSecrets(): SecretRef[] {
  return serviceSecrets(APEXONE_SECRET_SERVICE, {
    Application_ID: "Apex Central Automation API application id",
    API_Key: "Its API key (signs each request; never sent)",
  });
}

/** The JWT of one request (Apex Central Automation API, version V1). */
export function apexJwt(
  applicationId: string,
  key: string,
  method: string,
  pathAndQuery: string,
  body: string,
  now = Date.now(),
): string {
  const checksum = createHash("sha256").update(
    `${method.toUpperCase()}|${pathAndQuery.toLowerCase()}||${body}`,
  )
    .digest("base64");
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "HS256", typ: "JWT" })}.${
    part({ appid: applicationId, iat: Math.floor(now / 1000), version: "V1", checksum })
  }`;
  return `${unsigned}.${createHmac("sha256", key).update(unsigned).digest("base64url")}`;
}

/** An agent of an answer. */
function endpointOf(agent: Record<string, unknown>): Endpoint {
  const list = (value: unknown) =>
    (Array.isArray(value) ? value.map(String) : String(value ?? "").split(",")).map((v) => v.trim())
      .filter((v) => v !== "");
  const status = String(agent.isolation_status ?? "").toLowerCase();
  return {
    id: String(agent.entity_id ?? ""),
    name: String(agent.host_name ?? ""),
    ips: list(agent.ip_address_list),
    macs: list(agent.mac_address_list),
    isolation: status === "isolated"
      ? "isolated"
      : status === "normal"
      ? "not-isolated"
      : status.includes("pending")
      ? status.includes("restore") ? "pending-release" : "pending-isolation"
      : "unknown",
    connected: null,
  };
}

/** A recorded id as the agent query it names: a MAC or an IP (the original's), else an entity id. */
function queryOf(id: string): Record<string, string> {
  if (/^([0-9a-f]{2}[-:]){5}[0-9a-f]{2}$/i.test(id)) {
    return { mac_address: macKey(id).match(/../g)!.join("-").toUpperCase() };
  }
  return parseIpOrNetwork(id).ok ? { ip_address: id } : { entity_id: id };
}

/** Creates the client: reads the application id and key, and opens Apex Central. */
async function createApexOneClient(config: TrendConfig, context: ClientContext) {
  const applicationId = await context.secret(APEXONE_SECRET_SERVICE, "Application_ID");
  const key = await context.secret(APEXONE_SECRET_SERVICE, "API_Key");
  const api = trendApi(
    "trendmicro_apexone",
    config,
    context,
    (method, path, body) => ({
      Authorization: `Bearer ${apexJwt(applicationId, key, method, path, body)}`,
    }),
    `the secrets ${APEXONE_SECRET_SERVICE}/Application_ID and API_Key`,
  );
  /** One call; its `result_content`, once `result_code` says it succeeded. */
  const call = async (method: string, request: { path: string; body?: string }, what: string) => {
    const { json } = await api.call(method, request, what);
    if (json.result_code !== 1) {
      throw new Error(
        `cannot ${what}: Apex Central answered result_code ${String(json.result_code)} (${
          String(json.result_description ?? "")
        })`,
      );
    }
    return (Array.isArray(json.result_content) ? json.result_content : []) as Record<
      string,
      unknown
    >[];
  };
  const agents = async (query: Record<string, string>, what: string) =>
    (await call("GET", { path: `${AGENTS}?${new URLSearchParams(query)}` }, what)).map(endpointOf);
  const act = (command: string, verb: string) => async (endpoint: Endpoint) => {
    const body = JSON.stringify({
      act: command,
      allow_multiple_match: false,
      entity_id: endpoint.id,
    });
    await call("POST", { path: AGENTS, body }, `${verb} agent ${endpoint.id}`);
  };
  return endpointClient({
    name: "trendmicro_apexone",
    tagName: "ApexOne Client",
    routingKey: "trendmicro_apexone",
    label: api.label,
    timing: config.timing,
    cancelsPending: false,
    byMac: async (macs) => {
      const all = await Promise.all(
        macs.map((mac) => agents(queryOf(mac.match(/../g)!.join("-")), "look up agents by MAC")),
      );
      return [...new Map(all.flat().map((e) => [e.id, e])).values()];
    },
    byIp: (ip) => agents({ ip_address: ip }, `look up agents with IP ${ip}`),
    byName: (name) => agents({ host_name: name }, `look up agents named ${name}`),
    async get(id) {
      const found = await agents(queryOf(id), `read agent ${id}`);
      if (found.length > 1) {
        throw new Error(
          `the recorded id ${id} names ${found.length} agents; var releases one agent or none`,
        );
      }
      return found[0] ?? null;
    },
    isolate: act("cmd_isolate_agent", "isolate"),
    release: act("cmd_restore_isolated_agent", "restore"),
    failureOf: failureOfCause,
    close: () => api.close(),
  });
}

/** The Apex One client definition. */
export const trendmicroApexOne = {
  name: "trendmicro_apexone",
  aliases: ["apex_one"],
  tagName: "ApexOne Client",
  routingKey: "trendmicro_apexone",
  keys: TRENDMICRO_APEXONE_KEYS,
  configSchema: ApexOneConfigSchema,
  secrets: apexOneSecrets,
  create: createApexOneClient,
} satisfies ClientDefinition<TrendConfig>;
