/**
 * End-to-end safety (issue 6) with `deno run -P main.ts run` as a subprocess against the
 * fake brain and fake FortiGate: blast-radius limits, fail-closed reads under injected
 * faults, failing firewalls, drift repair, and hostile entity names that must neither
 * break other entities nor forge log lines.
 */

import assert from "node:assert/strict";
import { VAR_COMMENT_MARK } from "../../clients/fortinet.ts";
import type { FakeFault, FaultOptions } from "../../demo/brain.ts";
import {
  emitFigures,
  hostObject,
  internalMembers,
  pool,
  seed,
  startWorld,
  varObjects,
  withTranscript,
  type World,
} from "./_harness.ts";

const BLOCK_TAG = "vectra_host_block";
const MARKER = "VAR Host Blocked";

function element(ip: string): string {
  return `VAR ID:Fortinet Client:${ip}`;
}

/** Non-GET requests the run made on either fake, from the given request indexes on. */
function writesSince(world: World, from: { brain: number; forti: number }): string[] {
  const brain = world.brainProxy.requests.slice(from.brain).filter((r) => r.method !== "GET");
  const forti = world.fortiProxy.requests.slice(from.forti).filter((r) => r.method !== "GET");
  return [...brain, ...forti].map((r) => `${r.method} ${r.path}`);
}

function mark(world: World): { brain: number; forti: number } {
  return { brain: world.brainProxy.requests.length, forti: world.fortiProxy.requests.length };
}

function manyHosts(count: number, tags: readonly string[]) {
  const builder = seed();
  for (let i = 1; i <= count; i++) {
    builder.host({ name: `pc-${i}`, ip: `10.30.0.${i}`, tags: [...tags] });
  }
  return builder;
}

function blockedHosts(world: World): string[] {
  return world.brain.all("host").filter((h) => h.tags.includes(MARKER)).map((h) => h.name);
}

Deno.test("var run blocks nothing of a kind beyond MAX_BLOCKS_PER_CYCLE until --confirm-blast-radius", async () => {
  await using world = await startWorld({ seed: manyHosts(15, [BLOCK_TAG]) });
  await withTranscript(world, async () => {
    const from = mark(world);
    const held = await world.run();
    assert.equal(held.code, 2, "a tripped limit exits 2");
    assert.deepEqual(writesSince(world, from), [], "nothing is written anywhere");
    assert.deepEqual(blockedHosts(world), []);
    assert.deepEqual(varObjects(world), []);
    const text = "15 host blocks exceed MAX_BLOCKS_PER_CYCLE 10";
    assert.ok(held.stdout.includes(text), `the output names the counts ("${text}")`);

    const confirmed = await world.run({ args: ["--confirm-blast-radius"] });
    assert.equal(confirmed.code, 0);
    assert.equal(blockedHosts(world).length, 15, "every host is blocked once confirmed");
    assert.equal(varObjects(world).length, 15);
    assert.equal(internalMembers(world).length, 16, "15 members and the placeholder");

    const after = mark(world);
    const again = await world.run();
    assert.equal(again.code, 0, "the next run without the flag is fine: nothing new");
    assert.deepEqual(writesSince(world, after), []);
  });
});

Deno.test("var run logs one error line with the counts when a blast-radius limit trips", async () => {
  await using world = await startWorld({ seed: manyHosts(12, [BLOCK_TAG]) });
  await withTranscript(world, async () => {
    const held = await world.run();
    assert.equal(held.code, 2);
    const text = "12 host blocks exceed MAX_BLOCKS_PER_CYCLE 10";
    const errors = held.lines.filter((l) => l.level === "error");
    assert.ok(
      errors.some((l) => String(l.message).includes(text)),
      `an error line names the counts ("${text}"); error lines: ${JSON.stringify(errors)}`,
    );
  });
});

Deno.test("var run unblocks nothing of a kind beyond MAX_UNBLOCKS_PER_CYCLE", async () => {
  await using world = await startWorld({
    seed: manyHosts(8, [BLOCK_TAG]),
    env: { MAX_UNBLOCKS_PER_CYCLE: "5" },
  });
  await withTranscript(world, async () => {
    assert.equal((await world.run()).code, 0);
    assert.equal(blockedHosts(world).length, 8);
    for (const h of world.brain.all("host")) {
      world.brain.setTags("host", h.name, h.tags.filter((t) => t !== BLOCK_TAG));
    }
    const from = mark(world);
    const held = await world.run();
    assert.equal(held.code, 2);
    assert.deepEqual(writesSince(world, from), [], "a renamed tag does not unblock everything");
    assert.equal(blockedHosts(world).length, 8);
    assert.equal(varObjects(world).length, 8);
    assert.ok(held.stdout.includes("8 host unblocks exceed MAX_UNBLOCKS_PER_CYCLE 5"));

    const confirmed = await world.run({ args: ["--confirm-blast-radius"] });
    assert.equal(confirmed.code, 0);
    assert.deepEqual(blockedHosts(world), []);
    assert.deepEqual(varObjects(world), []);
    assert.deepEqual(internalMembers(world), ["none"]);
  });
});

Deno.test("var run refuses new blocks that would exceed MAX_BLOCKED_TOTAL but still unblocks", async () => {
  await using world = await startWorld({
    seed: manyHosts(6, [BLOCK_TAG]),
    env: { MAX_BLOCKED_TOTAL: "3" },
  });
  await withTranscript(world, async () => {
    // Three are blocked first (the others carry no tag yet).
    for (const name of ["pc-4", "pc-5", "pc-6"]) world.brain.setTags("host", name, []);
    assert.equal((await world.run()).code, 0);
    assert.deepEqual(blockedHosts(world).sort(), ["pc-1", "pc-2", "pc-3"]);
    // One blocked host is released; two new ones would make 2 + 2 = 4 > 3.
    world.brain.setTags("host", "pc-4", [BLOCK_TAG]);
    world.brain.setTags("host", "pc-5", [BLOCK_TAG]);
    world.brain.setTags(
      "host",
      "pc-1",
      world.brain.tags("host", "pc-1").filter((t) => t !== BLOCK_TAG),
    );
    const held = await world.run();
    assert.equal(held.code, 2);
    assert.ok(held.stdout.includes("would exceed MAX_BLOCKED_TOTAL 3"));
    assert.deepEqual(blockedHosts(world).sort(), ["pc-2", "pc-3"], "the unblock still ran");
    assert.deepEqual(varObjects(world), [hostObject("10.30.0.2"), hostObject("10.30.0.3")]);
  });
});

/**
 * A world where a normal run would block `new-pc` and unblock `old-pc`; `safe-pc` is
 * protected and `kept-pc` stays blocked. Every list is one item per page, so every read
 * follows `next` links.
 */
async function failClosedWorld(): Promise<World> {
  const world = await startWorld({
    seed: seed()
      .host({ name: "old-pc", ip: "10.40.0.1", tags: [BLOCK_TAG] })
      .host({ name: "new-pc", ip: "10.40.0.2", tags: [] })
      .host({ name: "safe-pc", ip: "10.40.0.3", tags: [BLOCK_TAG] })
      .host({ name: "kept-pc", ip: "10.40.0.4", tags: [BLOCK_TAG] })
      .group({ name: "NoBlock", type: "host", members: ["safe-pc"] })
      .group({ name: "NoBlock-lab", type: "host", members: [] }),
    env: { NO_BLOCK_HOST_GROUP_NAME: "NoBlock" },
    brain: { maxPageSize: 1 },
  });
  const setup = await world.run();
  if (setup.code !== 0) throw new Error(`Cannot set up: exit ${setup.code}\n${setup.stdout}`);
  world.brain.setTags(
    "host",
    "old-pc",
    world.brain.tags("host", "old-pc").filter((t) => t !== BLOCK_TAG),
  );
  world.brain.setTags("host", "new-pc", [BLOCK_TAG]);
  return world;
}

const FAILED_STATE = {
  "old-pc": [MARKER, element("10.40.0.1")],
  "new-pc": [BLOCK_TAG],
  "safe-pc": [BLOCK_TAG],
  "kept-pc": [BLOCK_TAG, MARKER, element("10.40.0.4")],
};

function hostTags(world: World): Record<string, string[]> {
  return Object.fromEntries(
    ["old-pc", "new-pc", "safe-pc", "kept-pc"].map((
      n,
    ) => [n, [...world.brain.tags("host", n)].sort()]),
  );
}

const READ_CALLS: readonly { readonly name: string; readonly options: FaultOptions }[] = [
  { name: "GET /groups (no-block group)", options: { path: "/groups" } },
  {
    name: "GET /hosts?tags=vectra_host_block",
    options: { path: "/hosts", query: { tags: BLOCK_TAG } },
  },
  {
    name: "GET /hosts?tags=VAR Host Blocked",
    options: { path: "/hosts", query: { tags: MARKER } },
  },
];

const READ_FAULTS: readonly { readonly name: string; readonly fault: FakeFault }[] = [
  { name: "HTTP 500 (after retries)", fault: { kind: "status", status: 500 } },
  { name: "HTTP 403", fault: { kind: "status", status: 403 } },
  { name: "truncated JSON", fault: { kind: "malformed" } },
  { name: "connection reset mid-body", fault: { kind: "reset" } },
  { name: "next link to another origin", fault: { kind: "foreignNext" } },
];

Deno.test("var run fails closed: a failing read blocks and unblocks nothing of that kind", async () => {
  // Control: without a fault the same world blocks new-pc and unblocks old-pc.
  {
    await using world = await failClosedWorld();
    await withTranscript(world, async () => {
      const run = await world.run();
      assert.equal(run.code, 0);
      assert.deepEqual(hostTags(world), {
        "old-pc": [],
        "new-pc": [BLOCK_TAG, MARKER, element("10.40.0.2")].sort(),
        "safe-pc": [BLOCK_TAG],
        "kept-pc": [BLOCK_TAG, MARKER, element("10.40.0.4")].sort(),
      });
    });
  }
  const cases = READ_CALLS.flatMap((call) => READ_FAULTS.map((f) => ({ call, f })));
  const results = await pool(
    cases.map(({ call, f }) => async () => {
      await using world = await failClosedWorld();
      await withTranscript(world, async () => {
        const objects = varObjects(world);
        world.brain.fault(f.fault, { ...call.options, times: Infinity });
        const from = mark(world);
        const run = await world.run();
        assert.equal(run.code, 3, "an unreadable kind exits 3");
        assert.deepEqual(writesSince(world, from), [], "nothing is written anywhere");
        assert.deepEqual(hostTags(world), sortValues(FAILED_STATE));
        assert.deepEqual(varObjects(world), objects);
        world.brain.clearFaults();
        const healed = await world.run();
        assert.equal(healed.code, 0, "the next cycle after the fault converges");
        assert.deepEqual(varObjects(world), [hostObject("10.40.0.2"), hostObject("10.40.0.4")]);
      });
    }),
    4,
  );
  const failed = results.flatMap((r, i) =>
    r.status === "rejected"
      ? [`${cases[i]?.f.name} on ${cases[i]?.call.name}: ${(r.reason as Error).message}`]
      : []
  );
  emitFigures({
    readFaultKinds: READ_FAULTS.length,
    readCallsFaulted: READ_CALLS.length,
    readFaultRuns: cases.length,
    readFaultRunsFailedClosed: cases.length - failed.length,
    readFaultNames: READ_FAULTS.map((f) => f.name),
    readCallNames: READ_CALLS.map((c) => c.name),
  });
  assert.deepEqual(failed, []);
});

function sortValues(record: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, [...v].sort()]));
}

Deno.test("var run records nothing when the FortiGate fails, and converges once it is back", async () => {
  const faults: readonly { name: string; inject: (w: World) => Promise<void> | void }[] = [
    { name: "HTTP 500 on every call", inject: (w) => w.forti.fake.failAlways(500) },
    { name: "connection refused", inject: (w) => w.forti.down() },
  ];
  for (const { name, inject } of faults) {
    await using world = await failClosedWorld();
    await withTranscript(world, async () => {
      await inject(world);
      const run = await world.run();
      assert.equal(run.code, 2, `${name}: a failed action exits 2`);
      const tags = hostTags(world);
      assert.deepEqual(tags["new-pc"], [BLOCK_TAG], `${name}: no block is recorded`);
      assert.deepEqual(
        tags["old-pc"],
        [MARKER, element("10.40.0.1")].sort(),
        `${name}: the failed unblock stays recorded, so it is retried`,
      );
      world.forti.fake.heal();
      world.forti.up();
      const healed = await world.run();
      assert.equal(healed.code, 0, `${name}: the next cycle converges`);
      assert.deepEqual(world.brain.tags("host", "old-pc"), []);
      const objects = [hostObject("10.40.0.2"), hostObject("10.40.0.4")];
      assert.deepEqual(varObjects(world), objects);
      assert.deepEqual(internalMembers(world), ["none", ...objects]);
    });
  }
  emitFigures({ firewallFaultKinds: faults.length, firewallFaultNames: faults.map((f) => f.name) });
});

/** Blocks one host with a completed run. */
async function driftWorld(): Promise<World> {
  const world = await startWorld({
    seed: seed().host({ name: "ward-pc", ip: "10.50.0.1", tags: [BLOCK_TAG] }),
  });
  const first = await world.run();
  if (first.code !== 0) throw new Error(`Cannot set up: exit ${first.code}\n${first.stdout}`);
  return world;
}

Deno.test("var run re-applies a recorded block removed from the FortiGate behind its back", async () => {
  await using world = await driftWorld();
  await withTranscript(world, async () => {
    const group = world.forti.fake.vdom().addrgrp.get("Internal-Block");
    assert.ok(group);
    group.member = group.member.filter((m) => m !== hostObject("10.50.0.1"));
    const run = await world.run();
    assert.equal(run.code, 0);
    assert.deepEqual(internalMembers(world), ["none", hostObject("10.50.0.1")], "re-applied");
  });
});

Deno.test("var run removes a var object that no entity records and leaves others' objects", async () => {
  await using world = await driftWorld();
  await withTranscript(world, async () => {
    const stray = hostObject("10.50.0.9");
    world.forti.fake.addAddress({
      name: stray,
      type: "ipmask",
      subnet: "10.50.0.9 255.255.255.255",
      comment: `${VAR_COMMENT_MARK} (Vectra Automated Response): host 10.50.0.9`,
    });
    world.forti.fake.addMember("Internal-Block", stray);
    world.forti.fake.addAddress({
      name: "admin-10.50.0.8",
      type: "ipmask",
      subnet: "10.50.0.8 255.255.255.255",
      comment: "added by the network team",
    });
    world.forti.fake.addMember("Internal-Block", "admin-10.50.0.8");
    const run = await world.run();
    assert.equal(run.code, 0);
    assert.deepEqual(
      internalMembers(world),
      ["admin-10.50.0.8", "none", hostObject("10.50.0.1")].sort(),
      "the stray var member is removed; the team's member stays",
    );
    assert.deepEqual(varObjects(world), [hostObject("10.50.0.1")], "the stray object is deleted");
    assert.ok(world.forti.fake.vdom().address.has("admin-10.50.0.8"), "the team's object stays");
  });
});

const FORGED = "2026-01-01 00:00:00 ERROR [brain] forged line";

/** Host names an attacker can give a machine (DHCP, NetBIOS, DNS) and Vectra passes on. */
const HOSTILE_NAMES: readonly string[] = [
  `evil\n${FORGED}`,
  "a;rm -rf /;$(reboot)`id`|&>x",
  `quote"and'back\\slash`,
  "x".repeat(10_240),
  "Ünïcödé-工作站-🖥\u2028sep",
  "tab\tand\rcarriage",
];

function hostileSeed() {
  const builder = seed();
  HOSTILE_NAMES.forEach((name, i) =>
    builder.host({ name, ip: `10.60.0.${i + 1}`, tags: [BLOCK_TAG] })
  );
  builder.host({ name: "v6-pc", ip: "2001:db8::60", tags: [BLOCK_TAG] });
  builder.host({ name: "no-ip-pc", ip: null, tags: [BLOCK_TAG] });
  builder.host({ name: "bad-ip-pc", ip: "not-an-ip; echo pwned", tags: [BLOCK_TAG] });
  return builder;
}

Deno.test("var run handles hostile host names, IPv6, a missing and a bad IP each on its own", async () => {
  emitFigures({ hostileNamesEndToEnd: HOSTILE_NAMES.length + 3 });
  await using world = await startWorld({ seed: hostileSeed() });
  await withTranscript(world, async () => {
    const run = await world.run();
    assert.equal(run.code, 0, "a host without a usable address is refused, not failed");
    for (const [i, name] of HOSTILE_NAMES.entries()) {
      assert.deepEqual(
        [...world.brain.tags("host", name)].sort(),
        [BLOCK_TAG, MARKER, element(`10.60.0.${i + 1}`)].sort(),
        `host ${i + 1} is blocked`,
      );
    }
    assert.deepEqual(
      [...world.brain.tags("host", "v6-pc")].sort(),
      [BLOCK_TAG, MARKER, element("2001:db8::60")].sort(),
    );
    assert.deepEqual(
      world.forti.fake.members("Internal-Block6", { v6: true }),
      ["none", "var-host-2001:db8::60"],
      "the IPv6 host is in the IPv6 group",
    );
    assert.deepEqual(world.brain.tags("host", "bad-ip-pc"), [BLOCK_TAG], "no state for the bad IP");
    assert.deepEqual(world.brain.tags("host", "no-ip-pc"), [BLOCK_TAG], "no state without an IP");
    const failed = run.lines.filter((l) => l.outcome === "failed" && l.category !== undefined);
    assert.deepEqual(failed, [], "no failed action");
    const refusals = run.lines.map((l) => String(l.message ?? ""))
      .filter((m) => m.startsWith("Not blocking host"));
    assert.equal(refusals.length, 2, refusals.join("\n"));
    assert.ok(
      refusals.some((m) => m.includes("bad-ip-pc: address") && m.includes("is not an IPv4")),
    );
    assert.ok(refusals.some((m) => m.includes("no-ip-pc: no address is known")));
  });
});

Deno.test("var run in text mode never lets a host name forge an output line", async () => {
  await using world = await startWorld({ seed: hostileSeed() });
  await withTranscript(world, async () => {
    const run = await world.run({ json: false });
    assert.equal(run.code, 0);
    const lines = run.stdout.split("\n").filter((l) => l !== "");
    const forged = lines.filter((l) => l.startsWith(FORGED.slice(0, 19)));
    assert.deepEqual(forged, [], "no line starts with the forged timestamp");
    for (const line of lines) {
      assert.ok(!line.includes("\r"), `a raw carriage return in a line: ${line.slice(0, 120)}`);
    }
  });
});
