/**
 * The Tanium client (vendors/tanium.md): quarantines the host's endpoint by deploying the
 * configured quarantine package for its platform as a Tanium action through the API
 * Gateway (GraphQL), and deploys the matching removal package on unblock; the element id
 * is the Tanium endpoint `id`. Each action is followed until Tanium reports it completed
 * within the deadline — the product's confirmation; a failed action, a GraphQL error or a
 * deadline is a failure. Matching is exact (`EQ`), never the original's `STARTS_WITH`.
 *
 * @module
 */

import { HttpEndpoint } from "../engine/http.ts";
import type { SecretRef } from "../engine/secrets.ts";
import { serviceSecrets } from "./_config.ts";
import { type Endpoint, endpointClient, failureOfCause } from "./_endpoints.ts";
import { pollTask } from "./_tasks.ts";
import {
  type Platform,
  platformOf,
  TANIUM_KEYS,
  type TaniumConfig,
  TaniumConfigSchema,
} from "./tanium_config.ts";
import type { ClientContext, ClientDefinition } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

export { TANIUM_KEYS, type TaniumConfig, TaniumConfigSchema } from "./tanium_config.ts";

/** Secret-store service of the Tanium API token. */
export const TANIUM_SECRET_SERVICE = "Tanium";

/** The secret: the API token, as the original named it. */
const taniumSecrets = (): SecretRef[] =>
  serviceSecrets(TANIUM_SECRET_SERVICE, {
    Token: "Tanium API token (read endpoints and packages, deploy actions)",
  });

const ENDPOINTS = `query getEndpoints($path: String!, $value: String!, $op: FieldFilterOp!) {
  endpoints(filter: {path: $path, value: $value, op: $op}) { edges { node { id name ipAddresses macAddresses os { platform } } } }
}`;
const PACKAGE = `query packageSpecs($name: String!) {
  packageSpecs(filter: {path: "name", value: $name}) { edges { node { name params { key defaultValue } } } }
}`;
const PERFORM = `mutation performAction($input: ActionPerformInput!) {
  actionPerform(input: $input) { scheduledActions { scheduledAction { id lastAction { id } } } error { message } }
}`;
const STATUS = `query getActionStatus($ref: IdRefInput!) {
  action(ref: $ref) { status results { completed failed running waiting } }
}`;

/** Creates the client: reads the token and opens the API Gateway. */
async function createTaniumClient(config: TaniumConfig, context: ClientContext) {
  const token = await context.secret(TANIUM_SECRET_SERVICE, "Token");
  const label = new URL(config.baseUrl).host;
  const http = new HttpEndpoint({
    ...context.http,
    system: `tanium ${label}`,
    baseUrl: `${config.baseUrl}/plugin/products/gateway`,
    verifyTls: config.verifyTls,
    ...(config.caFile !== null ? { caFile: config.caFile } : {}),
    headers: () => ({ session: token }),
  });
  /** One GraphQL document; its `data`, or an error quoting Tanium's `errors`. */
  const graphql = async (query: string, variables: Record<string, unknown>, what: string) => {
    let answer: { data?: Record<string, unknown> | null; errors?: { message?: unknown }[] };
    try {
      answer = (await http.request("POST", "/graphql", {
        json: { query, variables },
        retry: !query.startsWith("mutation"),
        ...(context.signal ? { signal: context.signal } : {}),
      })).json();
    } catch (error) {
      throw new Error(`cannot ${what}: ${errorText(error)}`, {
        cause: error,
      });
    }
    if (answer.errors?.length) {
      throw new Error(
        `cannot ${what}: Tanium answered ${answer.errors.map((e) => String(e.message)).join("; ")}`,
      );
    }
    return answer.data ?? {};
  };
  const find = async (
    path: string,
    value: string,
  ): Promise<(Endpoint & { platform: string })[]> => {
    const data = await graphql(
      ENDPOINTS,
      { path, value, op: "EQ" },
      `look up endpoints by ${path}`,
    );
    const edges =
      (data.endpoints as { edges?: { node?: Record<string, unknown> }[] } | undefined)?.edges ?? [];
    return edges.map(({ node = {} }) => ({
      id: String(node.id ?? ""),
      name: String(node.name ?? ""),
      ips: Array.isArray(node.ipAddresses) ? node.ipAddresses.map(String) : [],
      macs: Array.isArray(node.macAddresses) ? node.macAddresses.map(String) : [],
      isolation: "unknown" as const,
      connected: null,
      platform: String((node.os as { platform?: unknown } | undefined)?.platform ?? ""),
    }));
  };
  /** Deploys the platform's package to the endpoint and waits for the action's end. */
  const deploy =
    (packages: Partial<Record<Platform, string>>, verb: string) => async (endpoint: Endpoint) => {
      const what = `${verb} endpoint ${endpoint.id} (${endpoint.name})`;
      const platform = (endpoint as { platform?: string }).platform ?? "";
      const name = packages[platformOf(platform) ?? ("" as Platform)];
      if (name === undefined) {
        throw new Error(`cannot ${what}: no package is configured for its platform "${platform}"`);
      }
      const spec = (await graphql(PACKAGE, { name }, `read package ${name}`)).packageSpecs as {
        edges?: { node?: { params?: { key?: string; defaultValue?: unknown }[] } }[];
      } | undefined;
      const node = spec?.edges?.length === 1 ? spec.edges[0]?.node : undefined;
      if (node === undefined) {
        throw new Error(
          `cannot ${what}: package "${name}" does not exist (or the name is not unique)`,
        );
      }
      const params = (node.params ?? []).map((p) => String(p.defaultValue ?? ""));
      const performed = (await graphql(PERFORM, {
        input: {
          name: `var: ${verb} ${endpoint.name}`,
          package: { name, params },
          targets: { actionGroup: { name: config.actionGroup }, endpoints: [endpoint.id] },
        },
      }, what)).actionPerform as {
        scheduledActions?: { scheduledAction?: { lastAction?: { id?: unknown } } }[];
        error?: { message?: unknown } | null;
      };
      const action = performed?.scheduledActions?.[0]?.scheduledAction?.lastAction?.id;
      if (performed?.error || action === undefined) {
        throw new Error(
          `cannot ${what}: Tanium did not start the action${
            performed?.error ? ` (${String(performed.error.message)})` : ""
          }`,
        );
      }
      await pollTask(
        config.timing,
        async () => {
          const data = await graphql(
            STATUS,
            { ref: { id: String(action) } },
            `follow action ${String(action)}`,
          );
          const results =
            (data.action as { results?: Record<string, unknown> } | undefined)?.results ?? {};
          if (Number(results.failed ?? 0) > 0) {
            throw new Error(
              `cannot ${what}: action ${String(action)} failed`,
            );
          }
          return Number(results.completed ?? 0) > 0;
        },
        (seconds) =>
          new Error(
            `cannot ${what}: action ${
              String(action)
            } did not complete within ${seconds} s (waiting for approval or for the endpoint); the next cycle looks again`,
          ),
      );
      return "confirmed" as const;
    };
  return endpointClient({
    name: "tanium",
    tagName: "Tanium Client",
    routingKey: "tanium",
    label,
    timing: config.timing,
    cancelsPending: false,
    byIp: (ip) => find("ipAddresses", ip),
    byName: (name) => find("name", name),
    get: async (id) => (await find("id", id))[0] ?? null,
    isolate: deploy(config.block, "quarantine"),
    release: deploy(config.unblock, "release"),
    failureOf: failureOfCause,
    close: () => http.close(),
  });
}

/** The Tanium client definition. */
export const tanium = {
  name: "tanium",
  aliases: [],
  tagName: "Tanium Client",
  routingKey: "tanium",
  keys: TANIUM_KEYS,
  configSchema: TaniumConfigSchema,
  secrets: taniumSecrets,
  create: createTaniumClient,
} satisfies ClientDefinition<TaniumConfig>;
