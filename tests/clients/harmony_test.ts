import assert from "node:assert/strict";
import { harmony, HarmonyConfigSchema } from "../../clients/harmony.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { type FakeHarmony, type HarmonyComputer, startFakeHarmony } from "../fakes/harmony.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const CLIENT_ID = "infinity-client-4d";
const ACCESS_KEY = "infinity-access-Jk2";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

const WARD_3: HarmonyComputer = {
  computerId: "c-0003",
  computerName: "WARD-3-PC",
  computerIP: "10.1.2.3",
  isolationStatus: "Not Isolated",
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeHarmony>;
}

async function startLab(
  options: {
    computers?: HarmonyComputer[];
    raw?: Record<string, string>;
    tokenSeconds?: number;
    jobPolls?: number;
  } = {},
): Promise<Lab> {
  const server = startFakeHarmony({
    clientId: CLIENT_ID,
    accessKey: ACCESS_KEY,
    computers: options.computers ?? [WARD_3],
    ...(options.tokenSeconds !== undefined ? { tokenSeconds: options.tokenSeconds } : {}),
    ...(options.jobPolls !== undefined ? { jobPolls: options.jobPolls } : {}),
  });
  const raw = {
    HARMONY_AUTH_URL: `${server.url}/auth/external`,
    HARMONY_BASE_URL: server.url,
    HARMONY_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const secrets: Record<string, string> = { Client_ID: CLIENT_ID, API_Key: ACCESS_KEY };
  const create = async () =>
    await harmony.create(HarmonyConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

function isolated(fake: FakeHarmony): Set<string> {
  return new Set(
    [...fake.computers.values()].filter((c) => c.isolationStatus === "Isolated").map((c) =>
      c.computerId
    ),
  );
}

async function harmonyHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () => isolated(fake),
    releaseAll: () => {
      for (const c of fake.computers.values()) c.isolationStatus = "Not Isolated";
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("harmony client", async (t) => {
  await runClientContract(t, {
    start: harmonyHarness,
    startTwo: { none: "harmony drives one Infinity Portal tenant" },
  });
});

Deno.test("harmony: isolation runs as a job, confirmed when it is done; de-isolation too", async () => {
  const lab = await startLab({ jobPolls: 2 });
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["c-0003"]);
    assert.equal(fake.computers.get("c-0003")?.isolationStatus, "Isolated");
    const isolate = fake.requests.find((r) => r.path.endsWith("/v1/remediation/isolate"));
    assert.deepEqual(isolate?.body, {
      comment: "Vectra Automated Response (var) - Isolated",
      targets: { include: { computers: [{ id: "c-0003" }] } },
    });
    assert.equal(isolate?.headers["x-mgmt-run-as-job"], "on");
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), ["c-0003"], "already isolated");
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), ["c-0003", "c-gone"]), [
      "c-0003",
      "c-gone",
    ]);
    assert.equal(fake.computers.get("c-0003")?.isolationStatus, "Not Isolated");
    assert.equal(fake.logins, 1, "one login serves every call while the token lasts");
    const leaks = fake.requests.filter((r) => JSON.stringify(r).includes(ACCESS_KEY));
    assert.deepEqual(leaks.map((r) => r.path), ["/auth/external"]);
  } finally {
    await lab.close();
  }
});

Deno.test("harmony: an expired token is renewed once, a failed job is a ClientError, names are exact", async () => {
  const lab = await startLab({
    computers: [WARD_3, {
      ...WARD_3,
      computerId: "c-0099",
      computerName: "ward-3-pc-old",
      computerIP: "10.9.9.9",
    }],
  });
  const { fake } = lab.server;
  try {
    await lab.client.blockHost!(sampleHost());
    fake.expireTokens();
    await lab.client.unblockHost!(sampleHost(), ["c-0003"]);
    assert.equal(fake.logins, 2);
    fake.failJobsFor.add("c-0003");
    const failed = await rejectsClientError(lab.client.blockHost!(sampleHost()), {
      client: "harmony",
      operation: "blockHost",
    });
    assert.match(
      failed.message,
      /cannot isolate computer c-0003: job job-\d+ ended FAILED \(computer c-0003 failed\)/,
    );
    fake.failJobsFor.clear();
    // The IP moved: the computer is found by its exact name, never by a longer one.
    assert.deepEqual(
      await lab.client.blockHost!(sampleHost({ ip: "10.7.7.7", name: "ward-3" })),
      [],
    );
  } finally {
    await lab.close();
  }
});

Deno.test("harmony: a job that never ends fails at the deadline; bad keys are named", async () => {
  const lab = await startLab({
    jobPolls: 1000,
    raw: { HARMONY_TASK_TIMEOUT_SECONDS: "1", HARMONY_TASK_POLL_SECONDS: "0.05" },
  });
  try {
    const late = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(late.message, /job job-\d+ did not end within 1 s; the next cycle looks again/);
    const wrong = await harmony.create(
      HarmonyConfigSchema.parse({
        HARMONY_AUTH_URL: `${lab.server.url}/auth/external`,
        HARMONY_BASE_URL: lab.server.url,
      }),
      { http: HTTP, secret: () => Promise.resolve("wrong") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost!(sampleHost()));
      assert.match(
        denied.message,
        /it refused the API key; check the secrets Harmony\/Client_ID and API_Key/,
      );
      assert.ok(!denied.message.includes("wrong"));
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
});

Deno.test("harmony: configuration keys, errors and secrets", () => {
  const problem = (raw: Record<string, string>) => {
    const result = HarmonyConfigSchema.safeParse(raw);
    assert.ok(!result.success);
    return result.error.issues.map((i) => i.message).join("; ");
  };
  assert.match(
    problem({ HARMONY_BASE_URL: "https://gw" }),
    /HARMONY_AUTH_URL "" is not an http or https URL without credentials/,
  );
  assert.match(
    problem({ HARMONY_AUTH_URL: "https://gw/auth/external" }),
    /HARMONY_BASE_URL is empty/,
  );
  const config = HarmonyConfigSchema.parse({
    HARMONY_AUTH_URL: "https://cloudinfra-gw-us.portal.checkpoint.com/auth/external",
    HARMONY_BASE_URL: "cloudinfra-gw-us.portal.checkpoint.com",
  });
  assert.equal(config.baseUrl, "https://cloudinfra-gw-us.portal.checkpoint.com");
  assert.equal(config.verifyTls, true);
  assert.deepEqual(harmony.secrets().map((s) => `${s.service}/${s.key}`), [
    "Harmony/Client_ID",
    "Harmony/API_Key",
  ]);
});
