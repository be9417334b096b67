import assert from "node:assert/strict";
import { bitdefender, BitdefenderConfigSchema } from "../../clients/bitdefender.ts";
import type { ResponseClient } from "../../engine/client.ts";
import {
  type FakeGravityZone,
  type GravityZoneEndpoint,
  startFakeGravityZone,
} from "../fakes/bitdefender.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const API_KEY = "gz-key-P0q7";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

/** Matches the sample host by its MAC 00:11:22:33:44:55. */
const WARD_3: GravityZoneEndpoint = {
  id: "5f0c0a1b2c3d4e5f60718293",
  name: "WARD-3-PC",
  ip: "10.1.2.3",
  macs: ["001122334455"],
  online: true,
  isolated: false,
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeGravityZone>;
}

async function startLab(
  options: { endpoints?: GravityZoneEndpoint[]; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const server = startFakeGravityZone({
    apiKey: API_KEY,
    endpoints: options.endpoints ?? [WARD_3],
  });
  const raw = {
    BITDEFENDER_HOSTNAME: server.url,
    BITDEFENDER_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const create = async () =>
    await bitdefender.create(BitdefenderConfigSchema.parse(raw), {
      http: HTTP,
      secret: () => Promise.resolve(API_KEY),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

function isolated(fake: FakeGravityZone): Set<string> {
  return new Set([...fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.id));
}

async function gravityZoneHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () => isolated(fake),
    releaseAll: () => {
      for (const e of fake.endpoints.values()) e.isolated = false;
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("bitdefender client", async (t) => {
  await runClientContract(t, {
    start: gravityZoneHarness,
    startTwo: { none: "bitdefender drives one GravityZone console" },
  });
});

Deno.test("bitdefender: matched by MAC, isolated once GravityZone reports it, restored on unblock", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [WARD_3.id]);
    assert.equal(fake.endpoints.get(WARD_3.id)?.isolated, true);
    const byMac = fake.requests.find((r) => r.method === "getEndpointsList");
    assert.deepEqual((byMac?.params.filters as { details?: unknown }).details, {
      macs: ["001122334455"],
    });
    assert.ok(fake.requests.every((r) => r.authorization === `Basic ${btoa(`${API_KEY}:`)}`));
    assert.deepEqual(
      await lab.client.unblockHost!(sampleHost(), [WARD_3.id, "5f0c0a1b2c3d4e5f60718299"]),
      [
        WARD_3.id,
        "5f0c0a1b2c3d4e5f60718299",
      ],
    );
    assert.equal(fake.endpoints.get(WARD_3.id)?.isolated, false);
  } finally {
    await lab.close();
  }
});

Deno.test("bitdefender: without a MAC match, the whole inventory is read for the IP, last page included", async () => {
  const others = Array.from({ length: 150 }, (_, i): GravityZoneEndpoint => ({
    ...WARD_3,
    id: `5f0c0a1b2c3d4e5f6071${String(i).padStart(4, "0")}`,
    name: `kiosk-${i}`,
    ip: `10.50.${Math.floor(i / 250)}.${i % 250}`,
    macs: [`0000000000${String(i).padStart(2, "0")}`],
  }));
  const last: GravityZoneEndpoint = {
    ...WARD_3,
    id: "5f0c0a1b2c3d4e5f6071ffff",
    macs: ["aabbccddeeff"],
  };
  const lab = await startLab({ endpoints: [...others, last] });
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [last.id]);
    const pages = lab.server.fake.requests.filter((r) =>
      r.method === "getEndpointsList" && !JSON.stringify(r.params.filters).includes("macs")
    )
      .map((r) => r.params.page);
    assert.ok(pages.includes(2), "the second and last page is read");
  } finally {
    await lab.close();
  }
});

Deno.test("bitdefender: an offline endpoint is not queued; a console that hides the isolation cannot confirm", async () => {
  const lab = await startLab({ endpoints: [{ ...WARD_3, online: false }] });
  try {
    const offline = await rejectsClientError(lab.client.blockHost!(sampleHost()), {
      client: "bitdefender",
      operation: "blockHost",
    });
    assert.match(offline.message, /is not connected, so its isolation would only be queued/);
    assert.ok(!lab.server.fake.requests.some((r) => r.method === "createIsolateEndpointTask"));
    lab.server.fake.put(WARD_3);
    lab.server.fake.reportsIsolation = false;
    const hidden = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(
      hidden.message,
      /GravityZone does not report the isolation of endpoint 5f0c0a1b2c3d4e5f60718293; var cannot confirm an isolation/,
    );
  } finally {
    await lab.close();
  }
  const multiple = BitdefenderConfigSchema.safeParse({
    BITDEFENDER_HOSTNAME: "gz",
    BITDEFENDER_BLOCK_MULTIPLE: "true",
  });
  assert.ok(!multiple.success);
  assert.match(
    multiple.error.issues[0]?.message ?? "",
    /var isolates exactly one endpoint per host/,
  );
  assert.deepEqual(bitdefender.secrets().map((s) => `${s.service}/${s.key}`), [
    "Bitdefender/API_Key",
  ]);
  const config = BitdefenderConfigSchema.parse({
    BITDEFENDER_HOSTNAME: "cloud.gravityzone.bitdefender.com",
  });
  assert.equal(config.baseUrl, "https://cloud.gravityzone.bitdefender.com");
});

Deno.test("bitdefender: a JSON-RPC error and a wrong key are ClientErrors that say what GravityZone said", async () => {
  const lab = await startLab();
  try {
    lab.server.fake.endpoints.get(WARD_3.id)!.isolated = true;
    // Already isolated: recorded as it is, without a task.
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [WARD_3.id]);
    assert.ok(!lab.server.fake.requests.some((r) => r.method === "createIsolateEndpointTask"));
    // A task GravityZone refuses (someone isolated it meanwhile): its JSON-RPC error, word for word.
    await lab.client.unblockHost!(sampleHost(), [WARD_3.id]);
    lab.server.fake.beforeNext(
      () => lab.server.fake.endpoints.get(WARD_3.id)!.isolated = true,
      (r) => r.method === "createIsolateEndpointTask",
    );
    const refused = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(
      refused.message,
      /cannot isolate endpoint 5f0c0a1b2c3d4e5f60718293: GravityZone answered error -32000 Server error: The endpoint is isolated or has a task pending/,
    );
    const wrong = await bitdefender.create(
      BitdefenderConfigSchema.parse({ BITDEFENDER_HOSTNAME: lab.server.url }),
      { http: HTTP, secret: () => Promise.resolve("bad") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost!(sampleHost()));
      assert.match(denied.message, /401/);
      assert.equal(denied.status, 401);
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
});
