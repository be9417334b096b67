/**
 * What the three Trend Micro clients share (Apex One, Cloud One, Vision One): the keys and
 * parsing of a regional base URL with its TLS settings and task deadline, and one call that
 * sends a body exactly as serialised, with per-request headers (a signature may cover the
 * method, path, query and body), reads the JSON answer, and explains a failure naming the
 * product's secrets. Private to `clients/`.
 *
 * @module
 */

import type { z } from "zod";
import { HttpEndpoint, HttpError } from "../engine/http.ts";
import { keysSchema } from "./_config.ts";
import { type ApiEndpointConfig, apiUrlKeys, parseApiUrl } from "./_devices.ts";
import { parseTaskTiming, taskKeys, type TaskTiming } from "./_tasks.ts";
import type { ClientContext, ConfigKey } from "./interface.ts";
import { errorText } from "../engine/error_text.ts";

/** The configuration of a Trend Micro client. */
export interface TrendConfig extends ApiEndpointConfig {
  readonly timing: TaskTiming;
}

/** The keys: `<PREFIX>_BASE_URL` (the original's), `_CHECK_SSL`, `_CA_FILE`, the task keys. */
export function trendKeys(prefix: string, urlHelp: string): ConfigKey[] {
  return [
    ...apiUrlKeys(prefix, `${prefix}_BASE_URL`, urlHelp),
    ...taskKeys(prefix, "an isolation or its end", 180),
  ];
}

/** The schema of those keys; `apiPath` is the one path a base URL may carry. */
export function trendSchema(
  prefix: string,
  keys: readonly ConfigKey[],
  apiPath: string,
): z.ZodType<TrendConfig> {
  return keysSchema(keys, (r, fail) => {
    const api = parseApiUrl(r, prefix, `${prefix}_BASE_URL`, apiPath, fail);
    const timing = parseTaskTiming(r, prefix, fail);
    return api === null || timing === null ? null : { ...api, timing };
  });
}

/** One request of a Trend Micro API. */
export interface TrendRequest {
  /** The path below the base URL, query included, already encoded (`?a=b` by URLSearchParams). */
  readonly path: string;
  /** The JSON body, serialised once: what is sent is what a signature covered. */
  readonly body?: string;
  /** Statuses that are answers, not failures (404: gone). */
  readonly accept?: readonly number[];
  readonly headers?: Record<string, string>;
}

/** A Trend Micro API: `call` answers the status and JSON, or throws naming the call. */
export interface TrendApi {
  readonly label: string;
  call(
    method: string,
    request: TrendRequest,
    what: string,
  ): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }>;
  close(): void;
}

/**
 * Opens a Trend Micro API at the base URL; `sign` gives each request's authentication
 * headers from its method, path (query included) and body; `secrets` names them in hints.
 */
export function trendApi(
  name: string,
  config: TrendConfig,
  context: ClientContext,
  sign: (method: string, path: string, body: string) => Record<string, string>,
  secrets: string,
): TrendApi {
  const label = new URL(config.baseUrl).host;
  const http = new HttpEndpoint({
    ...context.http,
    system: `${name} ${label}`,
    baseUrl: config.baseUrl,
    verifyTls: config.verifyTls,
    ...(config.caFile !== null ? { caFile: config.caFile } : {}),
  });
  return {
    label,
    async call(method, request, what) {
      const body = request.body ?? "";
      try {
        // The path goes as built (query included), so a signature covers what is sent.
        const response = await http.request(method, request.path, {
          ...(request.body !== undefined ? { body } : {}),
          headers: {
            ...(request.body !== undefined
              ? { "Content-Type": "application/json;charset=utf-8" }
              : {}),
            ...sign(method, request.path, body),
            ...request.headers,
          },
          accept: [...(request.accept ?? [])],
          retry: method === "GET",
          ...(context.signal ? { signal: context.signal } : {}),
        });
        let json: Record<string, unknown> = {};
        try {
          const parsed = response.json<unknown>();
          if (typeof parsed === "object" && parsed !== null) {
            json = parsed as Record<string, unknown>;
          }
        } catch {
          json = {};
        }
        return { status: response.status, json, headers: response.headers };
      } catch (error) {
        const status = error instanceof HttpError ? error.status : null;
        const hint = status === 401 || status === 403
          ? `; check ${secrets} and the key's role`
          : "";
        throw new Error(
          `cannot ${what}: ${errorText(error)}${hint}`,
          {
            cause: error,
          },
        );
      }
    },
    close: () => http.close(),
  };
}
