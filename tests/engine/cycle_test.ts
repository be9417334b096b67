import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import { formatPlan, runCycle } from "../../engine/cycle.ts";
import type { Config } from "../../config_types.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { startEngine, testClientAs, testEachReading, writes } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const NOW = new Date(2026, 10, 27, 10, 0, 0);

function cycle(
  config: Config,
  runtime: Parameters<typeof runCycle>[1][number],
  clients: ResponseClient[],
  options: Partial<Parameters<typeof runCycle>[3]> = {},
) {
  return runCycle(config, [runtime], clients, {
    dryRun: false,
    groom: false,
    now: NOW,
    insideWindow: true,
    confirmBlastRadius: false,
    clock: () => NOW,
    ...options,
  });
}

function basicSeed() {
  return seed()
    .host({
      name: "ward-3-pc",
      ip: "10.1.2.3",
      tags: ["vectra_host_block"],
      threat: 80,
      certainty: 90,
    })
    .host({ name: "icu-monitor", ip: "10.1.2.4", tags: ["vectra_host_block"] })
    .host({
      name: "old-kiosk",
      ip: "10.1.2.5",
      tags: ["front-desk", "VAR Host Blocked", "VAR ID:Test Client:6f1c-uuid"],
    })
    .host({ name: "quiet", ip: "10.1.2.6" })
    .account({ name: "O365:dr.jones@hospital.example", tags: ["vectra_account_block"] })
    .group({ name: "NoBlock", type: "host", members: ["icu-monitor"] })
    .group({ name: "Block", type: "host", members: [] })
    .group({ name: "NoBlock", type: "account", members: [] })
    .group({ name: "Block", type: "account", members: [] });
}

testEachReading(
  "runCycle() blocks, unblocks, writes tags and notes, then converges",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const client = testClientAs();
    const report = await cycle(testConfig(), h.runtime, [client]);
    assert.equal(report.exitCode, 0, formatPlan(report));
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.1.2.3",
    ]);
    assert.deepEqual(h.brain.tags("host", "icu-monitor"), ["vectra_host_block"]);
    assert.deepEqual(h.brain.tags("host", "old-kiosk"), ["front-desk"]);
    assert.deepEqual(h.brain.tags("account", "O365:dr.jones@hospital.example"), [
      "vectra_account_block",
      "VAR Account Blocked",
      "VAR ID:Test Client:account-1001",
    ]);
    assert.deepEqual(h.brain.notes("host", "ward-3-pc").map((n) => n.note), [
      "VAR: Blocked on 27 Nov 2026 at 10:00:00 by Test Client (tag vectra_host_block)",
    ]);
    assert.deepEqual(h.brain.notes("host", "old-kiosk").map((n) => n.note), [
      "VAR: Unblocked on 27 Nov 2026 at 10:00:00 by Test Client (no longer matches)",
    ]);
    assert.deepEqual(
      client.calls.map((c) => `${c.operation} ${c.subject} ${c.recorded?.join(",") ?? ""}`.trim())
        .sort(),
      ["blockAccount account 1001", "blockHost host 1", "unblockHost host 3 6f1c-uuid"],
    );
    assert.deepEqual(
      report.actions.map((a) => [a.kind, a.entityName, a.operation, a.outcome, a.message]).sort(),
      [
        [
          "account",
          "O365:dr.jones@hospital.example",
          "block",
          "ok",
          "Blocked account 1001, O365:dr.jones@hospital.example,  on client Test Client",
        ],
        [
          "host",
          "old-kiosk",
          "unblock",
          "ok",
          "Unblocked host 3, old-kiosk, 10.1.2.5 with client Test Client",
        ],
        [
          "host",
          "ward-3-pc",
          "block",
          "ok",
          "Blocked host 1, ward-3-pc, 10.1.2.3 with client Test Client",
        ],
      ],
    );
    assert.deepEqual(report.brains[0]?.blockedCounts, { host: 1, account: 1, detection: 0 });

    h.brain.clearRequests();
    const second = await cycle(testConfig(), h.runtime, [client]);
    assert.equal(second.exitCode, 0);
    assert.deepEqual(second.actions, []);
    assert.deepEqual(writes(h.brain), []);
  },
);

testEachReading(
  "runCycle() skips a kind whose query fails and unblocks nothing of it",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    h.brain.failNext(500, { path: "/hosts", query: { tags: "VAR Host Blocked" }, times: Infinity });
    const client = testClientAs();
    const report = await cycle(testConfig(), h.runtime, [client]);
    assert.equal(report.exitCode, 3);
    assert.deepEqual(report.brains[0]?.skippedKinds.map((s) => s.kind), ["host"]);
    assert.equal(report.brains[0]?.result, "partial");
    assert.deepEqual(h.brain.tags("host", "old-kiosk"), [
      "front-desk",
      "VAR Host Blocked",
      "VAR ID:Test Client:6f1c-uuid",
    ]);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), ["vectra_host_block"]);
    assert.ok(report.actions.every((a) => a.kind === "account"));
    assert.deepEqual(h.brain.tags("account", "O365:dr.jones@hospital.example"), [
      "vectra_account_block",
      "VAR Account Blocked",
      "VAR ID:Test Client:account-1001",
    ]);
    assert.ok(
      report.messages.some((m) => m.category === "Error" && m.text.startsWith("Cannot read hosts")),
    );
  },
);

testEachReading(
  "runCycle() fails a kind closed when a configured group does not exist",
  async (reading) => {
    const data = seed()
      .host({ name: "ward-3-pc", tags: ["vectra_host_block"] })
      .host({ name: "old", tags: ["VAR Host Blocked", "VAR ID:Test Client:x"] })
      .group({ name: "Block", type: "host", members: [] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const config = testConfig({ blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [testClientAs()]);
    assert.equal(report.exitCode, 3);
    assert.deepEqual(report.actions, []);
    assert.match(
      report.brains[0]?.skippedKinds[0]?.error ?? "",
      /host group "NoBlock" \(NO_BLOCK_HOST_GROUP_NAME\) does not exist on brain .*; create the group in Vectra, or set NO_BLOCK_HOST_GROUP_NAME empty to switch the criterion off/,
    );
    assert.deepEqual(h.brain.tags("host", "old"), ["VAR Host Blocked", "VAR ID:Test Client:x"]);
  },
);

testEachReading(
  "runCycle() keeps a failing client's pair apart from the others",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const good = testClientAs();
    const bad = testClientAs("pan", "PAN Client", ["blockHost"]);
    const config = testConfig({ blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [bad, good]);
    assert.equal(report.exitCode, 2);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.1.2.3",
    ]);
    const failed = report.actions.filter((a) => a.outcome === "failed");
    assert.deepEqual(failed.map((a) => [a.client, a.entityName]), [["pan", "ward-3-pc"]]);
    assert.match(failed[0]?.message ?? "", /^Error encountered trying to block Host ID 1: /);

    // The next cycle retries only the client that failed.
    bad.device.fail(null);
    const healed = testClientAs("pan", "PAN Client");
    const again = await cycle(config, h.runtime, [healed, good]);
    assert.deepEqual(again.actions.map((a) => [a.client, a.operation, a.outcome]), [
      ["pan", "block", "ok"],
    ]);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.1.2.3",
      "VAR ID:PAN Client:host-1-10.1.2.3",
    ]);
  },
);

testEachReading(
  "runCycle() leaves the entity's tags unchanged when its only client fails",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const bad = testClientAs("test_client", "Test Client", ["blockHost", "unblockHost"]);
    const config = testConfig({ blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [bad]);
    assert.equal(report.exitCode, 2);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), ["vectra_host_block"]);
    assert.deepEqual(h.brain.tags("host", "old-kiosk"), [
      "front-desk",
      "VAR Host Blocked",
      "VAR ID:Test Client:6f1c-uuid",
    ]);
    assert.deepEqual(h.brain.notes("host", "ward-3-pc"), []);
    assert.deepEqual(
      report.actions.map((a) => [a.entityName, a.outcome]).sort(),
      [["old-kiosk", "failed"], ["ward-3-pc", "failed"]],
    );
  },
);

testEachReading(
  "runCycle() in a dry run or outside the window changes nothing",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const client = testClientAs();
    for (const options of [{ dryRun: true }, { insideWindow: false }]) {
      h.brain.clearRequests();
      const report = await cycle(testConfig(), h.runtime, [client], options);
      assert.equal(report.acted, false);
      assert.ok(report.actions.length > 0);
      assert.ok(report.actions.every((a) => a.outcome === "planned"));
      assert.deepEqual(writes(h.brain), []);
    }
    assert.deepEqual(client.calls, []);
    const text = formatPlan(
      await cycle(testConfig(), h.runtime, [client], { dryRun: true }),
    );
    assert.match(text, /planned\s+block\s+brain\.test|planned\s+block/);
    assert.match(text, /because tag vectra_host_block/);
    assert.match(text, /because no longer matches/);
    assert.match(text, /icu-monitor: tag vectra_host_block; member of no-block group NoBlock/);
  },
);

testEachReading(
  "runCycle() lets unblocks run outside the window with UNBLOCK_OUTSIDE_WINDOW",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const config = testConfig({ unblockOutside: true, blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [testClientAs()], { insideWindow: false });
    assert.deepEqual(
      report.actions.map((a) => [a.entityName, a.operation, a.outcome]).sort(),
      [["old-kiosk", "unblock", "ok"], ["ward-3-pc", "block", "planned"]],
    );
    assert.deepEqual(h.brain.tags("host", "old-kiosk"), ["front-desk"]);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), ["vectra_host_block"]);
  },
);

testEachReading(
  "runCycle() holds blocks over the blast-radius limit and exits 2",
  async (reading) => {
    await using h = await startEngine(basicSeed().build(), "2.5", reading);
    const config = testConfig({ limits: { maxBlocksPerCycle: 0 }, blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [testClientAs()]);
    assert.equal(report.exitCode, 2);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), ["vectra_host_block"]);
    assert.deepEqual(h.brain.tags("host", "old-kiosk"), ["front-desk"]);
    assert.equal(report.brains[0]?.limitsTripped.length, 1);
    const confirmed = await cycle(config, h.runtime, [testClientAs()], {
      confirmBlastRadius: true,
    });
    assert.equal(confirmed.exitCode, 0);
    assert.deepEqual(h.brain.tags("host", "ward-3-pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.1.2.3",
    ]);
  },
);

testEachReading(
  "runCycle() unblocks a wrongly blocked no-block member and removes its block tag",
  async (reading) => {
    const data = seed()
      .host({
        name: "icu-monitor",
        tags: ["vectra_host_block", "VAR Host Blocked", "VAR ID:PAN Client:10.0.0.1"],
      })
      .group({ name: "NoBlock", type: "host", members: ["icu-monitor"] })
      .group({ name: "Block", type: "host", members: [] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const config = testConfig({ blockTypes: new Set(["host"]) });
    const pan = testClientAs("pan", "PAN Client");
    const report = await cycle(config, h.runtime, [pan]);
    assert.equal(report.exitCode, 0, formatPlan(report));
    assert.deepEqual(h.brain.tags("host", "icu-monitor"), []);
    assert.deepEqual(h.brain.notes("host", "icu-monitor").map((n) => n.note), [
      "VAR: Unblocked on 27 Nov 2026 at 10:00:00 by PAN Client (member of no-block group NoBlock); " +
      "removed tag vectra_host_block",
    ]);
  },
);

testEachReading(
  "runCycle() resolves an interrupted block of a host that no longer matches",
  async (reading) => {
    const data = seed()
      .host({ name: "gone", ip: "10.9.9.9", tags: ["analyst", "VAR Pending:Test Client:block"] })
      .group({ name: "NoBlock", type: "host", members: [] })
      .group({ name: "Block", type: "host", members: [] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const client = testClientAs();
    // The crashed run had already blocked it on the device.
    await client.blockHost!(await h.api.hostsByIds([1]).then((l) => l[0]!));
    assert.equal(client.device.enforced("host").size, 1);
    const config = testConfig({ blockTypes: new Set(["host"]) });
    const report = await cycle(config, h.runtime, [client]);
    assert.equal(report.exitCode, 0, formatPlan(report));
    assert.equal(client.device.enforced("host").size, 0);
    assert.deepEqual(h.brain.tags("host", "gone"), ["analyst"]);
  },
);

testEachReading("runCycle() reconciles the static list once per cycle", async (reading) => {
  await using h = await startEngine(basicSeed().build(), "2.5", reading);
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/static.txt`;
    await Deno.writeTextFile(file, "# block list\n203.0.113.7\n198.51.100.0/24\n2.2.2.1/24\n");
    const client = testClientAs();
    client.device.holdStatic("192.0.2.1");
    const config = testConfig({ blockTypes: new Set(["static"]), staticIpsFile: file });
    const report = await runCycle(config, [h.runtime, h.runtime], [client], {
      dryRun: false,
      groom: false,
      now: NOW,
      insideWindow: true,
      confirmBlastRadius: false,
    });
    assert.deepEqual([...client.device.enforced("static")].sort(), [
      "198.51.100.0/24",
      "203.0.113.7",
    ]);
    assert.deepEqual(
      report.actions.map((a) => [a.operation, a.entityName, a.outcome]).sort(),
      [
        ["static-block", "198.51.100.0/24", "ok"],
        ["static-block", "203.0.113.7", "ok"],
        ["static-unblock", "192.0.2.1", "ok"],
      ],
    );
    assert.ok(
      report.messages.some((m) => m.text.includes("line 4") && m.text.includes('"2.2.2.0/24"')),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

testEachReading("runCycle() with groom re-blocks a host whose IP changed", async (reading) => {
  const data = seed()
    .host({
      name: "pc",
      ip: "10.0.0.1",
      tags: ["vectra_host_block", "VAR Host Blocked", "VAR ID:Test Client:host-1-10.0.0.9"],
    })
    .build();
  await using h = await startEngine(data, "2.5", reading);
  const config = testConfig({
    blockTypes: new Set(["host"]),
    host: { noBlockGroup: null, blockGroup: null },
  });
  const report = await cycle(config, h.runtime, [testClientAs()], { groom: true });
  assert.equal(report.exitCode, 0, formatPlan(report));
  assert.deepEqual(report.actions.map((a) => [a.operation, a.outcome, a.elements]), [
    ["groom", "ok", ["host-1-10.0.0.1"]],
  ]);
  assert.deepEqual(h.brain.tags("host", "pc"), [
    "vectra_host_block",
    "VAR Host Blocked",
    "VAR ID:Test Client:host-1-10.0.0.1",
  ]);
  assert.match(
    h.brain.notes("host", "pc")[0]?.note ?? "",
    /^VAR: Blocked on .* \(groomed after a change\)$/,
  );
});
