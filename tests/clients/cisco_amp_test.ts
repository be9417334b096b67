import assert from "node:assert/strict";
import { AmpConfigSchema, ciscoAmp } from "../../clients/cisco_amp.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { makeTestCertificates } from "../_tls.ts";
import { type AmpComputer, type FakeAmp, startFakeAmp } from "../fakes/cisco_amp.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const CLIENT_ID = "amp-client-7f";
const API_KEY = "amp-key-Xv81";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

const WARD_3: AmpComputer = {
  connector_guid: "6f1c2a9e-0003-4c6e-9a57-000000000003",
  hostname: "ward-3-pc.hospital.local",
  internal_ips: ["10.1.2.3"],
  online: true,
  isolation: { available: true, status: "not_isolated" },
};
const GUID = WARD_3.connector_guid;

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeAmp>;
}

async function startLab(
  options: { computers?: AmpComputer[]; raw?: Record<string, string>; quota?: number } = {},
): Promise<Lab> {
  const server = startFakeAmp({
    clientId: CLIENT_ID,
    apiKey: API_KEY,
    computers: options.computers ?? [WARD_3],
    ...(options.quota !== undefined ? { quota: options.quota } : {}),
  });
  const raw = { CISCO_AMP_URL: server.url, CISCO_AMP_TASK_POLL_SECONDS: "0.01", ...options.raw };
  const secrets: Record<string, string> = { Client_ID: CLIENT_ID, API_Key: API_KEY };
  const create = async () =>
    await ciscoAmp.create(AmpConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

function isolated(fake: FakeAmp): Set<string> {
  return new Set(
    [...fake.computers.values()].filter((c) => c.isolation.status === "isolated").map((c) =>
      c.connector_guid
    ),
  );
}

async function ampHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () => isolated(fake),
    releaseAll: () => {
      for (const c of fake.computers.values()) c.isolation.status = "not_isolated";
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("cisco_amp client", async (t) => {
  await runClientContract(t, {
    start: ampHarness,
    startTwo: { none: "cisco_amp drives one Secure Endpoint organisation" },
  });
});

Deno.test("cisco_amp: isolates with a comment, follows it to isolated, stops it on unblock", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [GUID]);
    assert.equal(fake.computers.get(GUID)?.isolation.status, "isolated");
    const put = fake.requests.find((r) => r.method === "PUT");
    assert.deepEqual(JSON.parse(put?.body ?? "{}"), {
      comment: "Isolated by var (Vectra Automated Response)",
    });
    assert.ok(fake.requests.every((r) => !r.query.includes(API_KEY) && !r.path.includes(API_KEY)));
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), [GUID]), [GUID]);
    assert.equal(fake.computers.get(GUID)?.isolation.status, "not_isolated");
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_amp: an offline computer's isolation is cancelled when not confirmed in time", async () => {
  const lab = await startLab({
    computers: [{ ...WARD_3, online: false }],
    raw: { CISCO_AMP_TASK_TIMEOUT_SECONDS: "1", CISCO_AMP_TASK_POLL_SECONDS: "0.05" },
  });
  const { fake } = lab.server;
  try {
    const error = await rejectsClientError(lab.client.blockHost!(sampleHost()), {
      client: "cisco_amp",
      operation: "blockHost",
    });
    assert.match(
      error.message,
      /was not confirmed within 1 s; the next cycle looks again; var cancelled the isolation it asked for$/,
    );
    assert.equal(fake.computers.get(GUID)?.isolation.status, "pending_stop");
    // A pending isolation someone else started is cancelled on unblock too.
    fake.put({ ...WARD_3, online: true, isolation: { available: true, status: "pending_start" } });
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), [GUID]), [GUID]);
    assert.equal(fake.computers.get(GUID)?.isolation.status, "not_isolated");
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_amp: exact names only — a partial hostname match is never isolated", async () => {
  const lab = await startLab({
    computers: [{ ...WARD_3, internal_ips: ["10.9.9.9"], hostname: "ward-3-pc-old" }],
  });
  const { fake } = lab.server;
  fake.partialHostnames = true;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), []);
    assert.ok(!fake.requests.some((r) => r.method === "PUT"));
    assert.ok(fake.requests.some((r) => r.query === "?hostname%5B%5D=ward-3-pc"));
    fake.put({ ...WARD_3, connector_guid: "g-2", internal_ips: ["10.9.9.9"] });
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["g-2"]);
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_amp: unavailable isolation, bad credentials and the rate limit are ClientErrors", async () => {
  const lab = await startLab({
    computers: [{ ...WARD_3, isolation: { available: false, status: "not_isolated" } }],
    quota: 1,
  });
  try {
    const unavailable = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(unavailable.message, /cannot isolate endpoint 6f1c2a9e-0003/);
    const limited = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(limited.message, /429/);
    const wrong = await ciscoAmp.create(
      AmpConfigSchema.parse({ CISCO_AMP_URL: lab.server.url }),
      { http: HTTP, secret: () => Promise.resolve("nope") },
    );
    try {
      const denied = await rejectsClientError(wrong.unblockHost!(sampleHost(), [GUID]));
      assert.match(denied.message, /401.*check the secrets Cisco_Amp\/Client_ID and API_Key/);
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_amp: TLS is verified by default; keys, secrets and the alias", async () => {
  const certs = await makeTestCertificates();
  await using server = startFakeAmp({
    clientId: CLIENT_ID,
    apiKey: API_KEY,
    computers: [WARD_3],
    tls: certs,
  });
  const context = {
    http: HTTP,
    secret: (_s: string, key: string) => Promise.resolve(key === "Client_ID" ? CLIENT_ID : API_KEY),
  };
  const raw = { CISCO_AMP_URL: server.url, CISCO_AMP_TASK_POLL_SECONDS: "0.01" };
  const trusting = await ciscoAmp.create(
    AmpConfigSchema.parse({ ...raw, CISCO_AMP_CA_FILE: certs.caFile }),
    context,
  );
  const untrusting = await ciscoAmp.create(AmpConfigSchema.parse(raw), context);
  try {
    assert.deepEqual(await trusting.blockHost!(sampleHost()), [GUID]);
    await rejectsClientError(untrusting.blockHost!(sampleHost()));
  } finally {
    await trusting.close?.();
    await untrusting.close?.();
    await certs.cleanup();
  }
  const result = AmpConfigSchema.safeParse({ CISCO_AMP_URL: "" });
  assert.ok(!result.success);
  assert.match(result.error.issues[0]?.message ?? "", /CISCO_AMP_URL is empty/);
  assert.deepEqual(ciscoAmp.secrets().map((s) => `${s.service}/${s.key}`), [
    "Cisco_Amp/Client_ID",
    "Cisco_Amp/API_Key",
  ]);
  assert.deepEqual(ciscoAmp.aliases, ["amp"]);
});
