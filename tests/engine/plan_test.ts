import assert from "node:assert/strict";
import { plan, type PlanEntry, scoreReason } from "../../engine/plan.ts";
import type { Snapshot } from "../../engine/snapshot.ts";
import type { Entity, Host, Kind } from "../../engine/model.ts";
import { sampleAccount, sampleDetection, sampleHost } from "../clients/_entities.ts";
import { planClient, testConfig } from "./_policy.ts";

const TEST = planClient("test_client", "Test Client");
const PAN = planClient("pan", "PAN Client");
const VISION = planClient("trendmicro_visionone", " VisionOne Client");

function emptySnapshot(): Snapshot {
  const entity = { tagged: [], scored: [], urgent: [], grouped: [], typed: [], noBlock: [] };
  return {
    brain: "brain.test",
    version: "2.5",
    host: { status: "ok", kind: "host", ...entity, blocked: [], pending: [] },
    account: { status: "ok", kind: "account", ...entity, blocked: [], pending: [] },
    detection: {
      status: "ok",
      kind: "detection",
      tagged: [],
      typed: [],
      scoredHosts: [],
      scoredHostDetections: [],
      noBlockHostIds: [],
      blocked: [],
      pending: [],
    },
    warnings: [],
  };
}

/** The tagged / blocked / no-block / pending lists of one kind. */
interface Lists {
  tagged?: Entity[];
  blocked?: Entity[];
  noBlock?: Entity[];
  pending?: Entity[];
}

interface KindCase {
  kind: Kind;
  marker: string;
  blockTag: string;
  unblockTag: string;
  noBlockReason: string;
  make(id: number, tags?: string[]): Entity;
  snapshot(lists: Lists): Snapshot;
}

const CASES: KindCase[] = [
  {
    kind: "host",
    marker: "VAR Host Blocked",
    blockTag: "vectra_host_block",
    unblockTag: "vectra_host_unblock",
    noBlockReason: "member of no-block group NoBlock",
    make: (id, tags = []) => sampleHost({ id, name: `host-${id}`, ip: `10.0.0.${id}`, tags }),
    snapshot: (l) => {
      const s = emptySnapshot();
      return {
        ...s,
        host: {
          ...(s.host as Extract<Snapshot["host"], { status: "ok" }>),
          tagged: (l.tagged ?? []) as Host[],
          blocked: (l.blocked ?? []) as Host[],
          noBlock: (l.noBlock ?? []) as Host[],
          pending: (l.pending ?? []) as Host[],
        },
      };
    },
  },
  {
    kind: "account",
    marker: "VAR Account Blocked",
    blockTag: "vectra_account_block",
    unblockTag: "vectra_account_unblock",
    noBlockReason: "member of no-block group NoBlock",
    make: (id, tags = []) => sampleAccount({ id, name: `O365:user${id}@corp.example`, tags }),
    snapshot: (l) => {
      const s = emptySnapshot();
      const a = s.account as Extract<Snapshot["account"], { status: "ok" }>;
      return {
        ...s,
        account: {
          ...a,
          tagged: (l.tagged ?? []) as typeof a.tagged,
          blocked: (l.blocked ?? []) as typeof a.blocked,
          noBlock: (l.noBlock ?? []) as typeof a.noBlock,
          pending: (l.pending ?? []) as typeof a.pending,
        },
      };
    },
  },
  {
    kind: "detection",
    marker: "VAR Detection Blocked",
    blockTag: "block",
    unblockTag: "unblock",
    noBlockReason: "source host member of no-block group NoBlock",
    make: (id, tags = []) => sampleDetection({ id, hostId: 1000 + id, tags }),
    snapshot: (l) => {
      const s = emptySnapshot();
      const d = s.detection as Extract<Snapshot["detection"], { status: "ok" }>;
      const noBlock = (l.noBlock ?? []) as typeof d.blocked;
      return {
        ...s,
        detection: {
          ...d,
          tagged: (l.tagged ?? []) as typeof d.tagged,
          blocked: (l.blocked ?? []) as typeof d.blocked,
          pending: [...((l.pending ?? []) as typeof d.pending), ...noBlock],
          noBlockHostIds: noBlock.map((x) => x.hostId ?? -1),
        },
      };
    },
  },
];

function summary(entries: readonly PlanEntry[]): string[] {
  return entries.map((e) =>
    `${e.operation} ${e.entity.id} [${e.steps.map((s) => `${s.mode}:${s.client}`).join(",")}] ` +
    `(${e.reasons.join("; ")})${e.removeTag ? ` -${e.removeTag}` : ""}`
  );
}

interface Row {
  name: string;
  explicit?: boolean;
  lists(c: KindCase): Lists;
  expect(c: KindCase): string[];
  skipped?: (c: KindCase) => number[];
}

const ROWS: Row[] = [
  {
    name: "blocks an entity carrying the block tag",
    lists: (c) => ({ tagged: [c.make(1, [c.blockTag])] }),
    expect: (c) => [`block 1 [block:test_client] (tag ${c.blockTag})`],
  },
  {
    name: "does nothing for an entity already blocked that still matches",
    lists: (c) => {
      const e = c.make(1, [c.blockTag, c.marker, "VAR ID:Test Client:e1"]);
      return { tagged: [e], blocked: [e] };
    },
    expect: () => [],
  },
  {
    name: "unblocks a blocked entity that no longer matches",
    lists: (c) => ({ blocked: [c.make(2, [c.marker, "VAR ID:Test Client:e2"])] }),
    expect: () => ["unblock 2 [unblock:test_client] (no longer matches)"],
  },
  {
    name: "unblocks a wrongly blocked member of the no-block group and removes its block tag",
    lists: (c) => {
      const e = c.make(3, [c.blockTag, c.marker, "VAR ID:Test Client:e3"]);
      return { tagged: [e], blocked: [e], noBlock: [e] };
    },
    expect: (c) => [`unblock 3 [unblock:test_client] (${c.noBlockReason}) -${c.blockTag}`],
    skipped: () => [3],
  },
  {
    name: "never blocks a member of the no-block group",
    lists: (c) => {
      const e = c.make(4, [c.blockTag]);
      return { tagged: [e], noBlock: [e] };
    },
    expect: () => [],
    skipped: () => [4],
  },
  {
    name: "keeps a blocked entity that no longer matches in explicit mode",
    explicit: true,
    lists: (c) => ({ blocked: [c.make(5, [c.marker, "VAR ID:Test Client:e5"])] }),
    expect: () => [],
  },
  {
    name:
      "unblocks a blocked entity with the unblock tag in explicit mode and removes the block tag",
    explicit: true,
    lists: (c) => {
      const e = c.make(6, [c.blockTag, c.unblockTag, c.marker, "VAR ID:Test Client:e6"]);
      return { tagged: [e], blocked: [e] };
    },
    expect: (c) => [
      `unblock 6 [unblock:test_client] (unblock tag ${c.unblockTag}) -${c.blockTag}`,
    ],
    skipped: () => [6],
  },
  {
    name: "does not block a matching entity with the unblock tag in explicit mode",
    explicit: true,
    lists: (c) => ({ tagged: [c.make(7, [c.blockTag, c.unblockTag])] }),
    expect: () => [],
    skipped: () => [7],
  },
  {
    name: "ignores the unblock tag outside explicit mode",
    lists: (c) => ({ tagged: [c.make(9, [c.blockTag, c.unblockTag])] }),
    expect: (c) => [`block 9 [block:test_client] (tag ${c.blockTag})`],
  },
  {
    name: "unblocks a member of the no-block group in explicit mode",
    explicit: true,
    lists: (c) => {
      const e = c.make(10, [c.marker, "VAR ID:Test Client:e10"]);
      return { blocked: [e], noBlock: [e] };
    },
    expect: (c) => [`unblock 10 [unblock:test_client] (${c.noBlockReason})`],
  },
];

for (const c of CASES) {
  for (const row of ROWS) {
    Deno.test(`plan() ${row.name} (${c.kind})`, () => {
      const config = testConfig({ explicitUnblock: row.explicit ?? false });
      const p = plan(c.snapshot(row.lists(c)), config, { clients: [TEST] });
      assert.deepEqual(summary(p[c.kind].entries), row.expect(c));
      assert.deepEqual(
        p[c.kind].skipped.map((s) => s.entity.id),
        row.skipped?.(c) ?? [],
      );
      for (const other of CASES.filter((o) => o.kind !== c.kind)) {
        assert.deepEqual(p[other.kind].entries, []);
      }
    });
  }

  Deno.test(`plan() retries only the client without a recorded element (${c.kind})`, () => {
    const e = c.make(11, [c.blockTag, c.marker, "VAR ID:PAN Client:10.0.0.11"]);
    const p = plan(c.snapshot({ tagged: [e], blocked: [e] }), testConfig(), {
      clients: [PAN, TEST],
    });
    assert.deepEqual(summary(p[c.kind].entries), [
      `block 11 [block:test_client] (tag ${c.blockTag})`,
    ]);
  });

  Deno.test(`plan() routes a block by client tags, any case (${c.kind})`, () => {
    const e = c.make(12, [c.blockTag, "Client:PAN"]);
    const p = plan(c.snapshot({ tagged: [e] }), testConfig(), { clients: [PAN, TEST] });
    assert.deepEqual(summary(p[c.kind].entries), [`block 12 [block:pan] (tag ${c.blockTag})`]);
  });

  Deno.test(`plan() unblocks on every client holding elements, whatever the routing (${c.kind})`, () => {
    const e = c.make(13, [
      "client:pan",
      c.marker,
      "VAR ID:PAN Client:fe80::1",
      "VAR ID: VisionOne Client:agent:42",
      "VAR ID:Test Client:00:11:22:33:44:55",
    ]);
    const p = plan(c.snapshot({ blocked: [e] }), testConfig(), {
      clients: [PAN, TEST, VISION],
    });
    const entry = p[c.kind].entries[0];
    assert.ok(entry);
    assert.deepEqual(
      entry.steps.map((s) => [s.client, s.tagName, s.mode, s.elements]),
      [
        ["pan", "PAN Client", "unblock", ["fe80::1"]],
        ["trendmicro_visionone", " VisionOne Client", "unblock", ["agent:42"]],
        ["test_client", "Test Client", "unblock", ["00:11:22:33:44:55"]],
      ],
    );
  });

  Deno.test(`plan() keeps and reports elements of a client that is not configured (${c.kind})`, () => {
    const e = c.make(14, [c.marker, "VAR ID:Fortinet Client:10.0.0.14", "VAR ID:Test Client:x"]);
    const p = plan(c.snapshot({ blocked: [e] }), testConfig(), { clients: [TEST] });
    assert.deepEqual(summary(p[c.kind].entries), [
      "unblock 14 [unblock:test_client] (no longer matches)",
    ]);
    assert.ok(
      p.messages.some((m) =>
        m.category === "Warning" && m.text.includes('client "Fortinet Client" is not configured')
      ),
    );
  });

  Deno.test(`plan() fails closed when the kind could not be read (${c.kind})`, () => {
    const s = c.snapshot({ blocked: [c.make(15, [c.marker, "VAR ID:Test Client:e"])] });
    const failed = { ...s, [c.kind]: { status: "failed", kind: c.kind, error: "boom" } };
    const p = plan(failed, testConfig(), { clients: [TEST] });
    assert.equal(p[c.kind].status, "failed");
    assert.equal(p[c.kind].error, "boom");
    assert.deepEqual(p[c.kind].entries, []);
  });

  Deno.test(`plan() holds the blocks beyond MAX_BLOCKS_PER_CYCLE (${c.kind})`, () => {
    const tagged = [1, 2, 3].map((id) => c.make(id, [c.blockTag]));
    const blocked = [c.make(9, [c.marker, "VAR ID:Test Client:e9"])];
    const config = testConfig({ limits: { maxBlocksPerCycle: 2 } });
    const p = plan(c.snapshot({ tagged, blocked }), config, { clients: [TEST] });
    const k = p[c.kind];
    assert.deepEqual(k.entries.filter((e) => e.held).map((e) => e.entity.id), [1, 2, 3]);
    assert.deepEqual(k.entries.filter((e) => !e.held).map((e) => e.entity.id), [9]);
    assert.equal(k.limitsTripped.length, 1);
    assert.match(k.limitsTripped[0] ?? "", /3 \w+ blocks exceed MAX_BLOCKS_PER_CYCLE 2/);
    const confirmed = plan(c.snapshot({ tagged, blocked }), config, {
      clients: [TEST],
      confirmBlastRadius: true,
    });
    assert.ok(confirmed[c.kind].entries.every((e) => e.held === null));
  });
}

Deno.test("plan() holds unblocks beyond MAX_UNBLOCKS_PER_CYCLE, blocks still run", () => {
  const c = CASES[0]!;
  const blocked = [1, 2, 3].map((id) => c.make(id, [c.marker, `VAR ID:Test Client:e${id}`]));
  const config = testConfig({ limits: { maxUnblocksPerCycle: 2 } });
  const p = plan(c.snapshot({ blocked, tagged: [c.make(4, [c.blockTag])] }), config, {
    clients: [TEST],
  });
  assert.deepEqual(
    p.host.entries.map((e) => [e.operation, e.entity.id, e.held !== null]),
    [["block", 4, false], ["unblock", 1, true], ["unblock", 2, true], ["unblock", 3, true]],
  );
  assert.match(p.host.limitsTripped[0] ?? "", /3 host unblocks exceed MAX_UNBLOCKS_PER_CYCLE 2/);
});

Deno.test("plan() holds blocks that would exceed MAX_BLOCKED_TOTAL", () => {
  const c = CASES[0]!;
  const blocked = [1, 2].map((id) =>
    c.make(id, [c.blockTag, c.marker, `VAR ID:Test Client:e${id}`])
  );
  const config = testConfig({ limits: { maxBlockedTotal: 2 } });
  const p = plan(c.snapshot({ blocked, tagged: [...blocked, c.make(3, [c.blockTag])] }), config, {
    clients: [TEST],
  });
  assert.deepEqual(p.host.entries.map((e) => [e.entity.id, e.held !== null]), [[3, true]]);
  assert.match(
    p.host.limitsTripped[0] ?? "",
    /3 blocked hosts would exceed MAX_BLOCKED_TOTAL 2 \(2 blocked, 1 new\)/,
  );
});

Deno.test("scoreReason() compares inclusively with and/or", () => {
  const and = { threat: 50, op: "and", certainty: 50 } as const;
  const or = { threat: 50, op: "or", certainty: 50 } as const;
  assert.equal(scoreReason(80, 90, and), "threat 80 >= 50 and certainty 90 >= 50");
  assert.equal(scoreReason(50, 50, and), "threat 50 >= 50 and certainty 50 >= 50");
  assert.equal(scoreReason(80, 49, and), null);
  assert.equal(scoreReason(80, 49, or), "threat 80 >= 50");
  assert.equal(scoreReason(10, 60, or), "certainty 60 >= 50");
  assert.equal(scoreReason(60, 60, or), "threat 60 >= 50 or certainty 60 >= 50");
  assert.equal(scoreReason(49, 49, or), null);
});

Deno.test("plan() explains every host criterion", () => {
  const h = (id: number, threat: number, certainty: number) =>
    sampleHost({ id, name: `h${id}`, threat, certainty });
  const s = emptySnapshot();
  const snapshot: Snapshot = {
    ...s,
    host: {
      ...(s.host as Extract<Snapshot["host"], { status: "ok" }>),
      scored: [h(1, 80, 90), h(2, 80, 10)],
      urgent: [{ entity: h(3, 0, 0), urgencyScore: 90 }],
      grouped: [h(4, 0, 0)],
      typed: [
        { entity: h(5, 60, 70), detectionType: "Hidden DNS Tunnel", detectionId: 50 },
        { entity: h(6, 49, 70), detectionType: "Hidden DNS Tunnel", detectionId: 51 },
        { entity: h(7, 90, 90), detectionType: "Port Scan", detectionId: 52 },
      ],
    },
  };
  const config = testConfig({
    host: {
      threatCertainty: { threat: 50, op: "and", certainty: 50 },
      urgency: 80,
      detectionTypes: ["Hidden DNS Tunnel"],
      detectionTypesMinScore: { threat: 50, op: "and", certainty: 50 },
    },
  });
  const p = plan(snapshot, config, { clients: [TEST] });
  assert.deepEqual(p.host.entries.map((e) => [e.entity.id, e.reasons]), [
    [1, ["threat 80 >= 50 and certainty 90 >= 50"]],
    [3, ["urgency 90 >= 80"]],
    [4, ["member of group Block"]],
    [5, ["detection type Hidden DNS Tunnel (threat 60 >= 50 and certainty 70 >= 50)"]],
  ]);
});

Deno.test("plan() blocks detections of scored hosts except INFO, triaged and inactive ones", () => {
  const s = emptySnapshot();
  const host = sampleHost({ id: 7, name: "ward-3-pc", threat: 80, certainty: 90 });
  const d = (id: number, fields: Parameters<typeof sampleDetection>[0] = {}) =>
    sampleDetection({ id, hostId: 7, ...fields });
  const snapshot: Snapshot = {
    ...s,
    detection: {
      ...(s.detection as Extract<Snapshot["detection"], { status: "ok" }>),
      scoredHosts: [host],
      scoredHostDetections: [
        d(1),
        d(2, { category: "info" }),
        d(3, { category: "INFO" }),
        d(4, { isTriaged: true, triage: 5 }),
        d(5, { state: "inactive" }),
      ],
      typed: [
        d(6, { detectionType: "Hidden DNS Tunnel" }),
        d(7, { detectionType: "Hidden DNS Tunnel", state: "inactive" }),
      ],
    },
  };
  const config = testConfig({
    detection: {
      hostThreatCertainty: { threat: 50, op: "or", certainty: 95 },
      detectionTypes: ["Hidden DNS Tunnel"],
    },
  });
  const p = plan(snapshot, config, { clients: [TEST] });
  assert.deepEqual(p.detection.entries.map((e) => [e.entity.id, e.reasons]), [
    [1, ["source host 7 ward-3-pc: threat 80 >= 50"]],
    [6, ["detection type Hidden DNS Tunnel"]],
  ]);
});

Deno.test("plan() unblocks a shared element only where no other blocked detection holds it", () => {
  const s = emptySnapshot();
  const keep = sampleDetection({
    id: 1,
    tags: ["block", "VAR Detection Blocked", "VAR ID:PAN Client:198.51.100.7"],
  });
  const gone = sampleDetection({
    id: 2,
    tags: [
      "VAR Detection Blocked",
      "VAR ID:PAN Client:198.51.100.7",
      "VAR ID:PAN Client:203.0.113.9",
    ],
  });
  const snapshot: Snapshot = {
    ...s,
    detection: {
      ...(s.detection as Extract<Snapshot["detection"], { status: "ok" }>),
      tagged: [keep],
      blocked: [keep, gone],
    },
  };
  const p = plan(snapshot, testConfig(), { clients: [PAN] });
  const step = p.detection.entries[0]?.steps[0];
  assert.equal(p.detection.entries.length, 1);
  assert.deepEqual(step?.elements, ["203.0.113.9"]);
  assert.deepEqual(step?.dropOnly, ["198.51.100.7"]);
});

Deno.test("plan() warns about a client tag without a colon and an unknown routing key", () => {
  const c = CASES[0]!;
  const e1 = c.make(1, [c.blockTag, "clientpan"]);
  const e2 = c.make(2, [c.blockTag, "client:nosuch"]);
  const p = plan(c.snapshot({ tagged: [e1, e2] }), testConfig(), { clients: [TEST] });
  assert.deepEqual(summary(p.host.entries), [`block 1 [block:test_client] (tag ${c.blockTag})`]);
  assert.deepEqual(p.host.skipped.map((s) => s.entity.id), [2]);
  const warnings = p.messages.map((m) => m.text);
  assert.ok(warnings.some((t) => t.includes('Ignoring routing tag "clientpan" on host 1')));
  assert.equal(warnings.filter((t) => t.includes('"nosuch"')).length, 1);
});

Deno.test("plan() grooms blocked hosts on clients that support it, not those being unblocked", () => {
  const c = CASES[0]!;
  const meraki = planClient("meraki", "Meraki Client");
  const stays = c.make(1, [c.blockTag, c.marker, "VAR ID:Meraki Client:m1"]);
  const leaves = c.make(2, [c.marker, "VAR ID:Meraki Client:m2"]);
  const p = plan(c.snapshot({ tagged: [stays], blocked: [stays, leaves] }), testConfig(), {
    clients: [meraki, planClient("pan", "PAN Client", ["blockHost", "unblockHost"])],
    groom: true,
  });
  assert.deepEqual(summary(p.host.entries), [
    `block 1 [block:pan] (tag ${c.blockTag})`,
    "unblock 2 [unblock:meraki] (no longer matches)",
    "groom 1 [groom:meraki] (groom)",
  ]);
  const warnings = p.messages.filter((m) => m.text.startsWith("Cannot groom"));
  assert.deepEqual(warnings.map((m) => [m.category, m.text]), [[
    "Warning",
    "Cannot groom hosts on brain brain.test with pan: it does not support grooming; " +
    "hosts whose IP changed stay blocked at the old IP there",
  ]]);
});

Deno.test("plan() completes an interrupted block of an entity that still matches", () => {
  const c = CASES[0]!;
  const e = c.make(1, [c.blockTag, "VAR Pending:Test Client:block"]);
  const p = plan(c.snapshot({ tagged: [e], pending: [e] }), testConfig(), { clients: [TEST] });
  assert.deepEqual(summary(p.host.entries), [`block 1 [block:test_client] (tag ${c.blockTag})`]);
  assert.equal(p.host.entries[0]?.steps[0]?.note, "completes an interrupted block");
});

Deno.test("plan() undoes an interrupted block of an entity that no longer matches", () => {
  const c = CASES[0]!;
  const e = c.make(1, ["VAR Pending:Test Client:block"]);
  const p = plan(c.snapshot({ pending: [e] }), testConfig(), { clients: [TEST] });
  const step = p.host.entries[0]?.steps[0];
  assert.deepEqual(summary(p.host.entries), [
    "unblock 1 [unblock:test_client] (interrupted action)",
  ]);
  assert.equal(step?.learnFirst, true);
});

Deno.test("plan() re-blocks after an interrupted unblock of an entity that matches again", () => {
  const c = CASES[0]!;
  const e = c.make(1, [
    c.blockTag,
    c.marker,
    "VAR ID:Test Client:e1",
    "VAR Pending:Test Client:unblock",
  ]);
  const p = plan(c.snapshot({ tagged: [e], blocked: [e], pending: [e] }), testConfig(), {
    clients: [TEST],
  });
  assert.deepEqual(summary(p.host.entries), [`block 1 [block:test_client] (tag ${c.blockTag})`]);
  assert.deepEqual(p.host.entries[0]?.steps[0]?.elements, ["e1"]);
});

Deno.test("plan() reports a client that cannot serve a kind once", () => {
  const c = CASES[1]!;
  const hostsOnly = planClient("pan", "PAN Client", ["blockHost", "unblockHost"]);
  const p = plan(
    c.snapshot({ tagged: [c.make(1, [c.blockTag]), c.make(2, [c.blockTag])] }),
    testConfig(),
    { clients: [hostsOnly, TEST] },
  );
  assert.deepEqual(p.account.entries.map((e) => e.steps.map((s) => s.client)), [
    ["test_client"],
    ["test_client"],
  ]);
  assert.equal(
    p.messages.filter((m) => m.text === "pan does not support accounts; it blocks no account")
      .length,
    1,
  );
});

Deno.test("plan() with the defaults blocks only by tag and group", () => {
  const config = testConfig();
  const c = CASES[0]!;
  const scored = sampleHost({ id: 1, threat: 99, certainty: 99 });
  const s = c.snapshot({});
  const snapshot: Snapshot = {
    ...s,
    host: { ...(s.host as Extract<Snapshot["host"], { status: "ok" }>), scored: [scored] },
  };
  assert.deepEqual(plan(snapshot, config, { clients: [TEST] }).host.entries, []);
});
