import assert from "node:assert/strict";
import { CloudOneConfigSchema, trendmicroCloudOne } from "../../clients/trendmicro_cloudone.ts";
import type { ResponseClient } from "../../engine/client.ts";
import {
  type CloudOneComputer,
  type FakeCloudOne,
  SETTING,
  startFakeCloudOne,
} from "../fakes/cloudone.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const KEY = "c1-key-Wq2";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };
const WARD_3: CloudOneComputer = {
  ID: 3003,
  hostName: "ward-3-pc",
  lastIPUsed: "10.1.2.3",
  isolation: "",
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeCloudOne>;
}

async function startLab(computers: CloudOneComputer[] = [WARD_3]): Promise<Lab> {
  const server = startFakeCloudOne({ apiKey: KEY, computers });
  const raw = { TRENDMICRO_CLOUDONE_BASE_URL: server.url };
  const create = async () =>
    await trendmicroCloudOne.create(CloudOneConfigSchema.parse(raw), {
      http: HTTP,
      secret: () => Promise.resolve(KEY),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

async function cloudOneHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () =>
      new Set(
        [...fake.computers.values()].filter((c) => c.isolation === "true").map((c) => String(c.ID)),
      ),
    releaseAll: () => {
      for (const c of fake.computers.values()) c.isolation = "";
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("trendmicro_cloudone client", async (t) => {
  await runClientContract(t, {
    start: cloudOneHarness,
    startTwo: { none: "trendmicro_cloudone drives one Workload Security account" },
  });
});

Deno.test("trendmicro_cloudone: the override is set, then reset to the policy's value; without reset, turned off", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["3003"]);
    assert.equal(fake.computers.get(3003)?.isolation, "true");
    const set = fake.requests.find((r) => r.method === "POST" && r.path.endsWith(SETTING));
    assert.equal(set?.headers["api-version"], "v1");
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["3003"]), ["3003"]);
    assert.equal(fake.computers.get(3003)?.isolation, "", "reset: the policy decides again");
    await lab.client.blockHost!(sampleHost());
    fake.resetSupported = false;
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["3003", "9999"]), [
      "3003",
      "9999",
    ]);
    assert.equal(fake.computers.get(3003)?.isolation, "false");
  } finally {
    await lab.close();
  }
});

Deno.test("trendmicro_cloudone: two computers with one IP and another name are ambiguous; a wrong key fails", async () => {
  const lab = await startLab([WARD_3, { ...WARD_3, ID: 3004, hostName: "kiosk" }, {
    ...WARD_3,
    ID: 3005,
    hostName: "lab",
  }]);
  try {
    const ambiguous = await rejectsClientError(
      lab.client.blockHost!(sampleHost({ name: "other" })),
    );
    assert.match(ambiguous.message, /3 endpoints match 10\.1\.2\.3/);
    assert.deepEqual(
      await lab.client.blockHost!(sampleHost()),
      ["3003"],
      "narrowed by the host's name",
    );
    const wrong = await trendmicroCloudOne.create(
      CloudOneConfigSchema.parse({ TRENDMICRO_CLOUDONE_BASE_URL: lab.server.url }),
      { http: HTTP, secret: () => Promise.resolve("nope") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost!(sampleHost()));
      assert.equal(denied.status, 401);
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
  assert.deepEqual(trendmicroCloudOne.aliases, ["cloudone"]);
  assert.deepEqual(trendmicroCloudOne.secrets().map((s) => `${s.service}/${s.key}`), [
    "CloudOne/API_Key",
  ]);
});
