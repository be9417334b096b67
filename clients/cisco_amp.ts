/**
 * The Cisco Secure Endpoint client (vendors/cisco_amp.md; formerly AMP for Endpoints):
 * isolates the host's computer through the API v1 and stops the isolation on unblock; the
 * element id is the `connector_guid`. HTTP Basic with the API client id and key. The kit's
 * endpoint client does the matching and follows each change until the API reports it
 * done; an isolation still pending when the deadline passes (the computer is offline) is
 * cancelled, as Secure Endpoint allows.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, serviceSecrets } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { type Endpoint, endpointClient, failureOfCause, type Isolation } from "./_endpoints.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the API client id and key. */
export const AMP_SECRET_SERVICE = "Cisco_Amp";

/** The parsed configuration of the Secure Endpoint client. */
export interface AmpConfig extends ApiEndpointConfig {
  readonly timing: TaskTiming;
}

/** The documented keys of the Secure Endpoint client. */
export const CISCO_AMP_KEYS: readonly ConfigKey[] = [
  ...apiUrlKeys(
    "CISCO_AMP",
    "CISCO_AMP_URL",
    "Regional API base URL: https://api.amp.cisco.com (North America), https://api.eu.amp.cisco.com, https://api.apjc.amp.cisco.com.",
  ),
  ...taskKeys("CISCO_AMP", "an isolation or its end", 180),
];

/** Parses the raw `CISCO_AMP_*` keys. */
export const AmpConfigSchema: z.ZodType<AmpConfig> = keysSchema(CISCO_AMP_KEYS, (r, fail) => {
  const api = parseApiUrl(r, "CISCO_AMP", "CISCO_AMP_URL", "/v1", fail);
  const timing = parseTaskTiming(r, "CISCO_AMP", fail);
  return api === null || timing === null ? null : { ...api, timing };
});

/** The secrets: the API client id and key, as the original named them. */
function ampSecrets(): SecretRef[] {
  return serviceSecrets(AMP_SECRET_SERVICE, {
    Client_ID: "Secure Endpoint API client id",
    API_Key: "Secure Endpoint API key",
  });
}

const ISOLATION: Readonly<Record<string, Isolation>> = {
  isolated: "isolated",
  not_isolated: "not-isolated",
  pending_start: "pending-isolation",
  pending_stop: "pending-release",
};

/** A computer of an answer, with its isolation (from the computer or its sub-resource). */
function endpointOf(
  computer: Record<string, unknown>,
  isolation?: Record<string, unknown>,
): Endpoint {
  const state = isolation ?? (computer.isolation as Record<string, unknown> | undefined) ?? {};
  return {
    id: String(computer.connector_guid ?? ""),
    name: String(computer.hostname ?? ""),
    ips: Array.isArray(computer.internal_ips) ? computer.internal_ips.map(String) : [],
    isolation: state.available === false
      ? "unavailable"
      : ISOLATION[String(state.status)] ?? "unavailable",
    connected: null,
  };
}

/** Creates the client: reads the id and key, and opens the API endpoint. */
async function createAmpClient(config: AmpConfig, context: ClientContext) {
  const clientId = await context.secret(AMP_SECRET_SERVICE, "Client_ID");
  const apiKey = await context.secret(AMP_SECRET_SERVICE, "API_Key");
  const basic = `Basic ${btoa(`${clientId}:${apiKey}`)}`;
  const label = new URL(config.baseUrl).host;
  const http = new HttpEndpoint({
    ...context.http,
    system: `cisco_amp ${label}`,
    baseUrl: `${config.baseUrl}/v1`,
    verifyTls: config.verifyTls,
    ...(config.caFile !== null ? { caFile: config.caFile } : {}),
    headers: () => ({ Authorization: basic }),
  });
  const call = async (
    method: string,
    path: string,
    what: string,
    options: { query?: Record<string, string>; json?: unknown; accept?: number[] } = {},
  ) => {
    try {
      const response = await http.request(method, path, {
        ...options,
        ...(context.signal ? { signal: context.signal } : {}),
      });
      return response.status === 404 || response.status === 409
        ? null
        : (response.json<{ data?: unknown }>().data ?? null);
    } catch (error) {
      const detail = errorText(error);
      const hint = error instanceof HttpError && (error.status === 401 || error.status === 403)
        ? `; check the secrets ${AMP_SECRET_SERVICE}/Client_ID and API_Key (a read & write API credential)`
        : "";
      throw new Error(`cannot ${what}: ${detail}${hint}`, { cause: error });
    }
  };
  const find = async (query: Record<string, string>, what: string) => {
    const data = await call("GET", "/computers", what, { query });
    return (Array.isArray(data) ? data as Record<string, unknown>[] : []).map((c) => endpointOf(c));
  };
  const sub = (id: string) => `/computers/${encodeURIComponent(id)}`;
  return endpointClient({
    name: "cisco_amp",
    tagName: "AMP Client",
    routingKey: "cisco_amp",
    label,
    timing: config.timing,
    cancelsPending: true,
    byIp: (ip) => find({ internal_ip: ip }, `look up computers with internal IP ${ip}`),
    byName: (name) => find({ "hostname[]": name }, `look up computers named ${name}`),
    async get(id) {
      const computer = await call("GET", sub(id), `read computer ${id}`, { accept: [404] });
      if (computer === null) return null;
      const isolation = await call("GET", `${sub(id)}/isolation`, `read the isolation of ${id}`, {
        accept: [404],
      });
      return endpointOf(computer as Record<string, unknown>, isolation as Record<string, unknown>);
    },
    async isolate(endpoint) {
      // 409: isolated or pending already; following the computer tells which.
      await call("PUT", `${sub(endpoint.id)}/isolation`, `isolate computer ${endpoint.id}`, {
        json: { comment: "Isolated by var (Vectra Automated Response)" },
        accept: [409],
      });
    },
    async release(endpoint) {
      await call("DELETE", `${sub(endpoint.id)}/isolation`, `stop isolating ${endpoint.id}`, {
        accept: [409],
      });
    },
    failureOf: failureOfCause,
    close: () => http.close(),
  });
}

/** The Secure Endpoint client definition. */
export const ciscoAmp = {
  name: "cisco_amp",
  aliases: ["amp"],
  tagName: "AMP Client",
  routingKey: "cisco_amp",
  keys: CISCO_AMP_KEYS,
  configSchema: AmpConfigSchema,
  secrets: ampSecrets,
  create: createAmpClient,
} satisfies ClientDefinition<AmpConfig>;
