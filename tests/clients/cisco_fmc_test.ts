import assert from "node:assert/strict";
import { ciscoFmc, type FmcClient, FmcConfigSchema } from "../../clients/cisco_fmc.ts";
import { type FakeFmc, type FakeFmcOptions, startFakeFmc } from "../fakes/cisco_fmc.ts";
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
const USER = { username: "var-api", password: "fmc-Pa55-71" };

interface Lab extends ClientLab<FmcClient> {
  readonly server: FakeServer<FakeFmc>;
}

async function startLab(
  options: { fake?: Partial<FakeFmcOptions>; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const server = startFakeFmc({ ...USER, ...options.fake });
  const raw = {
    CISCO_FMC_URL: `${server.url}/`,
    CISCO_FMC_BLOCK_GROUP: "Vectra-Block",
    CISCO_FMC_DEVICES: "ftd-ward,ftd-core",
    CISCO_FMC_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const secrets: Record<string, string> = { Username: USER.username, Password: USER.password };
  const create = async () =>
    await ciscoFmc.create(FmcConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    }) as FmcClient;
  return { server, ...await clientLab(create, () => server.close()) };
}

/** What a device enforces of a kind, as last deployed: `<group>/<object name>`. */
function deployed(fake: FakeFmc, kind: EnforcedKind, device = "ftd-ward"): Set<string> {
  return groupMembersOf(fake.deployed(device), kind);
}

async function fmcHarness(): Promise<ContractHarness> {
  const lab = await startLab();
  const fake = lab.server.fake;
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(deployed(fake, kind)),
    vanish: (kind) => {
      for (const group of fake.groups.values()) {
        group.objects = group.objects.filter((id) =>
          !fake.objects.get(id)?.name.startsWith(OBJECT_PREFIX[kind])
        );
      }
      for (const [id, object] of fake.objects) {
        if (object.name.startsWith(OBJECT_PREFIX[kind])) fake.objects.delete(id);
      }
      for (const device of fake.devices) {
        for (const [group, members] of fake.deployed(device)) {
          fake.deployed(device).set(
            group,
            members.filter((m) => !m.startsWith(OBJECT_PREFIX[kind])),
          );
        }
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

/** `METHOD path` of each request after the login. */
function calls(fake: FakeFmc): string[] {
  return fake.requests.map((r) =>
    `${r.method} ${r.path.replace(/^\/api\/fmc_config\/v1\/domain\/[^/]+/, "")}`
  );
}

Deno.test("cisco_fmc client", async (t) => {
  await runClientContract(t, {
    start: fmcHarness,
    startTwo: {
      none: "cisco_fmc drives one management center; its devices are deployment targets",
    },
  });
});

Deno.test("cisco_fmc: a batch writes each group once and deploys once; nothing to deploy, no deployment", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    const batch = lab.client.stage();
    await Promise.all(
      ["10.1.2.3", "10.1.2.4"].map((ip) => batch.client.blockHost!(sampleHost({ ip }))),
    );
    assert.equal(deployed(fake, "host").size, 0, "nothing enforced before the deployment");
    await batch.commit();
    for (const device of ["ftd-ward", "ftd-core"]) {
      assert.deepEqual([...deployed(fake, "host", device)].sort(), [
        "Vectra-Block/var-host-10.1.2.3",
        "Vectra-Block/var-host-10.1.2.4",
      ]);
    }
    assert.equal(calls(fake).filter((c) => c === "POST /deployment/deploymentrequests").length, 1);
    const before = fake.requests.length;
    await lab.client.blockHost(sampleHost({ ip: "10.1.2.3" }));
    assert.ok(!calls(fake).slice(before).includes("POST /deployment/deploymentrequests"));
    assert.ok(
      fake.requests.every((r) => !r.search.includes("access-") && !r.path.includes("access-")),
    );
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_fmc: a failed deployment fails the block; the retry deploys what is pending", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    fake.failDeployOn.add("ftd-core");
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()), {
      operation: "commit",
    });
    assert.match(
      error.message,
      /cannot deploy to ftd-ward, ftd-core: task task-\d+ ended Failed \(Deployment failed on ftd-core\)/,
    );
    fake.failDeployOn.clear();
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual([...deployed(fake, "host", "ftd-core")], ["Vectra-Block/var-host-10.1.2.3"]);
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_fmc: others' members stay; the original's recorded UUIDs leave the group, their objects stay", async () => {
  const lab = await startLab();
  const { fake } = lab.server;
  try {
    const legacy = {
      id: "legacy-uuid-1",
      type: "Host" as const,
      name: "10.1.2.3",
      value: "10.1.2.3",
      description: "Host object created by Vectra Integration.",
    };
    const manual = {
      id: "manual-1",
      type: "Host" as const,
      name: "jump-host",
      value: "192.0.2.1",
      description: "",
    };
    fake.objects.set(legacy.id, legacy);
    fake.objects.set(manual.id, manual);
    fake.group("Vectra-Block")!.objects = [legacy.id, manual.id];
    await lab.client.blockHost(sampleHost({ ip: "10.1.2.4" }));
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), ["legacy-uuid-1", "10.1.2.4"]), [
      "legacy-uuid-1",
      "10.1.2.4",
    ]);
    assert.deepEqual(fake.group("Vectra-Block")!.objects, ["manual-1"]);
    assert.ok(fake.objects.has("legacy-uuid-1"), "the original's object is not var's to delete");
    assert.ok(![...fake.objects.values()].some((o) => o.name === "var-host-10.1.2.4"));
  } finally {
    await lab.close();
  }
});

Deno.test("cisco_fmc: the token is refreshed three times, then generated anew; a missing group is named", async () => {
  const lab = await startLab({ fake: { tokenSeconds: 3600 } });
  const { fake } = lab.server;
  try {
    await lab.client.blockHost(sampleHost());
    for (let i = 0; i < 4; i++) {
      fake.expireTokens();
      await lab.client.list();
    }
    assert.equal(fake.refreshed, 3);
    assert.equal(fake.generated, 2);
    assert.ok(
      fake.requests.every((r) => r.path.endsWith("generatetoken") || !r.headers.authorization),
    );
  } finally {
    await lab.close();
  }
  const missing = await startLab({ raw: { CISCO_FMC_BLOCK_GROUP: "No-Such-Group" } });
  try {
    const error = await rejectsClientError(missing.client.blockHost(sampleHost()));
    assert.match(
      error.message,
      /network group "No-Such-Group" does not exist on 127\.0\.0\.1:\d+; create it/,
    );
  } finally {
    await missing.close();
  }
});

Deno.test("cisco_fmc: configuration errors and secrets", () => {
  const result = FmcConfigSchema.safeParse({ CISCO_FMC_URL: "https://fmc" });
  assert.ok(!result.success);
  const messages = result.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
  assert.ok(
    messages.some((m) => m.startsWith("CISCO_FMC_BLOCK_GROUP: CISCO_FMC_BLOCK_GROUP is empty")),
  );
  assert.ok(messages.some((m) => m.startsWith("CISCO_FMC_DEVICES: CISCO_FMC_DEVICES is empty")));
  assert.deepEqual(ciscoFmc.secrets().map((s) => `${s.service}/${s.key}`), [
    "Cisco_FMC/Username",
    "Cisco_FMC/Password",
  ]);
  assert.deepEqual(ciscoFmc.aliases, ["fmc"]);
});
