import assert from "node:assert/strict";
import type { ResponseClient, StaticIpOutcome } from "../../engine/client.ts";
import { parseStaticIps, reconcileStaticIps } from "../../engine/static_ips.ts";
import type { StaticIps } from "../../engine/model.ts";
import { testClientAs } from "./_engine_harness.ts";
import { fortinet, FortinetConfigSchema } from "../../clients/fortinet.ts";
import { startFakeFortiGate } from "../fakes/fortinet.ts";

function fileOf(text: string): (path: string) => Promise<string> {
  return () => Promise.resolve(text);
}

Deno.test("parseStaticIps() trims, skips comments, merges duplicates and reports bad lines", () => {
  const list = parseStaticIps(
    "# static list\n  203.0.113.7  \n\n198.51.100.0/24\n2.2.2.1/24\nnot-an-ip\n" +
      "2001:DB8:0:0::1\n203.0.113.7\n",
  );
  assert.deepEqual([...list.entries], [
    ["203.0.113.7", 2],
    ["198.51.100.0/24", 4],
    ["2001:db8::1", 7],
  ]);
  assert.deepEqual(list.problems.map((p) => [p.line, p.text]), [[5, "2.2.2.1/24"], [
    6,
    "not-an-ip",
  ]]);
  assert.equal(list.problems[0]?.reason, '"2.2.2.1/24" has host bits set; use "2.2.2.0/24"');
});

Deno.test("parseStaticIps() refuses everything, too-broad networks and addresses no host has", () => {
  const list = parseStaticIps("0.0.0.0/0\n::/0\n10.0.0.0/8\n255.255.255.255\n224.0.0.0/4\n");
  assert.deepEqual([...list.entries.keys()], ["10.0.0.0/8"]);
  assert.deepEqual(list.problems.map((p) => [p.line, p.reason]), [
    [1, "network 0.0.0.0/0 is broader than /8; var blocks no network that large"],
    [2, "network ::/0 is broader than /16; var blocks no network that large"],
    [4, "address 255.255.255.255 is the broadcast address, not a host address"],
    [5, "network 224.0.0.0/4 is broader than /8; var blocks no network that large"],
  ]);
});

Deno.test("reconcileStaticIps() blocks what is missing and unblocks what left the file", async () => {
  const client = testClientAs();
  client.device.holdStatic("192.0.2.1");
  client.device.holdStatic("203.0.113.7");
  const result = await reconcileStaticIps("list.txt", [client], {
    readFile: fileOf("203.0.113.7\n198.51.100.0/24\n"),
  });
  assert.equal(result.failed, false);
  assert.deepEqual([...client.device.enforced("static")].sort(), [
    "198.51.100.0/24",
    "203.0.113.7",
  ]);
  assert.deepEqual(
    result.records.map((r) => [r.operation, r.entityName, r.outcome, r.reasons]),
    [
      ["static-block", "198.51.100.0/24", "ok", ["listed in list.txt line 2"]],
      ["static-unblock", "192.0.2.1", "ok", ["no longer listed in list.txt"]],
    ],
  );
});

Deno.test("reconcileStaticIps() treats a missing file as an error and changes nothing", async () => {
  const client = testClientAs();
  client.device.holdStatic("192.0.2.1");
  const dir = await Deno.makeTempDir();
  try {
    const result = await reconcileStaticIps(`${dir}/missing.txt`, [client]);
    assert.equal(result.failed, true);
    assert.deepEqual(result.records, []);
    assert.match(
      result.messages[0]?.text ?? "",
      /^Cannot read the static destination list ".*missing\.txt": the file does not exist; /,
    );
    assert.deepEqual([...client.device.enforced("static")], ["192.0.2.1"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reconcileStaticIps() in a dry run only plans", async () => {
  const client = testClientAs();
  client.device.holdStatic("192.0.2.1");
  const result = await reconcileStaticIps("list.txt", [client], {
    dryRun: true,
    readFile: fileOf("203.0.113.7\n"),
  });
  assert.deepEqual(result.records.map((r) => [r.operation, r.entityName, r.outcome]), [
    ["static-block", "203.0.113.7", "planned"],
    ["static-unblock", "192.0.2.1", "planned"],
  ]);
  assert.deepEqual([...client.device.enforced("static")], ["192.0.2.1"]);
  assert.deepEqual(client.calls.map((c) => c.operation), ["listStaticIps"]);
});

Deno.test("reconcileStaticIps() records per-entry outcomes and retries a failed entry", async () => {
  const inner = testClientAs();
  const picky: ResponseClient = {
    ...inner,
    blockStaticIps: async (ips: StaticIps): Promise<StaticIpOutcome[]> => {
      const ok = await inner.blockStaticIps!({
        dstIps: ips.dstIps.filter((e) => e !== "203.0.113.8"),
      });
      return [...ok, { entry: "203.0.113.8", ok: false, error: "address object rejected" }];
    },
  };
  const readFile = fileOf("203.0.113.7\n203.0.113.8\n");
  const first = await reconcileStaticIps("list.txt", [picky], { readFile });
  assert.equal(first.failed, true);
  assert.deepEqual(first.records.map((r) => [r.entityName, r.outcome, r.error]), [
    ["203.0.113.7", "ok", undefined],
    ["203.0.113.8", "failed", "address object rejected"],
  ]);
  const second = await reconcileStaticIps("list.txt", [inner], { readFile });
  assert.deepEqual(second.records.map((r) => [r.entityName, r.outcome]), [["203.0.113.8", "ok"]]);
});

Deno.test("reconcileStaticIps() leaves a client alone when it cannot be read back", async () => {
  const inner = testClientAs();
  inner.device.fail("down");
  const result = await reconcileStaticIps("list.txt", [inner], {
    readFile: fileOf("203.0.113.7\n"),
  });
  assert.equal(result.failed, true);
  assert.deepEqual(result.records, []);
  assert.match(
    result.messages[0]?.text ?? "",
    /^Cannot read the static entries blocked on test_client: /,
  );
});

Deno.test("reconcileStaticIps() completes an entry held on one FortiGate but not the other", async () => {
  const token = "fgt-token-static";
  const a = startFakeFortiGate({ token });
  const b = startFakeFortiGate({ token });
  const connect = (servers: typeof a[]) =>
    fortinet.create(
      FortinetConfigSchema.parse({
        FORTINET_IP: servers.map((s) => s.entry).join(","),
        FORTINET_PORT: servers.map((s) => s.port).join(","),
      }),
      {
        http: { retries: 0, minRetryDelayMs: 1, timeoutMs: 2000 },
        secret: () => Promise.resolve(token),
      },
    );
  const onlyA = await connect([a]);
  const both = await connect([a, b]);
  try {
    const readFile = fileOf("203.0.113.7\n");
    await reconcileStaticIps("list.txt", [onlyA], { readFile });
    assert.deepEqual(a.fake.members("External-Block"), ["none", "var-static-203.0.113.7"]);
    assert.deepEqual(b.fake.members("External-Block"), ["none"]);
    const result = await reconcileStaticIps("list.txt", [both], { readFile });
    assert.equal(result.failed, false, JSON.stringify(result.records));
    assert.deepEqual(result.records, [], "a re-assertion that succeeds is not reported");
    assert.deepEqual(b.fake.members("External-Block"), ["none", "var-static-203.0.113.7"]);
    b.fake.failAlways(503);
    const failing = await reconcileStaticIps("list.txt", [both], { readFile });
    assert.equal(failing.failed, true);
  } finally {
    await onlyA.close?.();
    await both.close?.();
    await a.close();
    await b.close();
  }
});
