import assert from "node:assert/strict";
import {
  fortimanager,
  type FortiManagerClient,
  type FortiManagerConfig,
  FortiManagerConfigSchema,
} from "../../clients/fortimanager.ts";
import {
  type FakeFortiManager,
  type FakeFortiManagerOptions,
  startFakeFortiManager,
} from "../fakes/fortimanager.ts";
import type { FakeServer } from "../fakes/_serve.ts";
import {
  type EnforcedKind,
  groupMembersOf,
  OBJECT_PREFIX,
  runClientContract,
  type TwoDeviceHarness,
} from "./_contract.ts";
import { sampleDetection, sampleHost, sampleSet } from "./_entities.ts";
import { type ClientLab, clientLab, rejectsClientError } from "./_lab.ts";

const PASSWORD = "fmg-Pa55-4u!";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

function parseConfig(raw: Record<string, string>): FortiManagerConfig {
  return FortiManagerConfigSchema.parse(raw);
}

/** Fake FortiManagers and one client of all of them. */
interface Lab extends ClientLab<FortiManagerClient> {
  readonly servers: FakeServer<FakeFortiManager>[];
  /** The secrets the clients looked up, as `service/key`. */
  readonly lookups: string[];
}

async function startLab(
  count = 1,
  options: { fake?: Partial<FakeFortiManagerOptions>; raw?: Record<string, string> } = {},
): Promise<Lab> {
  const servers = Array.from(
    { length: count },
    () => startFakeFortiManager({ users: { apiadmin: PASSWORD }, ...options.fake }),
  );
  const lookups: string[] = [];
  const raw = {
    FORTIMANAGER_URLS: servers.map((s) => s.url).join(","),
    FORTIMANAGER_INSTALL_DEVICES: "fgt-ward,fgt-core/root",
    FORTIMANAGER_TASK_POLL_SECONDS: "0.01",
    ...options.raw,
  };
  const create = async () =>
    await fortimanager.create(parseConfig(raw), {
      http: HTTP,
      secret: (service, key) => {
        lookups.push(`${service}/${key}`);
        return Promise.resolve(PASSWORD);
      },
    }) as FortiManagerClient;
  const lab = await clientLab(create, async () => {
    for (const server of servers) await server.close();
  });
  return { servers, lookups, ...lab };
}

/** What a managed device enforces of a kind, as last installed: `<group>/<name>`. */
function installed(fake: FakeFortiManager, kind: EnforcedKind, device = "fgt-ward/root") {
  return groupMembersOf(fake.installed(device), kind);
}

/** Deletes a kind's members and objects behind the client's back, and installs that. */
function vanish(fake: FakeFortiManager, kind: EnforcedKind): void {
  for (const groups of [fake.db.groups, fake.db.groups6]) {
    for (const [group, members] of groups) {
      groups.set(group, members.filter((m) => !m.startsWith(OBJECT_PREFIX[kind])));
    }
  }
  for (const addresses of [fake.db.addresses, fake.db.addresses6]) {
    for (const name of [...addresses.keys()]) {
      if (name.startsWith(OBJECT_PREFIX[kind])) addresses.delete(name);
    }
  }
  for (const device of ["fgt-ward/root", "fgt-core/root"]) {
    for (const [group, members] of fake.installed(device)) {
      fake.installed(device).set(group, members.filter((m) => !m.startsWith(OBJECT_PREFIX[kind])));
    }
  }
}

async function harness(count: number): Promise<TwoDeviceHarness> {
  const lab = await startLab(count);
  const on = (device: 0 | 1) => lab.servers[device] as FakeServer<FakeFortiManager>;
  const first = on(0);
  return {
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(installed(first.fake, kind)),
    enforcedOn: (device, kind) => Promise.resolve(installed(on(device).fake, kind)),
    vanish: (kind) => Promise.resolve(vanish(first.fake, kind)),
    failSecond: () => on(1).fake.failAlways(503),
    slowSecond: (ms) => on(1).fake.stall(ms),
    faults: {
      serverError: () => first.fake.failAlways(503),
      down: () => first.down(),
    },
    another: () => lab.another(),
    close: () => lab.close(),
  };
}

/** `method url` of each request the fake received. */
function calls(fake: FakeFortiManager): string[] {
  return fake.requests.map((r) => `${r.method} ${r.url}`);
}

Deno.test("fortimanager client", async (t) => {
  await runClientContract(t, { start: () => harness(1), startTwo: () => harness(2) });
});

Deno.test("fortimanager: one session per cycle under the workspace lock, one commit and one install per batch", async () => {
  const lab = await startLab(1, { fake: { workspaceMode: true } });
  const fake = (lab.servers[0] as FakeServer<FakeFortiManager>).fake;
  try {
    const batch = lab.client.stage();
    await Promise.all([
      batch.client.blockHost!(sampleHost({ ip: "10.1.2.3" })),
      batch.client.blockHost!(sampleHost({ ip: "10.1.2.4" })),
      batch.client.blockDetection!(sampleDetection()),
    ]);
    assert.equal(installed(fake, "host").size, 0, "nothing is enforced before the commit");
    assert.deepEqual(fake.db.groups.get("Blocked_Vectra_IPs"), [], "nor committed");
    await batch.commit();
    assert.deepEqual([...installed(fake, "host", "fgt-core/root")].sort(), [
      "Blocked_Vectra_IPs/var-host-10.1.2.3",
      "Blocked_Vectra_IPs/var-host-10.1.2.4",
    ]);
    assert.deepEqual([...installed(fake, "detection")].sort(), [
      "Blocked_Vectra_Destinations/var-detection-198.51.100.7",
      "Blocked_Vectra_Destinations/var-detection-203.0.113.9",
    ]);
    const sent = calls(fake);
    assert.equal(sent.filter((c) => c === "exec /sys/login/user").length, 1);
    assert.equal(sent.filter((c) => c.endsWith("/workspace/lock")).length, 1);
    assert.equal(sent.filter((c) => c.endsWith("/workspace/commit")).length, 1);
    assert.equal(sent.filter((c) => c === "exec /securityconsole/install/package").length, 1);
    const install = fake.requests.find((r) => r.url === "/securityconsole/install/package");
    assert.deepEqual(install?.data, {
      adom: "vectra_adom",
      pkg: "vectra_policy",
      scope: [{ name: "fgt-ward", vdom: "root" }, { name: "fgt-core", vdom: "root" }],
    });
    await lab.client.endCycle();
    assert.deepEqual(calls(fake).slice(-2), [
      "exec /dvmdb/adom/vectra_adom/workspace/unlock",
      "exec /sys/logout",
    ]);
    assert.equal(fake.sessions, 0);
    assert.deepEqual(lab.lookups, [`${lab.servers[0]?.url}/password`]);
    const leaks = fake.requests.filter((r) => r.url !== "/sys/login/user")
      .filter((r) => JSON.stringify(r.body).includes(PASSWORD));
    assert.deepEqual(leaks, []);
  } finally {
    await lab.close();
  }
});

Deno.test("fortimanager: a block counts only once every device installed it; no install without a reason", async () => {
  const lab = await startLab();
  const fake = (lab.servers[0] as FakeServer<FakeFortiManager>).fake;
  try {
    fake.failInstallOn.add("fgt-core/root");
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      error.message,
      /^Cannot commit the staged changes on fortimanager: 127\.0\.0\.1:\d+: cannot install policy package "vectra_policy" on fgt-ward, fgt-core: task \d+ ended with errors \(fgt-core\/root: install failed: policy conflicts\)$/,
    );
    fake.failInstallOn.clear();
    // The object is in the ADOM already: nothing changes, but fgt-core lags, so it installs.
    let before = calls(fake).length;
    await lab.client.blockHost(sampleHost());
    assert.ok(calls(fake).slice(before).includes("exec /securityconsole/install/package"));
    assert.deepEqual([...installed(fake, "host", "fgt-core/root")], [
      "Blocked_Vectra_IPs/var-host-10.1.2.3",
    ]);
    before = calls(fake).length;
    await lab.client.blockHost(sampleHost());
    assert.ok(!calls(fake).slice(before).includes("exec /securityconsole/install/package"));
    fake.reportsPackageStatus = false;
    before = calls(fake).length;
    await lab.client.blockHost(sampleHost());
    assert.ok(
      calls(fake).slice(before).includes("exec /securityconsole/install/package"),
      "a FortiManager that cannot tell gets an install",
    );
  } finally {
    await lab.close();
  }
});

Deno.test("fortimanager: without the member sub-URL, var writes the member list whole and keeps others' members", async () => {
  const lab = await startLab();
  const fake = (lab.servers[0] as FakeServer<FakeFortiManager>).fake;
  try {
    fake.memberSubUrl = false;
    fake.db.addresses.set("manual-1", {
      name: "manual-1",
      type: "ipmask",
      subnet: ["192.0.2.1", "255.255.255.255"],
      comment: "added by hand",
    });
    fake.db.groups.set("Blocked_Vectra_IPs", ["manual-1"]);
    await lab.client.blockHost(sampleHost({ ip: "10.1.2.3" }));
    await lab.client.blockHost(sampleHost({ ip: "10.1.2.4" }));
    assert.deepEqual(fake.db.groups.get("Blocked_Vectra_IPs"), [
      "manual-1",
      "var-host-10.1.2.3",
      "var-host-10.1.2.4",
    ]);
    // A FortiManager that does not tell its workspace mode is worked without the lock.
    fake.reportsSystemGlobal = false;
    await lab.client.endCycle();
    await lab.client.unblockHost(sampleHost(), ["10.1.2.3"]);
    assert.deepEqual(fake.db.groups.get("Blocked_Vectra_IPs"), ["manual-1", "var-host-10.1.2.4"]);
    // Concurrent changes in one batch: each whole-list write starts from a fresh read.
    const batch = lab.client.stage();
    await Promise.all(
      ["10.1.2.5", "10.1.2.6", "10.1.2.7"].map((ip) => batch.client.blockHost!(sampleHost({ ip }))),
    );
    await batch.commit();
    assert.deepEqual(fake.db.groups.get("Blocked_Vectra_IPs")?.toSorted(), [
      "manual-1",
      "var-host-10.1.2.4",
      "var-host-10.1.2.5",
      "var-host-10.1.2.6",
      "var-host-10.1.2.7",
    ]);
    assert.ok(fake.db.addresses.has("manual-1"));
    assert.ok(!fake.db.addresses.has("var-host-10.1.2.3"));
  } finally {
    await lab.close();
  }
});

Deno.test("fortimanager: a workspace another administrator holds is named; a missing IPv6 group too", async () => {
  const lab = await startLab(1, { fake: { workspaceMode: true } });
  const fake = (lab.servers[0] as FakeServer<FakeFortiManager>).fake;
  try {
    fake.lockByAdministrator();
    const locked = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.match(
      locked.message,
      /cannot lock ADOM vectra_adom: FortiManager answered code -20055 \(the ADOM's workspace is locked by another administrator: unlock it, or wait\): Workspace is locked by admin/,
    );
    await lab.client.endCycle();
    const v6 = startFakeFortiManager({ users: { apiadmin: PASSWORD }, groups6: [] });
    const client = await fortimanager.create(
      parseConfig({
        FORTIMANAGER_URLS: v6.url,
        FORTIMANAGER_INSTALL_DEVICES: "fgt-ward",
        FORTIMANAGER_TASK_POLL_SECONDS: "0.01",
      }),
      { http: HTTP, secret: () => Promise.resolve(PASSWORD) },
    );
    try {
      const error = await rejectsClientError(client.blockHost!(sampleHost({ ip: "2001:db8::7" })));
      assert.match(
        error.message,
        /address group "Blocked_Vectra_IPs6" does not exist in ADOM vectra_adom; create it/,
      );
      assert.deepEqual(await client.list!(), [], "IPv4-only sites need no IPv6 group to read back");
    } finally {
      await client.endCycle?.();
      await client.close?.();
      await v6.close();
    }
  } finally {
    await lab.close();
  }
});

Deno.test("fortimanager: configuration errors name the key, the value and what is allowed", () => {
  const base = {
    FORTIMANAGER_URLS: "https://fmg.example.com",
    FORTIMANAGER_INSTALL_DEVICES: "fgt1",
  };
  const problem = (raw: Record<string, string>) => {
    const result = FortiManagerConfigSchema.safeParse({ ...base, ...raw });
    assert.ok(!result.success, JSON.stringify(raw));
    return result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
  };
  assert.match(
    problem({ FORTIMANAGER_INSTALL_DEVICES: "" }),
    /FORTIMANAGER_INSTALL_DEVICES is empty/,
  );
  assert.match(problem({ FORTIMANAGER_INSTALL_DEVICES: "fgt1/" }), /empty device or VDOM/);
  assert.match(
    problem({ FORTIMANAGER_URLS: "ftp://fmg" }),
    /FORTIMANAGER_URLS entry "ftp:\/\/fmg" is not http or https/,
  );
  assert.match(
    problem({ FORTIMANAGER_URLS: "https://a,https://a/jsonrpc" }),
    /lists https:\/\/a\/jsonrpc twice/,
  );
  assert.match(
    problem({ FORTIMANAGER_CHECK_SSL: "maybe" }),
    /FORTIMANAGER_CHECK_SSL is "maybe"; use true or false/,
  );
  assert.match(
    problem({ FORTIMANAGER_EXTERNAL_BLOCK_GROUP: "Blocked_Vectra_IPs" }),
    /use two groups/,
  );
  assert.match(
    problem({ FORTIMANAGER_TASK_POLL_SECONDS: "x" }),
    /FORTIMANAGER_TASK_POLL_SECONDS is "x"/,
  );
  const config = parseConfig({ ...base, FORTIMANAGER_INSTALL_DEVICES: "fgt1, fgt2/dmz" });
  assert.deepEqual(config.scope, [{ name: "fgt1", vdom: "root" }, { name: "fgt2", vdom: "dmz" }]);
  assert.deepEqual(config.servers.map((s) => [s.entry, s.baseUrl, s.verifyTls]), [
    ["https://fmg.example.com", "https://fmg.example.com", true],
  ]);
  assert.deepEqual(fortimanager.secrets(config).map((s) => `${s.service}/${s.key}`), [
    "https://fmg.example.com/password",
  ]);
});
