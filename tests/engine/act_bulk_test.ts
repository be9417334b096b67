import assert from "node:assert/strict";
import { seed } from "../../demo/seed.ts";
import type { Host } from "../../engine/model.ts";
import type { ResponseClient } from "../../engine/client.ts";
import { act } from "../../engine/act.ts";
import { plan } from "../../engine/plan.ts";
import { select } from "../../engine/select.ts";
import type { VectraApi } from "../../engine/vectra/api.ts";
import type { Config } from "../../config_types.ts";
import { startEngine, testClientAs } from "./_engine_harness.ts";
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

function hostSeed(count: number) {
  const data = seed();
  for (let i = 1; i <= count; i++) {
    data.host({
      name: `pc-${i}`,
      ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      tags: ["vectra_host_block"],
    });
  }
  return data.build();
}

/** `endpoint` → count, for the tag and note writes after `from`. */
function tagRequests(requests: readonly { endpoint: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of requests) {
    if (!r.endpoint.includes("/tagging/")) continue;
    counts[r.endpoint] = (counts[r.endpoint] ?? 0) + 1;
  }
  return counts;
}

Deno.test("act() with bulkIntents records a wave's intents in one POST per client before any client acts (v2.5)", async () => {
  await using h = await startEngine(hostSeed(3));
  const clients = [testClientAs("pan", "PAN Client"), testClientAs()];
  const seen: string[][] = [];
  const watched = clients.map((inner): ResponseClient => ({
    ...inner,
    blockHost: (host: Host) => {
      seen.push([inner.tagName, ...h.brain.tags("host", host.id)]);
      return inner.blockHost!(host);
    },
  }));
  const p = await planFor(h.api, HOSTS_ONLY, watched);
  h.brain.clearRequests();
  const report = await act(p, h.api, watched, { clock: () => AT, bulkIntents: true });
  assert.deepEqual(report.records.map((r) => r.outcome), Array(6).fill("ok"));
  // Every client call saw both intents already on Vectra.
  assert.equal(seen.length, 6);
  for (const tags of seen) {
    assert.ok(tags.includes("VAR Pending:PAN Client:block"), JSON.stringify(tags));
    assert.ok(tags.includes("VAR Pending:Test Client:block"), JSON.stringify(tags));
  }
  // One bulk POST per (kind, client, operation) for the intents; then the result as tags
  // added, never a list replaced: the marker once for the wave, each VAR ID tag; the
  // intents removed once per client. No tag is read one entity at a time.
  assert.deepEqual(tagRequests(h.brain.requests), {
    "POST /tagging/host": 2 + 1 + 6,
    "DELETE /tagging/host": 2,
  });
  const posts = h.brain.requests.filter((r) => r.endpoint === "POST /tagging/host");
  assert.ok(posts.every((r) => r.status === 200));
  for (let i = 1; i <= 3; i++) {
    // The two clients' VAR ID tags are added at once: their order is not fixed.
    assert.deepEqual(h.brain.tags("host", `pc-${i}`).sort(), [
      "VAR Host Blocked",
      `VAR ID:PAN Client:host-${i}-10.0.0.${i}`,
      `VAR ID:Test Client:host-${i}-10.0.0.${i}`,
      "vectra_host_block",
    ]);
    assert.equal(h.brain.notes("host", `pc-${i}`).length, 1);
  }
});

Deno.test("act() with bulkIntents sends one POST per wave of 100 entities", async () => {
  await using h = await startEngine(hostSeed(101));
  const client = testClientAs();
  const config = testConfig({
    blockTypes: new Set(["host"]),
    host: { noBlockGroup: null, blockGroup: null },
    limits: { maxBlocksPerCycle: 1000, maxBlockedTotal: 1000 },
  });
  const p = await planFor(h.api, config, [client]);
  h.brain.clearRequests();
  const report = await act(p, h.api, [client], { bulkIntents: true, concurrency: 8 });
  assert.equal(report.records.filter((r) => r.outcome === "ok").length, 101);
  // Per wave: the intents, the marker, their removal; per entity: its VAR ID tag.
  assert.deepEqual(tagRequests(h.brain.requests), {
    "POST /tagging/host": 2 + 2 + 101,
    "DELETE /tagging/host": 2,
  });
  assert.ok(h.brain.all("host").every((x) => !x.tags.some((t) => t.startsWith("VAR Pending"))));
});

Deno.test("act() with bulkIntents keeps per-entity intents on v3.4, which has no bulk endpoint", async () => {
  await using h = await startEngine(hostSeed(2), "3.4");
  assert.equal(h.api.addTagToMany, undefined);
  const client = testClientAs();
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  h.brain.clearRequests();
  const report = await act(p, h.api, [client], { bulkIntents: true });
  assert.deepEqual(report.records.map((r) => r.outcome), ["ok", "ok"]);
  assert.deepEqual(tagRequests(h.brain.requests), {
    "GET /tagging/host/{id}": 4,
    "PATCH /tagging/host/{id}": 4,
  });
});

Deno.test("act() with bulkIntents false records intents per entity on v2.5", async () => {
  await using h = await startEngine(hostSeed(2));
  const client = testClientAs();
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  h.brain.clearRequests();
  await act(p, h.api, [client], { bulkIntents: false });
  assert.deepEqual(tagRequests(h.brain.requests), {
    "GET /tagging/host/{id}": 4,
    "PATCH /tagging/host/{id}": 4,
  });
});

for (
  const [name, fault] of [
    [
      "an HTTP 500",
      (h: Awaited<ReturnType<typeof startEngine>>) =>
        h.brain.failNext(500, { method: "POST", path: "/tagging/host", times: Infinity }),
    ],
    [
      "a status failure body",
      (h: Awaited<ReturnType<typeof startEngine>>) =>
        h.brain.fault({ kind: "tagFailure", status: 200 }, {
          method: "POST",
          path: "/tagging/host",
          times: Infinity,
        }),
    ],
  ] as const
) {
  Deno.test(`act() with bulkIntents falls back to per-entity intents after ${name}`, async () => {
    await using h = await startEngine(hostSeed(2));
    const inner = testClientAs();
    const seen: string[][] = [];
    const client: ResponseClient = {
      ...inner,
      blockHost: (host: Host) => {
        seen.push(h.brain.tags("host", host.id));
        return inner.blockHost!(host);
      },
    };
    const p = await planFor(h.api, HOSTS_ONLY, [client]);
    h.brain.clearRequests();
    fault(h);
    const report = await act(p, h.api, [client], { bulkIntents: true });
    assert.deepEqual(report.records.map((r) => r.outcome), ["ok", "ok"]);
    assert.deepEqual(seen, [
      ["vectra_host_block", "VAR Pending:Test Client:block"],
      ["vectra_host_block", "VAR Pending:Test Client:block"],
    ]);
    const counts = tagRequests(h.brain.requests);
    assert.ok((counts["POST /tagging/host"] ?? 0) >= 1);
    assert.equal(counts["GET /tagging/host/{id}"], 4);
    assert.equal(counts["PATCH /tagging/host/{id}"], 4);
    assert.deepEqual(h.brain.tags("host", "pc-1"), [
      "vectra_host_block",
      "VAR Host Blocked",
      "VAR ID:Test Client:host-1-10.0.0.1",
    ]);
  });
}

Deno.test("act() with bulkIntents calls no client when the bulk POST and the fallback write both fail", async () => {
  await using h = await startEngine(hostSeed(1));
  const client = testClientAs();
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  h.brain.fault({ kind: "tagFailure" }, { method: "POST", path: "/tagging/host", times: 1 });
  h.brain.fault({ kind: "tagFailure" }, { method: "PATCH", path: "/tagging/host", times: 1 });
  const report = await act(p, h.api, [client], { bulkIntents: true });
  assert.equal(report.records[0]?.outcome, "failed");
  assert.match(report.records[0]?.error ?? "", /^cannot record the intent on Vectra: /);
  assert.deepEqual(client.calls, []);
  assert.deepEqual(h.brain.tags("host", "pc-1"), ["vectra_host_block"]);
  assert.deepEqual(
    h.brain.requests.filter((r) => r.route.startsWith("/tagging/") && r.method !== "GET").map((
      r,
    ) => r.endpoint),
    ["POST /tagging/host", "PATCH /tagging/host/{id}"],
  );
  // The next cycle, without faults, blocks it.
  const next = await act(await planFor(h.api, HOSTS_ONLY, [client]), h.api, [client], {
    bulkIntents: true,
  });
  assert.equal(next.records[0]?.outcome, "ok");
});

Deno.test("act() with bulkIntents keeps the per-entity read for an unblock that re-checks the block tag", async () => {
  const data = seed()
    .host({ name: "gone", ip: "10.0.0.9", tags: ["VAR Host Blocked", "VAR ID:Test Client:x"] })
    .host({ name: "new", ip: "10.0.0.8", tags: ["vectra_host_block"] })
    .build();
  await using h = await startEngine(data);
  const client = testClientAs();
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  const unblock = p.host.entries.find((e) => e.operation === "unblock");
  assert.equal(unblock?.keepIfTagged, "vectra_host_block");
  // The block tag comes back after the read: the unblock must find it on its fresh read.
  h.brain.setTags("host", "gone", [...h.brain.tags("host", "gone"), "vectra_host_block"]);
  h.brain.clearRequests();
  const report = await act(p, h.api, [client], { bulkIntents: true });
  const reads = h.brain.requests.filter((r) => r.endpoint === "GET /tagging/host/{id}");
  assert.deepEqual(
    reads.map((r) => r.route),
    [`/tagging/host/${h.brain.idOf("host", "gone")}`],
    "only the unblock reads its tags before writing",
  );
  assert.deepEqual(h.brain.tags("host", "gone"), [
    "VAR Host Blocked",
    "VAR ID:Test Client:x",
    "vectra_host_block",
  ]);
  assert.ok(
    report.records.some((r) => r.entityName === "gone" && r.outcome !== "ok"),
    JSON.stringify(report.records),
  );
  assert.ok(
    !client.calls.some((c) => c.operation.toLowerCase().includes("unblock")),
    JSON.stringify(client.calls),
  );
});

/** A host var blocked whose block tag is gone: the next cycle unblocks it. */
function releasedHost() {
  return seed()
    .host({ name: "gone", ip: "10.0.0.9", tags: ["VAR Host Blocked", "VAR ID:Test Client:x"] })
    .build();
}

Deno.test("act() with bulk tagging: an unblock that re-checks the block tag reads once, then writes in bulk", async () => {
  await using h = await startEngine(releasedHost());
  const inner = testClientAs();
  const client: ResponseClient = {
    ...inner,
    unblockHost: (host: Host, recorded: readonly string[]) => {
      // The analyst tags the host after var's fresh read and before its state write.
      h.brain.setTags("host", host.id, [...h.brain.tags("host", host.id), "analyst-note"]);
      return inner.unblockHost!(host, recorded);
    },
  };
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  assert.equal(p.host.entries[0]?.keepIfTagged, "vectra_host_block");
  h.brain.clearRequests();
  const report = await act(p, h.api, [client], { clock: () => AT, bulkIntents: true });
  assert.deepEqual(report.records.map((r) => r.outcome), ["ok"]);
  // The fresh read, the intent, its removal and the state's removals: no list replaced.
  assert.deepEqual(tagRequests(h.brain.requests), {
    "GET /tagging/host/{id}": 1,
    "POST /tagging/host": 1,
    "DELETE /tagging/host": 3,
  });
  assert.deepEqual(h.brain.tags("host", "gone"), ["analyst-note"]);
});

Deno.test("act() with bulk tagging: a failed fresh read leaves the unblock to the per-entity path", async () => {
  await using h = await startEngine(releasedHost());
  const client = testClientAs();
  const p = await planFor(h.api, HOSTS_ONLY, [client]);
  h.brain.clearRequests();
  h.brain.failNext(500, { method: "GET", path: "/tagging/host/", times: Infinity });
  const report = await act(p, h.api, [client], { clock: () => AT, bulkIntents: true });
  // No bulk intent for it: the per-entity path read again, failed, and changed nothing.
  assert.equal(tagRequests(h.brain.requests)["POST /tagging/host"], undefined);
  assert.deepEqual(report.records.map((r) => r.outcome), ["failed"]);
  assert.match(report.records[0]?.error ?? "", /^cannot record the intent on Vectra: /);
  assert.deepEqual(client.calls, []);
  assert.deepEqual(h.brain.tags("host", "gone"), ["VAR Host Blocked", "VAR ID:Test Client:x"]);
  h.brain.clearFaults();
  const next = await act(await planFor(h.api, HOSTS_ONLY, [client]), h.api, [client], {
    clock: () => AT,
    bulkIntents: true,
  });
  assert.deepEqual(next.records.map((r) => r.outcome), ["ok"]);
  assert.deepEqual(h.brain.tags("host", "gone"), []);
});

Deno.test("act() counts a bulk intent only once Vectra shows it, and writes the rest one by one", async () => {
  await using h = await startEngine(hostSeed(2));
  const client = testClientAs();
  const seen: string[][] = [];
  const watched: ResponseClient = {
    ...client,
    blockHost: (host: Host) => {
      seen.push(h.brain.tags("host", host.id));
      return client.blockHost!(host);
    },
  };
  const p = await planFor(h.api, HOSTS_ONLY, [watched]);
  // A bulk request that answers 200 but records nothing.
  h.brain.fault({ kind: "status", status: 200 }, {
    method: "POST",
    path: "/tagging/host",
    times: 1,
  });
  h.brain.clearRequests();
  const report = await act(p, h.api, [watched], { clock: () => AT, bulkIntents: true });
  assert.deepEqual(report.records.map((r) => r.outcome), ["ok", "ok"]);
  assert.equal(seen.length, 2);
  for (const tags of seen) assert.ok(tags.includes("VAR Pending:Test Client:block"));
  assert.deepEqual(tagRequests(h.brain.requests), {
    "POST /tagging/host": 1,
    "GET /tagging/host/{id}": 4,
    "PATCH /tagging/host/{id}": 4,
  });
  assert.equal(
    h.brain.requests.filter((r) => r.endpoint === "GET /hosts").length,
    1,
    "one read confirms which intents the bulk request recorded",
  );
});

Deno.test("a tag an analyst adds while var acts is kept, in bulk (v2.5) and per entity (v3.4)", async () => {
  for (const version of ["2.5", "3.4"] as const) {
    await using h = await startEngine(hostSeed(3), version);
    const client = testClientAs();
    const watched: ResponseClient = {
      ...client,
      blockHost: (host: Host) => {
        // The analyst tags the host after var read it and before var writes its state.
        h.brain.setTags("host", host.id, [...h.brain.tags("host", host.id), "analyst-note"]);
        return client.blockHost!(host);
      },
    };
    const p = await planFor(h.api, HOSTS_ONLY, [watched]);
    const report = await act(p, h.api, [watched], { clock: () => AT, bulkIntents: true });
    assert.deepEqual(report.records.map((r) => r.outcome), ["ok", "ok", "ok"], version);
    for (let i = 1; i <= 3; i++) {
      const tags = h.brain.tags("host", `pc-${i}`);
      assert.ok(tags.includes("analyst-note"), `${version}: ${tags.join(", ")}`);
      assert.ok(
        tags.includes("VAR Host Blocked") && !tags.some((t) => t.startsWith("VAR Pending")),
      );
    }
  }
});

Deno.test("a bulk state write that answers 200 but records nothing fails its entities, keeps their intents, and the next cycle completes them", async () => {
  await using h = await startEngine(hostSeed(2));
  const client = testClientAs();
  let faulted = false;
  const watched: ResponseClient = {
    ...client,
    blockHost: (host: Host) => {
      // After the intents are recorded: the next bulk request (the marker) records nothing.
      if (!faulted) {
        faulted = true;
        h.brain.fault({ kind: "status", status: 200 }, { method: "POST", path: "/tagging/host" });
      }
      return client.blockHost!(host);
    },
  };
  const p = await planFor(h.api, HOSTS_ONLY, [watched]);
  const report = await act(p, h.api, [watched], { clock: () => AT, bulkIntents: true });
  assert.deepEqual(report.records.map((r) => r.outcome), ["failed", "failed"]);
  assert.match(
    report.records[0]?.error ?? "",
    /did not show when read back; missing VAR Host Blocked/,
  );
  for (let i = 1; i <= 2; i++) {
    const tags = h.brain.tags("host", `pc-${i}`);
    assert.ok(tags.includes("VAR Pending:Test Client:block"), tags.join(", "));
    assert.equal(h.brain.notes("host", `pc-${i}`).length, 0, "no note for a change not on record");
  }
  const next = await act(await planFor(h.api, HOSTS_ONLY, [client]), h.api, [client], {
    clock: () => AT,
    bulkIntents: true,
  });
  assert.deepEqual(next.records.map((r) => r.outcome), ["ok", "ok"]);
  for (let i = 1; i <= 2; i++) {
    assert.deepEqual(h.brain.tags("host", `pc-${i}`), [
      "vectra_host_block",
      "VAR ID:Test Client:host-" + i + "-10.0.0." + i,
      "VAR Host Blocked",
    ]);
  }
});
