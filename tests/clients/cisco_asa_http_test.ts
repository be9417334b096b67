import assert from "node:assert/strict";
import { type AsaClient, AsaConfigSchema, ciscoAsaHttp } from "../../clients/cisco_asa_http.ts";
import { type FakeAsa, type FakeAsaOptions, startFakeAsa } from "../fakes/cisco_asa.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import {
  type ContractHarness,
  type EnforcedKind,
  groupMembersOf,
  OBJECT_PREFIX,
  runClientContract,
} from "./_contract.ts";
import { sampleHost, sampleSet } from "./_entities.ts";
import { type ClientLab, clientLab, rejectsClientError } from "./_lab.ts";

const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };
const USER = { username: "var-admin", password: "asa/Pa55 word?" };

interface Lab extends ClientLab<AsaClient> {
  readonly server: FakeServer<FakeAsa>;
}

async function startLab(
  options: { fake?: Partial<FakeAsaOptions>; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const server = startFakeAsa({ ...USER, ...options.fake });
  const raw = {
    CISCO_ASA_HTTP_URL: server.url,
    CISCO_ASA_HTTP_BLOCK_GROUP: "VECTRA-BLOCK",
    CISCO_ASA_HTTP_EXTERNAL_BLOCK_GROUP: "VECTRA-EXTERNAL",
    ...options.raw,
  };
  const secrets: Record<string, string> = { Username: USER.username, Password: USER.password };
  const create = async () =>
    await ciscoAsaHttp.create(AsaConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    }) as AsaClient;
  return { server, ...await clientLab(create, () => server.close()) };
}

/** What the running configuration enforces of a kind: `<group>/<object>`. */
function enforced(fake: FakeAsa, kind: EnforcedKind): Set<string> {
  const objects = [...fake.running.groups].map(([group, members]) =>
    [group, members.map((line) => line.replace(/^network-object object /, ""))] as const
  );
  return groupMembersOf(objects, kind);
}

async function asaHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(enforced(fake, kind)),
    vanish: (kind) => {
      for (const [group, members] of fake.running.groups) {
        fake.running.groups.set(group, members.filter((m) => !m.includes(OBJECT_PREFIX[kind])));
      }
      for (const name of [...fake.running.objects.keys()]) {
        if (name.startsWith(OBJECT_PREFIX[kind])) fake.running.objects.delete(name);
      }
      return Promise.resolve();
    },
    faults: {
      serverError: () => fake.failAlways(503),
      down: () => lab.server.down(),
    },
    another: () => lab.another(),
    close: () => lab.close(),
  };
}

Deno.test("cisco_asa_http client", async (t) => {
  await runClientContract(t, {
    start: asaHarness,
    startTwo: { none: "cisco_asa_http drives one ASA" },
  });
});

Deno.test("cisco_asa_http: only CLI lines are encoded, credentials never in the URL, and every batch is saved", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    const add = fake.requests.find((r) => r.rawPath.startsWith("/admin/config/"));
    assert.equal(
      add?.rawPath.split("/").slice(0, 4).join("/"),
      "/admin/config/object%20network%20var-host-10.1.2.3",
    );
    assert.ok(
      fake.requests.every((r) => r.userAgent === "ASDM" && !r.rawPath.includes("var-admin")),
    );
    assert.deepEqual(fake.saved.groups.get("VECTRA-BLOCK"), [
      "network-object object var-host-10.1.2.3",
    ]);
    assert.equal(fake.saved.objects.get("var-host-10.1.2.3")?.address, "host 10.1.2.3");
    const outcomes = await lab.client.blockStaticIps({ dstIps: ["198.51.100.0/24"] });
    assert.deepEqual(outcomes, [{ entry: "198.51.100.0/24", ok: true }]);
    assert.equal(
      fake.saved.objects.get("var-static-198.51.100.0_24")?.address,
      "subnet 198.51.100.0 255.255.255.0",
    );
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_asa_http: CLI errors in 200 answers fail the block; a failed write memory fails the batch and is owed", async () => {
  const lab = await startLab({ raw: { CISCO_ASA_HTTP_BLOCK_GROUP: "NO-SUCH-GROUP" } });
  try {
    const missing = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      missing.message,
      /object-group network NO-SUCH-GROUP does not exist on 127\.0\.0\.1:\d+/,
    );
  } finally {
    await lab.close();
  }
  const saving = await startLab();
  const { fake } = saving.server;
  try {
    fake.failWrite = true;
    const unsaved = await rejectsClientError(saving.client.blockHost(sampleHost()), {
      operation: "commit",
    });
    assert.match(
      unsaved.message,
      /cannot save the configuration \(write memory\): the ASA answered ERROR: Unable to write to flash: disk full/,
    );
    fake.failWrite = false;
    // Nothing changes now, but the owed write memory is made.
    assert.deepEqual(await saving.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual(fake.saved.groups.get("VECTRA-BLOCK"), [
      "network-object object var-host-10.1.2.3",
    ]);
  } finally {
    await saving.close();
  }
});

Deno.test("cisco_asa_http: unblock removes the original's host line for a recorded IP and leaves others' members", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    fake.running.groups.set("VECTRA-BLOCK", [
      "network-object host 10.1.2.3",
      "network-object host 192.0.2.1",
    ]);
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), ["10.1.2.3"]), ["10.1.2.3"]);
    assert.deepEqual(fake.running.groups.get("VECTRA-BLOCK"), ["network-object host 192.0.2.1"]);
    assert.deepEqual(fake.saved.groups.get("VECTRA-BLOCK"), ["network-object host 192.0.2.1"]);
    fake.running.objects.set("var-host-10.9.9.9", {
      address: "host 10.9.9.9",
      description: "by hand",
    });
    const error = await rejectsClientError(lab.client.blockHost(sampleHost({ ip: "10.9.9.9" })));
    assert.match(error.message, /object network var-host-10\.9\.9\.9 exists but is not var's/);
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_asa_http: a User-Agent the ASA does not allow is refused; configuration errors", async () => {
  const lab = await startLab({ raw: { CISCO_ASA_HTTP_USER_AGENT: "curl" } });
  try {
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.equal(error.status, 401);
  } finally {
    await lab.close();
  }
  const hostsOnly = AsaConfigSchema.parse({
    CISCO_ASA_HTTP_URL: "https://asa",
    CISCO_ASA_HTTP_BLOCK_GROUP: "B",
  });
  assert.equal(hostsOnly.destinationGroup, null);
  const bad = AsaConfigSchema.safeParse({
    CISCO_ASA_HTTP_URL: "https://asa",
    CISCO_ASA_HTTP_BLOCK_GROUP: "B/no shutdown",
  });
  assert.ok(!bad.success);
  assert.match(
    bad.error.issues[0]?.message ?? "",
    /CISCO_ASA_HTTP_BLOCK_GROUP is "B\/no shutdown"; name an object-group network/,
  );
  assert.deepEqual(ciscoAsaHttp.aliases, ["asa_http"]);
  assert.deepEqual(ciscoAsaHttp.secrets().map((s) => `${s.service}/${s.key}`), [
    "Cisco_ASA_HTTP/Username",
    "Cisco_ASA_HTTP/Password",
  ]);
});
