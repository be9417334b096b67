import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import { select } from "../../engine/select.ts";
import { startFakeBrain } from "../../demo/brain.ts";
import { createVectraApi } from "../../engine/vectra/mod.ts";
import { startEngine, testEachReading } from "./_engine_harness.ts";
import { testConfig } from "./_policy.ts";

function groups(b: ReturnType<typeof seed>) {
  return b
    .group({ name: "NoBlock", type: "account", members: [] })
    .group({ name: "Block", type: "account", members: [] });
}

testEachReading(
  "select() reads group members and detection sources in batches where the brain reads lists",
  async (reading) => {
    const b = seed();
    for (let i = 1; i <= 12; i++) b.host({ name: `h${i}`, threat: 10, certainty: 10 });
    for (let i = 1; i <= 12; i++) b.detection({ src: `h${i}`, type: "Hidden DNS Tunnel" });
    b.group({ name: "NoBlock", type: "host", members: ["h1", "h2", "h3", "h4", "h5"] })
      .group({ name: "Block", type: "host", members: ["h6", "h7", "h8", "h9"] });
    await using h = await startEngine(groups(b).build(), "2.5", reading);
    const config = testConfig({
      blockTypes: new Set(["host", "detection"]),
      // A minimum every source meets, so the sources are read (by id, in one batch).
      host: {
        detectionTypes: ["Hidden DNS Tunnel"],
        detectionTypesMinScore: { threat: 5, op: "and", certainty: 5 },
      },
    });
    const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
    assert.equal(snapshot.host.status, "ok");
    if (snapshot.host.status !== "ok") return;
    assert.deepEqual(snapshot.host.noBlock.map((x) => x.name).sort(), [
      "h1",
      "h2",
      "h3",
      "h4",
      "h5",
    ]);
    assert.deepEqual(snapshot.host.grouped.map((x) => x.name).sort(), ["h6", "h7", "h8", "h9"]);
    assert.equal(snapshot.host.typed.length, 12);
    const counts = h.brain.requestCounts();
    // A brain that honours only the first id of a list, or none, is read one host at a
    // time: at most once per id each of the three lists asks for (5 + 4 + 12).
    const perHost = reading === "first" || reading === "literal" ? 21 : 0;
    assert.ok((counts.get("GET /hosts/{id}") ?? 0) <= perHost, JSON.stringify([...counts]));
    assert.equal(counts.get("GET /detections/{id}") ?? 0, 0);
    // The NoBlock group serves hosts and detections with one query.
    const groupQueries = h.brain.requests.filter((r) => r.endpoint === "GET /groups");
    assert.equal(groupQueries.filter((r) => r.query.includes("NoBlock")).length, 1);
    assert.ok((counts.get("GET /hosts") ?? 0) <= 12, JSON.stringify([...counts]));
  },
);

testEachReading(
  "select() skips criteria that are off and group queries with empty names",
  async (reading) => {
    await using h = await startEngine(seed().host({ name: "a" }).build(), "2.5", reading);
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { noBlockGroup: null, blockGroup: null, blockTag: null },
    });
    const snapshot = await select(h.api, config, { clientTags: [] });
    assert.equal(snapshot.host.status, "ok");
    assert.equal(snapshot.account.status, "off");
    assert.deepEqual(
      h.brain.requests.map((r) => `${r.endpoint} ${decodeURIComponent(r.query)}`).filter((q) =>
        !q.includes("oauth")
      ).map((q) => q.replace(/&?page_size=\d+|&?fields=[^&]*|&?page=\d+/g, "")),
      ["GET /hosts tags=VAR+Host+Blocked"],
    );
  },
);

testEachReading(
  "select() reads the entities carrying intent tags of configured clients",
  async (reading) => {
    const data = seed()
      .host({ name: "a", tags: ["VAR Pending:Test Client:block"] })
      .host({ name: "b", tags: ["VAR Pending:PAN Client:unblock"] })
      .host({ name: "c", tags: ["VAR Pending:Other Client:block"] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { noBlockGroup: null, blockGroup: null },
    });
    const snapshot = await select(h.api, config, { clientTags: ["Test Client", "PAN Client"] });
    assert.equal(snapshot.host.status, "ok");
    if (snapshot.host.status !== "ok") return;
    assert.deepEqual(snapshot.host.pending.map((x) => x.name).sort(), ["a", "b"]);
  },
);

testEachReading("select() fails only the kind whose query fails", async (reading) => {
  const data = groups(
    seed().host({ name: "a", tags: ["vectra_host_block"] })
      .account({ name: "O365:x@y.example", tags: ["vectra_account_block"] })
      .group({ name: "NoBlock", type: "host", members: [] })
      .group({ name: "Block", type: "host", members: [] }),
  ).build();
  await using h = await startEngine(data, "2.5", reading);
  h.brain.failNext(500, { path: "/accounts", times: Infinity });
  const config = testConfig({ blockTypes: new Set(["host", "account"]) });
  const snapshot = await select(h.api, config, { clientTags: ["Test Client"] });
  assert.equal(snapshot.host.status, "ok");
  assert.equal(snapshot.account.status, "failed");
  if (snapshot.account.status !== "failed") return;
  assert.match(snapshot.account.error, /^Cannot read accounts from brain 127\.0\.0\.1:\d+: /);
  assert.match(
    snapshot.account.error,
    /nothing of kind account is blocked or unblocked this cycle$/,
  );
});

testEachReading(
  "select() names the brain and the key when a configured group does not exist",
  async (reading) => {
    const data = seed().host({ name: "a" })
      .group({ name: "NoBlock", type: "host", members: [] })
      .group({ name: "Blocked-Hosts", type: "host", members: ["a"] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const config = testConfig({ blockTypes: new Set(["host", "detection"]) });
    const snapshot = await select(h.api, config, {});
    assert.equal(snapshot.host.status, "failed");
    assert.equal(snapshot.detection.status, "ok");
    if (snapshot.host.status !== "failed") return;
    assert.match(
      snapshot.host.error,
      /host group "Block" \(BLOCK_HOST_GROUP_NAME\) does not exist on brain 127\.0\.0\.1:\d+; create the group in Vectra, or set BLOCK_HOST_GROUP_NAME empty to switch the criterion off/,
    );
  },
);

testEachReading(
  "select() uses urgency on v3 when set, with one batch of hosts",
  async (reading) => {
    const data = groups(
      seed()
        .host({ name: "hot", threat: 90, certainty: 90, urgency: 95 })
        .host({ name: "warm", threat: 60, certainty: 60, urgency: 60 })
        .group({ name: "NoBlock", type: "host", members: [] })
        .group({ name: "Block", type: "host", members: [] }),
    ).build();
    await using h = await startEngine(data, "3.4", reading);
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: { urgency: 80, threatCertainty: { threat: 50, op: "and", certainty: 50 } },
    });
    const snapshot = await select(h.api, config, {});
    assert.equal(snapshot.host.status, "ok");
    if (snapshot.host.status !== "ok") return;
    assert.deepEqual(snapshot.host.urgent.map((u) => [u.entity.name, u.urgencyScore]), [[
      "hot",
      95,
    ]]);
    assert.deepEqual(snapshot.host.scored, []);
    assert.equal(h.brain.requestCounts().get("GET /hosts/{id}") ?? 0, 0);
  },
);

testEachReading(
  "select() lists the detections of no-block members' hosts by source host",
  async (reading) => {
    const data = seed()
      .host({ name: "icu", threat: 90, certainty: 90 })
      .host({ name: "pc", threat: 90, certainty: 90 })
      .detection({ src: "icu", type: "Hidden DNS Tunnel", dstIps: ["45.142.212.100"] })
      .detection({ src: "pc", type: "Hidden DNS Tunnel", dstIps: ["45.142.212.101"] })
      .group({ name: "NoBlock", type: "host", members: ["icu"] })
      .build();
    await using h = await startEngine(data, "2.5", reading);
    const config = testConfig({
      blockTypes: new Set(["detection"]),
      detection: { hostThreatCertainty: { threat: 50, op: "and", certainty: 50 } },
    });
    const snapshot = await select(h.api, config, {});
    assert.equal(snapshot.detection.status, "ok");
    if (snapshot.detection.status !== "ok") return;
    assert.deepEqual(snapshot.detection.noBlockHostIds, [h.brain.idOf("host", "icu")]);
    assert.equal(snapshot.detection.scoredHostDetections.length, 2);
    assert.equal(h.brain.requestCounts().get("GET /hosts/{id}") ?? 0, 0);
  },
);

Deno.test("select() on a brain that ignores id= reads the host list in full once, keeping the members and sources it needs", async () => {
  const b = seed();
  for (let i = 1; i <= 30; i++) b.host({ name: `h${i}`, threat: 10, certainty: 10 });
  for (let i = 21; i <= 30; i++) b.detection({ src: `h${i}`, type: "Hidden DNS Tunnel" });
  b.group({ name: "NoBlock", type: "host", members: ["h1", "h2", "h3"] })
    .group({ name: "Block", type: "host", members: ["h11", "h12"] });
  await using brain = await startFakeBrain({
    apiVersion: "2.5",
    seed: groups(b).build(),
    documentedOnly: true,
    maxPageSize: 7,
  });
  const api = createVectraApi(
    { entry: "brain.test", baseUrl: brain.url, apiVersion: "2.5", auth: "token" },
    { secret: () => Promise.resolve(brain.credentials.token ?? "") },
  );
  try {
    const config = testConfig({
      blockTypes: new Set(["host"]),
      host: {
        detectionTypes: ["Hidden DNS Tunnel"],
        detectionTypesMinScore: { threat: 5, op: "and", certainty: 5 },
      },
    });
    const snapshot = await select(api, config, { clientTags: ["Test Client"] });
    assert.equal(snapshot.host.status, "ok");
    if (snapshot.host.status !== "ok") return;
    assert.deepEqual(snapshot.host.noBlock.map((x) => x.name).sort(), ["h1", "h2", "h3"]);
    assert.deepEqual(snapshot.host.grouped.map((x) => x.name).sort(), ["h11", "h12"]);
    assert.equal(snapshot.host.typed.length, 10);
    // 30 hosts at 7 a page: one whole read is 5 pages. Every host request other than the
    // tag and score queries is that one read.
    const wholeReads = brain.requests.filter((r) => {
      if (r.endpoint !== "GET /hosts") return false;
      const q = new URLSearchParams(r.query);
      return !q.has("tags") && !q.has("threat_gte") && !q.has("certainty_gte");
    });
    assert.equal(wholeReads.length, 5, wholeReads.map((r) => r.query).join("\n"));
    assert.equal(brain.requestCounts().get("GET /hosts/{id}") ?? 0, 0);
  } finally {
    await api.close();
  }
});
