/**
 * The Sophos Central client (vendors/sophos_edr.md): isolates the host's endpoint through
 * the Sophos Central Endpoint API and releases it on unblock; the element id is the
 * endpoint `id`. OAuth client credentials (sent URL-encoded in the token request's body),
 * renewed before the hour ends and once after a 401; who-am-I gives the tenant id and its
 * data region. Tenant credentials only: partner and organization credentials are refused
 * with a message that says so.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { keysSchema, parseBool, serviceSecrets } from "./_config.ts";
import { parseFullUrl } from "./_devices.ts";
import { type Endpoint, endpointClient, failureOfCause, type Isolation } from "./_endpoints.ts";
import { authenticated, expiringToken } from "./_session.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ClientDefinition, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** Secret-store service of the Sophos Central API credential. */
export const SOPHOS_EDR_SECRET_SERVICE = "SophosEDR";

/** The parsed configuration of the Sophos Central client. */
export interface SophosEdrConfig {
  readonly authUrl: string;
  readonly whoamiUrl: string;
  readonly verifyTls: boolean;
  readonly caFile: string | null;
  readonly timing: TaskTiming;
}

/** The documented keys of the Sophos Central client. */
export const SOPHOS_EDR_KEYS: readonly ConfigKey[] = [
  {
    key: "SOPHOS_EDR_AUTH_URL",
    default: "https://id.sophos.com/api/v2/oauth2/token",
    help: "The Sophos ID token endpoint (the same for every customer).",
  },
  {
    key: "SOPHOS_EDR_WHOAMI_URL",
    default: "https://api.central.sophos.com/whoami/v1",
    help: "The global who-am-I endpoint (the same for every customer).",
  },
  { key: "SOPHOS_EDR_CHECK_SSL", default: "true", help: "Verify TLS certificates (true/false)." },
  {
    key: "SOPHOS_EDR_CA_FILE",
    default: "",
    help: "PEM file of a CA to trust; empty: system roots.",
  },
  ...taskKeys("SOPHOS_EDR", "an isolation or its end", 180),
];

/** Parses the raw `SOPHOS_EDR_*` keys. */
export const SophosEdrConfigSchema: z.ZodType<SophosEdrConfig> = keysSchema(
  SOPHOS_EDR_KEYS,
  (r, fail) => {
    const authUrl = parseFullUrl(r, "SOPHOS_EDR_AUTH_URL", fail);
    const whoamiUrl = parseFullUrl(r, "SOPHOS_EDR_WHOAMI_URL", fail);
    const verifyTls = parseBool(r.SOPHOS_EDR_CHECK_SSL ?? "");
    if (verifyTls === null) {
      fail(
        "SOPHOS_EDR_CHECK_SSL",
        `SOPHOS_EDR_CHECK_SSL is "${r.SOPHOS_EDR_CHECK_SSL}"; use true or false`,
      );
    }
    const timing = parseTaskTiming(r, "SOPHOS_EDR", fail);
    if (
      authUrl === null || whoamiUrl === null || verifyTls === null || timing === null
    ) return null;
    const caFile = (r.SOPHOS_EDR_CA_FILE ?? "").trim();
    return {
      authUrl: authUrl.href,
      whoamiUrl: whoamiUrl.href,
      verifyTls,
      caFile: caFile || null,
      timing,
    };
  },
);

/** The secrets: the API credential's id and secret, as the original named them. */
const sophosEdrSecrets = (): SecretRef[] =>
  serviceSecrets(SOPHOS_EDR_SECRET_SERVICE, {
    client_id: "Sophos Central API credential client id",
    client_secret: "Sophos Central API credential secret",
  });

const ISOLATION: Readonly<Record<string, Isolation>> = {
  isolated: "isolated",
  notIsolated: "not-isolated",
};

/** An endpoint item of Sophos Central. */
function endpointOf(item: Record<string, unknown>): Endpoint {
  const isolation = (item.isolation ?? {}) as { status?: unknown };
  return {
    id: String(item.id ?? ""),
    name: String(item.hostname ?? ""),
    ips: [item.ipv4Addresses, item.ipv6Addresses].flatMap((l) =>
      Array.isArray(l) ? l.map(String) : []
    ),
    isolation: ISOLATION[String(isolation.status)] ?? "unknown",
    connected: typeof item.online === "boolean" ? item.online : null,
  };
}

/** Creates the client: reads the credential, and opens the identity and tenant endpoints. */
async function createSophosEdrClient(config: SophosEdrConfig, context: ClientContext) {
  const clientId = await context.secret(SOPHOS_EDR_SECRET_SERVICE, "client_id");
  const clientSecret = await context.secret(SOPHOS_EDR_SECRET_SERVICE, "client_secret");
  const open = (url: URL) =>
    new HttpEndpoint({
      ...context.http,
      system: `sophos_edr ${url.host}`,
      baseUrl: url.origin,
      verifyTls: config.verifyTls,
      ...(config.caFile !== null ? { caFile: config.caFile } : {}),
    });
  const auth = new URL(config.authUrl);
  const whoami = new URL(config.whoamiUrl);
  const endpoints = new Map<string, HttpEndpoint>();
  const at = (url: URL) => {
    const known = endpoints.get(url.origin) ?? open(url);
    endpoints.set(url.origin, known);
    return known;
  };
  const signal = context.signal ? { signal: context.signal } : {};
  let tenant = { id: "", region: "" };
  const refused = (detail: string) =>
    new Error(
      `cannot log in to Sophos Central: ${detail}; check the secrets ${SOPHOS_EDR_SECRET_SERVICE}/client_id and client_secret`,
    );
  const session = expiringToken({
    async login() {
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: clientId,
        client_secret: clientSecret,
        scope: "token",
      });
      const answer = await at(auth).request("POST", auth.pathname, {
        body: form.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        accept: [400, 401],
        retry: true,
        ...signal,
      });
      const token = answer.status === 200
        ? answer.json<{ access_token?: unknown; expires_in?: unknown }>()
        : null;
      if (typeof token?.access_token !== "string") {
        throw refused(`the token request answered ${answer.status}`);
      }
      const me = (await at(whoami).request("GET", whoami.pathname, {
        headers: { Authorization: `Bearer ${token.access_token}` },
        ...signal,
      })).json<{ id?: unknown; idType?: unknown; apiHosts?: { dataRegion?: unknown } }>();
      if (
        me.idType !== "tenant" || typeof me.id !== "string" ||
        typeof me.apiHosts?.dataRegion !== "string"
      ) {
        throw refused(
          `the credential is a ${String(me.idType)} credential; var needs a tenant credential`,
        );
      }
      tenant = { id: me.id, region: me.apiHosts.dataRegion.replace(/\/$/, "") };
      return { token: token.access_token, expiresInSeconds: Number(token.expires_in ?? 3600) };
    },
    headers: (token) => ({ Authorization: `Bearer ${token}`, "X-Tenant-ID": tenant.id }),
  });
  const call = async (
    method: string,
    path: string,
    what: string,
    options: { query?: Record<string, string>; json?: unknown } = {},
  ) => {
    try {
      const response = await authenticated(
        session,
        (headers) =>
          at(new URL(tenant.region)).request(method, `/endpoint/v1${path}`, {
            headers,
            accept: [401, 404],
            ...options,
            ...signal,
          }),
        (r) => r.status === 401,
      );
      if (response.status === 401) throw refused("a fresh token was refused (401)");
      return response.status === 404 ? null : response.json<Record<string, unknown>>();
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("cannot ")) throw error;
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
  };
  const find = async (query: Record<string, string>, what: string) => {
    const items = (await call("GET", "/endpoints", what, { query }))?.items;
    return (Array.isArray(items) ? items as Record<string, unknown>[] : []).map(endpointOf);
  };
  const isolation = (enabled: boolean) => async (e: Endpoint) => {
    await call(
      "POST",
      "/endpoints/isolation",
      `${enabled ? "isolate" : "release"} endpoint ${e.id}`,
      {
        json: {
          enabled,
          ids: [e.id],
          comment: `${enabled ? "Isolated" : "Released"} by var (Vectra Automated Response)`,
        },
      },
    );
  };
  return endpointClient({
    name: "sophos_edr",
    tagName: "SophosEDR Client",
    routingKey: "sophos_edr",
    label: "Sophos Central",
    timing: config.timing,
    cancelsPending: true,
    byIp: (ip) => find({ ipAddresses: ip }, `look up endpoints with IP ${ip}`),
    byName: (name) => find({ hostnameContains: name }, `look up endpoints named ${name}`),
    async get(id) {
      const item = await call("GET", `/endpoints/${encodeURIComponent(id)}`, `read endpoint ${id}`);
      return item === null ? null : endpointOf(item);
    },
    isolate: isolation(true),
    release: isolation(false),
    failureOf: failureOfCause,
    close() {
      for (const e of endpoints.values()) e.close();
    },
  });
}

/** The Sophos Central client definition. */
export const sophosEdr = {
  name: "sophos_edr",
  aliases: [],
  tagName: "SophosEDR Client",
  routingKey: "sophos_edr",
  keys: SOPHOS_EDR_KEYS,
  configSchema: SophosEdrConfigSchema,
  secrets: sophosEdrSecrets,
  create: createSophosEdrClient,
} satisfies ClientDefinition<SophosEdrConfig>;
