import assert from "node:assert/strict";
import { sophosEdr, SophosEdrConfigSchema } from "../../clients/sophos_edr.ts";
import type { ResponseClient } from "../../engine/client.ts";
import {
  type CentralEndpoint,
  type FakeSophosCentral,
  startFakeSophosCentral,
  TENANT,
} from "../fakes/sophos_central.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import { type ContractHarness, runClientContract } from "./_contract.ts";
import { sampleHost } from "./_entities.ts";
import { type ClientLab, clientLab, endpointHarness, rejectsClientError } from "./_lab.ts";

const ID = "central-client-9";
const SECRET = "s3cr&t+with=specials";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

const WARD_3: CentralEndpoint = {
  id: "b7a3c1d2-0003-4e5f-8a9b-000000000003",
  hostname: "WARD-3-PC",
  ipv4Addresses: ["10.1.2.3"],
  online: true,
  isolated: false,
};

interface Lab extends ClientLab<ResponseClient> {
  readonly server: FakeServer<FakeSophosCentral>;
}

async function startLab(
  options: { endpoints?: CentralEndpoint[]; tokenSeconds?: number; raw?: Record<string, string> } =
    {},
): Promise<Lab> {
  const server = startFakeSophosCentral({
    clientId: ID,
    clientSecret: SECRET,
    endpoints: options.endpoints ?? [WARD_3],
    ...(options.tokenSeconds !== undefined ? { tokenSeconds: options.tokenSeconds } : {}),
  });
  const raw = {
    SOPHOS_EDR_AUTH_URL: `${server.url}/api/v2/oauth2/token`,
    SOPHOS_EDR_WHOAMI_URL: `${server.url}/whoami/v1`,
    SOPHOS_EDR_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const secrets: Record<string, string> = { client_id: ID, client_secret: SECRET };
  const create = async () =>
    await sophosEdr.create(SophosEdrConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    });
  return { server, ...await clientLab(create, () => server.close()) };
}

async function centralHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return endpointHarness(lab, {
    isolated: () =>
      new Set([...fake.endpoints.values()].filter((e) => e.isolated).map((e) => e.id)),
    releaseAll: () => {
      for (const e of fake.endpoints.values()) e.isolated = false;
    },
    failAlways: (status) => fake.failAlways(status),
  });
}

Deno.test("sophos_edr client", async (t) => {
  await runClientContract(t, {
    start: centralHarness,
    startTwo: { none: "sophos_edr drives one Sophos Central tenant" },
  });
});

Deno.test("sophos_edr: tenant login with the secret URL-encoded in the body; isolation followed to isolated", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost!(sampleHost()), [WARD_3.id]);
    assert.equal(fake.endpoints.get(WARD_3.id)?.isolated, true);
    const token = fake.requests.find((r) => r.path === "/api/v2/oauth2/token");
    assert.equal(new URLSearchParams(token?.body).get("client_secret"), SECRET);
    assert.ok(
      fake.requests.filter((r) => r.path.startsWith("/endpoint/")).every((r) =>
        r.headers["x-tenant-id"] === TENANT
      ),
    );
    const isolate = fake.requests.find((r) => r.path === "/endpoint/v1/endpoints/isolation");
    assert.deepEqual(JSON.parse(isolate?.body ?? "{}"), {
      enabled: true,
      ids: [WARD_3.id],
      comment: "Isolated by var (Vectra Automated Response)",
    });
    fake.expireTokens();
    assert.deepEqual(await lab.client.unblockHost!(sampleHost(), [WARD_3.id]), [WARD_3.id]);
    assert.equal(fake.tokens, 2, "a refused token is renewed once");
    assert.equal(fake.endpoints.get(WARD_3.id)?.isolated, false);
  } finally {
    await lab.close();
  }
});

Deno.test("sophos_edr: partner credentials, a wrong secret and a partial hostname are refused", async () => {
  const lab = await startLab({
    endpoints: [{ ...WARD_3, hostname: "ward-3-pc-old", ipv4Addresses: ["10.9.9.9"] }],
  });
  const { fake } = lab.server;
  try {
    assert.deepEqual(
      await lab.client.blockHost!(sampleHost()),
      [],
      "ward-3-pc-old is not ward-3-pc",
    );
    fake.partner = true;
    fake.expireTokens();
    const partner = await rejectsClientError(lab.client.blockHost!(sampleHost()));
    assert.match(
      partner.message,
      /the credential is a partner credential; var needs a tenant credential/,
    );
    const wrong = await sophosEdr.create(
      SophosEdrConfigSchema.parse({
        SOPHOS_EDR_AUTH_URL: `${lab.server.url}/api/v2/oauth2/token`,
        SOPHOS_EDR_WHOAMI_URL: `${lab.server.url}/whoami/v1`,
      }),
      { http: HTTP, secret: () => Promise.resolve("nope") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost!(sampleHost()));
      assert.match(
        denied.message,
        /the token request answered 401; check the secrets SophosEDR\/client_id and client_secret/,
      );
    } finally {
      await wrong.close?.();
    }
  } finally {
    await lab.close();
  }
  assert.deepEqual(sophosEdr.secrets().map((s) => `${s.service}/${s.key}`), [
    "SophosEDR/client_id",
    "SophosEDR/client_secret",
  ]);
  const config = SophosEdrConfigSchema.parse({});
  assert.equal(config.authUrl, "https://id.sophos.com/api/v2/oauth2/token");
});
