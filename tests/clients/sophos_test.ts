import assert from "node:assert/strict";
import { sophos, type SophosClient, SophosConfigSchema } from "../../clients/sophos.ts";
import { type FakeSophos, type FakeSophosOptions, startFakeSophos } from "../fakes/sophos.ts";
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
/** A password with every character XML and URLs must escape. */
const USER = { username: "var-api", password: `So<ph>os&"pw'/?=` };

interface Lab extends ClientLab<SophosClient> {
  readonly servers: FakeServer<FakeSophos>[];
}

async function startLab(
  count = 1,
  options: { fake?: Partial<FakeSophosOptions>; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const servers = Array.from(
    { length: count },
    () => startFakeSophos({ ...USER, ...options.fake }),
  );
  const raw = {
    SOPHOS_HOSTNAME: servers.map(() => "http://127.0.0.1").join(","),
    SOPHOS_PORT: servers.map((s) => String(s.port)).join(","),
    ...options.raw,
  };
  const secrets: Record<string, string> = { Username: USER.username, Password: USER.password };
  const create = async () =>
    await sophos.create(SophosConfigSchema.parse(raw), {
      http: HTTP,
      secret: (_service, key) => Promise.resolve(secrets[key] ?? ""),
    }) as SophosClient;
  const lab = await clientLab(create, async () => {
    for (const server of servers) await server.close();
  });
  return { servers, ...lab };
}

function enforced(fake: FakeSophos, kind: EnforcedKind): Set<string> {
  return groupMembersOf([...fake.groups].map(([group, { hosts }]) => [group, hosts]), kind);
}

async function harness(count: number) {
  const lab = await startLab(count);
  const on = (device: 0 | 1) => (lab.servers[device] as FakeServer<FakeSophos>);
  const first = on(0);
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind: EnforcedKind) => Promise.resolve(enforced(first.fake, kind)),
    enforcedOn: (device: 0 | 1, kind: EnforcedKind) =>
      Promise.resolve(enforced(on(device).fake, kind)),
    vanish: (kind: EnforcedKind) => {
      for (const group of first.fake.groups.values()) {
        group.hosts = group.hosts.filter((h) => !h.startsWith(OBJECT_PREFIX[kind]));
      }
      for (const name of [...first.fake.hosts.keys()]) {
        if (name.startsWith(OBJECT_PREFIX[kind])) first.fake.hosts.delete(name);
      }
      return Promise.resolve();
    },
    failSecond: () => on(1).fake.failAlways(503),
    slowSecond: (ms: number) => on(1).fake.stall(ms),
    faults: {
      serverError: () => first.fake.failAlways(503),
      down: () => first.down(),
    },
    another: () => lab.another(),
    close: () => lab.close(),
  } satisfies ContractHarness & Record<string, unknown>;
}

Deno.test("sophos client", async (t) => {
  await runClientContract(t, { start: () => harness(1), startTwo: () => harness(2) });
});

Deno.test("sophos: credentials only in the POST body, XML escaped; IP hosts in the kind's group", async () => {
  const lab = await startLab();
  const fake = (lab.servers[0] as FakeServer<FakeSophos>).fake;
  try {
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.ok(
      fake.requests.every((r) => r.method === "POST" && r.url === "/webconsole/APIController"),
    );
    assert.ok(
      fake.requests[0]?.xml.includes(
        '<Password passwordform="plain">So&lt;ph&gt;os&amp;&quot;pw&apos;/?=</Password>',
      ),
    );
    assert.deepEqual(fake.groups.get("Vectra Blocked Hosts")?.hosts, ["var-host-10.1.2.3"]);
    assert.equal(fake.hosts.get("var-host-10.1.2.3")?.HostType, "IP");
    const outcomes = await lab.client.blockStaticIps({
      dstIps: ["198.51.100.0/24", "2001:db8::7"],
    });
    assert.deepEqual(outcomes.map((o) => o.ok), [true, true]);
    assert.deepEqual(fake.groups.get("Vectra Blocked Destinations6")?.hosts, [
      "var-static-2001:db8::7",
    ]);
    assert.equal(fake.hosts.get("var-static-198.51.100.0_24")?.Subnet, "255.255.255.0");
  } finally {
    await lab.close();
  }
});

Deno.test("sophos: others' hosts stay in the group; the original's IP list loses the recorded IP", async () => {
  const lab = await startLab(1, {
    fake: {
      hosts: [
        {
          Name: "Vectra - Sophos Integration",
          IPFamily: "IPv4",
          HostType: "IPList",
          ListOfIPAddresses: "10.1.2.3,10.9.9.9",
        },
        { Name: "jump-host", IPFamily: "IPv4", HostType: "IP", IPAddress: "192.0.2.1" },
      ],
    },
  });
  const fake = (lab.servers[0] as FakeServer<FakeSophos>).fake;
  try {
    fake.groups.get("Vectra Blocked Hosts")!.hosts = ["jump-host"];
    await lab.client.blockHost(sampleHost());
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), ["10.1.2.3"]), ["10.1.2.3"]);
    assert.deepEqual(fake.groups.get("Vectra Blocked Hosts")?.hosts, ["jump-host"]);
    assert.equal(fake.hosts.get("Vectra - Sophos Integration")?.ListOfIPAddresses, "10.9.9.9");
    assert.ok(!fake.hosts.has("var-host-10.1.2.3"));
    const last = await rejectsClientError(
      lab.client.unblockHost(sampleHost({ ip: "10.9.9.9" }), ["10.9.9.9"]),
    );
    assert.match(
      last.message,
      /10\.9\.9\.9 is the last address of the IP list "Vectra - Sophos Integration"/,
    );
  } finally {
    await lab.close();
  }
});

Deno.test("sophos: a refused login and a missing group are ClientErrors that say why", async () => {
  const lab = await startLab(1, { fake: { groups: { Other: "IPv4" } } });
  try {
    const missing = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      missing.message,
      /IP host group "Vectra Blocked Hosts" does not exist on 127\.0\.0\.1/,
    );
    const wrong = await sophos.create(
      SophosConfigSchema.parse({
        SOPHOS_HOSTNAME: "http://127.0.0.1",
        SOPHOS_PORT: String(lab.servers[0]?.port),
      }),
      { http: HTTP, secret: () => Promise.resolve("nope") },
    );
    try {
      const denied = await rejectsClientError(wrong.blockHost(sampleHost()));
      assert.match(
        denied.message,
        /Sophos answered "Authentication Failure"; check the secrets Sophos\/Username and Password/,
      );
    } finally {
      await wrong.close();
    }
  } finally {
    await lab.close();
  }
  const config = SophosConfigSchema.parse({ SOPHOS_HOSTNAME: "fw.example.com" });
  assert.equal(config.firewalls[0]?.port, 4444);
  assert.equal(config.encrypted, false);
  assert.deepEqual(sophos.secrets().map((s) => `${s.service}/${s.key}`), [
    "Sophos/Username",
    "Sophos/Password",
  ]);
});
