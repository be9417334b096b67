/**
 * Engine test set-up: the fake brain with seed data, the real Vectra client wired to it
 * with fast retries, and test clients. Private to `tests/engine/`.
 *
 * @module
 */

import {
  COMMA_READINGS,
  type CommaReading,
  type FakeBrain,
  startFakeBrain,
} from "../../demo/brain.ts";
import type { SeedData } from "../../demo/seed.ts";
import type { SecretLookup } from "../../engine/secrets.ts";
import { createTestClient, type TestClient } from "../../clients/test_client.ts";
import type { Operation } from "../../engine/client.ts";
import { createVectraApi } from "../../engine/vectra/mod.ts";
import type { VectraApi } from "../../engine/vectra/api.ts";
import type { BrainRuntime } from "../../engine/cycle.ts";

/** A running fake brain and an API client for it. */
export interface EngineHarness extends AsyncDisposable {
  readonly brain: FakeBrain;
  readonly api: VectraApi;
  readonly runtime: BrainRuntime;
}

/**
 * Starts a fake brain seeded with `data`, reading a comma in list filters as
 * `commaReading`, and a real Vectra client for it.
 */
export async function startEngine(
  data: SeedData,
  apiVersion: "2.5" | "3.4" = "2.5",
  commaReading: CommaReading = "anyof",
): Promise<EngineHarness> {
  const brain = await startFakeBrain({ apiVersion, seed: data, commaReading });
  const credentials = brain.credentials;
  const values: Record<string, string> = {
    Token: credentials.token ?? "",
    Client_ID: credentials.clientId,
    Secret_Key: credentials.clientSecret,
  };
  const secret: SecretLookup = (_service, key) => {
    const value = values[key];
    return value === undefined
      ? Promise.reject(new Error(`No secret "${key}"`))
      : Promise.resolve(value);
  };
  const config = {
    entry: "brain.test",
    baseUrl: brain.url,
    apiVersion,
    auth: apiVersion === "2.5" ? "token" as const : "oauth" as const,
  };
  const api = createVectraApi(config, {
    secret,
    http: { timeoutMs: 2000, retries: 1, minRetryDelayMs: 2, maxRetryDelayMs: 20 },
  });
  return {
    brain,
    api,
    runtime: { brain: config, api },
    async [Symbol.asyncDispose]() {
      await api.close();
      await brain.close();
    },
  };
}

/** A deterministic test client, optionally under another name and tag name. */
export function testClientAs(
  name = "test_client",
  tagName = "Test Client",
  failOperations: readonly Operation[] = [],
): TestClient {
  const client = createTestClient({ deterministic: true, failOperations: new Set(failOperations) });
  return { ...client, name, tagName, routingKey: name };
}

/** Requests that change Vectra: tag writes and notes. */
export function writes(brain: FakeBrain): string[] {
  return brain.requests
    .filter((r) => r.method === "PATCH" || r.method === "POST" && !r.route.includes("oauth"))
    .map((r) => `${r.method} ${r.route}`);
}

/**
 * Registers `fn` as one test per way a brain may read a comma in a list filter, the
 * reading in the test's name: the decisions a test asserts must not depend on it.
 */
export function testEachReading(name: string, fn: (reading: CommaReading) => Promise<void>): void {
  for (const reading of COMMA_READINGS) {
    Deno.test(`${name} [comma read ${reading}]`, () => fn(reading));
  }
}
