/**
 * The Check Point Harmony Endpoint client (vendors/harmony.md): isolates the host's
 * computer through the Harmony Endpoint management API of the Infinity Portal and
 * de-isolates it on unblock; the element id is the `computerId`. An Infinity Portal API key
 * (client id and access key) gives a bearer token, and a cloud session login a management
 * token; both are renewed before they lapse and once after a 401. Every management call
 * runs as a job, polled until it is done within the deadline; a remediation job that ends
 * `DONE` is the product's confirmation.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, serviceSecrets } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl, parseFullUrl } from "./_devices.ts";
import { type Endpoint, endpointClient, failureOfCause, type Isolation } from "./_endpoints.ts";
import { authenticated, expiringToken } from "./_session.ts";
import { parseTaskTiming, pollTask, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the Infinity Portal API key. */
export const HARMONY_SECRET_SERVICE = "Harmony";

/** The management API's path below the gateway. */
const API_PATH = "/app/endpoint-web-mgmt/harmony/endpoint/api";

/** The parsed configuration of the Harmony Endpoint client. */
export interface HarmonyConfig extends ApiEndpointConfig {
  /** The "Authentication URL" of the API key, e.g. `https://cloudinfra-gw-us.portal.checkpoint.com/auth/external`. */
  readonly authUrl: string;
  readonly timing: TaskTiming;
}

/** The documented keys of the Harmony Endpoint client. */
export const HARMONY_KEYS: readonly ConfigKey[] = [
  {
    key: "HARMONY_AUTH_URL",
    default: "",
    required: true,
    help:
      "The Authentication URL shown with the Infinity Portal API key, e.g. https://cloudinfra-gw-us.portal.checkpoint.com/auth/external.",
  },
  ...apiUrlKeys(
    "HARMONY",
    "HARMONY_BASE_URL",
    "The Infinity Portal gateway, e.g. https://cloudinfra-gw-us.portal.checkpoint.com (the API path is added).",
  ),
  ...taskKeys("HARMONY", "a job", 180),
];

/** Parses the raw `HARMONY_*` keys. */
export const HarmonyConfigSchema: z.ZodType<HarmonyConfig> = keysSchema(HARMONY_KEYS, (r, fail) => {
  const api = parseApiUrl(r, "HARMONY", "HARMONY_BASE_URL", API_PATH, fail);
  const timing = parseTaskTiming(r, "HARMONY", fail);
  const authUrl = parseFullUrl(r, "HARMONY_AUTH_URL", fail);
  if (api === null || timing === null || authUrl === null) return null;
  return { ...api, authUrl: authUrl.href, timing };
});

/** The secrets: the API key's client id, and its access key under the original's name. */
function harmonySecrets(): SecretRef[] {
  return serviceSecrets(HARMONY_SECRET_SERVICE, {
    Client_ID: "Infinity Portal API client id",
    API_Key: "Infinity Portal API access key",
  });
}

const ISOLATION: Readonly<Record<string, Isolation>> = {
  "isolated": "isolated",
  "not isolated": "not-isolated",
};

/** A computer of a job's answer. */
function endpointOf(c: Record<string, unknown>): Endpoint {
  const ips = Array.isArray(c.computerIP) ? c.computerIP : [c.computerIP];
  return {
    id: String(c.computerId ?? ""),
    name: String(c.computerName ?? ""),
    ips: ips.filter((ip) => typeof ip === "string"),
    isolation: ISOLATION[String(c.isolationStatus ?? "").toLowerCase()] ?? "unknown",
    connected: null,
  };
}

/** Creates the client: reads the API key, and opens the gateway and its sessions. */
async function createHarmonyClient(config: HarmonyConfig, context: ClientContext) {
  const clientId = await context.secret(HARMONY_SECRET_SERVICE, "Client_ID");
  const accessKey = await context.secret(HARMONY_SECRET_SERVICE, "API_Key");
  const label = new URL(config.baseUrl).host;
  const auth = new URL(config.authUrl);
  const open = (host: string, baseUrl: string) =>
    new HttpEndpoint({
      ...context.http,
      verifyTls: config.verifyTls,
      ...(config.caFile !== null ? { caFile: config.caFile } : {}),
      system: `harmony ${host}`,
      baseUrl,
    });
  const authHttp = open(auth.host, auth.origin);
  const http = open(label, `${config.baseUrl}${API_PATH}`);
  const signal = context.signal ? { signal: context.signal } : {};
  const refused = (what: string, detail: string) =>
    new Error(
      `cannot ${what}: ${detail}; check the secrets ${HARMONY_SECRET_SERVICE}/Client_ID and API_Key and the key's Endpoint role`,
    );
  const session = expiringToken({
    async login() {
      const answer = (await authHttp.request("POST", auth.pathname, {
        json: { clientId, accessKey },
        ...signal,
      }))
        .json<{ success?: boolean; data?: { token?: string; expiresIn?: number } }>();
      const bearer = answer.data?.token;
      if (answer.success !== true || typeof bearer !== "string") {
        throw refused("log in to the Infinity Portal", "it refused the API key");
      }
      const login = await http.request("POST", "/v1/session/login/cloud", {
        json: {},
        headers: { Authorization: `Bearer ${bearer}` },
        retry: true,
        ...signal,
      });
      const mgmt = login.headers.get("x-mgmt-api-token");
      if (mgmt === null) throw refused("open a Harmony Endpoint session", "no x-mgmt-api-token");
      const expiry = Number(login.headers.get("x-mgmt-session-expiry-seconds") ?? NaN);
      const seconds = Math.min(
        answer.data?.expiresIn ?? 300,
        Number.isFinite(expiry) ? expiry : Infinity,
      );
      return { token: JSON.stringify([bearer, mgmt]), expiresInSeconds: seconds };
    },
    headers(token) {
      const [bearer = "", mgmt = ""] = token === "" ? [] : JSON.parse(token) as string[];
      return { Authorization: `Bearer ${bearer}`, "x-mgmt-api-token": mgmt };
    },
  });
  /** One call with both tokens, renewed once after a 401. */
  const call = async (method: string, path: string, what: string, json?: unknown) => {
    try {
      const response = await authenticated(
        session,
        (headers) =>
          http.request(method, path, {
            headers: { ...headers, "x-mgmt-run-as-job": "on" },
            accept: [401],
            ...(json === undefined ? {} : { json }),
            retry: method === "GET",
            ...signal,
          }),
        (r) => r.status === 401,
      );
      if (response.status === 401) throw refused(what, "HTTP 401 after a fresh login");
      return response.json<Record<string, unknown>>();
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("cannot ")) throw error;
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
  };
  /** Submits a job and waits for its end: its data when `DONE`, an error otherwise. */
  const job = async (
    path: string,
    body: unknown,
    what: string,
  ): Promise<Record<string, unknown>> => {
    const { jobId } = await call("POST", path, what, body);
    if (typeof jobId !== "string") throw new Error(`cannot ${what}: the answer has no jobId`);
    let result: Record<string, unknown> = {};
    await pollTask(
      config.timing,
      async () => {
        result = await call("GET", `/v1/jobs/${encodeURIComponent(jobId)}`, `follow job ${jobId}`);
        if (result.status === "IN_PROGRESS") return false;
        if (result.status === "DONE") return true;
        const message = (result.data as { message?: unknown } | undefined)?.message;
        throw new Error(
          `cannot ${what}: job ${jobId} ended ${String(result.status)}${
            message ? ` (${String(message)})` : ""
          }`,
        );
      },
      (seconds) =>
        new Error(
          `cannot ${what}: job ${jobId} did not end within ${seconds} s; the next cycle looks again`,
        ),
    );
    return (result.data ?? {}) as Record<string, unknown>;
  };
  const computers = async (columnName: string, value: string) => {
    const data = await job("/v1/asset-management/computers/filtered", {
      filters: [{ columnName, filterValues: [value], filterType: "Exact" }],
      paging: { pageSize: 100, offset: 0 },
    }, `look up computers by ${columnName}`);
    return (Array.isArray(data.computers) ? data.computers as Record<string, unknown>[] : []).map(
      endpointOf,
    );
  };
  const remediate = async (action: "isolate" | "de-isolate", endpoint: Endpoint) => {
    await job(`/v1/remediation/${action}`, {
      comment: `Vectra Automated Response (var) - ${
        action === "isolate" ? "Isolated" : "Unisolated"
      }`,
      targets: { include: { computers: [{ id: endpoint.id }] } },
    }, `${action} computer ${endpoint.id}`);
    return "confirmed" as const;
  };
  return endpointClient({
    name: "harmony",
    tagName: "Harmony Client",
    routingKey: "harmony",
    label,
    timing: config.timing,
    cancelsPending: false,
    byIp: (ip) => computers("computerIP", ip),
    byName: (name) => computers("computerName", name),
    get: async (id) => (await computers("computerId", id))[0] ?? null,
    isolate: (endpoint) => remediate("isolate", endpoint),
    release: (endpoint) => remediate("de-isolate", endpoint),
    failureOf: failureOfCause,
    close() {
      authHttp.close();
      http.close();
    },
  });
}

/** The Harmony Endpoint client definition. */
export const harmony = {
  name: "harmony",
  aliases: [],
  tagName: "Harmony Client",
  routingKey: "harmony",
  keys: HARMONY_KEYS,
  configSchema: HarmonyConfigSchema,
  secrets: harmonySecrets,
  create: createHarmonyClient,
} satisfies ClientDefinition<HarmonyConfig>;
