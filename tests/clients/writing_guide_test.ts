/**
 * The worked example of `docs/clients/_writing-a-client.md` is real code: this test takes
 * it from the page, imports it, and runs the shared contract suite against its fake
 * (`tests/fakes/acme.ts`). A vendor written from the guide passes the suite.
 */

import assert from "node:assert/strict";
import type { ResponseClient } from "../../engine/client.ts";
import type { ClientDefinition } from "../../clients/interface.ts";
import { startFakeAcme } from "../fakes/acme.ts";
import { type ContractHarness, runClientContract, type TwoDeviceHarness } from "./_contract.ts";
import { sampleAccount, sampleDetection, sampleHost } from "./_entities.ts";

const ROOT = new URL("../../", import.meta.url);
const TOKEN = "acme-token-7Qe";

/** The example's code block, its imports pointed at the repository's files. */
async function exampleModule(): Promise<{ acme: ClientDefinition<unknown> }> {
  const page = await Deno.readTextFile(new URL("docs/clients/_writing-a-client.md", ROOT));
  const start = page.indexOf("```ts\nimport { z }");
  assert.ok(start >= 0, "the guide has its worked example");
  const code = page.slice(start + 6, page.indexOf("```", start + 6))
    .replaceAll('from "./', `from "${new URL("clients/", ROOT).href}`)
    .replaceAll('from "../engine/', `from "${new URL("engine/", ROOT).href}`);
  assert.ok(code.split("\n").length <= 250, "an IP-based vendor fits in 250 lines");
  const dir = await Deno.makeTempDir({ prefix: "var-guide-" });
  const file = `${dir}/acme.ts`;
  await Deno.writeTextFile(file, code);
  try {
    return await import(new URL(`file://${file}`).href);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const { acme } = await exampleModule();

/** A harness of the example client on `count` fake appliances. */
async function acmeHarness(count: number): Promise<TwoDeviceHarness> {
  const servers = Array.from({ length: count }, () => startFakeAcme(TOKEN));
  const config = acme.configSchema.parse({
    ACME_IP: servers.map(() => "http://127.0.0.1").join(","),
    ACME_PORT: servers.map((s) => String(s.port)).join(","),
  });
  const create = async () =>
    await acme.create(config, {
      http: { retries: 0, timeoutMs: 2000 },
      secret: () => Promise.resolve(TOKEN),
    });
  const clients: ResponseClient[] = [await create()];
  const held = (i: number, kind: string) =>
    Promise.resolve(kind === "host" ? new Set(servers[i]!.fake.quarantined) : new Set<string>());
  return {
    client: clients[0]!,
    samples: {
      host: sampleHost(),
      account: sampleAccount(),
      detection: sampleDetection(),
      staticIps: { dstIps: [] },
    },
    enforced: (kind) => held(0, kind),
    enforcedOn: (device, kind) => held(device, kind),
    vanish: () => {
      for (const server of servers) server.fake.quarantined.clear();
      return Promise.resolve();
    },
    faults: {
      serverError: () => servers[0]!.fake.failAlways(503),
      down: () => servers[0]!.down(),
    },
    failSecond: () => servers[1]!.fake.failAlways(503),
    slowSecond: (ms) => servers[1]!.fake.stall(ms),
    another: async () => {
      const next = await create();
      clients.push(next);
      return next;
    },
    async close() {
      for (const client of clients) await client.close?.();
      for (const server of servers) await server.close();
    },
  };
}

Deno.test("the guide's worked example passes the contract suite", async (t) => {
  await runClientContract(t, {
    start: (): Promise<ContractHarness> => acmeHarness(1),
    startTwo: () => acmeHarness(2),
  });
});
