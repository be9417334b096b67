import assert from "node:assert/strict";
import { CLIENTS } from "../../clients/mod.ts";
import { AggregateConfigError, parseConfig } from "../../config.ts";
import type { Config } from "../../config_types.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { formatPlan, runCycle } from "../../engine/cycle.ts";
import { applyTagChange } from "../../engine/state.ts";
import { splitTags } from "../../engine/state_tags.ts";
import { seed } from "../../demo/seed.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const T0 = new Date(Date.UTC(2026, 11, 7, 10, 0, 0));
const HOUR = 3_600_000;

function at(hours: number): Date {
  return new Date(T0.getTime() + hours * HOUR);
}

function cycle(
  config: Config,
  runtime: Parameters<typeof runCycle>[1][number],
  clients: ResponseClient[],
  now: Date,
  dryRun = false,
) {
  return runCycle(config, [runtime], clients, {
    dryRun,
    groom: false,
    now,
    insideWindow: true,
    confirmBlastRadius: false,
    clock: () => now,
  });
}

/** Host blocking by tag, group and scores 50/50; host blocks expire after 24 hours. */
function expiring(overrides: Partial<Config["blockExpireHours"]> = { host: 24 }): Config {
  return testConfig({
    blockTypes: new Set(["host", "detection"]),
    host: {
      noBlockGroup: null,
      blockGroup: "Block",
      threatCertainty: { threat: 50, op: "and", certainty: 50 },
    },
    detection: { detectionTypes: ["Hidden HTTPS Tunnel"] },
    blockExpireHours: overrides,
  });
}

function worldSeed() {
  return seed()
    .host({ name: "scored", ip: "10.1.0.1", threat: 90, certainty: 90 })
    .host({
      name: "tagged",
      ip: "10.1.0.2",
      threat: 90,
      certainty: 90,
      tags: ["vectra_host_block"],
    })
    .host({ name: "grouped", ip: "10.1.0.3", threat: 90, certainty: 90 })
    .group({ name: "Block", type: "host", members: ["grouped"] })
    .build();
}

const blocked = (tags: readonly string[]) => tags.includes("VAR Host Blocked");

Deno.test("HOST_BLOCK_EXPIRE_HOURS releases exactly the automatic blocks, records the release, and holds it", async () => {
  await using h = await startEngine(worldSeed());
  const config = expiring();
  const client = testClientAs();

  const first = await cycle(config, h.runtime, [client], T0);
  assert.equal(first.exitCode, 0);
  for (const name of ["scored", "tagged", "grouped"]) {
    assert.ok(blocked(h.brain.tags("host", name)), `${name} blocked`);
  }
  assert.ok(h.brain.tags("host", "scored").includes("VAR Blocked At:2026-12-07T10:00:00Z"));
  const block = first.actions.find((a) => a.entityName === "scored");
  assert.ok(
    block?.reasons.includes(
      "automatic block expires 2026-12-08T10:00:00Z (HOST_BLOCK_EXPIRE_HOURS 24)",
    ),
    "the plan shows when the automatic block expires",
  );
  assert.ok(
    !first.actions.find((a) => a.entityName === "tagged")?.reasons.some((r) =>
      r.includes("expires")
    ),
    "a tag block never expires",
  );

  const before = await cycle(config, h.runtime, [client], at(23), true);
  assert.deepEqual(before.actions, []);
  const held = before.plans[0]?.host.expiries.map((
    e,
  ) => [e.entity.name, e.expiresAt.toISOString()]);
  assert.deepEqual(held, [["scored", "2026-12-08T10:00:00.000Z"]]);
  assert.match(
    formatPlan(before),
    /Automatic blocks held, and when they expire:\n {2}\S+ host \d+ scored: since 2026-12-07T10:00:00Z, expires 2026-12-08T10:00:00Z/,
  );

  const expiry = await cycle(config, h.runtime, [client], at(24));
  assert.deepEqual(
    expiry.actions.map((a) => `${a.operation} ${a.entityName} ${a.outcome}`),
    ["unblock scored ok"],
  );
  assert.match(
    expiry.actions[0]?.reasons.join("; ") ?? "",
    /automatic block expired 2026-12-08T10:00:00Z: blocked since 2026-12-07T10:00:00Z, HOST_BLOCK_EXPIRE_HOURS 24/,
  );
  assert.deepEqual(h.brain.tags("host", "scored"), ["VAR Block Expired"]);
  const note = h.brain.notes("host", "scored").at(-1)?.note ?? "";
  assert.match(note, /^VAR: Unblocked on .* by Test Client \(automatic block expired/);
  assert.ok(blocked(h.brain.tags("host", "tagged")) && blocked(h.brain.tags("host", "grouped")));

  // Later cycles (no memory kept between them but Vectra's tags) do not block it again
  // while its scores stay up, and never expire the tag or group blocks.
  const later = await cycle(config, h.runtime, [client], at(1000));
  assert.deepEqual(later.actions, []);
  assert.ok(!blocked(h.brain.tags("host", "scored")));
  const skipped = later.plans[0]?.host.skipped.find((s) => s.entity.name === "scored");
  assert.match(
    skipped?.reasons.join("; ") ?? "",
    /automatic block expired \(HOST_BLOCK_EXPIRE_HOURS 24\)/,
  );
  assert.ok(blocked(h.brain.tags("host", "tagged")) && blocked(h.brain.tags("host", "grouped")));
});

Deno.test("an expired host is blocked again once its scores fell and rose, or at once when a person tags it", async () => {
  await using h = await startEngine(worldSeed());
  const config = expiring();
  const client = testClientAs();
  await cycle(config, h.runtime, [client], T0);
  await cycle(config, h.runtime, [client], at(25));
  assert.deepEqual(h.brain.tags("host", "scored"), ["VAR Block Expired"]);

  // Scores fall: the mark is removed (re-armed), nothing is blocked.
  h.brain.setScores("host", "scored", { threat: 10, certainty: 10 });
  const fell = await cycle(config, h.runtime, [client], at(26));
  assert.deepEqual(fell.actions, []);
  assert.deepEqual(h.brain.tags("host", "scored"), []);
  assert.ok(
    fell.messages.some((m) =>
      /Re-armed automatic blocking of host \d+ scored/.test(m.text) && m.category === "Info"
    ),
  );

  // Scores rise again: a new automatic block, with a new block time.
  h.brain.setScores("host", "scored", { threat: 80, certainty: 80 });
  const rose = await cycle(config, h.runtime, [client], at(27));
  assert.deepEqual(rose.actions.map((a) => `${a.operation} ${a.entityName}`), ["block scored"]);
  assert.ok(h.brain.tags("host", "scored").includes("VAR Blocked At:2026-12-08T13:00:00Z"));

  // It expires again; then an analyst tags it: blocked at once, the mark removed, and the
  // block, confirmed by a person, does not expire.
  await cycle(config, h.runtime, [client], at(51));
  assert.deepEqual(h.brain.tags("host", "scored"), ["VAR Block Expired"]);
  h.brain.setTags("host", "scored", ["VAR Block Expired", "vectra_host_block"]);
  const tagged = await cycle(config, h.runtime, [client], at(52));
  assert.deepEqual(tagged.actions.map((a) => `${a.operation} ${a.entityName}`), ["block scored"]);
  const tags = h.brain.tags("host", "scored");
  assert.ok(blocked(tags) && !tags.includes("VAR Block Expired"), tags.join(", "));
  const much = await cycle(config, h.runtime, [client], at(500));
  assert.deepEqual(much.actions, []);
  assert.ok(blocked(h.brain.tags("host", "scored")));
});

Deno.test("a block without a recorded time gets one (not in a dry run) and expires from then", async () => {
  await using h = await startEngine(
    seed()
      .host({
        name: "legacy",
        ip: "10.1.0.9",
        threat: 90,
        certainty: 90,
        tags: ["VAR Host Blocked", "VAR ID:Test Client:host-1-10.1.0.9"],
      })
      .group({ name: "Block", type: "host", members: [] })
      .build(),
  );
  const config = expiring();
  const client = testClientAs();
  client.device.hold("host-1-10.1.0.9", { kind: "host", key: "host:1:10.1.0.9", ip: "10.1.0.9" });

  const dry = await cycle(config, h.runtime, [client], T0, true);
  assert.ok(
    dry.messages.some((m) => /^Would record the block time of host 1 legacy/.test(m.text)),
    JSON.stringify(dry.messages),
  );
  assert.ok(!h.brain.tags("host", "legacy").some((t) => t.startsWith("VAR Blocked At:")));

  const stamp = await cycle(config, h.runtime, [client], T0);
  assert.deepEqual(stamp.actions, []);
  assert.deepEqual(h.brain.tags("host", "legacy"), [
    "VAR Host Blocked",
    "VAR ID:Test Client:host-1-10.1.0.9",
    "VAR Blocked At:2026-12-07T10:00:00Z",
  ]);
  assert.deepEqual(stamp.plans[0]?.host.marks.map((m) => m.mark), ["stamp"]);

  const expired = await cycle(config, h.runtime, [client], at(24.5));
  assert.deepEqual(expired.actions.map((a) => `${a.operation} ${a.entityName}`), [
    "unblock legacy",
  ]);
  assert.equal(client.device.enforced("host").size, 0);
});

Deno.test("detection blocks by type expire with DETECTION_BLOCK_EXPIRE_HOURS; tagged ones do not", async () => {
  await using h = await startEngine(
    seed()
      .host({ name: "pc", ip: "10.1.2.3" })
      .detection({ src: "pc", type: "Hidden HTTPS Tunnel", dstIps: ["93.184.216.34"] })
      .detection({
        src: "pc",
        type: "Hidden DNS Tunnel",
        dstIps: ["45.33.32.156"],
        tags: ["block"],
      })
      .build(),
  );
  const config = expiring({ detection: 2 });
  const client = testClientAs();
  await cycle(config, h.runtime, [client], T0);
  const [typed, tagged] = h.brain.all("detection").map((d) => d.id);
  assert.ok(typed !== undefined && tagged !== undefined);
  assert.ok(h.brain.tags("detection", typed).includes("VAR Detection Blocked"));
  const release = await cycle(config, h.runtime, [client], at(2));
  assert.deepEqual(release.actions.map((a) => `${a.operation} ${a.entityId}`), [
    `unblock ${typed}`,
  ]);
  assert.deepEqual(h.brain.tags("detection", typed), ["VAR Block Expired"]);
  assert.ok(h.brain.tags("detection", tagged).includes("VAR Detection Blocked"));
});

Deno.test("without an expiry nothing changes: no block time, no extra tag read", async () => {
  await using h = await startEngine(worldSeed());
  const config = expiring({});
  const client = testClientAs();
  await cycle(config, h.runtime, [client], T0);
  assert.deepEqual(h.brain.tags("host", "scored"), [
    "VAR Host Blocked",
    "VAR ID:Test Client:host-1-10.1.0.1",
  ]);
  assert.ok(!h.brain.requests.some((r) => r.query.includes("Block%20Expired")));
  const later = await cycle(config, h.runtime, [client], at(10_000));
  assert.deepEqual(later.actions, []);
});

Deno.test("the block time: set when a block begins, kept while it lasts, dropped with it", () => {
  const at1 = new Date(Date.UTC(2026, 0, 1, 0, 0, 0));
  const at2 = new Date(Date.UTC(2026, 0, 2, 0, 0, 0));
  const stale = ["VAR Blocked At:2020-01-01T00:00:00Z", "analyst"];
  const first = applyTagChange("host", stale, {
    set: new Map([["A Client", ["1"]]]),
    at: at1,
  });
  assert.deepEqual(first, [
    "analyst",
    "VAR Host Blocked",
    "VAR ID:A Client:1",
    "VAR Blocked At:2026-01-01T00:00:00Z",
  ], "a time left from an earlier block does not date the new one");
  const second = applyTagChange("host", first, { set: new Map([["B Client", ["2"]]]), at: at2 });
  assert.ok(second.includes("VAR Blocked At:2026-01-01T00:00:00Z"));
  assert.equal(splitTags("host", second).blockedAt, at1.getTime());
  const released = applyTagChange("host", second, {
    remove: new Map([["A Client", ["1"]], ["B Client", ["2"]]]),
    expire: true,
  });
  assert.deepEqual(released, ["analyst", "VAR Block Expired"]);
  assert.deepEqual(applyTagChange("host", released, { rearm: true }), ["analyst"]);
  assert.deepEqual(splitTags("host", ["VAR Blocked At:yesterday"]).blockedAt, null);
});

Deno.test("*_BLOCK_EXPIRE_HOURS: empty is never; a bad value names the key and what is allowed", () => {
  const parse = (line: string) =>
    parseConfig(`COGNITO_URL=https://brain\n${line}\n`, { path: "var.env", clients: CLIENTS });
  assert.deepEqual(parse("").config.blockExpireHours, {
    host: null,
    account: null,
    detection: null,
  });
  assert.deepEqual(
    parse("HOST_BLOCK_EXPIRE_HOURS=1.5").config.blockExpireHours,
    { host: 1.5, account: null, detection: null },
  );
  for (const bad of ["0", "-3", "12h", "99999999"]) {
    let error: unknown = null;
    try {
      parse(`ACCOUNT_BLOCK_EXPIRE_HOURS=${bad}`);
    } catch (e) {
      error = e;
    }
    assert.ok(error instanceof AggregateConfigError, bad);
    assert.match(
      error.message,
      new RegExp(
        `ACCOUNT_BLOCK_EXPIRE_HOURS.*"${bad}" is not a number of hours; use a number above 0`,
      ),
    );
  }
});
