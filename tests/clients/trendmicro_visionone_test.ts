import assert from "node:assert/strict";
import { trendmicroVisionOne, VisionOneConfigSchema } from "../../clients/trendmicro_visionone.ts";
import type { ResponseClient } from "../../engine/client.ts";
import {
  type FakeVisionOne,
  startFakeVisionOne,
  type VisionOneEndpoint,
} from "../fakes/visionone.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const KEY = "v1-key-Zt5";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

const WARD_3: VisionOneEndpoint = {
  agentGuid: "5a1b2c3d-0003-4e5f-8a9b-000000000003",
  endpointName: "WARD-3-PC",
  ips: ["10.1.2.3"],
  macs: ["00:11:22:33:44:55"],
  isolated: false,
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeVisionOne>;
}

async function startLab(
  endpoints: VisionOneEndpoint[] = [WARD_3],
  raw: Record<string, string> = {},
): Promise<Lab> {
  const server = startFakeVisionOne({ apiKey: KEY, endpoints });
  const config = {
    TRENDMICRO_VISIONONE_BASE_URL: server.url,
    TRENDMICRO_VISIONONE_TASK_POLL_SECONDS: "0.01",
    ...raw,
  };
  const create = async () =>
    await trendmicroVisionOne.create(VisionOneConfigSchema.parse(config), {
      http: HTTP,
      secret: () => Promise.resolve(KEY),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

async function visionOneHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () =>
      new Set([...fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.agentGuid)),
    releaseAll: () => {
      for (const e of fake.endpoints.values()) e.isolated = false;
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("trendmicro_visionone client", async (t) => {
  await runClientContract(t, {
    start: visionOneHarness,
    startTwo: { none: "trendmicro_visionone drives one Vision One region" },
  });
});

Deno.test("trendmicro_visionone: the tag keeps its leading space; isolation confirmed by its task", async () => {
  assert.equal(trendmicroVisionOne.tagName, " VisionOne Client");
  assert.deepEqual(trendmicroVisionOne.aliases, ["vision_one"]);
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.equal(lab.client.tagName, " VisionOne Client");
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [WARD_3.agentGuid]);
    assert.equal(fake.endpoints.get(WARD_3.agentGuid)?.isolated, true);
    assert.ok(fake.requests.some((r) => r.query === "macAddress eq '00:11:22:33:44:55'"));
    assert.ok(fake.requests.some((r) => r.path.startsWith("/v3.0/response/tasks/")));
    fake.failTasksFor.add(WARD_3.agentGuid);
    const failed = await rejectsClientError(
      lab.client.unblockHost!(sampleHost(), [WARD_3.agentGuid]),
    );
    assert.match(
      failed.message,
      /cannot restore endpoint 5a1b2c3d-0003-4e5f-8a9b-000000000003: its task ended failed/,
    );
    fake.failTasksFor.clear();
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), [WARD_3.agentGuid]), [
      WARD_3.agentGuid,
    ]);
    assert.equal(fake.endpoints.get(WARD_3.agentGuid)?.isolated, false);
  } finally {
    await lab.close();
  }
});

Deno.test("trendmicro_visionone: a name with a quote never reaches the query; a wrong key is a ClientError", async () => {
  const lab = await startLab([{ ...WARD_3, ips: ["10.9.9.9"], macs: [] }]);
  try {
    assert.deepEqual(
      await lab.client.blockHost!(sampleHost({ name: "x' or ip eq '10.9.9.9", macAddresses: [] })),
      [],
    );
    assert.ok(!lab.server.fake.requests.some((r) => r.query?.includes("x'")));
    const wrong = await trendmicroVisionOne.create(
      VisionOneConfigSchema.parse({ TRENDMICRO_VISIONONE_BASE_URL: lab.server.url }),
      { http: HTTP, secret: () => Promise.resolve("nope") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost!(sampleHost()));
      assert.equal(denied.status, 401);
      assert.match(denied.message, /check the secret VisionOne\/API_Key/);
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
});
