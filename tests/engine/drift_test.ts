import assert from "node:assert/strict";
import type { EnforcedElement } from "../../clients/interface.ts";
import { planDrift } from "../../engine/drift.ts";
import type { Host } from "../../engine/model.ts";
import type { EntitySnapshot, Snapshot } from "../../engine/snapshot.ts";
import { sampleHost } from "../clients/_entities.ts";
import { seed } from "../../demo/seed.ts";
import { runCycle } from "../../engine/cycle.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const NOW = new Date(2026, 10, 27, 10, 0, 0);

const client = { name: "fortinet", tagName: "Fortinet Client" };

function hostSnapshot(brain: string, blocked: Host[], pending: Host[] = []): Snapshot {
  const host: EntitySnapshot<Host> = {
    status: "ok",
    kind: "host",
    tagged: [],
    scored: [],
    urgent: [],
    grouped: [],
    typed: [],
    noBlock: [],
    blocked,
    pending,
  };
  return {
    brain,
    version: "2.5",
    host,
    account: { status: "off", kind: "account" },
    detection: { status: "off", kind: "detection" },
    warnings: [],
  };
}

function blockedHost(id: number, ...elements: string[]): Host {
  return sampleHost({
    id,
    tags: ["VAR Host Blocked", ...elements.map((e) => `VAR ID:Fortinet Client:${e}`)],
  });
}

const enforcedHosts = (...elements: string[]): EnforcedElement[] =>
  elements.map((element) => ({ element, kind: "host" }));

Deno.test("planDrift() finds a recorded block missing on the device", () => {
  const host = blockedHost(1, "10.0.0.1");
  const drift = planDrift(client, [], [hostSnapshot("a", [host])]);
  assert.deepEqual(drift.missing.map((m) => [m.brain, m.entity.id, m.element]), [[
    "a",
    1,
    "10.0.0.1",
  ]]);
  assert.deepEqual(drift.orphans, []);
});

Deno.test("planDrift() finds an object no entity records as an orphan", () => {
  const drift = planDrift(client, enforcedHosts("10.0.0.1", "10.0.0.9"), [
    hostSnapshot("a", [blockedHost(1, "10.0.0.1")]),
  ]);
  assert.deepEqual(drift.missing, []);
  assert.deepEqual(drift.orphans, [{ element: "10.0.0.9", kind: "host" }]);
});

Deno.test("planDrift() counts what any brain records before calling an element orphaned", () => {
  const drift = planDrift(client, enforcedHosts("10.0.0.1", "10.0.0.2"), [
    hostSnapshot("a", [blockedHost(1, "10.0.0.1")]),
    hostSnapshot("b", [blockedHost(1, "10.0.0.2")]),
  ]);
  assert.deepEqual(drift.orphans, []);
  assert.deepEqual(drift.missing, []);
});

Deno.test("planDrift() removes nothing of a kind that a brain could not read", () => {
  const failed: Snapshot = {
    ...hostSnapshot("b", []),
    host: { status: "failed", kind: "host", error: "GET /hosts answered 503" },
  };
  const drift = planDrift(client, enforcedHosts("10.0.0.9"), [hostSnapshot("a", []), failed]);
  assert.deepEqual(drift.orphans, []);
  assert.equal(drift.unjudged.length, 1);
  assert.match(drift.unjudged[0]?.reason ?? "", /b could not be read: GET \/hosts answered 503/);
});

Deno.test("planDrift() removes nothing while an interrupted action is pending for the client", () => {
  const pending = sampleHost({ id: 3, tags: ["VAR Pending:Fortinet Client:block"] });
  const drift = planDrift(client, enforcedHosts("10.0.0.3"), [hostSnapshot("a", [], [pending])]);
  assert.deepEqual(drift.orphans, []);
  assert.match(drift.unjudged[0]?.reason ?? "", /pending for Fortinet Client/);
});

Deno.test("planDrift() ignores other clients' elements and static entries", () => {
  const host = sampleHost({
    id: 1,
    tags: ["VAR Host Blocked", "VAR ID:PAN Client:10.0.0.1"],
  });
  const drift = planDrift(client, [{ element: "2.2.2.0/24", kind: "static" }], [
    hostSnapshot("a", [host]),
  ]);
  assert.deepEqual(drift.missing, []);
  assert.deepEqual(drift.orphans, []);
});

Deno.test("runCycle() re-applies a block removed behind var's back and removes an orphan", async () => {
  await using h = await startEngine(
    seed()
      .host({ name: "ward-3-pc", ip: "10.1.2.3", tags: ["vectra_host_block"] })
      .group({ name: "NoBlock", type: "host", members: [] })
      .group({ name: "Block", type: "host", members: [] })
      .group({ name: "NoBlock", type: "account", members: [] })
      .group({ name: "Block", type: "account", members: [] })
      .build(),
  );
  const client = testClientAs();
  const config = { ...testConfig(), verifyEveryCycles: 1 };
  const run = (dryRun = false) =>
    runCycle(config, [h.runtime], [client], {
      dryRun,
      groom: false,
      now: NOW,
      insideWindow: true,
      confirmBlastRadius: false,
      clock: () => NOW,
    });
  await run();
  assert.deepEqual([...client.device.enforced("host")], ["host-1-10.1.2.3"]);

  client.device.release("host-1-10.1.2.3");
  client.device.hold("host-9-10.9.9.9", { kind: "host", key: "host:9:10.9.9.9", ip: "10.9.9.9" });
  const planned = await run(true);
  assert.deepEqual(
    planned.actions.map((a) => [a.operation, a.entityName, a.outcome]),
    [["block", "ward-3-pc", "planned"], ["unblock", "host-9-10.9.9.9", "planned"]],
  );
  assert.deepEqual(
    [...client.device.enforced("host")],
    ["host-9-10.9.9.9"],
    "a dry run repairs nothing",
  );

  const repaired = await run();
  assert.equal(repaired.exitCode, 0);
  assert.deepEqual(
    repaired.actions.map((a) => [a.operation, a.entityName, a.outcome]),
    [["block", "ward-3-pc", "ok"], ["unblock", "host-9-10.9.9.9", "ok"]],
  );
  assert.deepEqual([...client.device.enforced("host")], ["host-1-10.1.2.3"]);
  assert.deepEqual(h.brain.tags("host", "ward-3-pc"), [
    "vectra_host_block",
    "VAR Host Blocked",
    "VAR ID:Test Client:host-1-10.1.2.3",
  ]);
});
