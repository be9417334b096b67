import assert from "node:assert/strict";
import {
  fortinet,
  type FortinetClient,
  type FortinetConfig,
  FortinetConfigSchema,
  VAR_COMMENT_MARK,
} from "../../clients/fortinet.ts";
import { ClientError } from "../../engine/client.ts";
import { makeTestCertificates } from "../_tls.ts";
import {
  type FakeFortiGate,
  type FakeFortiGateServer,
  type FortiAddress,
  type FortiGroup,
  startFakeFortiGate,
  type StartFakeFortiGateOptions,
} from "../fakes/fortinet.ts";
import {
  type ContractHarness,
  type EnforcedKind,
  OBJECT_PREFIX,
  runClientContract,
  type TwoDeviceHarness,
} from "./_contract.ts";
import { sampleDetection, sampleHost, sampleSet } from "./_entities.ts";
import { rejectsClientError } from "./_lab.ts";
import {
  assertPreviousVersionReadBack,
  blockAsPreviousVersion,
  type PreviousIds,
} from "./_previous_version.ts";

const TOKEN = "fgt-token-Zq81x";
const HTTP = { retries: 1, minRetryDelayMs: 5, maxRetryDelayMs: 20, timeoutMs: 2000 };

/** Parses raw keys the way config.ts hands them over. */
function parseConfig(raw: Record<string, string>): FortinetConfig {
  return FortinetConfigSchema.parse(raw);
}

/** Creates a client for the given raw keys, tokens looked up from `tokens` by host. */
async function createClient(
  raw: Record<string, string>,
  tokens: Record<string, string>,
  lookups: string[] = [],
): Promise<FortinetClient> {
  const client = await fortinet.create(parseConfig(raw), {
    http: HTTP,
    secret: (service, key) => {
      lookups.push(`${service}/${key}`);
      const token = tokens[key];
      if (token === undefined) return Promise.reject(new Error(`no secret ${service}/${key}`));
      return Promise.resolve(token);
    },
  });
  return client;
}

/** Fake firewalls and one client connected to all of them. */
interface Lab {
  readonly servers: FakeFortiGateServer[];
  readonly client: FortinetClient;
  /** Another client configured like `client` (closed with the lab). */
  another(): Promise<FortinetClient>;
  close(): Promise<void>;
}

/** Starts `count` fake FortiGates and a client using all of them. */
async function startLab(
  count = 1,
  options: {
    fake?: Partial<StartFakeFortiGateOptions>;
    raw?: Record<string, string>;
    token?: string;
  } = {},
): Promise<Lab> {
  const servers: FakeFortiGateServer[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(startFakeFortiGate({ token: TOKEN, ...options.fake }));
  }
  try {
    const tokens: Record<string, string> = { "127.0.0.1": options.token ?? TOKEN };
    const raw = {
      FORTINET_IP: servers.map((s) => s.entry).join(","),
      FORTINET_PORT: servers.map((s) => String(s.port)).join(","),
      ...options.raw,
    };
    const client = await createClient(raw, tokens);
    const others: FortinetClient[] = [];
    return {
      servers,
      client,
      async another() {
        const other = await createClient(raw, tokens);
        others.push(other);
        return other;
      },
      async close() {
        for (const c of [client, ...others]) await c.close();
        for (const server of servers) await server.close();
      },
    };
  } catch (error) {
    for (const server of servers) await server.close();
    throw error;
  }
}

/** Group and object names of a kind in the fake's memory, e.g. `External-Block/var-static-…`. */
function enforcedIn(fake: FakeFortiGate, kind: EnforcedKind, vdom = "root"): Set<string> {
  const tables = fake.vdom(vdom);
  const found = new Set<string>();
  for (const groups of [tables.addrgrp, tables.addrgrp6]) {
    for (const group of groups.values()) {
      for (const member of group.member) {
        if (member.startsWith(OBJECT_PREFIX[kind])) found.add(`${group.name}/${member}`);
      }
    }
  }
  for (
    const [table, objects] of [["address", tables.address], ["address6", tables.address6]] as const
  ) {
    for (const name of objects.keys()) {
      if (name.startsWith(OBJECT_PREFIX[kind])) found.add(`${table}:${name}`);
    }
  }
  return found;
}

/** Removes a kind's members and objects behind the client's back. */
function vanishIn(fake: FakeFortiGate, kind: EnforcedKind): void {
  const tables = fake.vdom();
  for (const groups of [tables.addrgrp, tables.addrgrp6]) {
    for (const group of groups.values()) {
      group.member = group.member.filter((m) => !m.startsWith(OBJECT_PREFIX[kind]));
    }
  }
  for (const objects of [tables.address, tables.address6]) {
    for (const name of [...objects.keys()]) {
      if (name.startsWith(OBJECT_PREFIX[kind])) objects.delete(name);
    }
  }
}

/** The contract harness: one fake FortiGate and a fresh client per case. */
async function startFortinetWithFake(): Promise<ContractHarness> {
  return await fortinetHarness(1);
}

/** The two-device contract harness: two fake FortiGates behind one client. */
async function startTwoFortinets(): Promise<TwoDeviceHarness> {
  return await fortinetHarness(2);
}

/** A contract harness on `count` fake FortiGates (faults and `enforced` on the first). */
async function fortinetHarness(count: number): Promise<TwoDeviceHarness> {
  const lab = await startLab(count);
  const server = lab.servers[0] as FakeFortiGateServer;
  const on = (device: 0 | 1) => lab.servers[device] as FakeFortiGateServer;
  return {
    enforcedOn: (device, kind) => Promise.resolve(enforcedIn(on(device).fake, kind)),
    failSecond: () => on(1).fake.failAlways(503),
    slowSecond: (ms) => on(1).fake.stall(ms),
    another: () => lab.another(),
    client: lab.client,
    samples: sampleSet(),
    enforced: (kind) => Promise.resolve(enforcedIn(server.fake, kind)),
    vanish: (kind) => Promise.resolve(vanishIn(server.fake, kind)),
    faults: {
      serverError: () => server.fake.failAlways(503),
      down: () => server.down(),
    },
    close: () => lab.close(),
  };
}

Deno.test("fortinet client", async (t) => {
  await runClientContract(t, {
    start: startFortinetWithFake,
    startTwo: startTwoFortinets,
  });
});

Deno.test("fortinet definition names the client as the original did", () => {
  assert.equal(fortinet.name, "fortinet");
  assert.equal(fortinet.tagName, "Fortinet Client");
  assert.equal(fortinet.routingKey, "fortinet");
  for (const key of fortinet.keys) assert.ok(key.key.startsWith("FORTINET_"), key.key);
});

Deno.test("FortinetConfigSchema applies one value to every firewall or aligns lists by position", () => {
  const config = parseConfig({
    FORTINET_IP: "10.0.0.1, 10.0.0.2",
    FORTINET_PORT: "8443",
    FORTINET_VDOM: "root,dmz",
    FORTINET_CHECK_SSL: "true,false",
  });
  assert.equal(config.firewalls.length, 2);
  const [a, b] = config.firewalls;
  assert.deepEqual(
    [a?.host, a?.port, a?.vdom, a?.verifyTls, a?.scheme],
    ["10.0.0.1", 8443, "root", true, "https"],
  );
  assert.deepEqual([b?.host, b?.port, b?.vdom, b?.verifyTls], ["10.0.0.2", 8443, "dmz", false]);
  assert.equal(a?.internalGroup, "Internal-Block");
  assert.equal(a?.externalGroup, "External-Block");
  assert.equal(a?.externalGroup6, "External-Block6");
  assert.equal(a?.caFile, null);
  assert.equal(config.legacyUnblock, true);
});

Deno.test("FortinetConfigSchema refuses lists whose length does not match FORTINET_IP", () => {
  const result = FortinetConfigSchema.safeParse({
    FORTINET_IP: "10.0.0.1,10.0.0.2,10.0.0.3",
    FORTINET_VDOM: "root,dmz",
  });
  assert.equal(result.success, false);
  assert.equal(
    result.error?.issues[0]?.message,
    "FORTINET_VDOM has 2 values but FORTINET_IP has 3; give one value for all firewalls or one per IP",
  );
});

Deno.test("FortinetConfigSchema refuses an empty IP list, a bad port and a port in the IP", () => {
  const messages = [
    { FORTINET_IP: "" },
    { FORTINET_IP: "10.0.0.1", FORTINET_PORT: "70000" },
    { FORTINET_IP: "10.0.0.1:8443" },
    { FORTINET_IP: "10.0.0.1", FORTINET_CHECK_SSL: "maybe" },
    { FORTINET_IP: "10.0.0.1,10.0.0.1" },
  ].map((raw) => FortinetConfigSchema.safeParse(raw).error?.issues[0]?.message);
  assert.deepEqual(messages, [
    "FORTINET_IP is empty; give the FortiGate management IPs",
    'FORTINET_PORT "70000" is not a port; use 1 to 65535',
    'FORTINET_IP entry "10.0.0.1:8443" carries a port; put the port in FORTINET_PORT',
    'FORTINET_CHECK_SSL is "maybe"; use true or false',
    "FORTINET_IP lists 10.0.0.1 port 443 VDOM root twice",
  ]);
});

Deno.test("fortinet.secrets() asks one token per firewall host, keyed by the IP", () => {
  const config = parseConfig({
    FORTINET_IP: "10.0.0.1,10.0.0.1,10.0.0.2",
    FORTINET_VDOM: "root,dmz,root",
  });
  assert.deepEqual(
    fortinet.secrets(config).map((s) => `${s.service}/${s.key}`),
    ["Fortinet/10.0.0.1", "Fortinet/10.0.0.2"],
  );
});

Deno.test("blockHost() creates a marked ipmask object and adds only that member", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.addAddress({ name: "admin-pc", type: "ipmask", subnet: "10.9.9.9 255.255.255.255" });
    fake.addMember("Internal-Block", "admin-pc");
    const ids = await lab.client.blockHost(sampleHost({ ip: "10.1.2.3" }));
    assert.deepEqual(ids, ["10.1.2.3"]);
    const object = fake.vdom().address.get("var-host-10.1.2.3");
    assert.equal(object?.type, "ipmask");
    assert.equal(object?.subnet, "10.1.2.3 255.255.255.255");
    assert.ok(object?.comment?.startsWith(VAR_COMMENT_MARK));
    assert.deepEqual(fake.members("Internal-Block"), ["none", "admin-pc", "var-host-10.1.2.3"]);
    assert.deepEqual(fake.members("External-Block"), ["none"]);
    const writes = fake.requests.filter((r) => r.method !== "GET").map((r) =>
      `${r.method} ${r.path}`
    );
    assert.deepEqual(writes, [
      "POST /api/v2/cmdb/firewall/address",
      "POST /api/v2/cmdb/firewall/addrgrp/Internal-Block/member",
    ]);
    assert.ok(fake.requests.every((r) => r.vdom === "root"));
  } finally {
    await lab.close();
  }
});

Deno.test("blockHost() with an IPv6 host uses address6 and the IPv6 group", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const host = sampleHost({ ip: "2001:DB8:0:0::12" });
    const ids = await lab.client.blockHost(host);
    assert.deepEqual(ids, ["2001:db8::12"]);
    assert.equal(fake.vdom().address6.get("var-host-2001:db8::12")?.ip6, "2001:db8::12/128");
    assert.deepEqual(fake.members("Internal-Block6", { v6: true }), [
      "none",
      "var-host-2001:db8::12",
    ]);
    assert.deepEqual(fake.members("Internal-Block"), ["none"]);
    assert.deepEqual(await lab.client.list(), [{ kind: "host", element: "2001:db8::12" }]);
    assert.deepEqual(await lab.client.unblockHost(host, ids), ids);
    assert.deepEqual(fake.members("Internal-Block6", { v6: true }), ["none"]);
    assert.equal(fake.vdom().address6.size, 1);
  } finally {
    await lab.close();
  }
});

Deno.test("blockStaticIps() blocks IPv4 and IPv6 networks as subnet objects", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const entries = ["198.51.100.0/24", "2001:db8:1::/48", "192.0.2.44"];
    const outcomes = await lab.client.blockStaticIps({ dstIps: entries });
    assert.deepEqual(outcomes, entries.map((entry) => ({ entry, ok: true })));
    assert.equal(
      fake.vdom().address.get("var-static-198.51.100.0_24")?.subnet,
      "198.51.100.0 255.255.255.0",
    );
    assert.equal(fake.vdom().address6.get("var-static-2001:db8:1::_48")?.ip6, "2001:db8:1::/48");
    assert.deepEqual(fake.members("External-Block"), [
      "none",
      "var-static-198.51.100.0_24",
      "var-static-192.0.2.44",
    ]);
    assert.deepEqual(new Set(await lab.client.listStaticIps()), new Set(entries));
    const removed = await lab.client.unblockStaticIps({ dstIps: ["198.51.100.0/24"] });
    assert.deepEqual(removed, [{ entry: "198.51.100.0/24", ok: true }]);
    assert.deepEqual(
      new Set(await lab.client.listStaticIps()),
      new Set(["2001:db8:1::/48", "192.0.2.44"]),
    );
    assert.equal(fake.vdom().address.has("var-static-198.51.100.0_24"), false);
  } finally {
    await lab.close();
  }
});

Deno.test("blockStaticIps() reports an invalid entry without stopping the others", async () => {
  const lab = await startLab();
  try {
    const outcomes = await lab.client.blockStaticIps({ dstIps: ["2.2.2.1/24", "192.0.2.1"] });
    assert.deepEqual(outcomes[1], { entry: "192.0.2.1", ok: true });
    assert.equal(outcomes[0]?.ok, false);
    assert.equal(
      outcomes[0]?.error,
      'Cannot block static destination on fortinet: "2.2.2.1/24" has host bits set; use "2.2.2.0/24"',
    );
  } finally {
    await lab.close();
  }
});

Deno.test("a static entry that is also a detection destination stays blocked until both are unblocked", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const detection = sampleDetection({ dstIps: ["198.51.100.7"] });
    const ids = await lab.client.blockDetection(detection);
    await lab.client.blockStaticIps({ dstIps: ["198.51.100.7"] });
    assert.deepEqual(fake.members("External-Block"), [
      "none",
      "var-detection-198.51.100.7",
      "var-static-198.51.100.7",
    ]);
    assert.deepEqual(await lab.client.list(), [{ kind: "detection", element: "198.51.100.7" }]);
    assert.deepEqual(await lab.client.listStaticIps(), ["198.51.100.7"]);
    await lab.client.unblockDetection(detection, ids);
    assert.deepEqual(fake.members("External-Block"), ["none", "var-static-198.51.100.7"]);
    assert.deepEqual(await lab.client.listStaticIps(), ["198.51.100.7"]);
    await lab.client.unblockStaticIps({ dstIps: ["198.51.100.7"] });
    assert.deepEqual(fake.members("External-Block"), ["none"]);
  } finally {
    await lab.close();
  }
});

Deno.test("blockDetection() with one firewall down fails, rolls the other back, and succeeds on both once it is back", async () => {
  const lab = await startLab(2);
  try {
    const [a, b] = lab.servers as [FakeFortiGateServer, FakeFortiGateServer];
    const detection = sampleDetection();
    await b.down();
    const error = await rejectsClientError(lab.client.blockDetection(detection));
    assert.equal(error.operation, "blockDetection");
    assert.match(
      error.message,
      /^Cannot block detection 301 on fortinet: 198\.51\.100\.7 on 127\.0\.0\.1: cannot read address group "External-Block": Cannot GET .* network error.*; the devices that accepted it were rolled back$/,
    );
    assert.deepEqual(a.fake.members("External-Block"), ["none"], "rolled back");
    assert.deepEqual([...a.fake.vdom().address.keys()].filter((n) => n.startsWith("var-")), []);
    await assert.rejects(lab.client.list(), ClientError);
    b.up();
    const ids = await lab.client.blockDetection(detection);
    assert.deepEqual(new Set(ids), new Set(["198.51.100.7", "203.0.113.9"]));
    for (const server of [a, b]) {
      assert.deepEqual(server.fake.members("External-Block"), [
        "none",
        "var-detection-198.51.100.7",
        "var-detection-203.0.113.9",
      ]);
    }
  } finally {
    await lab.close();
  }
});

Deno.test("unblockDetection() with one firewall down fails and keeps nothing half-reported", async () => {
  const lab = await startLab(2);
  try {
    const [a, b] = lab.servers as [FakeFortiGateServer, FakeFortiGateServer];
    const detection = sampleDetection();
    const ids = await lab.client.blockDetection(detection);
    b.fake.failAlways(503);
    const error = await rejectsClientError(lab.client.unblockDetection(detection, ids));
    assert.equal(error.status, 503);
    assert.deepEqual(a.fake.members("External-Block"), ["none"]);
    b.fake.heal();
    assert.deepEqual(await lab.client.unblockDetection(detection, ids), ids);
    assert.deepEqual(b.fake.members("External-Block"), ["none"]);
  } finally {
    await lab.close();
  }
});

Deno.test("listStaticIps() reports an entry one firewall still holds; list() marks it partial", async () => {
  const lab = await startLab(2);
  try {
    const [a, b] = lab.servers as [FakeFortiGateServer, FakeFortiGateServer];
    await lab.client.blockStaticIps({ dstIps: ["192.0.2.5"] });
    await lab.client.blockHost(sampleHost());
    vanishIn(b.fake, "static");
    vanishIn(b.fake, "host");
    assert.deepEqual(await lab.client.listStaticIps(), ["192.0.2.5"]);
    assert.deepEqual(await lab.client.list(), [{
      kind: "host",
      element: "10.1.2.3",
      partial: true,
    }]);
    assert.equal(enforcedIn(a.fake, "host").size, 2);
  } finally {
    await lab.close();
  }
});

Deno.test("blockDetection() refuses an object with var's name that var did not create", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.addAddress({
      name: "var-detection-198.51.100.7",
      type: "ipmask",
      subnet: "198.51.100.7 255.255.255.255",
      comment: "made by hand",
    });
    const error = await rejectsClientError(
      lab.client.blockDetection(sampleDetection({ dstIps: ["198.51.100.7"] })),
    );
    assert.equal(
      error.message,
      'Cannot block detection 301 on fortinet: 198.51.100.7 on 127.0.0.1: address object "var-detection-198.51.100.7" exists but var did not create it (its comment does not start with "Managed by var"); rename or delete that object',
    );
    assert.deepEqual(fake.members("External-Block"), ["none"]);
    assert.equal(fake.vdom().address.get("var-detection-198.51.100.7")?.comment, "made by hand");
    await lab.client.unblockDetection(sampleDetection(), ["198.51.100.7"]);
    assert.ok(
      fake.vdom().address.has("var-detection-198.51.100.7"),
      "var deleted an object it did not create",
    );
  } finally {
    await lab.close();
  }
});

Deno.test("blockHost() adopts a marked object a crashed run left outside the group", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.addAddress({
      name: "var-host-10.1.2.3",
      type: "ipmask",
      subnet: "10.1.2.3 255.255.255.255",
      comment: `${VAR_COMMENT_MARK}: left by a crash`,
    });
    assert.deepEqual(await lab.client.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual(fake.members("Internal-Block"), ["none", "var-host-10.1.2.3"]);
    assert.equal(fake.requests.filter((r) => r.method === "POST").length, 1);
  } finally {
    await lab.close();
  }
});

Deno.test("unblock never removes an administrator's member or object with the same IP", async () => {
  const lab = await startLab(1, { raw: { FORTINET_LEGACY_UNBLOCK: "true" } });
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.addAddress({
      name: "198.51.100.7",
      type: "ipmask",
      subnet: "198.51.100.7 255.255.255.255",
    });
    fake.addMember("External-Block", "198.51.100.7");
    const detection = sampleDetection({ dstIps: ["198.51.100.7"] });
    const ids = await lab.client.blockDetection(detection);
    assert.deepEqual(await lab.client.unblockDetection(detection, ids), ids);
    assert.deepEqual(fake.members("External-Block"), ["none", "198.51.100.7"]);
    assert.ok(fake.vdom().address.has("198.51.100.7"));
  } finally {
    await lab.close();
  }
});

Deno.test("unblockDetection() removes the member the original framework added and keeps its object", async () => {
  for (const legacy of [true, false]) {
    const lab = await startLab(1, { raw: { FORTINET_LEGACY_UNBLOCK: String(legacy) } });
    try {
      const fake = (lab.servers[0] as FakeFortiGateServer).fake;
      fake.addAddress({
        name: "198.51.100.7",
        type: "iprange",
        "start-ip": "198.51.100.7",
        "end-ip": "198.51.100.7",
      });
      fake.addMember("External-Block", "198.51.100.7");
      const removed = await lab.client.unblockDetection(sampleDetection(), ["198.51.100.7"]);
      assert.deepEqual(removed, ["198.51.100.7"]);
      assert.deepEqual(
        fake.members("External-Block"),
        legacy ? ["none"] : ["none", "198.51.100.7"],
        `FORTINET_LEGACY_UNBLOCK=${legacy}`,
      );
      assert.ok(fake.vdom().address.has("198.51.100.7"), "the original's object is kept");
    } finally {
      await lab.close();
    }
  }
});

Deno.test("blockDetection() keeps a member an administrator adds between var's read and write", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.addAddress({ name: "admin-bad", type: "ipmask", subnet: "192.0.2.66 255.255.255.255" });
    fake.beforeNext(
      () => fake.addMember("External-Block", "admin-bad"),
      ({ method, path }) => method === "POST" && path.endsWith("/addrgrp/External-Block/member"),
    );
    await lab.client.blockDetection(sampleDetection({ dstIps: ["198.51.100.7"] }));
    assert.deepEqual(fake.members("External-Block"), [
      "none",
      "admin-bad",
      "var-detection-198.51.100.7",
    ]);
    fake.addAddress({ name: "admin-worse", type: "ipmask", subnet: "192.0.2.67 255.255.255.255" });
    fake.beforeNext(
      () => fake.addMember("External-Block", "admin-worse"),
      ({ method, path }) => method === "DELETE" && path.includes("/addrgrp/External-Block/member/"),
    );
    await lab.client.unblockDetection(sampleDetection(), ["198.51.100.7"]);
    assert.deepEqual(fake.members("External-Block"), ["none", "admin-bad", "admin-worse"]);
  } finally {
    await lab.close();
  }
});

Deno.test("blockDetection() confirms a member another run added after var read the group", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    fake.beforeNext(
      () => fake.addMember("External-Block", "var-detection-198.51.100.7"),
      ({ method, path }) => method === "POST" && path.endsWith("/addrgrp/External-Block/member"),
    );
    const ids = await lab.client.blockDetection(sampleDetection({ dstIps: ["198.51.100.7"] }));
    assert.deepEqual(ids, ["198.51.100.7"]);
    assert.deepEqual(fake.members("External-Block"), ["none", "var-detection-198.51.100.7"]);
  } finally {
    await lab.close();
  }
});

Deno.test("unblockHost() explains that FortiOS keeps a group's last member", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const ids = await lab.client.blockHost(sampleHost());
    const group = fake.vdom().addrgrp.get("Internal-Block");
    if (group) group.member = ["var-host-10.1.2.3"];
    const error = await rejectsClientError(lab.client.unblockHost(sampleHost(), ids));
    assert.match(
      error.message,
      /error -56 .*add a placeholder member such as the address "none" to "Internal-Block"$/,
    );
    assert.deepEqual(fake.members("Internal-Block"), ["var-host-10.1.2.3"]);
  } finally {
    await lab.close();
  }
});

Deno.test("blockHost() fails with the missing group's name when the group does not exist", async () => {
  const lab = await startLab(1, { fake: { groups: ["External-Block"] } });
  try {
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.equal(
      error.message,
      'Cannot block host 7 (ward-3-pc) on fortinet: 10.1.2.3 on 127.0.0.1: address group "Internal-Block" does not exist in VDOM root; create it (see the README) or fix the group key',
    );
    assert.equal(error.status, 404);
  } finally {
    await lab.close();
  }
});

Deno.test("the token travels only in the header, never in a URL or an error message", async () => {
  const lab = await startLab(1, { token: "wrong-token-Pq77" });
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const error = await rejectsClientError(lab.client.blockHost(sampleHost()));
    assert.equal(error.status, 401);
    assert.match(
      error.message,
      /FortiOS refused the API token \(401\); check the secret Fortinet\/127\.0\.0\.1/,
    );
    assert.ok(!error.message.includes("wrong-token-Pq77"));
    assert.ok(fake.requests.length > 0);
    for (const request of fake.requests) {
      assert.ok(!request.url.includes("wrong-token-Pq77"), request.url);
      assert.ok(!request.url.includes("access_token"), request.url);
      assert.equal(request.authorized, false);
    }
  } finally {
    await lab.close();
  }
  const good = await startLab(1);
  try {
    const fake = (good.servers[0] as FakeFortiGateServer).fake;
    await good.client.blockStaticIps({ dstIps: ["192.0.2.9"] });
    assert.ok(fake.requests.every((r) => r.authorized && !r.url.includes(TOKEN)));
  } finally {
    await good.close();
  }
});

Deno.test("a FortiGate with two VDOMs gets the block in each, with one token lookup", async () => {
  const server = startFakeFortiGate({ token: TOKEN, vdoms: ["root", "dmz"] });
  const lookups: string[] = [];
  const client = await createClient(
    {
      FORTINET_IP: `${server.entry},${server.entry}`,
      FORTINET_PORT: String(server.port),
      FORTINET_VDOM: "root,dmz",
    },
    { "127.0.0.1": TOKEN },
    lookups,
  );
  try {
    await client.blockHost(sampleHost());
    assert.deepEqual(lookups, ["Fortinet/127.0.0.1"]);
    for (const vdom of ["root", "dmz"]) {
      assert.deepEqual(server.fake.members("Internal-Block", { vdom }), [
        "none",
        "var-host-10.1.2.3",
      ]);
    }
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("blockHost() over HTTPS trusts FORTINET_CA_FILE and refuses an unknown CA", async () => {
  const certs = await makeTestCertificates();
  const server = startFakeFortiGate({ token: TOKEN, tls: { cert: certs.cert, key: certs.key } });
  const raw = { FORTINET_IP: "localhost", FORTINET_PORT: String(server.port) };
  const trusting = await createClient({ ...raw, FORTINET_CA_FILE: certs.caFile }, {
    localhost: TOKEN,
  });
  const untrusting = await createClient(raw, { localhost: TOKEN });
  try {
    assert.deepEqual(await trusting.blockHost(sampleHost()), ["10.1.2.3"]);
    assert.deepEqual(server.fake.members("Internal-Block"), ["none", "var-host-10.1.2.3"]);
    const error = await rejectsClientError(untrusting.listStaticIps());
    assert.match(error.message, /network error/);
  } finally {
    await trusting.close();
    await untrusting.close();
    await server.close();
    await certs.cleanup();
  }
});

Deno.test("FakeFortiGate rejects what FortiOS rejects", async () => {
  const server = startFakeFortiGate({ token: TOKEN });
  const call = async (method: string, path: string, body?: string) => {
    const response = await fetch(`${server.url}/api/v2/cmdb/firewall/${path}?vdom=root`, {
      method,
      headers: { Authorization: `Bearer ${TOKEN}`, "Content-Type": "application/json" },
      ...(body !== undefined ? { body } : {}),
    });
    const json = await response.json() as { status?: string; error?: number };
    return [response.status, json.status, json.error];
  };
  try {
    assert.deepEqual(await call("POST", "address", "{not json"), [400, "error", undefined]);
    assert.deepEqual(
      await call("POST", "addrgrp/External-Block/member", '{"name":"ghost"}'),
      [500, "error", -3],
    );
    const object = JSON.stringify({
      name: "x",
      type: "ipmask",
      subnet: "192.0.2.1 255.255.255.255",
    });
    assert.deepEqual(await call("POST", "address", object), [200, "success", undefined]);
    assert.deepEqual(await call("POST", "address", object), [500, "error", -5]);
    assert.deepEqual(
      await call("PUT", "addrgrp/External-Block", '{"member":[{"name":"none"},{"name":"x"}]}'),
      [200, "success", undefined],
    );
    assert.deepEqual(await call("DELETE", "address/x"), [500, "error", -23]);
    assert.deepEqual(
      await call("PUT", "addrgrp/External-Block", '{"member":[{"name":"ghost"}]}'),
      [500, "error", -3],
    );
    assert.deepEqual(await call("GET", "address/nothing"), [404, "error", undefined]);
    assert.deepEqual(
      await call("POST", "address6", '{"name":"y","ip6":"not-an-ip/64"}'),
      [500, "error", -651],
    );
    const unauthorized = await fetch(`${server.url}/api/v2/cmdb/firewall/address`);
    await unauthorized.body?.cancel();
    assert.equal(unauthorized.status, 401);
    server.fake.failNext(502);
    assert.deepEqual(await call("GET", "address"), [502, "error", undefined]);
    assert.deepEqual((await call("GET", "address"))[0], 200);
  } finally {
    await server.close();
  }
});

Deno.test("listStaticIps() and list() work on a firewall without IPv6 groups", async () => {
  const lab = await startLab(1, { fake: { groups6: [] } });
  try {
    await lab.client.blockStaticIps({ dstIps: ["192.0.2.5"] });
    await lab.client.blockHost(sampleHost());
    assert.deepEqual(await lab.client.listStaticIps(), ["192.0.2.5"]);
    assert.deepEqual(await lab.client.list(), [{ kind: "host", element: "10.1.2.3" }]);
    const outcomes = await lab.client.blockStaticIps({ dstIps: ["2001:db8::5"] });
    assert.equal(outcomes[0]?.ok, false);
    assert.match(outcomes[0]?.error ?? "", /IPv6 address group "External-Block6" does not exist/);
  } finally {
    await lab.close();
  }
});

Deno.test("blockHost() refuses a host without an address; blockDetection() without destinations blocks nothing", async () => {
  const lab = await startLab();
  try {
    await assert.rejects(
      lab.client.blockHost(sampleHost({ ip: null })),
      (error: unknown) =>
        error instanceof ClientError &&
        error.message === 'Cannot block host 7 ("ward-3-pc") with fortinet: no address is known',
    );
    await assert.rejects(
      lab.client.blockHost(sampleHost({ ip: "0.0.0.0/0" })),
      /address 0\.0\.0\.0\/0 is not a single host address/,
    );
    assert.deepEqual(await lab.client.blockDetection(sampleDetection({ dstIps: [] })), []);
    assert.equal((lab.servers[0] as FakeFortiGateServer).fake.requests.length, 0);
  } finally {
    await lab.close();
  }
});

Deno.test("unblockDetection() returns every recorded id as written, merging spellings of one IP", async () => {
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    await lab.client.blockDetection(sampleDetection({ dstIps: ["2001:db8::7"] }));
    const recorded = ["2001:DB8::7", "2001:db8:0::7", "not-an-ip"];
    assert.deepEqual(await lab.client.unblockDetection(sampleDetection(), recorded), recorded);
    assert.deepEqual(fake.members("External-Block6", { v6: true }), ["none"]);
    assert.equal(
      fake.requests.filter((r) => r.method === "DELETE").length,
      2,
      "one member and one object removed, once",
    );
  } finally {
    await lab.close();
  }
});

Deno.test("removeElements() removes var's stray objects and never the original's members", async () => {
  const lab = await startLab(2);
  try {
    const [a, b] = lab.servers as [FakeFortiGateServer, FakeFortiGateServer];
    await lab.client.blockDetection(sampleDetection({ dstIps: ["198.51.100.7"] }));
    await lab.client.blockHost(sampleHost());
    a.fake.addAddress({
      name: "10.1.2.3",
      type: "iprange",
      "start-ip": "10.1.2.3",
      "end-ip": "10.1.2.3",
    });
    a.fake.addMember("Internal-Block", "10.1.2.3");
    const strays = await lab.client.list();
    assert.deepEqual(strays, [
      { kind: "detection", element: "198.51.100.7" },
      { kind: "host", element: "10.1.2.3" },
    ]);
    b.fake.failAlways(503);
    const partial = await lab.client.removeElements(strays).catch((error) => error);
    assert.ok(partial instanceof ClientError, "nothing confirmed while one firewall fails");
    b.fake.heal();
    assert.deepEqual(
      new Set(await lab.client.removeElements(strays)),
      new Set(["198.51.100.7", "10.1.2.3"]),
    );
    assert.deepEqual(a.fake.members("Internal-Block"), ["none", "10.1.2.3"]);
    assert.deepEqual(b.fake.members("External-Block"), ["none"]);
    assert.deepEqual(await lab.client.list(), []);
  } finally {
    await lab.close();
  }
});

Deno.test("the kit's FortiGate client adopts what the previous version left, without unblocking or re-blocking", async () => {
  // fixtures/fortinet_state_v0.1.0.json: the tables the FortiGate client of var 0.1.0 (commit
  // 2a229e6) left after blocking two hosts, a detection and two static entries.
  const state = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/fortinet_state_v0.1.0.json", import.meta.url)),
  ) as {
    ids: PreviousIds;
    address: FortiAddress[];
    address6: FortiAddress[];
    addrgrp: FortiGroup[];
    addrgrp6: FortiGroup[];
  };
  const lab = await startLab();
  try {
    const fake = (lab.servers[0] as FakeFortiGateServer).fake;
    const tables = fake.vdom();
    for (const table of ["address", "address6", "addrgrp", "addrgrp6"] as const) {
      const map = tables[table] as Map<string, FortiAddress | FortiGroup>;
      map.clear();
      for (const row of state[table]) map.set(row.name, structuredClone(row));
    }
    const before = JSON.stringify([...tables.address, ...tables.addrgrp, ...tables.addrgrp6]);
    await blockAsPreviousVersion(lab.client, state.ids);
    assert.deepEqual(
      fake.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path}`),
      [],
      "the new client writes nothing on a firewall the previous version set up",
    );
    assert.equal(
      JSON.stringify([...tables.address, ...tables.addrgrp, ...tables.addrgrp6]),
      before,
    );
    await assertPreviousVersionReadBack(lab.client);
    assert.deepEqual(await lab.client.unblockHost(sampleHost(), state.ids.host), state.ids.host);
    assert.deepEqual(fake.members("Internal-Block"), ["none"]);
    assert.equal(tables.address.has("var-host-10.1.2.3"), false);
  } finally {
    await lab.close();
  }
});
