import assert from "node:assert/strict";
import {
  apexJwt,
  ApexOneConfigSchema,
  trendmicroApexOne,
} from "../../clients/trendmicro_apexone.ts";
import type { ResponseClient } from "../../engine/client.ts";
import {
  APEX_PATH,
  type ApexAgent,
  type FakeApexCentral,
  startFakeApexCentral,
} from "../fakes/apexone.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const APP = "B5E5DF3C-0F8E-4E6A-A8A3-0C0F0E0D0C0B";
const KEY = "apex-key-Hs256";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

/** The sample host's agent: MAC 00:11:22:33:44:55 as Apex Central writes it. */
const WARD_3: ApexAgent = {
  entity_id: "agent-0003",
  host_name: "WARD-3-PC",
  ip_address_list: "10.1.2.3",
  mac_address_list: "00-11-22-33-44-55",
  isolation_status: "normal",
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeApexCentral>;
}

async function startLab(agents: ApexAgent[] = [WARD_3]): Promise<Lab> {
  const server = startFakeApexCentral({ applicationId: APP, apiKey: KEY, agents });
  const raw = {
    TRENDMICRO_APEXONE_BASE_URL: server.url,
    TRENDMICRO_APEXONE_TASK_POLL_SECONDS: "0.01",
  };
  const secrets: Record<string, string> = { Application_ID: APP, API_Key: KEY };
  const create = async () =>
    await trendmicroApexOne.create(ApexOneConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

async function apexHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () =>
      new Set(
        [...fake.agents.values()].filter((a) => a.isolation_status === "isolated").map((a) =>
          a.entity_id
        ),
      ),
    releaseAll: () => {
      for (const a of fake.agents.values()) a.isolation_status = "normal";
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("trendmicro_apexone client", async (t) => {
  await runClientContract(t, {
    start: apexHarness,
    startTwo: { none: "trendmicro_apexone drives one Apex Central" },
  });
});

Deno.test("trendmicro_apexone: matched by MAC, isolated and restored with signed requests", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["agent-0003"]);
    assert.equal(fake.agents.get("agent-0003")?.isolation_status, "isolated");
    const isolate = fake.requests.find((r) => r.method === "POST");
    assert.deepEqual(JSON.parse(isolate?.body ?? "{}"), {
      act: "cmd_isolate_agent",
      allow_multiple_match: false,
      entity_id: "agent-0003",
    });
    assert.ok(
      fake.requests.some((r) => r.pathAndQuery === `${APEX_PATH}?mac_address=00-11-22-33-44-55`),
    );
    // The original recorded the MAC: var restores the agent it names.
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["00-11-22-33-44-55"]), [
      "00-11-22-33-44-55",
    ]);
    assert.equal(fake.agents.get("agent-0003")?.isolation_status, "normal");
  } finally {
    await lab.close();
  }
});

Deno.test("trendmicro_apexone: the fake recomputes the JWT and the checksum; result_code 0 is a failure", async () => {
  await using server = startFakeApexCentral({ applicationId: APP, apiKey: KEY, agents: [WARD_3] });
  const get = (path: string, jwt: string) =>
    fetch(`${server.url}${path}`, { headers: { Authorization: `Bearer ${jwt}` } }).then(async (
      r,
    ) => [r.status, (await r.json()).Message ?? "ok"]);
  const path = `${APEX_PATH}?host_name=WARD-3-PC`;
  assert.deepEqual(await get(path, apexJwt(APP, KEY, "GET", path, "")), [200, "ok"]);
  assert.deepEqual(await get(path, apexJwt(APP, "other-key", "GET", path, "")), [
    401,
    "Invalid signature",
  ]);
  assert.deepEqual(await get(path, apexJwt(APP, KEY, "GET", `${APEX_PATH}?host_name=other`, "")), [
    401,
    "Checksum mismatch",
  ]);
  assert.deepEqual(await get(path, apexJwt(APP, KEY, "GET", path, "", Date.now() - 3600_000)), [
    401,
    "Token expired",
  ]);
  const lab = await startLab([WARD_3, {
    ...WARD_3,
    entity_id: "agent-0099",
    host_name: "WARD-3-PC",
  }]);
  try {
    const ambiguous = await rejectsClientError(
      lab.client.unblockHost!(sampleHost(), ["00-11-22-33-44-55"]),
    );
    assert.match(ambiguous.message, /names 2 agents; var releases one agent or none/);
  } finally {
    await lab.close();
  }
});
