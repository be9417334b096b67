import assert from "node:assert/strict";
import { tanium, TaniumConfigSchema } from "../../clients/tanium.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { type FakeTanium, startFakeTanium, type TaniumEndpoint } from "../fakes/tanium.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const TOKEN = "token-tn-77";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };
const PACKAGES = {
  "Apply Windows IPsec Quarantine": true,
  "Remove Windows IPsec Quarantine": false,
  "Apply Mac PF Quarantine": true,
  "Remove Mac PF Quarantine": false,
};
const WARD_3: TaniumEndpoint = {
  id: "1003",
  name: "ward-3-pc.hospital.local",
  ipAddresses: ["10.1.2.3"],
  macAddresses: ["00:11:22:33:44:55"],
  platform: "Windows",
  quarantined: false,
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeTanium>;
}

async function startLab(
  endpoints: TaniumEndpoint[] = [WARD_3],
  raw: Record<string, string> = {},
): Promise<Lab> {
  const server = startFakeTanium({ token: TOKEN, endpoints, packages: PACKAGES });
  const config = {
    TANIUM_URL: server.url,
    TANIUM_BLOCK_PKG: "Apply Windows IPsec Quarantine, Apply Mac PF Quarantine",
    TANIUM_UNBLOCK_PKG: "Remove Windows IPsec Quarantine,Remove Mac PF Quarantine",
    TANIUM_TASK_POLL_SECONDS: "0.01",
    ...raw,
  };
  const create = async () =>
    await tanium.create(TaniumConfigSchema.parse(config), {
      http: HTTP,
      secret: () => Promise.resolve(TOKEN),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

async function taniumHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () =>
      new Set([...fake.endpoints.values()].filter((e) => e.quarantined).map((e) => e.id)),
    releaseAll: () => {
      for (const e of fake.endpoints.values()) e.quarantined = false;
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("tanium client", async (t) => {
  await runClientContract(t, {
    start: taniumHarness,
    startTwo: { none: "tanium drives one Tanium server or tenant" },
  });
});

Deno.test("tanium: the platform's package is deployed to the one endpoint, and the action followed", async () => {
  const lab = await startLab([WARD_3, {
    ...WARD_3,
    id: "1010",
    name: "ward-3-pc-old",
    ipAddresses: ["10.1.2.30"],
    platform: "Mac",
  }]);
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["1003"]);
    assert.equal(fake.endpoints.get("1003")?.quarantined, true);
    assert.equal(fake.endpoints.get("1010")?.quarantined, false, "never a prefix match");
    const perform = fake.requests.find((r) => r.query.includes("actionPerform"));
    assert.deepEqual(perform?.variables.input, {
      name: "var: quarantine ward-3-pc.hospital.local",
      package: { name: "Apply Windows IPsec Quarantine", params: ["30"] },
      targets: { actionGroup: { name: "Default - All Computers" }, endpoints: ["1003"] },
    });
    assert.ok(fake.requests.every((r) => r.session === TOKEN));
    fake.failFor.add("1003");
    const failed = await rejectsClientError(lab.client.unblockHost!(sampleHost(), ["1003"]));
    assert.match(
      failed.message,
      /cannot release endpoint 1003 \(ward-3-pc\.hospital\.local\): action \d+ failed/,
    );
    fake.failFor.clear();
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["1003"]), ["1003"]);
    assert.equal(fake.endpoints.get("1003")?.quarantined, false);
  } finally {
    await lab.close();
  }
});

Deno.test("tanium: a platform without a package, an unknown action group and bad package lists are refused", async () => {
  const lab = await startLab([{ ...WARD_3, platform: "Linux" }]);
  try {
    const linux = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(linux.message, /no package is configured for its platform "Linux"/);
  } finally {
    await lab.close();
  }
  const group = await startLab([WARD_3], { TANIUM_ACTION_GROUP: "Hospital" });
  try {
    const refused = await rejectsClientError(group.client.blockHost!(sampleHost()));
    assert.match(refused.message, /Tanium answered Action group not found/);
  } finally {
    await group.close();
  }
  const twice = TaniumConfigSchema.safeParse({
    TANIUM_URL: "https://t",
    TANIUM_BLOCK_PKG: "Apply Windows A,Apply Windows B",
    TANIUM_UNBLOCK_PKG: "Remove Windows",
  });
  assert.ok(!twice.success);
  assert.match(twice.error.issues[0]?.message ?? "", /is a second Windows package/);
  assert.deepEqual(tanium.secrets().map((s) => `${s.service}/${s.key}`), ["Tanium/Token"]);
});
