import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import { plan } from "../../engine/plan.ts";
import { select } from "../../engine/select.ts";
import type { ScoreThreshold } from "../../config_types.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

const PENDING = "VAR Pending:Test Client:block";

function tagQueries(requests: readonly { endpoint: string; query: string }[], endpoint: string) {
  return requests.filter((r) => r.endpoint === endpoint && /(^|&)tags=/.test(r.query)).map((r) =>
    new URLSearchParams(r.query).get("tags") ?? ""
  );
}

Deno.test("select() reads each kind's tag criteria with one any-of tags query and splits them exactly", async () => {
  const data = seed()
    .host({ name: "tagged", tags: ["vectra_host_block"] })
    .host({ name: "blocked", tags: ["VAR Host Blocked", "VAR ID:Test Client:x"] })
    .host({ name: "pending", tags: [PENDING] })
    .host({ name: "both", tags: ["vectra_host_block", "VAR Host Blocked"] })
    .host({ name: "other", tags: ["vectra_host_block_not", "VAR Host Blocked2"] })
    .detection({ src: "other", type: "Port Scan", tags: ["block"] })
    .detection({ src: "other", type: "Port Scan", tags: ["VAR Detection Blocked"] })
    .detection({ src: "other", type: "Port Scan", tags: ["blocked"] })
    .group({ name: "NoBlock", type: "host", members: [] })
    .group({ name: "Block", type: "host", members: [] })
    .build();
  await using h = await startEngine(data);
  const config = testConfig({ blockTypes: new Set(["host", "detection"]) });
  const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
  assert.equal(snapshot.host.status, "ok");
  assert.equal(snapshot.detection.status, "ok");
  if (snapshot.host.status !== "ok" || snapshot.detection.status !== "ok") return;
  const names = (list: readonly { name: string }[]) => list.map((x) => x.name).sort();
  assert.deepEqual(names(snapshot.host.tagged), ["both", "tagged"]);
  assert.deepEqual(names(snapshot.host.blocked), ["blocked", "both"]);
  assert.deepEqual(names(snapshot.host.pending), ["pending"]);
  const [tagged, marked, plain] = h.brain.all("detection").map((d) => d.id);
  assert.deepEqual(snapshot.detection.tagged.map((d) => d.id), [tagged]);
  assert.deepEqual(snapshot.detection.blocked.map((d) => d.id), [marked]);
  assert.ok(!snapshot.detection.pending.some((d) => d.id === plain));
  // One query per kind carries every tag, framed by a tag nobody carries until the answer
  // proved that the brain reads the comma as any-of; the next read sends the plain list.
  const hostTags = tagQueries(h.brain.requests, "GET /hosts");
  assert.equal(hostTags.length, 1, JSON.stringify(hostTags));
  const listed = hostTags[0]?.split(",") ?? [];
  assert.match(listed[0] ?? "", /^var-comma-check-/);
  assert.equal(listed.at(-1), listed[0]);
  assert.deepEqual(listed.slice(1, -1).sort(), [
    "VAR Host Blocked",
    "VAR Pending:Test Client:block",
    "VAR Pending:Test Client:unblock",
    "vectra_host_block",
  ]);
  const detectionTags = tagQueries(h.brain.requests, "GET /detections");
  assert.equal(detectionTags.length, 1, JSON.stringify(detectionTags));
  h.brain.clearRequests();
  await select(h.api, config, { clientTags: ["Test Client"] });
  const again = tagQueries(h.brain.requests, "GET /hosts");
  assert.deepEqual(again.map((tags) => tags.split(",").sort()), [listed.slice(1, -1).sort()]);
  assert.equal(tagQueries(h.brain.requests, "GET /detections").length, 1);
});

Deno.test("select() re-checks the any-of tags exactly when the server answers loosely", async () => {
  const data = seed()
    .host({ id: 1, name: "tagged", ip: "10.0.0.1", tags: ["vectra_host_block"] })
    .group({ name: "NoBlock", type: "host", members: [] })
    .group({ name: "Block", type: "host", members: [] })
    .build();
  await using h = await startEngine(data);
  h.brain.fault({
    kind: "status",
    status: 200,
    body: {
      count: 3,
      next: null,
      previous: null,
      results: [
        { id: 1, name: "tagged", last_source: "10.0.0.1", tags: ["vectra_host_block"] },
        { id: 7, name: "near-miss", last_source: "10.0.0.7", tags: ["Vectra_Host_Block "] },
        { id: 8, name: "untagged", last_source: "10.0.0.8", tags: [] },
      ],
    },
  }, { path: "/hosts", query: { tags: "vectra_host_block" } });
  const config = testConfig({ blockTypes: new Set(["host"]) });
  const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
  assert.equal(snapshot.host.status, "ok");
  if (snapshot.host.status !== "ok") return;
  assert.deepEqual(snapshot.host.tagged.map((x) => x.name), ["tagged"]);
  assert.deepEqual(snapshot.host.blocked, []);
  assert.deepEqual(snapshot.host.pending, []);
});

Deno.test("select() fails the kind closed when its merged tag query fails", async () => {
  const data = seed()
    .host({ name: "tagged", tags: ["vectra_host_block"] })
    .group({ name: "NoBlock", type: "host", members: [] })
    .group({ name: "Block", type: "host", members: [] })
    .build();
  await using h = await startEngine(data);
  h.brain.failNext(500, { path: "/hosts", query: { tags: PENDING }, times: Infinity });
  const config = testConfig({ blockTypes: new Set(["host"]) });
  const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
  assert.equal(snapshot.host.status, "failed");
});

Deno.test("select() reads no detection-type source when the minimum score can match nothing", async () => {
  const data = seed()
    .host({ name: "pc", threat: 99, certainty: 99 })
    .detection({ src: "pc", type: "Hidden DNS Tunnel" })
    .group({ name: "NoBlock", type: "host", members: [] })
    .group({ name: "Block", type: "host", members: [] })
    .build();
  for (
    const min of [
      { threat: 100, op: "and", certainty: 100 },
      { threat: 100, op: "or", certainty: 100 },
      { threat: 100, op: "and", certainty: 0 },
    ] as const
  ) {
    await using h = await startEngine(data);
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { detectionTypes: ["Hidden DNS Tunnel"], detectionTypesMinScore: min },
    });
    const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
    assert.equal(snapshot.host.status, "ok");
    if (snapshot.host.status !== "ok") return;
    assert.deepEqual(snapshot.host.typed, []);
    assert.equal(
      h.brain.requests.filter((r) => r.query.includes("detection_type")).length,
      0,
      JSON.stringify(min),
    );
    const p = plan(snapshot, config, { clients: [testClientAs()] });
    assert.deepEqual(p.host.entries, []);
  }
  // A minimum that can match reads the type and blocks the source.
  await using h = await startEngine(data);
  const config = testConfig({
    blockTypes: new Set(["host"]),
    host: {
      detectionTypes: ["Hidden DNS Tunnel"],
      detectionTypesMinScore: { threat: 99, op: "and", certainty: 0 },
    },
  });
  const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
  const p = plan(snapshot, config, { clients: [testClientAs()] });
  assert.deepEqual(p.host.entries.map((e) => [e.entity.name, e.operation]), [["pc", "block"]]);
});

for (
  const min of [
    { threat: 50, op: "or", certainty: 60 },
    { threat: 50, op: "and", certainty: 60 },
    { threat: 0, op: "and", certainty: 0 },
    { threat: 100, op: "or", certainty: 60 },
  ] satisfies ScoreThreshold[]
) {
  Deno.test(`select() gives the same plan from the score list as from ids (${min.threat} ${min.op} ${min.certainty})`, async () => {
    const data = seed();
    const scores: [number, number][] = [
      [10, 10],
      [55, 10],
      [10, 65],
      [55, 65],
      [99, 0],
      [0, 99],
      [50, 60],
      [49, 59],
    ];
    scores.forEach(([threat, certainty], i) =>
      data.host({ name: `h${i}`, ip: `10.0.0.${i + 1}`, threat, certainty })
    );
    // Sources of the type: every host but h3; h3 scores high but has no such detection.
    for (const i of [0, 1, 2, 4, 5, 6, 7]) {
      data.detection({ src: `h${i}`, type: "Hidden DNS Tunnel" });
    }
    data.detection({ src: "h3", type: "Port Scan" });
    data.detection({ src: "h1", type: "Hidden DNS Tunnel", state: "inactive" });
    // A blocked host below the minimum is unblocked either way.
    data.host({
      name: "was",
      ip: "10.0.1.1",
      threat: 5,
      certainty: 5,
      tags: ["VAR Host Blocked", "VAR ID:Test Client:old"],
    });
    data.detection({ src: "was", type: "Hidden DNS Tunnel" });
    data.group({ name: "NoBlock", type: "host", members: ["h6"] })
      .group({ name: "Block", type: "host", members: [] });
    await using h = await startEngine(data.build());
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { detectionTypes: ["Hidden DNS Tunnel"], detectionTypesMinScore: min },
    });
    const clients = [testClientAs()];
    const entries = async (sourceIdLimit: number) => {
      h.brain.clearRequests();
      const snapshot = await select(h.api, config, { clientTags: ["Test Client"], sourceIdLimit });
      const p = plan(snapshot, config, { clients });
      const requests = h.brain.requests.map((r) => decodeURIComponent(r.query));
      return {
        entries: p.host.entries.map((e) => ({
          id: e.entity.id,
          operation: e.operation,
          reasons: e.reasons,
          held: e.held,
          steps: e.steps,
        })).sort((a, b) => a.id - b.id),
        byId: requests.filter((q) => /(^|&)id=/.test(q)).length,
        byScore: requests.some((q) => q.includes("threat_gte") || q.includes("certainty_gte")),
      };
    };
    const byIds = await entries(1000);
    const byScores = await entries(0);
    // The no-block group's members are read by id either way, with the sources in the same
    // batched lookup when they are read by id.
    assert.equal(byIds.byId, 1);
    assert.equal(byIds.byScore, false);
    assert.equal(byScores.byId, 1);
    assert.equal(byScores.byScore, true);
    assert.deepEqual(byScores.entries, byIds.entries);
    assert.ok(byIds.entries.length > 0);
  });
}
