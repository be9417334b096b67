import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import type { Detection, Host } from "../../engine/model.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { act } from "../../engine/act.ts";
import { plan } from "../../engine/plan.ts";
import { select } from "../../engine/select.ts";
import type { VectraApi } from "../../engine/vectra/api.ts";
import type { Config } from "../../config_types.ts";
import { startEngine, testClientAs, testEachReading, writes } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const AT = new Date(2026, 10, 27, 10, 0, 0);

async function planFor(api: VectraApi, config: Config, clients: ResponseClient[]) {
  const snapshot = await select(api, config, { clientTags: clients.map((c) => c.tagName) });
  return plan(snapshot, config, { clients });
}

const HOSTS_ONLY = testConfig({
  blockTypes: new Set(["host"]),
  host: { noBlockGroup: null, blockGroup: null },
});

testEachReading(
  "act() records the intent before the client acts and clears it after",
  async (reading) => {
    await using h = await startEngine(
      seed().host({ name: "pc", tags: ["vectra_host_block"] }).build(),
      "2.5",
      reading,
    );
    const inner = testClientAs();
    const seen: string[][] = [];
    const client: ResponseClient = {
      ...inner,
      blockHost: (host: Host) => {
        seen.push(h.brain.tags("host", "pc"));
        // An analyst edits the tags while the client works.
        h.brain.setTags("host", "pc", [...h.brain.tags("host", "pc"), "analyst-edit"]);
        return inner.blockHost!(host);
      },
    };
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(seen, [["vectra_host_block", "VAR Pending:Test Client:block"]]);
    assert.deepEqual(h.brain.tags("host", "pc"), [
      "vectra_host_block",
      "analyst-edit",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.0.0.1",
    ]);
    assert.deepEqual(report.records.map((r) => [r.outcome, r.elements]), [
      ["ok", ["host-1-10.0.0.1"]],
    ]);
    assert.deepEqual(h.brain.notes("host", "pc").map((n) => n.note), [
      "VAR: Blocked on 27 Nov 2026 at 10:00:00 by Test Client (tag vectra_host_block)",
    ]);
  },
);

testEachReading("act() writes one note per entity for several clients", async (reading) => {
  await using h = await startEngine(
    seed().host({ name: "pc", tags: ["vectra_host_block"] }).build(),
    "2.5",
    reading,
  );
  const clients = [testClientAs("pan", "PAN Client"), testClientAs()];
  const p = await planFor(h.api, HOSTS_ONLY, clients);
  // Per-entity intents (tests/engine/act_bulk_test.ts covers bulk intents).
  await act(p, h.api, clients, { clock: () => AT, bulkIntents: false });
  assert.deepEqual(h.brain.tags("host", "pc"), [
    "vectra_host_block",
    "VAR Host Blocked",
    "VAR ID:PAN Client:host-1-10.0.0.1",
    "VAR ID:Test Client:host-1-10.0.0.1",
  ]);
  assert.deepEqual(h.brain.notes("host", "pc").map((n) => n.note), [
    "VAR: Blocked on 27 Nov 2026 at 10:00:00 by PAN Client, Test Client (tag vectra_host_block)",
  ]);
  const tagWrites = h.brain.requests.filter((r) => r.endpoint === "PATCH /tagging/host/{id}");
  assert.equal(tagWrites.length, 2);
});

testEachReading(
  "act() warns and records nothing when a client finds nothing to block",
  async (reading) => {
    await using h = await startEngine(
      seed().host({ name: "pc", tags: ["vectra_host_block"] }).build(),
      "2.5",
      reading,
    );
    const empty: ResponseClient = { ...testClientAs(), blockHost: () => Promise.resolve([]) };
    const p = await planFor(h.api, HOSTS_ONLY, [empty]);
    const report = await act(p, h.api, [empty]);
    assert.deepEqual(report.records.map((r) => [r.outcome, r.message]), [
      ["warning", "Did not find any elements to block on host ID 1"],
    ]);
    assert.deepEqual(h.brain.tags("host", "pc"), ["vectra_host_block"]);
    assert.deepEqual(h.brain.notes("host", "pc"), []);
  },
);

testEachReading("act() keeps unconfirmed elements recorded and says which", async (reading) => {
  const data = seed().host({
    name: "pc",
    tags: ["VAR Host Blocked", "VAR ID:Test Client:a", "VAR ID:Test Client:b"],
  }).build();
  await using h = await startEngine(data, "2.5", reading);
  const inner = testClientAs();
  const partial: ResponseClient = {
    ...inner,
    unblockHost: (_host: Host, recorded: readonly string[]) =>
      Promise.resolve(recorded.filter((id) => id === "a")),
  };
  const p = await planFor(h.api, HOSTS_ONLY, [partial]);
  const report = await act(p, h.api, [partial], { clock: () => AT });
  assert.deepEqual(report.records.map((r) => [r.outcome, r.message]), [
    ["warning", "Could not unblock host pc element(s) b"],
  ]);
  assert.deepEqual(h.brain.tags("host", "pc"), ["VAR Host Blocked", "VAR ID:Test Client:b"]);
});

testEachReading(
  "act() does not unblock an element another blocked detection still holds",
  async (reading) => {
    const data = seed()
      .host({ name: "pc" })
      .detection({
        src: "pc",
        type: "Hidden DNS Tunnel",
        tags: ["block", "VAR Detection Blocked", "VAR ID:PAN Client:45.142.212.100"],
      })
      .detection({
        src: "pc",
        type: "Hidden HTTPS Tunnel",
        tags: [
          "VAR Detection Blocked",
          "VAR ID:PAN Client:45.142.212.100",
          "VAR ID:PAN Client:45.142.212.101",
        ],
      })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const inner = testClientAs("pan", "PAN Client");
    const sent: string[][] = [];
    const pan: ResponseClient = {
      ...inner,
      unblockDetection: (_d: Detection, recorded: readonly string[]) => {
        sent.push([...recorded]);
        return Promise.resolve([...recorded]);
      },
    };
    const config = testConfig({ blockTypes: new Set(["detection"]), host: { noBlockGroup: null } });
    const p = await planFor(h.api, config, [pan]);
    await act(p, h.api, [pan], { clock: () => AT });
    assert.deepEqual(sent, [["45.142.212.101"]]);
    const [first, second] = h.brain.all("detection").map((d) => d.id);
    assert.deepEqual(h.brain.tags("detection", first!), [
      "block",
      "VAR Detection Blocked",
      "VAR ID:PAN Client:45.142.212.100",
    ]);
    assert.deepEqual(h.brain.tags("detection", second!), []);
  },
);

testEachReading(
  "act() reports a failed state write and leaves the intent for the next cycle",
  async (reading) => {
    await using h = await startEngine(
      seed().host({ name: "pc", tags: ["vectra_host_block"] }).build(),
      "2.5",
      reading,
    );
    const client = testClientAs();
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    h.brain.fault({ kind: "tagFailure" }, { method: "PATCH", path: "/tagging/host", times: 1 });
    // The intent write fails: nothing is called.
    // Per-entity intents (tests/engine/act_bulk_test.ts covers bulk intents).
    const first = await act(p, h.api, [client], { bulkIntents: false });
    assert.equal(first.records[0]?.outcome, "failed");
    assert.match(first.records[0]?.error ?? "", /^cannot record the intent on Vectra: /);
    assert.deepEqual(client.calls, []);
    // The result write fails: the client acted, the intent stays for the next cycle.
    const failing: ResponseClient = {
      ...client,
      blockHost: (host: Host) => {
        h.brain.failNext(500, { method: "PATCH", path: "/tagging/host", times: Infinity });
        return client.blockHost!(host);
      },
    };
    const second = await act(p, h.api, [failing], { bulkIntents: false });
    assert.equal(second.records[0]?.outcome, "failed");
    assert.match(
      second.records[0]?.error ?? "",
      /^the client acted but the state write on Vectra failed: /,
    );
    h.brain.clearFaults();
    assert.deepEqual(h.brain.tags("host", "pc"), [
      "vectra_host_block",
      "VAR Pending:Test Client:block",
    ]);
    assert.deepEqual(h.brain.notes("host", "pc"), []);

    // The next cycle completes the interrupted block.
    const next = await planFor(h.api, HOSTS_ONLY, [client]);
    const third = await act(next, h.api, [client]);
    assert.equal(third.records[0]?.outcome, "ok");
    assert.deepEqual(h.brain.tags("host", "pc"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.0.0.1",
    ]);
  },
);

testEachReading(
  "act() refuses guarded and held entries without touching anything",
  async (reading) => {
    await using h = await startEngine(
      seed().host({ name: "pc", tags: ["vectra_host_block"] }).build(),
      "2.5",
      reading,
    );
    const client = testClientAs();
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    h.brain.clearRequests();
    const report = await act(p, h.api, [client], { guard: () => "dry run" });
    assert.deepEqual(report.records.map((r) => [r.outcome, r.message]), [
      ["planned", "Would block host 1 pc (10.0.0.1) with client Test Client: dry run"],
    ]);
    assert.deepEqual(writes(h.brain), []);
    assert.deepEqual(client.calls, []);
  },
);

testEachReading(
  "an unblock cut short after its VAR ID tag went is completed with its note, without a client call",
  async (reading) => {
    // The killed run had unblocked and removed the VAR ID tag, not yet the marker or intent.
    const tags = ["VAR Host Blocked", "VAR Pending:Test Client:unblock", "analyst-note"];
    await using h = await startEngine(seed().host({ name: "pc", tags }).build(), "2.5", reading);
    const client = testClientAs();
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    assert.deepEqual(
      p.host.entries.map((e) => [e.operation, e.steps.map((s) => [s.mode, s.completesUnblock])]),
      [["unblock", [["clear", true]]]],
    );
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => [r.outcome, r.message]), [[
      "ok",
      "Completed the interrupted unblock of host 1 pc (10.0.0.1) with client Test Client: " +
      "its elements were already released",
    ]]);
    assert.deepEqual(client.calls, []);
    assert.deepEqual(h.brain.tags("host", "pc"), ["analyst-note"]);
    const notes = h.brain.notes("host", "pc");
    assert.equal(notes.length, 1);
    assert.equal(
      notes[0]?.note,
      "VAR: Unblocked on 27 Nov 2026 at 10:00:00 by Test Client (no longer matches)",
    );
  },
);

testEachReading(
  "a block intent whose client records nothing and cannot unblock is only cleared, without a note",
  async (reading) => {
    const tags = ["VAR Pending:Test Client:block"];
    await using h = await startEngine(seed().host({ name: "pc", tags }).build(), "2.5", reading);
    const inner = testClientAs();
    const supports = new Set([...inner.supports].filter((op) => op !== "blockHost"));
    const client: ResponseClient = { ...inner, supports };
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    assert.deepEqual(
      p.host.entries.map((e) => e.steps.map((s) => [s.mode, s.completesUnblock])),
      [[["clear", undefined]]],
    );
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => [r.outcome, r.message]), [
      ["ok", "Cleared a stale intent of Test Client on host 1 pc (10.0.0.1)"],
    ]);
    assert.deepEqual(h.brain.tags("host", "pc"), []);
    assert.deepEqual(h.brain.notes("host", "pc"), []);
  },
);

/** A host recorded as blocked by the test client, without the block tag. */
function blockedPc() {
  return seed().host({
    name: "pc",
    tags: ["VAR Host Blocked", "VAR ID:Test Client:host-1-10.0.0.1"],
  });
}

/** GET requests for an entity's tags. */
function tagReads(h: { brain: { requests: readonly { endpoint: string }[] } }): number {
  return h.brain.requests.filter((r) => r.endpoint === "GET /tagging/host/{id}").length;
}

const STILL_TAGGED = "Not unblocking host 1 pc (10.0.0.1): it still carries the tag " +
  '"vectra_host_block", which this cycle\'s read of Vectra missed (the list changed while it ' +
  "was read); nothing changed, the next cycle decides again";

testEachReading(
  "act() keeps a host blocked when its fresh tags still carry the block tag",
  async (reading) => {
    await using h = await startEngine(blockedPc().build(), "2.5", reading);
    const client = testClientAs();
    client.device.hold("host-1-10.0.0.1", { kind: "host", key: "host:1:10.0.0.1", ip: "10.0.0.1" });
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    assert.deepEqual(p.host.entries.map((e) => [e.operation, e.reasons, e.keepIfTagged]), [
      ["unblock", ["no longer matches"], "vectra_host_block"],
    ]);
    // The cycle's read missed the tag: the entity carries it on Vectra.
    const tags = ["vectra_host_block", ...h.brain.tags("host", "pc")];
    h.brain.setTags("host", "pc", tags);
    h.brain.clearRequests();
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => [r.outcome, r.category, r.elements, r.message]), [
      ["warning", "Warning", ["host-1-10.0.0.1"], STILL_TAGGED],
    ]);
    assert.deepEqual(report.records[0]?.reasons, [
      "no longer matches",
      "still tagged vectra_host_block",
    ]);
    assert.deepEqual(client.calls, [], "the client is not called");
    assert.deepEqual(writes(h.brain), [], "nothing is written to Vectra");
    assert.equal(tagReads(h), 1, "the check reuses the read before the intent write");
    assert.deepEqual(h.brain.tags("host", "pc"), tags);
    assert.deepEqual([...client.device.enforced("host")], ["host-1-10.0.0.1"]);
  },
);

testEachReading(
  "act() unblocks a host that no longer matches at no extra request for the check",
  async (reading) => {
    await using h = await startEngine(blockedPc().build(), "2.5", reading);
    const client = testClientAs();
    client.device.hold("host-1-10.0.0.1", { kind: "host", key: "host:1:10.0.0.1", ip: "10.0.0.1" });
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    // An unrelated analyst tag is no reason to keep it.
    h.brain.setTags("host", "pc", ["vectra_host_block_old", ...h.brain.tags("host", "pc")]);
    h.brain.clearRequests();
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => r.outcome), ["ok"]);
    assert.equal(tagReads(h), 1, "one read before the intent; the result is written in bulk");
    assert.equal(
      h.brain.requests.filter((r) => r.method === "PATCH").length,
      0,
      "no tag list is replaced",
    );
    assert.deepEqual(h.brain.tags("host", "pc"), ["vectra_host_block_old"]);
    assert.deepEqual([...client.device.enforced("host")], []);
  },
);

testEachReading(
  "act() keeps a still-tagged host whose unblock only drops a shared element",
  async (reading) => {
    const data = seed()
      .host({
        name: "pc-a",
        ip: "10.0.0.1",
        tags: ["vectra_host_block", "VAR Host Blocked", "VAR ID:Test Client:shared"],
      })
      .host({
        name: "pc-b",
        ip: "10.0.0.2",
        tags: ["VAR Host Blocked", "VAR ID:Test Client:shared"],
      })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const client = testClientAs();
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    const [entry] = p.host.entries;
    assert.deepEqual(entry?.steps.map((s) => [s.elements, s.dropOnly]), [[[], ["shared"]]]);
    const tags = ["vectra_host_block", "VAR Host Blocked", "VAR ID:Test Client:shared"];
    h.brain.setTags("host", "pc-b", tags);
    h.brain.clearRequests();
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => [r.outcome, r.entityName]), [["warning", "pc-b"]]);
    assert.match(report.records[0]?.message ?? "", /^Not unblocking host 2 pc-b /);
    assert.deepEqual(writes(h.brain), []);
    assert.deepEqual(h.brain.tags("host", "pc-b"), tags);
  },
);

testEachReading(
  "act() keeps the marker of a still-tagged host whose elements are unknown",
  async (reading) => {
    await using h = await startEngine(
      seed().host({ name: "pc", tags: ["VAR Host Blocked"] }).build(),
      "2.5",
      reading,
    );
    const client = testClientAs();
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    assert.deepEqual(p.host.entries.map((e) => [e.operation, e.steps.length]), [["unblock", 0]]);
    h.brain.setTags("host", "pc", ["vectra_host_block", "VAR Host Blocked"]);
    h.brain.clearRequests();
    const report = await act(p, h.api, [client]);
    assert.deepEqual(report.records.map((r) => [r.outcome, r.client, r.message]), [
      ["warning", "-", STILL_TAGGED],
    ]);
    assert.deepEqual(writes(h.brain), []);
    assert.deepEqual(h.brain.tags("host", "pc"), ["vectra_host_block", "VAR Host Blocked"]);
  },
);

testEachReading(
  "act() still unblocks a tagged host of the no-block group and removes its tag",
  async (reading) => {
    const data = seed()
      .host({
        name: "pc",
        tags: ["vectra_host_block", "VAR Host Blocked", "VAR ID:Test Client:host-1-10.0.0.1"],
      })
      .group({ name: "NoBlock", type: "host", members: ["pc"] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const client = testClientAs();
    client.device.hold("host-1-10.0.0.1", { kind: "host", key: "host:1:10.0.0.1", ip: "10.0.0.1" });
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { noBlockGroup: "NoBlock", blockGroup: null },
    });
    const p = await planFor(h.api, config, [client]);
    assert.deepEqual(p.host.entries.map((e) => [e.reasons, e.removeTag, e.keepIfTagged]), [
      [["member of no-block group NoBlock"], "vectra_host_block", null],
    ]);
    const report = await act(p, h.api, [client], { clock: () => AT });
    assert.deepEqual(report.records.map((r) => r.outcome), ["ok"]);
    assert.deepEqual(h.brain.tags("host", "pc"), []);
    assert.deepEqual([...client.device.enforced("host")], []);
  },
);
