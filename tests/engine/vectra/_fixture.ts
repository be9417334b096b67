/**
 * Shared set-up of the Vectra API client tests: a fake brain, a client wired to its
 * credentials with fast retries, and a capture of every log record and error message so
 * tests can assert that no secret ever leaks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { type FakeBrain, type FakeBrainOptions, startFakeBrain } from "../../../demo/brain.ts";
import type { SecretLookup } from "../../../engine/secrets.ts";
import type { HttpOptions } from "../../../engine/http_types.ts";
import { CountingRequestCounter } from "../../../engine/http.ts";
import { createVectraApi } from "../../../engine/vectra/mod.ts";
import type { VectraApi } from "../../../engine/vectra/api.ts";
import type { V3VectraApi } from "../../../engine/vectra/v3.ts";

/** Fast transport settings for tests. */
export const FAST_HTTP: HttpOptions = {
  timeoutMs: 2000,
  retries: 2,
  minRetryDelayMs: 5,
  maxRetryDelayMs: 1500,
};

/** A fake brain with a client. */
export interface Harness extends AsyncDisposable {
  readonly brain: FakeBrain;
  readonly api: VectraApi;
  readonly counter: CountingRequestCounter;
  /** Every secret the client was given, and every access token it held. */
  readonly secrets: () => string[];
  /** Log records written while the harness ran, as text. */
  readonly logs: string[];
}

/** Options of {@linkcode startHarness}. */
export interface HarnessOptions extends FakeBrainOptions {
  /** v2.5 authentication. @default {"oauth"} */
  auth?: "token" | "oauth";
  /** Transport overrides. */
  http?: HttpOptions;
  /** The client's clock. */
  clientNow?: () => number;
  /** Replaces a looked-up secret (wrong credentials). */
  secretOverride?: Partial<Record<"Token" | "Client_ID" | "Secret_Key", string>>;
  /** Client options passed through. */
  useFields?: boolean;
  renewEarlySeconds?: number;
  caPem?: string;
  caFile?: string;
  verifyTls?: boolean;
  /** The base URL to use instead of the brain's. */
  baseUrl?: string;
}

/** Starts a fake brain and a client for it; dispose to stop both. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const logs: string[] = [];
  configureSync({
    reset: true,
    sinks: { memory: (record: LogRecord) => logs.push(renderRecord(record)) },
    loggers: [
      { category: ["var"], lowestLevel: "debug", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["memory"] },
    ],
  });
  const brain = await startFakeBrain(options);
  const credentials = brain.credentials;
  const values: Record<string, string> = {
    Token: credentials.token ?? "",
    Client_ID: credentials.clientId,
    Secret_Key: credentials.clientSecret,
    ...options.secretOverride,
  };
  const service = "brain.test.example";
  const secret: SecretLookup = (s, key) => {
    assert.equal(s, service);
    const value = values[key];
    if (value === undefined) return Promise.reject(new Error(`No secret "${key}"`));
    return Promise.resolve(value);
  };
  const counter = new CountingRequestCounter();
  const version = brain.apiVersion;
  const api = createVectraApi(
    {
      entry: service,
      baseUrl: options.baseUrl ?? brain.url,
      apiVersion: version,
      auth: options.auth ?? "oauth",
    },
    {
      secret,
      http: { ...FAST_HTTP, ...options.http, counter },
      ...(options.clientNow ? { now: options.clientNow } : {}),
      ...(options.useFields !== undefined ? { useFields: options.useFields } : {}),
      ...(options.renewEarlySeconds !== undefined
        ? { renewEarlySeconds: options.renewEarlySeconds }
        : {}),
      ...(options.caPem ? { caPem: options.caPem } : {}),
      ...(options.caFile ? { caFile: options.caFile } : {}),
      ...(options.verifyTls !== undefined ? { verifyTls: options.verifyTls } : {}),
    },
  );
  const seenTokens = new Set<string>();
  const secrets = () => {
    const tokens = (api as Partial<V3VectraApi>).tokens?.current();
    if (tokens) seenTokens.add(tokens);
    return [
      credentials.clientSecret,
      ...(credentials.token ? [credentials.token] : []),
      ...seenTokens,
    ];
  };
  return {
    brain,
    api,
    counter,
    secrets,
    logs,
    async [Symbol.asyncDispose]() {
      await api.close();
      await brain.close();
      resetSync();
    },
  };
}

/** Renders a log record with its properties, as a sink would. */
function renderRecord(record: LogRecord): string {
  const message = record.message.map((part) => typeof part === "string" ? part : String(part))
    .join("");
  return `${record.level} ${record.category.join(".")} ${message} ${
    JSON.stringify(record.properties)
  }`;
}

/** Awaits a rejection and returns the error (asserting its class). */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected a ${type.name}, but the call succeeded`);
}

/** Asserts that no text contains a secret, an access token, or anything token-sized. */
export function assertNoSecrets(texts: readonly string[], secrets: readonly string[]): void {
  for (const text of texts) {
    for (const secret of secrets) {
      if (secret === "") continue;
      assert.ok(!text.includes(secret), `a secret leaked into: ${text.slice(0, 200)}`);
    }
    assert.ok(!/[A-Za-z0-9_-]{300,}/.test(text), `a token-sized string in: ${text.slice(0, 200)}`);
  }
}

/** Every message of an error and its causes. */
export function messagesOf(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current instanceof Error; depth++) {
    out.push(current.message, String(current.stack ?? ""));
    current = current.cause;
  }
  return out;
}
