import assert from "node:assert/strict";
import type { EnforcedElement } from "../../clients/interface.ts";
import { planDrift } from "../../engine/drift.ts";
import type { Host } from "../../engine/model.ts";
import type { EntitySnapshot, Snapshot } from "../../engine/snapshot.ts";
import { sampleHost } from "../clients/_entities.ts";

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
