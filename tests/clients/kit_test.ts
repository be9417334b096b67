/** Unit tests of the vendor kit's target, read-back and adapter pieces. */

import assert from "node:assert/strict";
import { adapterClient, type DeviceAdapter } from "../../clients/_adapter.ts";
import type { DeviceAnswer } from "../../clients/_fanout.ts";
import { elementsOf, readBack, staticEntriesOf } from "../../clients/_readback.ts";
import { type Scope, staticOutcomes, type Target, targetsFor } from "../../clients/_targets.ts";
import { entryOfName, isOwned, objectName, ownershipNote } from "../../clients/_names.ts";
import { parseIpOrNetwork } from "../../engine/ip.ts";
import { ClientError } from "../../engine/client.ts";
import { sampleHost } from "./_entities.ts";

Deno.test("targetsFor() merges ids naming one entry and refuses text", () => {
  const targets = targetsFor("acme", "unblockHost", "host 7", "host", [
    "2001:DB8::1",
    "2001:db8:0::1",
    "10.1.2.3",
  ]);
  assert.deepEqual(targets.map((t) => [t.key, t.given]), [
    ["2001:db8::1", ["2001:DB8::1", "2001:db8:0::1"]],
    ["10.1.2.3", ["10.1.2.3"]],
  ]);
  assert.throws(
    () => targetsFor("acme", "blockHost", "host 7", "host", ["pc-7"]),
    (e: unknown) =>
      e instanceof ClientError && /Cannot block host 7 on acme: "pc-7"/.test(e.message),
  );
});

Deno.test("staticOutcomes() reports each entry as given: invalid, refused by a device, or ok", () => {
  const targets = targetsFor("acme", "blockStaticIps", "static", "static", [
    "192.0.2.1",
    "198.51.100.0/24",
  ]);
  const refused: DeviceAnswer = {
    failed: new Map([["198.51.100.0/24", { message: "no room", status: 500 }]]),
    added: new Set(),
  };
  const outcomes = staticOutcomes(
    "acme",
    "block",
    ["192.0.2.1", "198.51.100.0/24", "bad"],
    new Map([["bad", "Cannot block static destination on acme: not an address"]]),
    targets,
    [{ device: "a", answer: { failed: new Map(), added: new Set() } }, {
      device: "b",
      answer: refused,
    }],
    (d) => `fw-${d}`,
  );
  assert.deepEqual(outcomes, [
    { entry: "192.0.2.1", ok: true },
    {
      entry: "198.51.100.0/24",
      ok: false,
      error: "Cannot block static destination 198.51.100.0/24 on acme: fw-b: no room",
    },
    { entry: "bad", ok: false, error: "Cannot block static destination on acme: not an address" },
  ]);
});

Deno.test("elementsOf() and staticEntriesOf() take the union and mark what some device lacks", () => {
  const perDevice = [new Set(["host|10.1.2.3", "detection|8.8.8.8"]), new Set(["host|10.1.2.3"])];
  assert.deepEqual(elementsOf(perDevice), [
    { kind: "detection", element: "8.8.8.8", partial: true },
    { kind: "host", element: "10.1.2.3" },
  ]);
  assert.deepEqual(staticEntriesOf([new Set(["static|b"]), new Set(["static|a", "static|b"])]), [
    "a",
    "b",
  ]);
});

/** An in-memory adapter over named devices; `down` devices throw on every call. */
function memoryAdapter(down: ReadonlySet<string> = new Set()) {
  const held = new Map<string, Set<string>>([["a", new Set()], ["b", new Set()]]);
  const adapter: DeviceAdapter<string> = {
    name: "acme",
    tagName: "Acme Client",
    routingKey: "acme",
    devices: ["a", "b"],
    scopes: ["host", "static"],
    label: (d) => `fw-${d}`,
    failureOf: (error) => ({ message: String(error), status: null }),
    apply(device, action, targets: readonly Target[]) {
      if (down.has(device)) return Promise.reject("unreachable");
      const set = held.get(device)!;
      const added = new Set<string>();
      for (const t of targets) {
        const key = `${t.scope}|${t.key}`;
        if (action === "block" && !set.has(key)) added.add(t.key);
        if (action === "block") set.add(key);
        else set.delete(key);
      }
      return Promise.resolve({ failed: new Map(), added });
    },
    read: (device) =>
      down.has(device) ? Promise.reject("unreachable") : Promise.resolve(new Set(held.get(device))),
    close: () => {},
  };
  return { adapter, held };
}

Deno.test("adapterClient() declares what the adapter serves and blocks on every device", async () => {
  const { adapter, held } = memoryAdapter();
  const client = adapterClient(adapter);
  assert.deepEqual([...client.supports].sort(), [
    "blockHost",
    "blockStaticIps",
    "list",
    "listStaticIps",
    "removeElements",
    "unblockHost",
    "unblockStaticIps",
  ]);
  assert.equal(client.blockDetection, undefined);
  assert.deepEqual(await client.blockHost!(sampleHost({ ip: "10.1.2.3" })), ["10.1.2.3"]);
  assert.deepEqual([...held.get("b")!], ["host|10.1.2.3"]);
  assert.deepEqual(await client.list!(), [{ kind: "host", element: "10.1.2.3" }]);
  assert.deepEqual(await client.unblockHost!(sampleHost(), ["10.1.2.3", "legacy-uuid"]), [
    "10.1.2.3",
    "legacy-uuid",
  ]);
  assert.deepEqual([...held.get("a")!], []);
  await assert.rejects(client.blockHost!(sampleHost({ ip: "0.0.0.0/0" })), ClientError);
});

Deno.test("adapterClient() rolls back a block one device refused, and reads back no partial answer", async () => {
  const { adapter, held } = memoryAdapter(new Set(["b"]));
  const client = adapterClient(adapter);
  await assert.rejects(
    client.blockHost!(sampleHost({ ip: "10.1.2.3" })),
    /Cannot block host 7 \(ward-3-pc\) on acme: 10\.1\.2\.3 on fw-b: unreachable; the devices that accepted it were rolled back/,
  );
  assert.deepEqual([...held.get("a")!], []);
  await assert.rejects(
    readBack(adapter, adapter.read!, "list", ["host"]),
    /Cannot read back var's blocks on acme: fw-b: unreachable/,
  );
});

Deno.test("objectName() and entryOfName() round-trip, byte for byte as var 0.1 named objects", () => {
  const cases: [Scope, string, string][] = [
    ["host", "10.1.2.3", "var-host-10.1.2.3"],
    ["detection", "2001:db8::99", "var-detection-2001:db8::99"],
    ["static", "203.0.113.0/24", "var-static-203.0.113.0_24"],
  ];
  for (const [scope, text, name] of cases) {
    const parsed = parseIpOrNetwork(text);
    assert.ok(parsed.ok);
    assert.equal(objectName(scope, parsed.value), name);
    assert.equal(entryOfName(scope, name)?.entry, text);
  }
  assert.equal(entryOfName("host", "var-static-203.0.113.0_24"), null, "another scope's name");
  assert.equal(entryOfName("host", "var-host-10.01.2.3"), null, "not a canonical name");
  assert.equal(entryOfName("host", "admin-10.1.2.3"), null, "not var's");
});

Deno.test("ownershipNote() marks var's objects; isOwned() recognises the mark only", () => {
  const parsed = parseIpOrNetwork("10.1.2.3");
  assert.ok(parsed.ok);
  const note = ownershipNote("host", parsed.value);
  assert.equal(
    note,
    "Managed by var (Vectra Automated Response): host 10.1.2.3; var deletes this object when it unblocks",
  );
  assert.equal(isOwned(note), true);
  assert.equal(isOwned("managed by var"), false);
  assert.equal(isOwned(undefined), false);
});

/**
 * An in-memory committing adapter: each device stages changes on a copy of what it
 * enforces, and only a commit makes the copy live; `refuseCommit` devices refuse commits.
 */
function committingAdapter(refuseCommit: Set<string> = new Set()) {
  const live = new Map<string, Set<string>>([["a", new Set()], ["b", new Set()]]);
  const staged = new Map<string, Set<string>>();
  const log: string[] = [];
  const { adapter: memory } = memoryAdapter();
  const adapter: DeviceAdapter<string> = {
    ...memory,
    apply(device, action, targets: readonly Target[]) {
      const set = staged.get(device) ?? new Set(live.get(device));
      staged.set(device, set);
      for (const t of targets) {
        log.push(`${device} stage ${action} ${t.key}`);
        if (action === "block") set.add(`${t.scope}|${t.key}`);
        else set.delete(`${t.scope}|${t.key}`);
      }
      return Promise.resolve({ failed: new Map(), added: new Set() });
    },
    read: (device) => Promise.resolve(new Set(live.get(device))),
    commits: {
      commit(device) {
        log.push(`${device} commit`);
        const set = staged.get(device);
        staged.delete(device);
        if (refuseCommit.has(device)) return Promise.reject("install-policy failed");
        if (set) live.set(device, set);
        return Promise.resolve();
      },
      discard(device) {
        log.push(`${device} discard`);
        staged.delete(device);
        return Promise.resolve();
      },
      endCycle(device) {
        log.push(`${device} end`);
        return Promise.resolve();
      },
    },
  };
  return { adapter, live, log };
}

Deno.test("adapterClient() of a committing adapter stages a batch and commits it once per device", async () => {
  const { adapter, live, log } = committingAdapter();
  const client = adapterClient(adapter);
  const batch = client.stage!();
  const blocked = await Promise.all([
    batch.client.blockHost!(sampleHost({ ip: "10.1.2.3" })),
    batch.client.blockHost!(sampleHost({ ip: "10.1.2.4" })),
  ]);
  assert.deepEqual(blocked, [["10.1.2.3"], ["10.1.2.4"]]);
  assert.deepEqual([...live.get("a")!], [], "nothing counts before the commit");
  await batch.commit();
  assert.deepEqual([...live.get("b")!].sort(), ["host|10.1.2.3", "host|10.1.2.4"]);
  assert.deepEqual(log.filter((l) => l.endsWith("commit")), ["a commit", "b commit"]);
  await client.stage!().commit();
  assert.equal(log.filter((l) => l.endsWith("commit")).length, 2, "an empty batch commits nothing");
  await batch.commit();
  assert.equal(log.filter((l) => l.endsWith("commit")).length, 2, "a batch commits once");
  await assert.rejects(batch.client.blockHost!(sampleHost()), /used after its end/);
  const dropped = client.stage!();
  await dropped.client.blockHost!(sampleHost({ ip: "10.1.2.9" }));
  await dropped.discard();
  assert.deepEqual(log.slice(-2), ["a discard", "b discard"]);
  assert.ok(![...live.get("a")!].includes("host|10.1.2.9"));
  await client.endCycle!();
  assert.deepEqual(log.slice(-2), ["a end", "b end"]);
});

Deno.test("adapterClient() of a committing adapter runs one batch at a time, and reads between them", async () => {
  const { adapter, log } = committingAdapter();
  const client = adapterClient(adapter);
  const first = client.stage!();
  const second = client.stage!();
  await first.client.blockHost!(sampleHost({ ip: "10.1.2.3" }));
  const waiting = second.client.blockHost!(sampleHost({ ip: "10.1.2.4" }));
  const listed = client.list!();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(!log.some((l) => l.includes("10.1.2.4")), "the second batch waits for the first");
  await first.commit();
  assert.deepEqual(await listed, [{ kind: "host", element: "10.1.2.3" }]);
  await waiting;
  await second.commit();
  assert.deepEqual(await client.list!(), [
    { kind: "host", element: "10.1.2.3" },
    { kind: "host", element: "10.1.2.4" },
  ]);
});

Deno.test("adapterClient() of a committing adapter: its own operations commit, a refused commit fails them", async () => {
  const refuse = new Set<string>();
  const { adapter, live, log } = committingAdapter(refuse);
  const client = adapterClient(adapter);
  assert.deepEqual(await client.blockHost!(sampleHost({ ip: "10.1.2.3" })), ["10.1.2.3"]);
  assert.deepEqual([...live.get("a")!], ["host|10.1.2.3"]);
  refuse.add("b");
  await assert.rejects(
    client.unblockHost!(sampleHost(), ["10.1.2.3"]),
    (e: unknown) =>
      e instanceof ClientError &&
      e.message === "Cannot commit the staged changes on acme: fw-b: install-policy failed",
  );
  assert.deepEqual([...live.get("b")!], ["host|10.1.2.3"], "b still enforces it");
  const outcomes = await client.blockStaticIps!({ dstIps: ["192.0.2.1", "bad"] });
  assert.deepEqual(outcomes, [
    {
      entry: "192.0.2.1",
      ok: false,
      error: "Cannot commit the staged changes on acme: fw-b: install-policy failed",
    },
    { entry: "bad", ok: false, error: outcomes[1]?.error },
  ]);
  await assert.rejects(client.blockHost!(sampleHost({ ip: "0.0.0.0/0" })), ClientError);
  assert.ok(!log.includes("a discard"), "a refused host stages nothing, so nothing to discard");
});
