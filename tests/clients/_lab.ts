/**
 * Shared pieces of the vendor client tests: a ClientError assertion, a lab of a client and
 * the clients created like it (the next run), closed together, and the contract harness of
 * an EDR. Private to `tests/clients/`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ClientError, type ResponseClient } from "../../engine/client.ts";
import type { ContractHarness } from "./_contract.ts";
import { sampleSet } from "./_entities.ts";

/**
 * Asserts that a promise rejects with a ClientError (of the client and operation, when
 * given) and returns it.
 */
export async function rejectsClientError(
  promise: Promise<unknown>,
  expected: { readonly client?: string; readonly operation?: string } = {},
): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClientError, `expected a ClientError, got ${String(error)}`);
    if (expected.client !== undefined) assert.equal(error.client, expected.client);
    if (expected.operation !== undefined) assert.equal(error.operation, expected.operation);
    return error;
  }
  assert.fail(`${expected.operation ?? "the operation"} did not throw a ClientError`);
}

/** A client under test, and `another()` like it; `close()` ends their cycles and closes all. */
export interface ClientLab<C extends ResponseClient> {
  readonly client: C;
  another(): Promise<C>;
  close(): Promise<void>;
}

/** Creates the client; `shutDown` runs after every client is closed (the fakes). */
export async function clientLab<C extends ResponseClient>(
  create: () => Promise<C>,
  shutDown: () => Promise<void>,
): Promise<ClientLab<C>> {
  const clients = [await create()];
  return {
    client: clients[0] as C,
    async another() {
      const other = await create();
      clients.push(other);
      return other;
    },
    async close() {
      for (const c of clients) {
        await c.endCycle?.().catch(() => {});
        await c.close?.();
      }
      await shutDown();
    },
  };
}

/** What an EDR's fake tells the contract suite. */
export interface EndpointFake {
  /** The endpoint ids the fake holds isolated now. */
  isolated(): Set<string>;
  /** Releases every endpoint behind the client's back (an analyst did). */
  releaseAll(): void;
  /** From now on every call fails on the product's side. */
  failAlways(status: number): void;
}

/**
 * The contract harness of an EDR client on its lab: what the device enforces is the set of
 * isolated endpoints (hosts only); `vanish` releases them; the faults are a 503 on every
 * call and the server going down.
 */
export function endpointHarness(
  lab: ClientLab<ResponseClient> & { readonly server: { down(): Promise<void> } },
  fake: EndpointFake,
): ContractHarness {
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(kind === "host" ? fake.isolated() : new Set<string>()),
    vanish: () => Promise.resolve(fake.releaseAll()),
    faults: {
      serverError: () => fake.failAlways(503),
      down: () => lab.server.down(),
    },
    another: () => lab.another(),
    close: () => lab.close(),
  };
}
