import assert from "node:assert/strict";
import { CortexConfigSchema, cortexHeaders, panCortex } from "../../clients/pan_cortex.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { makeTestCertificates } from "../_tls.ts";
import { type CortexEndpoint, type FakeCortex, startFakeCortex } from "../fakes/cortex.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const KEY = "cortex-key-Qm3T";
const KEY_ID = "17";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

const WARD_3: CortexEndpoint = {
  endpoint_id: "e-0003",
  endpoint_name: "WARD-3-PC",
  ip: ["10.1.2.3", "fe80::3"],
  endpoint_status: "CONNECTED",
  is_isolated: "AGENT_UNISOLATED",
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeCortex>;
}

async function startLab(
  options: { endpoints?: CortexEndpoint[]; raw?: Record<string, string>; pendingReads?: number } =
    {},
): Promise<Lab> {
  const server = startFakeCortex({
    keyId: KEY_ID,
    key: KEY,
    endpoints: options.endpoints ?? [WARD_3],
    pendingReads: options.pendingReads ?? 1,
  });
  const raw = {
    PAN_CORTEX_CORTEX_URL: server.url,
    PAN_CORTEX_CORTEX_API_TYPE: "advanced",
    PAN_CORTEX_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const secrets: Record<string, string> = { API_Token: KEY, Key_ID: KEY_ID };
  const create = async () =>
    await panCortex.create(CortexConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

/** The endpoints the fake holds isolated. */
function isolated(fake: FakeCortex): Set<string> {
  return new Set(
    [...fake.endpoints.values()].filter((e) => e.is_isolated === "AGENT_ISOLATED").map((e) =>
      e.endpoint_id
    ),
  );
}

async function cortexHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () => isolated(fake),
    releaseAll: () => {
      for (const e of fake.endpoints.values()) e.is_isolated = "AGENT_UNISOLATED";
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("pan_cortex client", async (t) => {
  await runClientContract(t, {
    start: cortexHarness,
    startTwo: { none: "pan_cortex drives one Cortex XDR tenant" },
  });
});

Deno.test("pan_cortex: isolates the endpoint and follows it until Cortex reports it isolated", async () => {
  const lab = await startLab({ pendingReads: 2 });
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["e-0003"]);
    assert.equal(fake.endpoints.get("e-0003")?.is_isolated, "AGENT_ISOLATED");
    const isolate = fake.requests.find((r) => r.path === "/public_api/v1/endpoints/isolate");
    assert.deepEqual(isolate?.body, { request_data: { endpoint_id: "e-0003" } });
    // Every request signed afresh: no nonce twice, and the fake recomputed each signature.
    const nonces = fake.requests.map((r) => r.headers["x-xdr-nonce"]);
    assert.equal(new Set(nonces).size, nonces.length);
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["e-0003", "e-gone"]), [
      "e-0003",
      "e-gone",
    ]);
    assert.equal(fake.endpoints.get("e-0003")?.is_isolated, "AGENT_UNISOLATED");
  } finally {
    await lab.close();
  }
});

Deno.test("pan_cortex: the fake refuses a replayed nonce, a stale timestamp and a wrong signature", async () => {
  await using server = startFakeCortex({ keyId: KEY_ID, key: KEY, endpoints: [WARD_3] });
  const post = (headers: Record<string, string>) =>
    fetch(`${server.url}/public_api/v1/endpoints/get_endpoint/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify({ request_data: {} }),
    }).then(async (r) => [r.status, (await r.json()).reply?.err_msg ?? "ok"]);
  const signed = cortexHeaders(KEY, KEY_ID, true);
  assert.deepEqual(await post(signed), [200, "ok"]);
  assert.deepEqual(await post(signed), [401, "Public API request unauthorized: nonce reused"]);
  const stale = cortexHeaders(KEY, KEY_ID, true, Date.now() - 10 * 60 * 1000);
  assert.deepEqual(await post(stale), [401, "Public API request unauthorized: stale timestamp"]);
  const forged = { ...cortexHeaders(KEY, KEY_ID, true), Authorization: "0".repeat(64) };
  assert.deepEqual(await post(forged), [401, "Public API request unauthorized: wrong signature"]);
  assert.deepEqual(await post(cortexHeaders("other-key", KEY_ID, false)), [
    401,
    "Public API request unauthorized",
  ]);
  assert.deepEqual(await post(cortexHeaders(KEY, KEY_ID, false)), [200, "ok"]);
});

Deno.test("pan_cortex: a wrong key fails with a ClientError that names the secrets, never the key", async () => {
  const lab = await startLab({ raw: { PAN_CORTEX_CORTEX_API_TYPE: "standard" } });
  try {
    const wrong = await panCortex.create(
      CortexConfigSchema.parse({
        PAN_CORTEX_CORTEX_URL: lab.server.url,
        PAN_CORTEX_TASK_POLL_SECONDS: "0.01",
      }),
      { http: HTTP, secret: (_s, key) => Promise.resolve(key === "Key_ID" ? KEY_ID : "bad-key") },
    );
    try {
      const error = await rejectsClientError(wrong.blockHost!(sampleHost()), {
        client: "pan_cortex",
        operation: "blockHost",
      });
      assert.match(error.message, /401.*check the secrets Cortex\/API_Token and Key_ID/);
      assert.ok(!error.message.includes("bad-key"));
      assert.equal(error.status, 401);
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
});

Deno.test("pan_cortex: matching is exact — by IP, narrowed or found by name, never a guess", async () => {
  const twin = (id: string, name: string): CortexEndpoint => ({
    ...WARD_3,
    endpoint_id: id,
    endpoint_name: name,
  });
  const lab = await startLab({
    endpoints: [twin("e-0001", "kiosk-1"), twin("e-0003", "ward-3-pc.hospital.local")],
  });
  try {
    // Two endpoints share the IP: the one named like the host is isolated.
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["e-0003"]);
    const ambiguous = await rejectsClientError(
      lab.client.blockHost!(sampleHost({ name: "unknown-pc" })),
      { operation: "blockHost" },
    );
    assert.match(
      ambiguous.message,
      /2 endpoints match 10\.1\.2\.3 .*\(e-0001 \(kiosk-1\), e-0003 \(ward-3-pc\.hospital\.local\)\); var isolates one endpoint or none/,
    );
    // No endpoint has the IP (it moved): the endpoint named like the host; a substring is no match.
    lab.server.fake.put({
      ...WARD_3,
      endpoint_id: "e-0009",
      endpoint_name: "lab-pc",
      ip: ["10.9.9.9"],
    });
    assert.deepEqual(await lab.client.blockHost!(sampleHost({ ip: "10.7.7.7", name: "lab-pc" })), [
      "e-0009",
    ]);
    assert.deepEqual(await lab.client.blockHost!(sampleHost({ ip: "10.7.7.7", name: "lab" })), []);
  } finally {
    await lab.close();
  }
});

Deno.test("pan_cortex: a disconnected endpoint is not queued for isolation; a pending one is not released", async () => {
  const lab = await startLab({
    endpoints: [{ ...WARD_3, endpoint_status: "DISCONNECTED" }],
    raw: { PAN_CORTEX_TASK_TIMEOUT_SECONDS: "1", PAN_CORTEX_TASK_POLL_SECONDS: "0.05" },
  });
  const { fake } = lab.server;
  try {
    const offline = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(
      offline.message,
      /endpoint e-0003 \(WARD-3-PC\) is not connected, so its isolation would only be queued; the next cycle tries again/,
    );
    assert.ok(!fake.requests.some((r) => r.path.endsWith("/isolate")));
    // Isolated by someone while offline: pending until the agent connects.
    fake.put({
      ...WARD_3,
      endpoint_status: "DISCONNECTED",
      is_isolated: "AGENT_PENDING_ISOLATION",
    });
    const late = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(
      late.message,
      /The isolation of endpoint e-0003 \(WARD-3-PC\) on 127\.0\.0\.1:\d+ was not confirmed within 1 s; the next cycle looks again/,
    );
    const pending = await rejectsClientError(lab.client.unblockHost!(sampleHost(), ["e-0003"]));
    assert.match(pending.message, /e-0003: its isolation is still pending/);
  } finally {
    await lab.close();
  }
});

Deno.test("pan_cortex: TLS is verified; PAN_CORTEX_CA_FILE trusts a private CA", async () => {
  const certs = await makeTestCertificates();
  await using server = startFakeCortex({
    keyId: KEY_ID,
    key: KEY,
    endpoints: [WARD_3],
    tls: certs,
  });
  const context = {
    http: HTTP,
    secret: (_s: string, key: string) => Promise.resolve(key === "Key_ID" ? KEY_ID : KEY),
  };
  const raw = { PAN_CORTEX_CORTEX_URL: server.url, PAN_CORTEX_TASK_POLL_SECONDS: "0.01" };
  const trusting = await panCortex.create(
    CortexConfigSchema.parse({ ...raw, PAN_CORTEX_CA_FILE: certs.caFile }),
    context,
  );
  const untrusting = await panCortex.create(CortexConfigSchema.parse(raw), context);
  try {
    assert.deepEqual(await trusting.blockHost!(sampleHost()), ["e-0003"]);
    await rejectsClientError(untrusting.unblockHost!(sampleHost(), ["e-0003"]));
  } finally {
    await trusting.close?.();
    await untrusting.close?.();
    await certs.cleanup();
  }
});

Deno.test("pan_cortex: configuration keys and errors", () => {
  const problem = (raw: Record<string, string>) => {
    const result = CortexConfigSchema.safeParse(raw);
    assert.ok(!result.success);
    return result.error.issues.map((i) => i.message).join("; ");
  };
  assert.match(problem({}), /PAN_CORTEX_CORTEX_URL is empty/);
  assert.match(
    problem({ PAN_CORTEX_CORTEX_URL: "https://api-x", PAN_CORTEX_CORTEX_API_TYPE: "gold" }),
    /PAN_CORTEX_CORTEX_API_TYPE is "gold"; use standard or advanced/,
  );
  assert.deepEqual(panCortex.secrets().map((s) => `${s.service}/${s.key}`), [
    "Cortex/API_Token",
    "Cortex/Key_ID",
  ]);
  assert.deepEqual(panCortex.aliases, ["cortex"]);
});
